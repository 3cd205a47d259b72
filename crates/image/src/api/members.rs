//! `/v2/images/{id}/members`

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::error::Error;

use super::{json_body, ApiResult, Caller, GlanceError, Shared};
use crate::service::member_view;

fn field(body: &Value, key: &str) -> ApiResult<String> {
    body.get(key)
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| GlanceError(Error::BadRequest(format!("'{key}' is a required property"))))
}

pub async fn create(image: Shared, Caller(ctx): Caller, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let member = field(&json_body(body).await?, "member")?;
    Ok(Json(member_view(&image.add_member(&ctx, &id, &member).await?)))
}

pub async fn list(image: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let members = image.members(&ctx, &id).await?;
    Ok(Json(json!({"members": members.iter().map(member_view).collect::<Vec<_>>(), "schema": "/v2/schemas/members"})))
}

pub async fn show(
    image: Shared,
    Caller(ctx): Caller,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(member_view(&image.member(&ctx, &id, &member).await?)))
}

pub async fn update(
    image: Shared,
    Caller(ctx): Caller,
    Path((id, member)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let status = field(&json_body(body).await?, "status")?;
    Ok(Json(member_view(&image.set_member_status(&ctx, &id, &member, &status).await?)))
}

pub async fn delete(
    image: Shared,
    Caller(ctx): Caller,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    image.remove_member(&ctx, &id, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}
