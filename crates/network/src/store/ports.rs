//! The `ports` table (and, when a port goes, its addresses and the
//! `floatingips` on it).

use oxistack_core::db::{self, Param, Pool, Select};

use super::{Allocation, PortRow};
use crate::Result;

/// A column of `ports` that a list may filter or sort by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortColumn {
    Id,
    Name,
    Description,
    NetworkId,
    ProjectId,
    MacAddress,
    AdminStateUp,
    Status,
    DeviceId,
    DeviceOwner,
    CreatedAt,
    UpdatedAt,
}

impl super::listing::Column for PortColumn {
    type Row = PortRow;
    const TABLE: &'static str = "ports";
    const ID: Self = PortColumn::Id;
    const CREATED_AT: Self = PortColumn::CreatedAt;

    fn name(self) -> &'static str {
        match self {
            PortColumn::Id => "id",
            PortColumn::Name => "name",
            PortColumn::Description => "description",
            PortColumn::NetworkId => "network_id",
            PortColumn::ProjectId => "project_id",
            PortColumn::MacAddress => "mac_address",
            PortColumn::AdminStateUp => "admin_state_up",
            PortColumn::Status => "status",
            PortColumn::DeviceId => "device_id",
            PortColumn::DeviceOwner => "device_owner",
            PortColumn::CreatedAt => "created_at",
            PortColumn::UpdatedAt => "updated_at",
        }
    }

    fn value(self, p: &PortRow) -> Param {
        let text = |s: &String| Param::Text(s.clone());
        match self {
            PortColumn::Id => text(&p.id),
            PortColumn::Name => text(&p.name),
            PortColumn::Description => text(&p.description),
            PortColumn::NetworkId => text(&p.network_id),
            PortColumn::ProjectId => text(&p.project_id),
            PortColumn::MacAddress => text(&p.mac_address),
            PortColumn::AdminStateUp => Param::Bool(p.admin_state_up),
            PortColumn::Status => text(&p.status),
            PortColumn::DeviceId => text(&p.device_id),
            PortColumn::DeviceOwner => text(&p.device_owner),
            PortColumn::CreatedAt => text(&p.created_at),
            PortColumn::UpdatedAt => text(&p.updated_at),
        }
    }
}

/// The addresses of `ports`, in the order they were given.
pub async fn allocations_of(pool: &Pool, ports: &[&str]) -> Result<Vec<Allocation>> {
    let mut out = vec![];
    // A bounded number of values per statement, whatever the list's length.
    for chunk in ports.chunks(500) {
        let (sql, params) = Select::new("SELECT * FROM ip_allocations")
            .any_of("port_id", chunk)
            .order_by(&[(pool.inserted(), true)])
            .build();
        out.extend(db::query_as::<Allocation>(&sql).bind_all(params).fetch_all(pool).await?);
    }
    Ok(out)
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

/// Gives back a port's addresses, disassociates the floating IPs on it (a
/// change made at `now`), then deletes the port.
pub async fn delete_port(pool: &Pool, port: &str, now: &str) -> Result<()> {
    super::ipam::release_addresses(pool, port).await?;
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
