//! Host aggregates, and the availability zone they give their hosts: a host
//! is in the zone of an aggregate whose metadata names one, else in the
//! default zone.

use oxistack_core::db::Pool;
use oxistack_core::error::{Error, Result};
use serde_json::{Map, Value};

use crate::service::now;
use crate::store::aggregates as store;
pub use crate::store::aggregates::{hosts, list, Aggregate};

/// By numeric id or UUID.
pub async fn get(pool: &Pool, id: &str) -> Result<Aggregate> {
    store::find(pool, id).await?.ok_or_else(|| Error::NotFound(format!("Aggregate {id} could not be found.")))
}

pub async fn create(pool: &Pool, name: &str, zone: Option<&str>) -> Result<Aggregate> {
    let mut metadata = Map::new();
    if let Some(z) = zone {
        metadata.insert("availability_zone".into(), Value::String(z.into()));
    }
    let uuid = uuid::Uuid::new_v4().to_string();
    store::insert(pool, &uuid, name, &Value::Object(metadata).to_string(), &now()).await?;
    get(pool, &uuid).await
}

pub async fn save(pool: &Pool, a: &Aggregate) -> Result<()> {
    store::update(pool, a, &now()).await
}

pub async fn delete(pool: &Pool, a: &Aggregate) -> Result<()> {
    if !hosts(pool, a.id).await?.is_empty() {
        return Err(Error::BadRequest(format!("Aggregate {} still has hosts.", a.id)));
    }
    store::delete(pool, a.id).await
}

pub async fn add_host(pool: &Pool, a: &Aggregate, host: &str) -> Result<()> {
    store::add_host(pool, a, host).await
}

pub async fn remove_host(pool: &Pool, a: &Aggregate, host: &str) -> Result<()> {
    if !store::remove_host(pool, a.id, host).await? {
        return Err(Error::NotFound(format!("Cannot remove host {host} in aggregate {}: not found", a.id)));
    }
    Ok(())
}

/// The zone of `host`: that of an aggregate it is in which names one, else `default`.
pub async fn zone_of(pool: &Pool, host: &str, default: &str) -> Result<String> {
    for a in list(pool).await? {
        if let Some(z) = a.zone() {
            if hosts(pool, a.id).await?.iter().any(|h| h == host) {
                return Ok(z);
            }
        }
    }
    Ok(default.to_owned())
}
