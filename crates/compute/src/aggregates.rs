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
    store::insert(pool, &uuid, name, &metadata, &now()).await?;
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

/// The zone of each host: that of the first aggregate it is in which names
/// one, else the default; read in one query for all hosts.
pub struct Zones {
    of_host: std::collections::HashMap<String, String>,
    default: String,
}

impl Zones {
    pub async fn read(pool: &Pool, default: &str) -> Result<Zones> {
        let mut of_host = std::collections::HashMap::new();
        for (host, metadata) in store::hosts_with_metadata(pool).await? {
            if let Some(zone) = metadata.get("availability_zone").and_then(Value::as_str) {
                of_host.entry(host).or_insert_with(|| zone.to_owned());
            }
        }
        Ok(Zones { of_host, default: default.to_owned() })
    }

    pub fn of(&self, host: &str) -> &str {
        self.of_host.get(host).unwrap_or(&self.default)
    }
}
