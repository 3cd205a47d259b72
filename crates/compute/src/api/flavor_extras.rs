//! `/flavors/{id}/os-extra_specs` and flavor access (`/flavors/{id}/os-flavor-access`,
//! `addTenantAccess` / `removeTenantAccess` actions).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;

use super::{bad, ApiResult, Body, Caller, NovaFault, Shared};
use crate::store;

fn specs_of(f: &store::Flavor) -> Map<String, Value> {
    f.extra_specs.0.clone()
}

fn parse_specs(body: &Value) -> ApiResult<Map<String, Value>> {
    let m = body
        .get("extra_specs")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute extra_specs."))?;
    let mut out = Map::new();
    for (k, v) in m {
        let value = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(bad(format!("Invalid input for field/attribute extra_specs: {k} must be a string."))),
        };
        if k.is_empty() || k.len() > 255 || value.len() > 255 {
            return Err(bad(format!(
                "Invalid input for field/attribute extra_specs: {k} is not a valid key or value."
            )));
        }
        out.insert(k.clone(), json!(value));
    }
    Ok(out)
}

pub async fn list(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"extra_specs": specs_of(&c.usable_flavor(&ctx, ctx.project_id(), &id).await?)})))
}

pub async fn create(c: Shared, Caller(_): Caller, Path(id): Path<String>, Body(body): Body) -> ApiResult<Json<Value>> {
    let f = c.flavor(&id).await?;
    let new = parse_specs(&body)?;
    let mut specs = specs_of(&f);
    specs.extend(new.clone());
    c.set_extra_specs(&id, &specs).await?;
    Ok(Json(json!({"extra_specs": new})))
}

pub async fn show(c: Shared, Caller(ctx): Caller, Path((id, key)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let specs = specs_of(&c.usable_flavor(&ctx, ctx.project_id(), &id).await?);
    let v = specs
        .get(&key)
        .ok_or_else(|| NovaFault(Error::NotFound(format!("Flavor {id} has no extra specs with key {key}."))))?;
    Ok(Json(json!({ key: v })))
}

pub async fn update(
    c: Shared,
    Caller(_): Caller,
    Path((id, key)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let f = c.flavor(&id).await?;
    let obj = body
        .as_object()
        .filter(|o| o.len() == 1 && o.contains_key(&key))
        .ok_or_else(|| bad("Request body and URI mismatch"))?;
    let item = parse_specs(&json!({"extra_specs": obj}))?;
    let mut specs = specs_of(&f);
    specs.extend(item.clone());
    c.set_extra_specs(&id, &specs).await?;
    Ok(Json(Value::Object(item)))
}

pub async fn delete(c: Shared, Caller(_): Caller, Path((id, key)): Path<(String, String)>) -> ApiResult<StatusCode> {
    let mut specs = specs_of(&c.flavor(&id).await?);
    if specs.remove(&key).is_none() {
        return Err(NovaFault(Error::NotFound(format!("Flavor {id} has no extra specs with key {key}."))));
    }
    c.set_extra_specs(&id, &specs).await?;
    Ok(StatusCode::ACCEPTED)
}

fn access_body(id: &str, projects: Vec<String>) -> Json<Value> {
    let rows: Vec<Value> = projects.into_iter().map(|p| json!({"flavor_id": id, "tenant_id": p})).collect();
    Json(json!({"flavor_access": rows}))
}

pub async fn access(c: Shared, Caller(_): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(access_body(&id, c.flavor_access(&id).await?))
}

/// `POST /flavors/{id}/action` with `addTenantAccess` or `removeTenantAccess`.
pub async fn action(c: Shared, Caller(_): Caller, Path(id): Path<String>, Body(body): Body) -> ApiResult<Json<Value>> {
    c.flavor(&id).await?;
    let (add, args) = match (body.get("addTenantAccess"), body.get("removeTenantAccess")) {
        (Some(a), None) => (true, a),
        (None, Some(r)) => (false, r),
        _ => return Err(bad("There is no such action.")),
    };
    let tenant =
        args.get("tenant").and_then(Value::as_str).ok_or_else(|| bad("Invalid input for field/attribute tenant."))?;
    Ok(access_body(&id, c.change_flavor_access(&id, tenant, add).await?))
}
