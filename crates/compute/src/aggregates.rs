//! Host aggregates, and the availability zone they give their hosts: a host
//! is in the zone of an aggregate whose metadata names one, else in the
//! default zone.

use oxistack_core::db::Pool;
use oxistack_core::error::{Error, OnUnique, Result};
use serde_json::{Map, Value};
use sqlx::FromRow;

use crate::service::now;

#[derive(Clone, Debug, FromRow)]
pub struct Aggregate {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub metadata: String,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl Aggregate {
    pub fn metadata(&self) -> Map<String, Value> {
        serde_json::from_str(&self.metadata).unwrap_or_default()
    }

    pub fn zone(&self) -> Option<String> {
        self.metadata().get("availability_zone").and_then(Value::as_str).map(String::from)
    }
}

pub async fn list(pool: &Pool) -> Result<Vec<Aggregate>> {
    Ok(sqlx::query_as("SELECT * FROM aggregates ORDER BY id").fetch_all(pool).await?)
}

/// By numeric id or UUID.
pub async fn get(pool: &Pool, id: &str) -> Result<Aggregate> {
    let found: Option<Aggregate> = sqlx::query_as("SELECT * FROM aggregates WHERE CAST(id AS TEXT) = ? OR uuid = ?")
        .bind(id)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    found.ok_or_else(|| Error::NotFound(format!("Aggregate {id} could not be found.")))
}

pub async fn hosts(pool: &Pool, aggregate_id: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT host FROM aggregate_hosts WHERE aggregate_id = ? ORDER BY host")
        .bind(aggregate_id)
        .fetch_all(pool)
        .await?)
}

pub async fn create(pool: &Pool, name: &str, zone: Option<&str>) -> Result<Aggregate> {
    let mut metadata = Map::new();
    if let Some(z) = zone {
        metadata.insert("availability_zone".into(), Value::String(z.into()));
    }
    let uuid = uuid::Uuid::new_v4().to_string();
    sqlx::query("INSERT INTO aggregates (uuid, name, metadata, created_at) VALUES (?, ?, ?, ?)")
        .bind(&uuid)
        .bind(name)
        .bind(Value::Object(metadata).to_string())
        .bind(now())
        .execute(pool)
        .await
        .on_unique(|| Error::Conflict(format!("Aggregate {name} already exists.")))?;
    get(pool, &uuid).await
}

pub async fn save(pool: &Pool, a: &Aggregate) -> Result<()> {
    sqlx::query("UPDATE aggregates SET name = ?, metadata = ?, updated_at = ? WHERE id = ?")
        .bind(&a.name)
        .bind(&a.metadata)
        .bind(now())
        .bind(a.id)
        .execute(pool)
        .await
        .on_unique(|| Error::Conflict(format!("Aggregate {} already exists.", a.name)))?;
    Ok(())
}

pub async fn delete(pool: &Pool, a: &Aggregate) -> Result<()> {
    if !hosts(pool, a.id).await?.is_empty() {
        return Err(Error::BadRequest(format!("Aggregate {} still has hosts.", a.id)));
    }
    sqlx::query("DELETE FROM aggregates WHERE id = ?").bind(a.id).execute(pool).await?;
    Ok(())
}

pub async fn add_host(pool: &Pool, a: &Aggregate, host: &str) -> Result<()> {
    sqlx::query("INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (?, ?)")
        .bind(a.id)
        .bind(host)
        .execute(pool)
        .await
        .on_unique(|| Error::Conflict(format!("Aggregate {} already has host {host}.", a.id)))?;
    Ok(())
}

pub async fn remove_host(pool: &Pool, a: &Aggregate, host: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM aggregate_hosts WHERE aggregate_id = ? AND host = ?")
        .bind(a.id)
        .bind(host)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
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
