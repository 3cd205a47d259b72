//! `/backups`: create, list, show, delete, restore and admins' actions.

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{bad, base, boolean, limit, page_body, text, ApiResult, Body, Caller, Shared};
use crate::backups::CreateBackup;
use crate::microversion::*;
use crate::views;

fn read_create(body: &Value) -> ApiResult<CreateBackup> {
    let b = body.get("backup").and_then(Value::as_object).ok_or_else(|| bad("'backup' is a required property"))?;
    let volume_id = text(b, "volume_id")?.ok_or_else(|| bad("'volume_id' is a required property"))?;
    let flag = |k: &str| -> ApiResult<bool> {
        match b.get(k) {
            None | Some(Value::Null) => Ok(false),
            Some(v) => boolean(v).ok_or_else(|| bad(format!("Invalid value '{v}' for {k}."))),
        }
    };
    if flag("incremental")? {
        return Err(bad("Invalid backup: Incremental backups are not served; make a full backup."));
    }
    if b.get("snapshot_id").is_some_and(|s| !s.is_null()) {
        return Err(bad("Invalid backup: Backups of snapshots are not served; back up the volume."));
    }
    Ok(CreateBackup {
        volume_id,
        name: text(b, "name")?,
        description: text(b, "description")?,
        container: text(b, "container")?,
        force: flag("force")?,
    })
}

pub async fn create(c: Shared, Caller(ctx): Caller, Body(body): Body) -> ApiResult<Response> {
    let created = c.create_backup(&ctx, read_create(&body).map_err(|e| e.0)).await?;
    let view = views::backup_summary(&base(&c, &ctx), &created);
    Ok((StatusCode::ACCEPTED, Json(json!({ "backup": view }))).into_response())
}

async fn listing(
    c: Shared,
    ctx: oxistack_core::Context,
    v: ApiVersion,
    q: Option<String>,
    detail: bool,
) -> ApiResult<Json<Value>> {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).map_err(|e| bad(format!("Invalid query: {e}")))?;
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let all = param("all_tenants").and_then(|s| boolean(&Value::from(s))).unwrap_or(false);
    let lim = param("limit").map(limit).transpose()?;
    let (rows, next) = c.list_backups(&ctx, all, param("volume_id"), param("marker"), lim).await?;
    let b = base(&c, &ctx);
    let items = rows
        .iter()
        .map(|r| if detail { views::backup(&b, r, v, &ctx) } else { views::backup_summary(&b, r) })
        .collect();
    let path = if detail { "backups/detail" } else { "backups" };
    Ok(Json(page_body(&c, &ctx, "backups", path, items, next, params, None)))
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    listing(c, ctx, v, q, false).await
}

pub async fn detail(c: Shared, Caller(ctx): Caller, v: ApiVersion, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    listing(c, ctx, v, q, true).await
}

pub async fn show(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let b = c.backup(&ctx, &id).await?;
    Ok(Json(json!({ "backup": views::backup(&base(&c, &ctx), &b, v, &ctx) })))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    c.delete_backup(&ctx, &id, false).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /backups/{id}/restore`: `{"restore": {"volume_id", "name"}}`.
pub async fn restore(c: Shared, Caller(ctx): Caller, Path(id): Path<String>, Body(body): Body) -> ApiResult<Response> {
    let empty = Map::new();
    let r = match body.get("restore") {
        Some(Value::Object(r)) => r,
        Some(Value::Null) | None => &empty,
        Some(_) => return Err(bad("Invalid input for field/attribute restore.")),
    };
    let restored = c.restore_backup(&ctx, &id, text(r, "volume_id")?.as_deref(), text(r, "name")?).await?;
    let body = json!({"restore": {
        "backup_id": restored.backup_id,
        "volume_id": restored.volume_id,
        "volume_name": restored.volume_name,
    }});
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `POST /backups/{id}/action`: admins' `os-reset_status` and `os-force_delete`.
pub async fn action(c: Shared, Caller(ctx): Caller, Path(id): Path<String>, Body(body): Body) -> ApiResult<Response> {
    if let Some(args) = body.get("os-reset_status") {
        let status = args
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("Invalid input for field/attribute os-reset_status. 'status' is a required property"))?;
        c.reset_backup_status(&ctx, &id, status).await?;
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if body.get("os-force_delete").is_some() {
        c.delete_backup(&ctx, &id, true).await?;
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    Err(bad("There is no such action. Verify the request body and Content-Type header and try again."))
}
