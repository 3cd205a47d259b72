//! `/flavors`

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{bad, base, ApiResult, Body, Caller, Params, Shared};
use crate::flavors::FlavorFilter;
use crate::microversion::{ApiVersion, V2_55};
use crate::service::now;
use crate::store::Flavor;
use crate::views;

async fn visible(c: &crate::Compute, ctx: &oxistack_core::Context, params: &Params) -> ApiResult<Vec<Flavor>> {
    let filter = FlavorFilter {
        is_public: params.get("is_public").map(|s| s.to_ascii_lowercase()),
        min_ram: params.get("minRam").and_then(|s| s.parse().ok()).unwrap_or(0),
        min_disk: params.get("minDisk").and_then(|s| s.parse().ok()).unwrap_or(0),
    };
    Ok(c.flavors(ctx, &filter).await?)
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion, params: Params) -> ApiResult<Json<Value>> {
    let b = base(&c);
    let items: Vec<Value> = visible(&c, &ctx, &params).await?.iter().map(|f| views::flavor_brief(&b, f, v)).collect();
    Ok(Json(json!({"flavors": items})))
}

pub async fn detail(c: Shared, Caller(ctx): Caller, v: ApiVersion, params: Params) -> ApiResult<Json<Value>> {
    let b = base(&c);
    let items: Vec<Value> = visible(&c, &ctx, &params).await?.iter().map(|f| views::flavor(&b, f, v)).collect();
    Ok(Json(json!({"flavors": items})))
}

pub async fn show(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let f = c.usable_flavor(&ctx, ctx.project_id(), &id).await?;
    Ok(Json(json!({"flavor": views::flavor(&base(&c), &f, v)})))
}

pub async fn create(c: Shared, Caller(_): Caller, v: ApiVersion, Body(body): Body) -> ApiResult<Json<Value>> {
    let f = body
        .get("flavor")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute flavor."))?;
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("Invalid input for field/attribute name."))?;
    let int = |k: &str, required: bool| -> ApiResult<i64> {
        match f.get(k) {
            None if !required => Ok(0),
            Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n >= 0) => Ok(n.as_i64().unwrap()),
            Some(Value::String(s)) if s.parse::<i64>().is_ok_and(|n| n >= 0) => Ok(s.parse().unwrap()),
            _ => Err(bad(format!("Invalid input for field/attribute {k}."))),
        }
    };
    let id = match f.get("id") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(bad("Invalid input for field/attribute id.")),
    };
    let flavor = Flavor {
        id,
        name: name.into(),
        vcpus: int("vcpus", true)?,
        ram: int("ram", true)?,
        disk: int("disk", true)?,
        ephemeral: int("OS-FLV-EXT-DATA:ephemeral", false)?,
        swap: int("swap", false)?,
        rxtx_factor: f.get("rxtx_factor").and_then(Value::as_f64).unwrap_or(1.0),
        is_public: f.get("os-flavor-access:is_public").and_then(Value::as_bool).unwrap_or(true),
        disabled: false,
        description: if v >= V2_55 { f.get("description").and_then(Value::as_str).map(String::from) } else { None },
        extra_specs: Default::default(),
        created_at: now(),
    };
    c.create_flavor(&flavor).await?;
    Ok(Json(json!({"flavor": views::flavor(&base(&c), &flavor, v)})))
}

pub async fn delete(c: Shared, Caller(_): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    c.delete_flavor(&id).await?;
    Ok(StatusCode::ACCEPTED)
}
