//! `/v2/images`, `/v2/images/{id}`, tags, deactivate and reactivate.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::error::Error;

use super::{json_body, ApiResult, Caller, GlanceError, Shared};
use crate::service::{view, ListQuery};

pub async fn create(image: Shared, Caller(ctx): Caller, body: Bytes) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = json_body(body).await?;
    let obj = body
        .as_object()
        .ok_or_else(|| GlanceError(Error::BadRequest("The request body must be a JSON object.".into())))?;
    let img = image.create(&ctx, obj).await?;
    Ok((StatusCode::CREATED, Json(view(&img))))
}

pub async fn list(image: Shared, Caller(ctx): Caller, RawQuery(query): RawQuery) -> ApiResult<Json<Value>> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| GlanceError(Error::BadRequest(format!("Invalid query: {e}"))))?;
    let q = ListQuery { params };
    let (rows, next) = image.list(&ctx, &q).await?;
    let mut body = json!({
        "images": rows.iter().map(view).collect::<Vec<_>>(),
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    });
    if let Some(marker) = next {
        // The next page: the same query, from after the last image shown.
        let mut params: Vec<(String, String)> = q.params.into_iter().filter(|(k, _)| k != "marker").collect();
        params.push(("marker".into(), marker));
        body["next"] = json!(format!("/v2/images?{}", serde_urlencoded::to_string(&params).unwrap_or_default()));
    }
    Ok(Json(body))
}

pub async fn show(image: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(view(&image.visible(&ctx, &id).await?)))
}

pub const PATCH_MEDIA_TYPE: &str = "application/openstack-images-v2.1-json-patch";

/// An operation in the v2.1 shape (`{"op", "path", "value"}`), from either.
fn v2_1_operation(op: &Value) -> Value {
    let Some(o) = op.as_object().filter(|o| !o.contains_key("op")) else { return op.clone() };
    match ["add", "replace", "remove"].iter().find(|k| o.contains_key(**k)) {
        Some(kind) => {
            let mut v = serde_json::json!({"op": kind, "path": o[*kind]});
            if let Some(value) = o.get("value") {
                v["value"] = value.clone();
            }
            v
        }
        None => op.clone(),
    }
}

pub async fn update(
    image: Shared,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ctype.starts_with(PATCH_MEDIA_TYPE) && !ctype.starts_with("application/openstack-images-v2.0-json-patch") {
        return Err(GlanceError(Error::UnsupportedMediaType(format!(
            "Unsupported Content-Type {ctype}: use {PATCH_MEDIA_TYPE}"
        ))));
    }
    let ops = json_body(body).await?;
    let ops =
        ops.as_array().ok_or_else(|| GlanceError(Error::BadRequest("A JSON patch is a list of operations.".into())))?;
    // The v2.0 media type writes an operation as `{"replace": "/name", "value": ..}`.
    let ops: Vec<Value> = ops.iter().map(v2_1_operation).collect();
    Ok(Json(view(&image.patch(&ctx, &id, &ops).await?)))
}

pub async fn delete(image: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    image.delete(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn deactivate(image: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    image.set_active(&ctx, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn reactivate(image: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    image.set_active(&ctx, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_tag(
    image: Shared,
    Caller(ctx): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    image.set_tag(&ctx, &id, &tag, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_tag(
    image: Shared,
    Caller(ctx): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    image.set_tag(&ctx, &id, &tag, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
