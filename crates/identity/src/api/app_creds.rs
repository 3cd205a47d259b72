//! `/v3/users/{id}/application_credentials`: a user delegates roles it holds on a
//! project to a secret that logs in without the user's password.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{created, link, list_body, opt_bool, opt_str, req_str, ApiResult, Body, Caller, Params, Shared};
use crate::app_creds::NewAppCred;
use crate::store::AppCred;
use crate::Identity;

async fn view(id: &Identity, c: &AppCred, secret: Option<&str>) -> ApiResult<Value> {
    let roles: Vec<Value> =
        (id.app_cred_roles(c).await?.iter()).map(|r| json!({"id": r.id, "name": r.name, "domain_id": null})).collect();
    let mut v = json!({
        "id": c.id, "name": c.name, "description": c.description, "expires_at": c.expires_at,
        "project_id": c.project_id, "roles": roles,
        "unrestricted": c.unrestricted, "access_rules": [],
        "links": {"self": link(id, &format!("users/{}/application_credentials/{}", c.user_id, c.id))},
    });
    if let Some(s) = secret {
        v["secret"] = json!(s);
    }
    Ok(v)
}

fn new_app_cred(body: &Body) -> ApiResult<NewAppCred<'_>> {
    let b = body.member("application_credential")?;
    Ok(NewAppCred {
        access_rules: b.get("access_rules").and_then(Value::as_array).is_some_and(|r| !r.is_empty()),
        name: req_str(b, "name")?,
        expires_at: opt_str(b, "expires_at")?,
        // python-openstackclient sends an empty list for "all of them".
        roles: b.get("roles").and_then(Value::as_array).cloned().unwrap_or_default(),
        secret: opt_str(b, "secret")?,
        description: opt_str(b, "description")?,
        unrestricted: opt_bool(b, "unrestricted")?,
    })
}

pub async fn create(
    id: Shared,
    Caller(ctx): Caller,
    Path(uid): Path<String>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (c, secret) = id.create_app_cred(&ctx, &uid, new_app_cred(&body)).await?;
    Ok(created(json!({"application_credential": view(&id, &c, Some(&secret)).await?})))
}

pub async fn list(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>, params: Params) -> ApiResult<Json<Value>> {
    let mut items = vec![];
    for c in id.app_creds(&ctx, &uid, params.get("name").map(String::as_str)).await? {
        items.push(view(&id, &c, None).await?);
    }
    Ok(list_body("application_credentials", items, link(&id, &format!("users/{uid}/application_credentials"))))
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path((uid, cid)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let c = id.app_cred(&ctx, &uid, &cid).await?;
    Ok(Json(json!({"application_credential": view(&id, &c, None).await?})))
}

pub async fn delete(
    id: Shared,
    Caller(ctx): Caller,
    Path((uid, cid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    id.delete_app_cred(&ctx, &uid, &cid).await?;
    Ok(StatusCode::NO_CONTENT)
}
