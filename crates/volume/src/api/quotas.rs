//! `/os-quota-sets`, `/os-quota-class-sets` and `/limits`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{bad, boolean, integer, ApiResult, Body, Caller, Shared};

pub async fn show(
    c: Shared,
    Caller(ctx): Caller,
    Path(project): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let held = c.quota_set(&ctx, &project).await?;
    let usage = q.get("usage").and_then(|u| boolean(&Value::from(u.as_str()))).unwrap_or(false);
    let mut set = serde_json::Map::new();
    set.insert("id".into(), json!(project));
    for (k, h) in held {
        set.insert(k, if usage { json!(h) } else { json!(h.limit) });
    }
    Ok(Json(json!({ "quota_set": set })))
}

pub async fn defaults(c: Shared, Caller(ctx): Caller, Path(project): Path<String>) -> ApiResult<Json<Value>> {
    let mut set = serde_json::Map::new();
    set.insert("id".into(), json!(project));
    for (k, v) in c.default_quota_set(&ctx, &project).await? {
        set.insert(k, json!(v));
    }
    Ok(Json(json!({ "quota_set": set })))
}

fn read_limits(body: &Value) -> ApiResult<BTreeMap<String, i64>> {
    let set =
        body.get("quota_set").and_then(Value::as_object).ok_or_else(|| bad("'quota_set' is a required property"))?;
    let mut limits = BTreeMap::new();
    for (k, v) in set {
        // Cinder ignores these, which clients send back as they got them.
        if k == "id" || k == "tenant_id" {
            continue;
        }
        let n = integer(v).ok_or_else(|| {
            bad(format!("Invalid input for field/attribute {k}. Value: {v}. {v} is not of type 'integer'"))
        })?;
        limits.insert(k.clone(), n);
    }
    Ok(limits)
}

pub async fn update(
    c: Shared,
    Caller(ctx): Caller,
    Path(project): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let limits = c.update_quota_set(&ctx, &project, read_limits(&body).map_err(|e| e.0)).await?;
    Ok(Json(json!({ "quota_set": limits })))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, Path(project): Path<String>) -> ApiResult<StatusCode> {
    c.delete_quota_set(&ctx, &project).await?;
    Ok(StatusCode::OK)
}

pub async fn limits(c: Shared, Caller(ctx): Caller) -> ApiResult<Json<Value>> {
    let absolute = c.absolute_limits(&ctx).await?;
    Ok(Json(json!({"limits": {"rate": [], "absolute": absolute}})))
}

fn class_set(class: &str, limits: BTreeMap<String, i64>) -> Json<Value> {
    let mut set = serde_json::Map::new();
    set.insert("id".into(), json!(class));
    for (k, v) in limits {
        set.insert(k, json!(v));
    }
    Json(json!({ "quota_class_set": set }))
}

pub async fn show_class(c: Shared, Caller(ctx): Caller, Path(class): Path<String>) -> ApiResult<Json<Value>> {
    Ok(class_set(&class, c.quota_class_set(&ctx, &class).await?))
}

pub async fn update_class(
    c: Shared,
    Caller(ctx): Caller,
    Path(class): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    if class.chars().count() > 255 {
        return Err(bad("Invalid input received: quota_class_name has more than 255 characters."));
    }
    let asked = body
        .get("quota_class_set")
        .map(|set| read_limits(&json!({ "quota_set": set })))
        .unwrap_or_else(|| Err(bad("'quota_class_set' is a required property")));
    let limits = c.update_quota_class_set(&ctx, &class, asked.map_err(|e| e.0)).await?;
    let mut shown = class_set(&class, limits);
    // Cinder's update answers without the id.
    if let Some(set) = shown.0["quota_class_set"].as_object_mut() {
        set.remove("id");
    }
    Ok(shown)
}
