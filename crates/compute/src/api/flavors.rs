//! `/flavors`

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{bad, base, ApiResult, Body, Caller, Params, Shared};
use crate::microversion::{ApiVersion, V2_55};
use crate::service::now;
use crate::store::{self, Flavor};
use crate::views;

async fn visible(c: &crate::Compute, ctx: &oxistack_core::Context, params: &Params) -> ApiResult<Vec<Flavor>> {
    let all = store::flavors(&c.pool).await?;
    // Admins see non-public flavors with is_public=None or false; others public only.
    let is_public = params.get("is_public").map(|s| s.to_ascii_lowercase());
    let min_ram: i64 = params.get("minRam").and_then(|s| s.parse().ok()).unwrap_or(0);
    let min_disk: i64 = params.get("minDisk").and_then(|s| s.parse().ok()).unwrap_or(0);
    let shared = match ctx.project_id() {
        Some(p) => store::flavors_shared_with(&c.pool, p).await?,
        None => vec![],
    };
    Ok(all
        .into_iter()
        .filter(|f| match (ctx.is_admin(), is_public.as_deref()) {
            (true, Some("none")) => true,
            (true, Some("false")) => !f.is_public,
            _ => f.is_public || shared.contains(&f.id),
        })
        .filter(|f| f.ram >= min_ram && f.disk >= min_disk)
        .collect())
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
    if flavor.vcpus < 1 || flavor.ram < 1 {
        return Err(bad("Invalid input for field/attribute: vcpus and ram must be at least 1."));
    }
    store::insert_flavor(&c.pool, &flavor).await?;
    Ok(Json(json!({"flavor": views::flavor(&base(&c), &flavor, v)})))
}

pub async fn delete(c: Shared, Caller(_): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    if !store::delete_flavor(&c.pool, &id).await? {
        return Err(oxistack_core::Error::NotFound(format!("Flavor {id} could not be found.")).into());
    }
    Ok(StatusCode::ACCEPTED)
}
