//! `/v3/credentials` and `/v3/users/{id}/credentials/OS-EC2` (what
//! `openstack credential ...` and `openstack ec2 credentials ...` call).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{created, link, list_body, opt_str, ApiResult, Body, Caller, Params, Shared};
use crate::credentials::{CredentialFields, Ec2};
use crate::store::Credential;
use crate::Identity;

fn view(id: &Identity, c: &Credential) -> Value {
    json!({
        "id": c.id, "user_id": c.user_id, "project_id": c.project_id, "type": c.kind, "blob": c.blob,
        "links": {"self": link(id, &format!("credentials/{}", c.id))},
    })
}

fn ec2_view(id: &Identity, e: &Ec2) -> Value {
    json!({
        "user_id": e.user_id, "tenant_id": e.project_id, "access": e.access, "secret": e.secret,
        "trust_id": null,
        "links": {"self": link(id, &format!("users/{}/credentials/OS-EC2/{}", e.user_id, e.access))},
    })
}

fn fields(body: &Body) -> ApiResult<CredentialFields<'_>> {
    let b = body.member("credential")?;
    Ok(CredentialFields {
        user_id: opt_str(b, "user_id")?,
        project_id: opt_str(b, "project_id")?,
        kind: opt_str(b, "type")?,
        blob: opt_str(b, "blob")?,
    })
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = id.create_credential(&ctx, fields(&body)?).await?;
    Ok(created(json!({"credential": view(&id, &c)})))
}

pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let user = params.get("user_id").map(String::as_str);
    let kind = params.get("type").map(String::as_str);
    let items = id.credentials(&ctx, user, kind).await?.iter().map(|c| view(&id, c)).collect();
    Ok(list_body("credentials", items, link(&id, "credentials")))
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(cid): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"credential": view(&id, &id.credential(&ctx, &cid).await?)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(cid): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    let c = id.update_credential(&ctx, &cid, fields(&body)?).await?;
    Ok(Json(json!({"credential": view(&id, &c)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(cid): Path<String>) -> ApiResult<StatusCode> {
    id.delete_credential(&ctx, &cid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn ec2_create(
    id: Shared,
    Caller(ctx): Caller,
    Path(uid): Path<String>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let project = body.0.get("tenant_id").and_then(Value::as_str);
    let project = match project {
        Some(p) => p.to_owned(),
        None => {
            ctx.project_id().map(str::to_owned).ok_or_else(|| super::invalid("'tenant_id' is a required property"))?
        }
    };
    let e = id.create_ec2(&ctx, &uid, &project).await?;
    Ok(created(json!({"credential": ec2_view(&id, &e)})))
}

pub async fn ec2_list(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>) -> ApiResult<Json<Value>> {
    let items = id.ec2_credentials(&ctx, &uid).await?.iter().map(|e| ec2_view(&id, e)).collect();
    Ok(list_body("credentials", items, link(&id, &format!("users/{uid}/credentials/OS-EC2"))))
}

pub async fn ec2_show(
    id: Shared,
    Caller(ctx): Caller,
    Path((uid, access)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"credential": ec2_view(&id, &id.ec2_credential(&ctx, &uid, &access).await?)})))
}

pub async fn ec2_delete(
    id: Shared,
    Caller(ctx): Caller,
    Path((uid, access)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    id.delete_ec2(&ctx, &uid, &access).await?;
    Ok(StatusCode::NO_CONTENT)
}
