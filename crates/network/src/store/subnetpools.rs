//! The `subnetpools` table: the pools' rows and what creating and changing
//! them writes.

use oxistack_core::db::{self, Pool};
use sqlx::FromRow;

use crate::Result;

#[derive(Clone, Debug, FromRow)]
pub struct SubnetPoolRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub ip_version: i64,
    pub prefixes: String,
    pub default_prefixlen: i64,
    pub min_prefixlen: i64,
    pub max_prefixlen: i64,
    pub shared: bool,
    pub is_default: bool,
    pub tags: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// Inserts a new subnet pool.
pub async fn insert_subnetpool(pool: &Pool, p: &SubnetPoolRow) -> Result<()> {
    db::query(
        "INSERT INTO subnetpools (id, name, description, project_id, ip_version, prefixes, default_prefixlen,
            min_prefixlen, max_prefixlen, shared, is_default, tags, revision_number, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.project_id)
    .bind(p.ip_version)
    .bind(&p.prefixes)
    .bind(p.default_prefixlen)
    .bind(p.min_prefixlen)
    .bind(p.max_prefixlen)
    .bind(p.shared)
    .bind(p.is_default)
    .bind(&p.tags)
    .bind(p.revision_number)
    .bind(&p.created_at)
    .bind(&p.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes what an update may change of pool `p.id`: name, description,
/// prefixes, default prefix length and `is_default`.
pub async fn update_subnetpool(pool: &Pool, p: &SubnetPoolRow) -> Result<()> {
    db::query("UPDATE subnetpools SET name = ?, description = ?, prefixes = ?, default_prefixlen = ?, is_default = ? WHERE id = ?")
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.prefixes)
        .bind(p.default_prefixlen)
        .bind(p.is_default)
        .bind(&p.id)
        .execute(pool)
        .await?;
    Ok(())
}
