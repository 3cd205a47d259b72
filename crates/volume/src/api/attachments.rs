//! `/attachments` (3.27+): reserve a volume for a server, connect it from
//! a host, complete (3.44+) and delete.

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;

use super::{bad, boolean, text, ApiResult, Body, Caller, CinderFault, Shared};
use crate::microversion::*;
use crate::views;

/// The API exists from 3.27 on; before, it is not there at all.
fn since(v: ApiVersion, min: ApiVersion) -> ApiResult<()> {
    if v < min {
        return Err(CinderFault(Error::NotFound("The resource could not be found.".into())));
    }
    Ok(())
}

fn connector(a: &Map<String, Value>) -> ApiResult<Option<Value>> {
    match a.get("connector") {
        None | Some(Value::Null) => Ok(None),
        Some(c @ Value::Object(_)) => Ok(Some(c.clone())),
        Some(other) => Err(bad(format!(
            "Invalid input for field/attribute connector. Value: {other}. {other} is not of type 'object'"
        ))),
    }
}

pub async fn create(c: Shared, Caller(ctx): Caller, v: ApiVersion, Body(body): Body) -> ApiResult<Json<Value>> {
    since(v, V3_27)?;
    let a =
        body.get("attachment").and_then(Value::as_object).ok_or_else(|| bad("'attachment' is a required property"))?;
    let volume = text(a, "volume_uuid")?.ok_or_else(|| bad("'volume_uuid' is a required property"))?;
    let instance = text(a, "instance_uuid")?;
    let mode = text(a, "mode")?.unwrap_or_else(|| "rw".into());
    let connector = connector(a)?;
    let reserved = c.reserve(&ctx, &volume, instance.as_deref(), &mode).await?;
    let (row, connection) = match connector {
        Some(conn) => {
            let (row, connection) = c.connect(&reserved.id, conn).await?;
            (row, Some(connection))
        }
        None => (reserved, None),
    };
    Ok(Json(json!({"attachment": views::attachment(&row, connection.as_ref(), &ctx)})))
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    listing(c, ctx, v, q, false).await
}

pub async fn detail(c: Shared, Caller(ctx): Caller, v: ApiVersion, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    listing(c, ctx, v, q, true).await
}

async fn listing(
    c: Shared,
    ctx: oxistack_core::Context,
    v: ApiVersion,
    q: Option<String>,
    detail: bool,
) -> ApiResult<Json<Value>> {
    since(v, V3_27)?;
    let params: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let all = param("all_tenants").and_then(|s| boolean(&Value::from(s))).unwrap_or(false);
    let rows = c.list_attachments(&ctx, all).await?;
    let shown = rows
        .iter()
        .filter(|a| param("volume_id").is_none_or(|id| a.volume_id == id))
        .filter(|a| param("instance_id").is_none_or(|id| a.instance_uuid.as_deref() == Some(id)))
        .filter(|a| param("status").is_none_or(|s| a.attach_status.as_str() == s))
        .map(|a| if detail { views::attachment(a, None, &ctx) } else { views::attachment_summary(a) })
        .collect::<Vec<_>>();
    Ok(Json(json!({ "attachments": shown })))
}

pub async fn show(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    since(v, V3_27)?;
    let a = c.attachment(&ctx, &id).await?;
    Ok(Json(json!({"attachment": views::attachment(&a, None, &ctx)})))
}

/// `PUT /attachments/{id}`: the host's connector; the answer says how it
/// opens the volume.
pub async fn update(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    since(v, V3_27)?;
    let a =
        body.get("attachment").and_then(Value::as_object).ok_or_else(|| bad("'attachment' is a required property"))?;
    let conn = connector(a)?.ok_or_else(|| bad("'connector' is a required property"))?;
    c.attachment_for(&ctx, &id, "volume:attachment_update").await?;
    let (row, connection) = c.connect(&id, conn).await?;
    Ok(Json(json!({"attachment": views::attachment(&row, Some(&connection), &ctx)})))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    since(v, V3_27)?;
    c.attachment_for(&ctx, &id, "volume:attachment_delete").await?;
    let left = c.release(&id).await?;
    Ok(Json(json!({"attachments": left.iter().map(views::attachment_summary).collect::<Vec<_>>()})))
}

/// `POST /attachments/{id}/action`: `os-complete` (3.44+).
pub async fn action(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    since(v, V3_44)?;
    if body.get("os-complete").is_none() {
        return Err(bad("There is no such action. Verify the request body and Content-Type header and try again."));
    }
    c.attachment_for(&ctx, &id, "volume:attachment_complete").await?;
    c.complete(&id, None).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
