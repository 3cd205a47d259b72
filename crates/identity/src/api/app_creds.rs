//! `/v3/users/{id}/application_credentials`: a user delegates roles it holds on a
//! project to a secret that logs in without the user's password.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::error::Error;

use super::{created, invalid, link, list_body, opt_bool, opt_str, req_str, ApiResult, Body, Caller, Params, Shared};
use crate::store::{self, AppCred, Filter, Role};
use crate::{new_id, password, policy, Identity};

async fn view(id: &Identity, c: &AppCred, secret: Option<&str>) -> ApiResult<Value> {
    let ids: Vec<String> = serde_json::from_str(&c.roles).unwrap_or_default();
    let mut roles = vec![];
    for rid in ids {
        if let Some(r) = store::find::<Role>(&id.pool, "roles", &rid).await? {
            roles.push(json!({"id": r.id, "name": r.name, "domain_id": null}));
        }
    }
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

pub async fn create(
    id: Shared,
    Caller(ctx): Caller,
    Path(uid): Path<String>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    policy::user(&ctx, "identity:create_application_credential", &uid)?;
    if ctx.restricted {
        return Err(Error::Forbidden(
            "Using method 'application_credential' is not allowed for managing additional application credentials."
                .into(),
        )
        .into());
    }
    let project_id = ctx
        .project_id()
        .ok_or_else(|| {
            Error::BadRequest("An application credential must be created with a project-scoped token.".into())
        })?
        .to_owned();
    let b = body.member("application_credential")?;
    // Access rules narrow what a credential may call; they are not enforced
    // here, so a credential asking for them is refused rather than made
    // broader than its user meant.
    if b.get("access_rules").and_then(Value::as_array).is_some_and(|r| !r.is_empty()) {
        return Err(
            Error::BadRequest("Application credential access rules are not supported by this cloud.".into()).into()
        );
    }
    let name = req_str(b, "name")?;
    let expires_at = match opt_str(b, "expires_at")? {
        // Kept as the client wrote it, which is how Keystone answers it.
        Some(s) => {
            crate::auth::parse_expires_at(s)
                .ok_or_else(|| invalid(&format!("expires_at. '{s}' is not a valid date-time")))?;
            Some(s.to_owned())
        }
        None => None,
    };
    // The roles delegated: those asked for, each of which the caller must hold
    // in this token; by default (none, or an empty list, which
    // python-openstackclient sends) all of the token's roles, as Keystone.
    let all = store::list::<Role>(&id.pool, "roles", Filter::default()).await?;
    let held: Vec<&Role> = all.iter().filter(|r| ctx.roles.contains(&r.name)).collect();
    let roles: Vec<String> = match b.get("roles").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        Some(asked) => {
            let mut out = vec![];
            for a in asked {
                let found = held.iter().find(|r| {
                    a.get("id").and_then(Value::as_str) == Some(&r.id)
                        || a.get("name").and_then(Value::as_str) == Some(&r.name)
                });
                match found {
                    Some(r) => out.push(r.id.clone()),
                    None => {
                        return Err(Error::Forbidden(format!("You do not hold the role {a} on this project.")).into())
                    }
                }
            }
            out
        }
        None => held.iter().map(|r| r.id.clone()).collect(),
    };
    let secret = match opt_str(b, "secret")? {
        Some(s) => s.to_owned(),
        None => base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, rand::random::<[u8; 32]>()),
    };
    let c = AppCred {
        id: new_id(),
        name: name.into(),
        user_id: uid,
        project_id,
        secret_hash: password::hash(&secret).await?,
        description: opt_str(b, "description")?.unwrap_or("").into(),
        expires_at,
        unrestricted: opt_bool(b, "unrestricted")?.unwrap_or(false),
        roles: json!(roles).to_string(),
    };
    store::insert_app_cred(&id.pool, &c).await?;
    Ok(created(json!({"application_credential": view(&id, &c, Some(&secret)).await?})))
}

pub async fn list(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>, params: Params) -> ApiResult<Json<Value>> {
    policy::reader_or(&ctx, "identity:list_application_credentials", None, ctx.user_id == uid)?;
    let filter = Filter::default().eq("user_id", Some(&uid)).eq("name", params.get("name").map(String::as_str));
    let mut items = vec![];
    for c in store::list::<AppCred>(&id.pool, "application_credentials", filter).await? {
        items.push(view(&id, &c, None).await?);
    }
    Ok(list_body("application_credentials", items, link(&id, &format!("users/{uid}/application_credentials"))))
}

async fn load(id: &Identity, uid: &str, cid: &str) -> ApiResult<AppCred> {
    match store::find::<AppCred>(&id.pool, "application_credentials", cid).await? {
        Some(c) if c.user_id == uid => Ok(c),
        _ => Err(store::not_found("application credential", cid).into()),
    }
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path((uid, cid)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    policy::reader_or(&ctx, "identity:get_application_credential", None, ctx.user_id == uid)?;
    let c = load(&id, &uid, &cid).await?;
    Ok(Json(json!({"application_credential": view(&id, &c, None).await?})))
}

pub async fn delete(
    id: Shared,
    Caller(ctx): Caller,
    Path((uid, cid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    policy::user(&ctx, "identity:delete_application_credential", &uid)?;
    load(&id, &uid, &cid).await?;
    store::delete(&id.pool, "application_credentials", "application credential", &cid).await?;
    Ok(StatusCode::NO_CONTENT)
}
