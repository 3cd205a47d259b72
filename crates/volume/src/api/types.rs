//! `/types`: volume types, their extra specs and who may use the private
//! ones.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use super::{bad, boolean, string_map, text, ApiResult, Body, Caller, Shared};
use crate::types::TypeFields;
use crate::views;

fn read_type(body: &Value) -> ApiResult<TypeFields> {
    let t = body
        .get("volume_type")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("'volume_type' is a required property"))?;
    let is_public = match t.get("os-volume-type-access:is_public").or_else(|| t.get("is_public")) {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(boolean(v).ok_or_else(|| bad(format!("Invalid input for field/attribute is_public. Value: {v}.")))?)
        }
    };
    Ok(TypeFields {
        name: text(t, "name")?,
        description: if t.contains_key("description") { Some(text(t, "description")?) } else { None },
        is_public,
        extra_specs: if t.contains_key("extra_specs") { Some(string_map(t, "extra_specs")?) } else { None },
    })
}

pub async fn list(c: Shared, Caller(ctx): Caller) -> ApiResult<Json<Value>> {
    let all = c.volume_types(&ctx).await?;
    Ok(Json(json!({"volume_types": all.iter().map(|t| views::volume_type(t, &ctx)).collect::<Vec<_>>()})))
}

pub async fn show(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let t = c.volume_type(&ctx, &id).await?;
    Ok(Json(json!({"volume_type": views::volume_type(&t, &ctx)})))
}

pub async fn create(c: Shared, Caller(ctx): Caller, Body(body): Body) -> ApiResult<Json<Value>> {
    let t = c.create_type(&ctx, read_type(&body).map_err(|e| e.0)).await?;
    Ok(Json(json!({"volume_type": views::volume_type(&t, &ctx)})))
}

pub async fn update(
    c: Shared,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let t = c.update_type(&ctx, &id, read_type(&body).map_err(|e| e.0)).await?;
    Ok(Json(json!({"volume_type": views::volume_type(&t, &ctx)})))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    c.delete_type(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn extra_specs(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"extra_specs": c.extra_specs(&ctx, &id).await?})))
}

pub async fn set_extra_specs(
    c: Shared,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let map = body.as_object().cloned().unwrap_or_default();
    if !map.contains_key("extra_specs") {
        return Err(bad("'extra_specs' is a required property"));
    }
    let specs = string_map(&map, "extra_specs")?;
    c.set_extra_specs(&ctx, &id, specs.clone(), "volume_extension:types_extra_specs:create").await?;
    Ok(Json(json!({ "extra_specs": specs })))
}

pub async fn extra_spec(
    c: Shared,
    Caller(ctx): Caller,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let value = c.extra_spec(&ctx, &id, &key).await?;
    Ok(Json(json!({ key: value })))
}

pub async fn set_extra_spec(
    c: Shared,
    Caller(ctx): Caller,
    Path((id, key)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let map: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
    if map.len() > 1 {
        return Err(bad("Request body contains too many items"));
    }
    let Some(value) = map.get(&key) else { return Err(bad("Request body and URI mismatch")) };
    let value = value.as_str().ok_or_else(|| bad(format!("Invalid input for field/attribute {key}.")))?.to_owned();
    let specs = std::collections::BTreeMap::from([(key.clone(), value.clone())]);
    c.set_extra_specs(&ctx, &id, specs, "volume_extension:types_extra_specs:update").await?;
    Ok(Json(json!({ key: value })))
}

pub async fn delete_extra_spec(
    c: Shared,
    Caller(ctx): Caller,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    c.delete_extra_spec(&ctx, &id, &key).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn access(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let projects = c.type_access(&ctx, &id).await?;
    let entries: Vec<Value> = projects.iter().map(|p| json!({"volume_type_id": id, "project_id": p})).collect();
    Ok(Json(json!({ "volume_type_access": entries })))
}

/// `addProjectAccess` and `removeProjectAccess`.
pub async fn action(c: Shared, Caller(ctx): Caller, Path(id): Path<String>, Body(body): Body) -> ApiResult<StatusCode> {
    let project = |key: &str| {
        body[key]["project"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| bad("Access list not available for public volume types."))
    };
    if body.get("addProjectAccess").is_some() {
        c.add_type_access(&ctx, &id, &project("addProjectAccess")?).await?;
    } else if body.get("removeProjectAccess").is_some() {
        c.remove_type_access(&ctx, &id, &project("removeProjectAccess")?).await?;
    } else {
        return Err(bad("Invalid request body"));
    }
    Ok(StatusCode::ACCEPTED)
}
