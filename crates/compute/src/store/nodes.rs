//! The `compute_nodes` table: each compute host's size, allocation ratios and
//! heartbeat; and what the instances on each host take of it.

use oxistack_core::db::{self, Pool};
use oxistack_core::error::Result;
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct ComputeNode {
    /// Nova's integer hypervisor id (before microversion 2.53).
    pub id: i64,
    pub host: String,
    pub hypervisor_type: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub cpu_allocation_ratio: f64,
    pub ram_allocation_ratio: f64,
    pub disk_allocation_ratio: f64,
    pub created_at: String,
    pub updated_at: String,
    /// Where this host's serial console proxy answers (`ws://.../console/serial`).
    pub serial_proxy_url: String,
}

/// Writes the host's row (its id stays the one it was first given) and so
/// beats its heartbeat.
pub async fn report(pool: &Pool, node: &ComputeNode) -> Result<()> {
    db::query(
        "INSERT INTO compute_nodes (host, hypervisor_type, vcpus, memory_mb, local_gb, cpu_allocation_ratio,
            ram_allocation_ratio, disk_allocation_ratio, created_at, updated_at, serial_proxy_url)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (host) DO UPDATE SET hypervisor_type = excluded.hypervisor_type, vcpus = excluded.vcpus,
            memory_mb = excluded.memory_mb, local_gb = excluded.local_gb,
            cpu_allocation_ratio = excluded.cpu_allocation_ratio,
            ram_allocation_ratio = excluded.ram_allocation_ratio,
            disk_allocation_ratio = excluded.disk_allocation_ratio, updated_at = excluded.updated_at,
            serial_proxy_url = excluded.serial_proxy_url",
    )
    .bind(&node.host)
    .bind(&node.hypervisor_type)
    .bind(node.vcpus)
    .bind(node.memory_mb)
    .bind(node.local_gb)
    .bind(node.cpu_allocation_ratio)
    .bind(node.ram_allocation_ratio)
    .bind(node.disk_allocation_ratio)
    .bind(&node.created_at)
    .bind(&node.updated_at)
    .bind(&node.serial_proxy_url)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every compute host, in the order they first reported.
pub async fn nodes(pool: &Pool) -> Result<Vec<ComputeNode>> {
    Ok(db::query_as("SELECT * FROM compute_nodes ORDER BY id").fetch_all(pool).await?)
}

pub async fn node(pool: &Pool, host: &str) -> Result<Option<ComputeNode>> {
    Ok(db::query_as("SELECT * FROM compute_nodes WHERE host = ?").bind(host).fetch_optional(pool).await?)
}

/// Drops the rows of every host but `host`.
pub async fn forget_others(pool: &Pool, host: &str) -> Result<()> {
    db::query("DELETE FROM compute_nodes WHERE host <> ?").bind(host).execute(pool).await?;
    Ok(())
}

/// What the live instances on a host take of it.
#[derive(Clone, Debug, Default, FromRow)]
pub struct HostUsage {
    pub host: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    /// GiB: root, ephemeral, and swap rounded up.
    pub disk_gb: i64,
    pub instances: i64,
}

/// What the live instances on `host` take of it.
pub async fn usage_of(pool: &Pool, host: &str) -> Result<HostUsage> {
    Ok(db::query_as(
        "SELECT ? AS host, CAST(COALESCE(SUM(vcpus), 0) AS BIGINT) AS vcpus,
            CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT) AS memory_mb,
            CAST(COALESCE(SUM(disk_gb), 0) AS BIGINT) AS disk_gb, COUNT(*) AS instances
         FROM instances WHERE deleted = FALSE AND host = ?",
    )
    .bind(host)
    .bind(host)
    .fetch_one(pool)
    .await?)
}

/// What the live instances take of each host that has any.
pub async fn usage_by_host(pool: &Pool) -> Result<Vec<HostUsage>> {
    Ok(db::query_as(
        "SELECT host, CAST(COALESCE(SUM(vcpus), 0) AS BIGINT) AS vcpus,
            CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT) AS memory_mb,
            CAST(COALESCE(SUM(disk_gb), 0) AS BIGINT) AS disk_gb, COUNT(*) AS instances
         FROM instances WHERE deleted = FALSE AND host IS NOT NULL GROUP BY host",
    )
    .fetch_all(pool)
    .await?)
}
