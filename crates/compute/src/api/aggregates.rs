//! `/os-aggregates` (admins): host aggregates and their availability zones.

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;

use super::{bad, ApiResult, Body, Caller, NovaFault, Shared};
use crate::aggregates::{self, Aggregate};
use crate::microversion::{ApiVersion, V2_41};

async fn view(c: &crate::Compute, a: &Aggregate, v: ApiVersion, full: bool) -> ApiResult<Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(a.id));
    m.insert("name".into(), json!(a.name));
    m.insert("availability_zone".into(), json!(a.zone()));
    m.insert("created_at".into(), json!(a.created_at));
    m.insert("updated_at".into(), json!(a.updated_at));
    m.insert("deleted".into(), json!(false));
    m.insert("deleted_at".into(), Value::Null);
    if v >= V2_41 {
        m.insert("uuid".into(), json!(a.uuid));
    }
    if full {
        m.insert("hosts".into(), json!(aggregates::hosts(&c.pool, a.id).await?));
        m.insert("metadata".into(), json!(a.metadata));
    }
    Ok(Value::Object(m))
}

fn str_of(v: &Value, key: &str) -> ApiResult<Option<String>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 255 => Ok(Some(s.clone())),
        Some(other) => Err(bad(format!("Invalid input for field/attribute {key}. Value: {other}."))),
    }
}

pub async fn list(c: Shared, Caller(_): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    let mut out = vec![];
    for a in aggregates::list(&c.pool).await? {
        out.push(view(&c, &a, v, true).await?);
    }
    Ok(Json(json!({"aggregates": out})))
}

pub async fn create(c: Shared, Caller(_): Caller, v: ApiVersion, Body(body): Body) -> ApiResult<Json<Value>> {
    let a = body.get("aggregate").ok_or_else(|| bad("Invalid input for field/attribute aggregate."))?;
    let name = str_of(a, "name")?
        .ok_or_else(|| bad("Invalid input for field/attribute aggregate. 'name' is a required property"))?;
    let agg = aggregates::create(&c.pool, &name, str_of(a, "availability_zone")?.as_deref()).await?;
    Ok(Json(json!({"aggregate": view(&c, &agg, v, false).await?})))
}

pub async fn show(c: Shared, Caller(_): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let a = aggregates::get(&c.pool, &id).await?;
    Ok(Json(json!({"aggregate": view(&c, &a, v, true).await?})))
}

pub async fn update(
    c: Shared,
    Caller(_): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let mut a = aggregates::get(&c.pool, &id).await?;
    let u = body.get("aggregate").ok_or_else(|| bad("Invalid input for field/attribute aggregate."))?;
    if let Some(name) = str_of(u, "name")? {
        a.name = name;
    }
    if let Some(zone) = str_of(u, "availability_zone")? {
        a.metadata.insert("availability_zone".into(), json!(zone));
    }
    aggregates::save(&c.pool, &a).await?;
    let a = aggregates::get(&c.pool, &id).await?;
    Ok(Json(json!({"aggregate": view(&c, &a, v, true).await?})))
}

pub async fn delete(c: Shared, Caller(_): Caller, Path(id): Path<String>) -> ApiResult<axum::http::StatusCode> {
    let a = aggregates::get(&c.pool, &id).await?;
    aggregates::delete(&c.pool, &a).await?;
    Ok(axum::http::StatusCode::OK)
}

/// `add_host`, `remove_host` and `set_metadata`.
pub async fn action(
    c: Shared,
    Caller(_): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let mut a = aggregates::get(&c.pool, &id).await?;
    if let Some(args) = body.get("add_host").or(body.get("remove_host")) {
        let host = str_of(args, "host")?.ok_or_else(|| bad("Invalid input for field/attribute host."))?;
        if !crate::host::nodes(&c.pool).await?.iter().any(|n| n.host == host) {
            return Err(NovaFault(Error::NotFound(format!("Compute host {host} could not be found."))));
        }
        if body.get("add_host").is_some() {
            aggregates::add_host(&c.pool, &a, &host).await?;
        } else {
            aggregates::remove_host(&c.pool, &a, &host).await?;
        }
    } else if let Some(meta) = body.pointer("/set_metadata/metadata").and_then(Value::as_object) {
        let m = &mut a.metadata;
        for (k, val) in meta {
            match val {
                Value::Null => {
                    m.remove(k);
                }
                Value::String(_) => {
                    m.insert(k.clone(), val.clone());
                }
                other => return Err(bad(format!("Invalid input for field/attribute metadata. Value: {other}."))),
            }
        }
        aggregates::save(&c.pool, &a).await?;
    } else {
        return Err(bad("There is no such action."));
    }
    let a = aggregates::get(&c.pool, &id).await?;
    Ok(Json(json!({"aggregate": view(&c, &a, v, true).await?})))
}
