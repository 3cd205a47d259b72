//! The `ports` and `ip_allocations` tables: ports and the addresses given to
//! them (and, when a port goes, the `floatingips` on it).

use oxistack_core::db::{self, Pool};

use super::{Allocation, PortRow};
use crate::Result;

/// What a port listing is narrowed to in SQL; `None` does not narrow.
#[derive(Clone, Copy, Debug, Default)]
pub struct PortFilter<'a> {
    pub project_id: Option<&'a str>,
    pub device_id: Option<&'a str>,
    pub network_id: Option<&'a str>,
    pub device_owner: Option<&'a str>,
}

/// The ports `filter` selects, by creation, and their addresses, in the
/// order they were given.
pub async fn ports_where(pool: &Pool, filter: &PortFilter<'_>) -> Result<(Vec<PortRow>, Vec<Allocation>)> {
    let mut clauses: Vec<&str> = vec![];
    let mut binds: Vec<&str> = vec![];
    for (value, clause) in [
        (filter.project_id, "p.project_id = ?"),
        (filter.device_id, "p.device_id = ?"),
        (filter.network_id, "p.network_id = ?"),
        (filter.device_owner, "p.device_owner = ?"),
    ] {
        if let Some(v) = value {
            clauses.push(clause);
            binds.push(v);
        }
    }
    let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let ports_sql = format!("SELECT p.* FROM ports p {filter} ORDER BY p.created_at, p.id");
    let allocations_sql = format!(
        "SELECT a.* FROM ip_allocations a JOIN ports p ON p.id = a.port_id {filter} ORDER BY a.{}",
        pool.inserted()
    );
    let mut ports_query = db::query_as::<PortRow>(&ports_sql);
    let mut allocations_query = db::query_as::<Allocation>(&allocations_sql);
    for b in &binds {
        ports_query = ports_query.bind(b);
        allocations_query = allocations_query.bind(b);
    }
    let ports = ports_query.fetch_all(pool).await?;
    let allocations = allocations_query.fetch_all(pool).await?;
    Ok((ports, allocations))
}

/// Inserts a new port with `status`. The error is the database's, so that
/// the caller can tell a MAC address in use (a unique violation).
pub async fn insert_port(pool: &Pool, p: &PortRow, status: &str) -> std::result::Result<(), sqlx::Error> {
    db::query(
        "INSERT INTO ports (id, network_id, name, description, project_id, mac_address, admin_state_up, status,
            device_id, device_owner, port_security_enabled, security_groups, allowed_address_pairs,
            binding_host_id, binding_vnic_type, binding_profile, dns_name, tags, revision_number, created_at,
            updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&p.id)
    .bind(&p.network_id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.project_id)
    .bind(&p.mac_address)
    .bind(p.admin_state_up)
    .bind(status)
    .bind(&p.device_id)
    .bind(&p.device_owner)
    .bind(p.port_security_enabled)
    .bind(&p.security_groups)
    .bind(&p.allowed_address_pairs)
    .bind(&p.binding_host_id)
    .bind(&p.binding_vnic_type)
    .bind(&p.binding_profile)
    .bind(&p.dns_name)
    .bind(&p.tags)
    .bind(p.revision_number)
    .bind(&p.created_at)
    .bind(&p.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes what an update may change of port `p.id`: name, description,
/// admin state, device, security groups, port security, address pairs,
/// binding, DNS name, MAC address and status.
pub async fn update_port(pool: &Pool, p: &PortRow) -> Result<()> {
    db::query(
        "UPDATE ports SET name = ?, description = ?, admin_state_up = ?, device_id = ?, device_owner = ?,
            security_groups = ?, port_security_enabled = ?, allowed_address_pairs = ?, binding_host_id = ?,
            binding_profile = ?, binding_vnic_type = ?, dns_name = ?, mac_address = ?, status = ? WHERE id = ?",
    )
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.admin_state_up)
    .bind(&p.device_id)
    .bind(&p.device_owner)
    .bind(&p.security_groups)
    .bind(p.port_security_enabled)
    .bind(&p.allowed_address_pairs)
    .bind(&p.binding_host_id)
    .bind(&p.binding_profile)
    .bind(&p.binding_vnic_type)
    .bind(&p.dns_name)
    .bind(&p.mac_address)
    .bind(&p.status)
    .bind(&p.id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives a port to a project.
pub async fn set_port_project(pool: &Pool, port: &str, project: &str) -> Result<()> {
    db::query("UPDATE ports SET project_id = ? WHERE id = ?").bind(project).bind(port).execute(pool).await?;
    Ok(())
}

/// Hands a port to a device (a router) as its `device_owner`, active.
pub async fn attach_port(pool: &Pool, port: &str, device_id: &str, device_owner: &str) -> Result<()> {
    db::query("UPDATE ports SET device_id = ?, device_owner = ?, status = 'ACTIVE' WHERE id = ?")
        .bind(device_id)
        .bind(device_owner)
        .bind(port)
        .execute(pool)
        .await?;
    Ok(())
}

/// Frees a port of its device and binding, down, as a change made at `now`.
pub async fn unbind_port(pool: &Pool, port: &str, now: &str) -> Result<()> {
    db::query(
        "UPDATE ports SET device_id = '', device_owner = '', binding_host_id = '', status = 'DOWN',
            revision_number = revision_number + 1, updated_at = ? WHERE id = ?",
    )
    .bind(now)
    .bind(port)
    .execute(pool)
    .await?;
    Ok(())
}

/// Disassociates the floating IPs on a port (a change made at `now`), then
/// deletes the port.
pub async fn delete_port(pool: &Pool, port: &str, now: &str) -> Result<()> {
    db::query(
        "UPDATE floatingips SET port_id = NULL, fixed_ip_address = NULL, router_id = NULL, status = 'DOWN',
            revision_number = revision_number + 1, updated_at = ? WHERE port_id = ?",
    )
    .bind(now)
    .bind(port)
    .execute(pool)
    .await?;
    super::delete(pool, "ports", port).await?;
    Ok(())
}

/// The addresses given on a subnet.
pub async fn taken_addresses(pool: &Pool, subnet: &str) -> Result<Vec<String>> {
    Ok(db::query_scalar("SELECT ip_address FROM ip_allocations WHERE subnet_id = ?")
        .bind(subnet)
        .fetch_all(pool)
        .await?)
}

/// How many addresses are given on a subnet.
pub async fn subnet_allocation_count(pool: &Pool, subnet: &str) -> Result<i64> {
    Ok(db::query_scalar("SELECT COUNT(*) FROM ip_allocations WHERE subnet_id = ?").bind(subnet).fetch_one(pool).await?)
}

/// Gives `address` of `subnet` to `port`; false when another port has it
/// (the primary key decides).
pub async fn claim_address(pool: &Pool, subnet: &str, address: &str, port: &str, network: &str) -> Result<bool> {
    let inserted = db::query(
        "INSERT INTO ip_allocations (subnet_id, ip_address, port_id, network_id) VALUES (?, ?, ?, ?)
         ON CONFLICT DO NOTHING",
    )
    .bind(subnet)
    .bind(address)
    .bind(port)
    .bind(network)
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Takes back every address of a port.
pub async fn release_addresses(pool: &Pool, port: &str) -> Result<()> {
    db::query("DELETE FROM ip_allocations WHERE port_id = ?").bind(port).execute(pool).await?;
    Ok(())
}
