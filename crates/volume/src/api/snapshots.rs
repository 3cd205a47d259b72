//! `/snapshots`: create, list, show, update, delete and admins' actions.

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::context::Context;

use super::{bad, boolean, limit, page_body, python_dict, string_map, text, ApiResult, Body, Caller, Shared};
use crate::microversion::*;
use crate::snapshots::{CreateSnapshot, SnapshotQuery, SnapshotUpdate};
use crate::status::SnapshotStatus;
use crate::views;

/// The filters a project's user may list snapshots by
/// (`resource_filters.json`).
const FILTERS: &[&str] = &["name", "status", "volume_id", "metadata", "availability_zone"];
const PAGING: &[&str] = &["limit", "marker", "offset", "sort", "sort_key", "sort_dir", "all_tenants", "with_count"];

fn read_create(body: &Value) -> ApiResult<CreateSnapshot> {
    let s = body.get("snapshot").and_then(Value::as_object).ok_or_else(|| bad("'snapshot' is a required property"))?;
    let volume_id = text(s, "volume_id")?.ok_or_else(|| bad("'volume_id' is a required property"))?;
    let force = match s.get("force") {
        None | Some(Value::Null) => false,
        Some(v) => boolean(v).ok_or_else(|| bad(format!("Invalid value '{v}' for force.")))?,
    };
    let either = |a: &str, b: &str| -> ApiResult<Option<String>> { Ok(text(s, a)?.or(text(s, b)?)) };
    Ok(CreateSnapshot {
        volume_id,
        name: either("name", "display_name")?,
        description: either("description", "display_description")?,
        force,
        metadata: string_map(s, "metadata")?,
    })
}

pub async fn create(c: Shared, Caller(ctx): Caller, v: ApiVersion, Body(body): Body) -> ApiResult<Response> {
    let created = c.create_snapshot(&ctx, read_create(&body).map_err(|e| e.0)).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "snapshot": views::snapshot(&created, v, false) }))).into_response())
}

struct ListRequest {
    query: SnapshotQuery,
    with_count: bool,
    params: Vec<(String, String)>,
}

fn read_query(ctx: &Context, v: ApiVersion, q: Option<&str>) -> ApiResult<ListRequest> {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(q.unwrap_or("")).map_err(|e| bad(format!("Invalid query: {e}")))?;
    let mut query = SnapshotQuery::default();
    let mut with_count = false;
    let mut invalid = vec![];
    for (k, val) in &params {
        match k.as_str() {
            "limit" => query.limit = Some(limit(val)?),
            "marker" => query.marker = Some(val.clone()),
            "all_tenants" => query.all_tenants = boolean(&Value::from(val.as_str())).unwrap_or(false),
            "project_id" if ctx.is_admin() => query.project = Some(val.clone()),
            "with_count" if v >= V3_45 => with_count = boolean(&Value::from(val.as_str())).unwrap_or(false),
            "name" => query.filter.name = Some(val.clone()),
            // A status no snapshot can have matches none.
            "status" => query.filter.statuses = Some(SnapshotStatus::parse(&val.to_lowercase()).into_iter().collect()),
            "volume_id" => query.filter.volume_id = Some(val.clone()),
            "metadata" => query.filter.metadata = python_dict(val)?,
            "sort" | "sort_dir" => {
                let dir = val.rsplit(':').next().unwrap_or_default().trim().to_lowercase();
                let key = val.split(':').next().unwrap_or_default().trim();
                if k == "sort" && !["created_at", "id"].contains(&key) {
                    return Err(bad("Invalid input received: Invalid sort key"));
                }
                query.ascending = dir == "asc";
            }
            "sort_key" if !["created_at", "id"].contains(&val.as_str()) => {
                return Err(bad("Invalid input received: Invalid sort key"))
            }
            other if PAGING.contains(&other) || FILTERS.contains(&other) => {}
            other => invalid.push(other.to_owned()),
        }
    }
    if !invalid.is_empty() && !ctx.is_admin() && v >= V3_31 {
        return Err(bad(format!("Invalid filters {} are found in query options.", invalid.join(","))));
    }
    Ok(ListRequest { query, with_count, params })
}

async fn listing(c: Shared, ctx: Context, v: ApiVersion, q: Option<String>, detail: bool) -> ApiResult<Json<Value>> {
    let ListRequest { query, with_count, params } = read_query(&ctx, v, q.as_deref())?;
    let count = if with_count { Some(c.count_snapshots(&ctx, &query).await?) } else { None };
    let (rows, next) = c.list_snapshots(&ctx, query).await?;
    let items = rows.iter().map(|s| views::snapshot(s, v, detail)).collect();
    let path = if detail { "snapshots/detail" } else { "snapshots" };
    Ok(Json(page_body(&c, &ctx, "snapshots", path, items, next, params, count)))
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    listing(c, ctx, v, q, false).await
}

pub async fn detail(c: Shared, Caller(ctx): Caller, v: ApiVersion, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    listing(c, ctx, v, q, true).await
}

pub async fn show(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let s = c.snapshot(&ctx, &id).await?;
    Ok(Json(json!({ "snapshot": views::snapshot(&s, v, true) })))
}

fn read_update(body: &Value) -> ApiResult<SnapshotUpdate> {
    let s = body.get("snapshot").and_then(Value::as_object).ok_or_else(|| bad("'snapshot' is a required property"))?;
    const KEYS: &[&str] = &["name", "description", "display_name", "display_description"];
    if let Some(k) = s.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad(format!("Additional properties are not allowed ('{k}' was unexpected)")));
    }
    let given = |a: &str, b: &str| s.contains_key(a) || s.contains_key(b);
    let pick = |a: &str, b: &str| -> ApiResult<Option<String>> { Ok(text(s, a)?.or(text(s, b)?)) };
    Ok(SnapshotUpdate {
        name: if given("name", "display_name") { Some(pick("name", "display_name")?) } else { None },
        description: if given("description", "display_description") {
            Some(pick("description", "display_description")?)
        } else {
            None
        },
    })
}

pub async fn update(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let s = c.update_snapshot(&ctx, &id, read_update(&body).map_err(|e| e.0)).await?;
    Ok(Json(json!({ "snapshot": views::snapshot(&s, v, true) })))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    c.delete_snapshot(&ctx, &id, false).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /snapshots/{id}/action`: admins' `os-reset_status` and
/// `os-force_delete`.
pub async fn action(c: Shared, Caller(ctx): Caller, Path(id): Path<String>, Body(body): Body) -> ApiResult<Response> {
    let map = body.as_object().cloned().unwrap_or_default();
    if map.len() != 1 {
        return Err(bad("Malformed request body"));
    }
    let (name, args) = map.into_iter().next().unwrap_or_default();
    let empty = Map::new();
    let args = args.as_object().unwrap_or(&empty);
    match name.as_str() {
        "os-reset_status" => {
            let status = args.get("status").and_then(Value::as_str).ok_or_else(|| {
                bad("Invalid input for field/attribute os-reset_status. 'status' is a required property")
            })?;
            c.reset_snapshot_status(&ctx, &id, status).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-force_delete" => {
            c.delete_snapshot(&ctx, &id, true).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        other => Err(bad(format!(
            "There is no such action: {other}. Verify the request body and Content-Type header and try again."
        ))),
    }
}
