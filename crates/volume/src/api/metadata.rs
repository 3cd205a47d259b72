//! `/volumes/{id}/metadata` and `/snapshots/{id}/metadata`: one set of
//! handlers, `SNAPSHOT` telling whose metadata they are.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use super::{bad, metadata_body, ApiResult, Body, Caller, Shared};
use crate::store::Metadata;
use crate::Volume;

async fn read(c: &Volume, ctx: &Context, snapshot: bool, id: &str) -> Result<Metadata> {
    if snapshot {
        c.snapshot_metadata(ctx, id).await
    } else {
        c.metadata(ctx, id).await
    }
}

async fn write(
    c: &Volume,
    ctx: &Context,
    snapshot: bool,
    id: &str,
    items: Metadata,
    replace: bool,
) -> Result<Metadata> {
    if snapshot {
        c.set_snapshot_metadata(ctx, id, items, replace).await
    } else {
        c.set_metadata(ctx, id, items, replace).await
    }
}

pub async fn index<const SNAPSHOT: bool>(
    c: Shared,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "metadata": read(&c, &ctx, SNAPSHOT, &id).await? })))
}

/// `POST` merges the body's metadata into what is there.
pub async fn merge<const SNAPSHOT: bool>(
    c: Shared,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let items = metadata_body(&body, "metadata")?;
    Ok(Json(json!({ "metadata": write(&c, &ctx, SNAPSHOT, &id, items, false).await? })))
}

/// `PUT` replaces it.
pub async fn replace<const SNAPSHOT: bool>(
    c: Shared,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let items = metadata_body(&body, "metadata")?;
    Ok(Json(json!({ "metadata": write(&c, &ctx, SNAPSHOT, &id, items, true).await? })))
}

pub async fn item<const SNAPSHOT: bool>(
    c: Shared,
    Caller(ctx): Caller,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let all = read(&c, &ctx, SNAPSHOT, &id).await?;
    let what = if SNAPSHOT { "Snapshot" } else { "Volume" };
    let value = all.get(&key).ok_or_else(|| Error::NotFound(format!("{what} {id} has no metadata with key {key}.")))?;
    Ok(Json(json!({ "meta": { key: value } })))
}

pub async fn set_item<const SNAPSHOT: bool>(
    c: Shared,
    Caller(ctx): Caller,
    Path((id, key)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let meta = metadata_body(&body, "meta")?;
    if meta.len() > 1 {
        return Err(bad("Request body contains too many items"));
    }
    let Some(value) = meta.get(&key).cloned() else {
        return Err(bad("Request body and URI mismatch"));
    };
    write(&c, &ctx, SNAPSHOT, &id, meta, false).await?;
    Ok(Json(json!({ "meta": { key: value } })))
}

pub async fn delete_item<const SNAPSHOT: bool>(
    c: Shared,
    Caller(ctx): Caller,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if SNAPSHOT {
        c.delete_snapshot_metadata_item(&ctx, &id, &key).await?;
    } else {
        c.delete_metadata_item(&ctx, &id, &key).await?;
    }
    Ok(StatusCode::OK)
}
