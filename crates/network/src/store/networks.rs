//! The `networks` and `subnets` tables: what creating, changing and deleting
//! networks and subnets writes.

use oxistack_core::db::{self, Param, Pool, Select};

use super::{NetworkRow, SubnetRow};
use crate::Result;

/// A column of `networks` that a list may filter or sort by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkColumn {
    Id,
    Name,
    Description,
    ProjectId,
    AdminStateUp,
    Shared,
    External,
    Mtu,
    PortSecurityEnabled,
    CreatedAt,
    UpdatedAt,
}

impl super::listing::Column for NetworkColumn {
    type Row = NetworkRow;
    const TABLE: &'static str = "networks";
    const ID: Self = NetworkColumn::Id;
    const CREATED_AT: Self = NetworkColumn::CreatedAt;

    fn name(self) -> &'static str {
        match self {
            NetworkColumn::Id => "id",
            NetworkColumn::Name => "name",
            NetworkColumn::Description => "description",
            NetworkColumn::ProjectId => "project_id",
            NetworkColumn::AdminStateUp => "admin_state_up",
            NetworkColumn::Shared => "shared",
            NetworkColumn::External => "external",
            NetworkColumn::Mtu => "mtu",
            NetworkColumn::PortSecurityEnabled => "port_security_enabled",
            NetworkColumn::CreatedAt => "created_at",
            NetworkColumn::UpdatedAt => "updated_at",
        }
    }

    fn value(self, n: &NetworkRow) -> Param {
        let text = |s: &String| Param::Text(s.clone());
        match self {
            NetworkColumn::Id => text(&n.id),
            NetworkColumn::Name => text(&n.name),
            NetworkColumn::Description => text(&n.description),
            NetworkColumn::ProjectId => text(&n.project_id),
            NetworkColumn::AdminStateUp => Param::Bool(n.admin_state_up),
            NetworkColumn::Shared => Param::Bool(n.shared),
            NetworkColumn::External => Param::Bool(n.external),
            NetworkColumn::Mtu => Param::Int(n.mtu),
            NetworkColumn::PortSecurityEnabled => Param::Bool(n.port_security_enabled),
            NetworkColumn::CreatedAt => text(&n.created_at),
            NetworkColumn::UpdatedAt => text(&n.updated_at),
        }
    }
}

/// The ids of the subnets of `networks`, with their network's, in creation order.
pub async fn subnet_ids_of(pool: &Pool, networks: &[&str]) -> Result<Vec<(String, String)>> {
    let mut out = vec![];
    // A bounded number of values per statement, whatever the list's length.
    for chunk in networks.chunks(500) {
        let (sql, params) = Select::new("SELECT network_id, id FROM subnets")
            .any_of("network_id", chunk)
            .order_by(&[("created_at", true), ("id", true)])
            .build();
        out.extend(db::query_as::<(String, String)>(&sql).bind_all(params).fetch_all(pool).await?);
    }
    Ok(out)
}

/// Inserts a new network.
pub async fn insert_network(pool: &Pool, n: &NetworkRow) -> Result<()> {
    db::query(
        "INSERT INTO networks (id, name, description, project_id, admin_state_up, shared, external, is_default,
            mtu, port_security_enabled, network_type, physical_network, segmentation_id, tags, revision_number,
            created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&n.id)
    .bind(&n.name)
    .bind(&n.description)
    .bind(&n.project_id)
    .bind(n.admin_state_up)
    .bind(n.shared)
    .bind(n.external)
    .bind(n.is_default)
    .bind(n.mtu)
    .bind(n.port_security_enabled)
    .bind(&n.network_type)
    .bind(&n.physical_network)
    .bind(n.segmentation_id)
    .bind(&n.tags)
    .bind(n.revision_number)
    .bind(&n.created_at)
    .bind(&n.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes what an update may change of network `n.id`: name, description,
/// admin state, shared, external, MTU, port security and `is_default`.
pub async fn update_network(pool: &Pool, n: &NetworkRow) -> Result<()> {
    db::query(
        "UPDATE networks SET name = ?, description = ?, admin_state_up = ?, shared = ?, external = ?, mtu = ?,
            port_security_enabled = ?, is_default = ? WHERE id = ?",
    )
    .bind(&n.name)
    .bind(&n.description)
    .bind(n.admin_state_up)
    .bind(n.shared)
    .bind(n.external)
    .bind(n.mtu)
    .bind(n.port_security_enabled)
    .bind(n.is_default)
    .bind(&n.id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes a network's subnets, then the network.
pub async fn delete_network(pool: &Pool, id: &str) -> Result<()> {
    db::query("DELETE FROM subnets WHERE network_id = ?").bind(id).execute(pool).await?;
    super::delete(pool, "networks", id).await?;
    Ok(())
}

/// The ids of `project`'s networks named `name`.
pub async fn network_ids_named(pool: &Pool, project: &str, name: &str) -> Result<Vec<String>> {
    Ok(db::query_scalar("SELECT id FROM networks WHERE project_id = ? AND name = ?")
        .bind(project)
        .bind(name)
        .fetch_all(pool)
        .await?)
}

/// Inserts a new subnet.
pub async fn insert_subnet(pool: &Pool, s: &SubnetRow) -> Result<()> {
    db::query(
        "INSERT INTO subnets (id, network_id, name, description, project_id, ip_version, cidr, gateway_ip,
            allocation_pools, dns_nameservers, host_routes, enable_dhcp, ipv6_ra_mode, ipv6_address_mode,
            subnetpool_id, tags, revision_number, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&s.id)
    .bind(&s.network_id)
    .bind(&s.name)
    .bind(&s.description)
    .bind(&s.project_id)
    .bind(s.ip_version)
    .bind(&s.cidr)
    .bind(&s.gateway_ip)
    .bind(&s.allocation_pools)
    .bind(&s.dns_nameservers)
    .bind(&s.host_routes)
    .bind(s.enable_dhcp)
    .bind(&s.ipv6_ra_mode)
    .bind(&s.ipv6_address_mode)
    .bind(&s.subnetpool_id)
    .bind(&s.tags)
    .bind(s.revision_number)
    .bind(&s.created_at)
    .bind(&s.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes what an update may change of subnet `s.id`: name, description,
/// DNS servers, host routes, DHCP and gateway.
pub async fn update_subnet(pool: &Pool, s: &SubnetRow) -> Result<()> {
    db::query("UPDATE subnets SET name = ?, description = ?, dns_nameservers = ?, host_routes = ?, enable_dhcp = ?, gateway_ip = ? WHERE id = ?")
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.dns_nameservers)
        .bind(&s.host_routes)
        .bind(s.enable_dhcp)
        .bind(&s.gateway_ip)
        .bind(&s.id)
        .execute(pool)
        .await?;
    Ok(())
}
