//! The `aggregates` and `aggregate_hosts` tables.

use oxistack_core::db::{self, JsonText, Pool};
use oxistack_core::error::{Error, OnUnique, Result};
use serde_json::{Map, Value};
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct Aggregate {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub metadata: JsonText<Map<String, Value>>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl Aggregate {
    pub fn zone(&self) -> Option<String> {
        self.metadata.get("availability_zone").and_then(Value::as_str).map(String::from)
    }
}

pub async fn list(pool: &Pool) -> Result<Vec<Aggregate>> {
    Ok(db::query_as("SELECT * FROM aggregates ORDER BY id").fetch_all(pool).await?)
}

/// By numeric id or UUID.
pub async fn find(pool: &Pool, id: &str) -> Result<Option<Aggregate>> {
    Ok(db::query_as("SELECT * FROM aggregates WHERE CAST(id AS TEXT) = ? OR uuid = ?")
        .bind(id)
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

pub async fn hosts(pool: &Pool, aggregate_id: i64) -> Result<Vec<String>> {
    Ok(db::query_scalar("SELECT host FROM aggregate_hosts WHERE aggregate_id = ? ORDER BY host")
        .bind(aggregate_id)
        .fetch_all(pool)
        .await?)
}

pub async fn insert(pool: &Pool, uuid: &str, name: &str, metadata: &Map<String, Value>, now: &str) -> Result<()> {
    db::query("INSERT INTO aggregates (uuid, name, metadata, created_at) VALUES (?, ?, ?, ?)")
        .bind(uuid)
        .bind(name)
        .bind(JsonText(metadata))
        .bind(now)
        .execute(pool)
        .await
        .on_unique(|| Error::Conflict(format!("Aggregate {name} already exists.")))?;
    Ok(())
}

pub async fn update(pool: &Pool, a: &Aggregate, now: &str) -> Result<()> {
    db::query("UPDATE aggregates SET name = ?, metadata = ?, updated_at = ? WHERE id = ?")
        .bind(&a.name)
        .bind(&a.metadata)
        .bind(now)
        .bind(a.id)
        .execute(pool)
        .await
        .on_unique(|| Error::Conflict(format!("Aggregate {} already exists.", a.name)))?;
    Ok(())
}

pub async fn delete(pool: &Pool, id: i64) -> Result<()> {
    db::query("DELETE FROM aggregates WHERE id = ?").bind(id).execute(pool).await?;
    Ok(())
}

pub async fn add_host(pool: &Pool, a: &Aggregate, host: &str) -> Result<()> {
    db::query("INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (?, ?)")
        .bind(a.id)
        .bind(host)
        .execute(pool)
        .await
        .on_unique(|| Error::Conflict(format!("Aggregate {} already has host {host}.", a.id)))?;
    Ok(())
}

/// Each host in an aggregate with that aggregate's metadata, by aggregate.
pub async fn hosts_with_metadata(pool: &Pool) -> Result<Vec<(String, JsonText<Map<String, Value>>)>> {
    Ok(db::query_as(
        "SELECT h.host, a.metadata FROM aggregate_hosts h JOIN aggregates a ON a.id = h.aggregate_id
         ORDER BY a.id, h.host",
    )
    .fetch_all(pool)
    .await?)
}

/// Whether the host was in the aggregate.
pub async fn remove_host(pool: &Pool, aggregate_id: i64, host: &str) -> Result<bool> {
    let done = db::query("DELETE FROM aggregate_hosts WHERE aggregate_id = ? AND host = ?")
        .bind(aggregate_id)
        .bind(host)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
