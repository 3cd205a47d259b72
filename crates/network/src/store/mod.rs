//! Network's tables: the rows of each, the queries every resource shares
//! (by table name) here, and each resource's own statements in the
//! submodules networks (and subnets), ports, ipam (the addresses given and
//! each subnet's free ranges), routers
//! (and floating IPs), security groups (and their rules), subnet pools and
//! quotas. All SQL of the service is in this module; the rules are in the
//! modules of the crate named as these.

pub mod ipam;
pub mod listing;
pub mod networks;
pub mod ports;
pub mod quotas;
pub mod routers;
pub mod security_groups;
pub mod subnetpools;

use oxistack_core::db::{self, Pool};
use sqlx::FromRow;

use crate::Result;

pub use subnetpools::SubnetPoolRow;

#[derive(Clone, Debug, FromRow)]
pub struct NetworkRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub admin_state_up: bool,
    pub shared: bool,
    pub external: bool,
    pub is_default: bool,
    pub mtu: i64,
    pub port_security_enabled: bool,
    pub network_type: String,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<i64>,
    pub tags: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct SubnetRow {
    pub id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub ip_version: i64,
    pub cidr: String,
    pub gateway_ip: Option<String>,
    pub allocation_pools: String,
    pub dns_nameservers: String,
    pub host_routes: String,
    pub enable_dhcp: bool,
    pub ipv6_ra_mode: Option<String>,
    pub ipv6_address_mode: Option<String>,
    pub subnetpool_id: Option<String>,
    pub tags: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct PortRow {
    pub id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub mac_address: String,
    pub admin_state_up: bool,
    pub status: String,
    pub device_id: String,
    pub device_owner: String,
    pub port_security_enabled: bool,
    pub security_groups: String,
    pub allowed_address_pairs: String,
    pub binding_host_id: String,
    pub binding_vnic_type: String,
    pub binding_profile: String,
    pub dns_name: String,
    pub tags: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct Allocation {
    pub subnet_id: String,
    pub ip_address: String,
    pub port_id: String,
    pub network_id: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct RouterRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub admin_state_up: bool,
    pub status: String,
    pub gw_network_id: Option<String>,
    pub gw_port_id: Option<String>,
    pub enable_snat: bool,
    pub routes: String,
    pub tags: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct FloatingIpRow {
    pub id: String,
    pub project_id: String,
    pub description: String,
    pub floating_network_id: String,
    pub floating_ip_address: String,
    pub floating_port_id: String,
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<String>,
    pub router_id: Option<String>,
    pub status: String,
    pub tags: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct SecurityGroupRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub stateful: bool,
    pub tags: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct RuleRow {
    pub id: String,
    pub security_group_id: String,
    pub project_id: String,
    pub direction: String,
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// Every row of `table` (a name from this crate, never from a request).
pub async fn all<T>(pool: &Pool, table: &str) -> Result<Vec<T>>
where
    T: db::Record,
{
    Ok(db::query_as(&format!("SELECT * FROM {table} ORDER BY created_at, id")).fetch_all(pool).await?)
}

pub async fn get<T>(pool: &Pool, table: &str, id: &str) -> Result<Option<T>>
where
    T: db::Record,
{
    Ok(db::query_as(&format!("SELECT * FROM {table} WHERE id = ?")).bind(id).fetch_optional(pool).await?)
}

/// Rows of `table` whose `column` is `value`.
pub async fn by<T>(pool: &Pool, table: &str, column: &str, value: &str) -> Result<Vec<T>>
where
    T: db::Record,
{
    Ok(db::query_as(&format!("SELECT * FROM {table} WHERE {column} = ? ORDER BY created_at, id"))
        .bind(value)
        .fetch_all(pool)
        .await?)
}

pub async fn delete(pool: &Pool, table: &str, id: &str) -> Result<bool> {
    Ok(db::query(&format!("DELETE FROM {table} WHERE id = ?")).bind(id).execute(pool).await?.rows_affected() == 1)
}

/// Marks a change: a new revision and update time.
pub async fn touch(pool: &Pool, table: &str, id: &str, now: &str) -> Result<()> {
    db::query(&format!("UPDATE {table} SET revision_number = revision_number + 1, updated_at = ? WHERE id = ?"))
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_tags(pool: &Pool, table: &str, id: &str, tags: &[String], now: &str) -> Result<()> {
    db::query(&format!(
        "UPDATE {table} SET tags = ?, revision_number = revision_number + 1, updated_at = ? WHERE id = ?"
    ))
    .bind(serde_json::to_string(tags).unwrap_or_else(|_| "[]".into()))
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// How many rows of `table` a project owns.
pub async fn count(pool: &Pool, table: &str, project: &str) -> Result<i64> {
    let (n,): (i64,) = db::query_as(&format!("SELECT COUNT(*) FROM {table} WHERE project_id = ?"))
        .bind(project)
        .fetch_one(pool)
        .await?;
    Ok(n)
}

/// Every address allocation, by port.
pub async fn allocations(pool: &Pool) -> Result<Vec<Allocation>> {
    Ok(db::query_as(&format!("SELECT * FROM ip_allocations ORDER BY {}", pool.inserted())).fetch_all(pool).await?)
}

pub async fn port_allocations(pool: &Pool, port: &str) -> Result<Vec<Allocation>> {
    Ok(db::query_as(&format!("SELECT * FROM ip_allocations WHERE port_id = ? ORDER BY {}", pool.inserted()))
        .bind(port)
        .fetch_all(pool)
        .await?)
}

pub fn json_list(text: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(text).unwrap_or_default()
}

pub fn string_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}
