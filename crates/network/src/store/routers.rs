//! The `routers` and `floatingips` tables: routers, their gateways and
//! interfaces (read through `ports` and `ip_allocations`), and floating IPs.

use oxistack_core::db::{self, Pool};

use super::{FloatingIpRow, RouterRow};
use crate::Result;

/// Inserts a new router.
pub async fn insert_router(pool: &Pool, r: &RouterRow) -> Result<()> {
    db::query(
        "INSERT INTO routers (id, name, description, project_id, admin_state_up, status, enable_snat, routes, tags,
            revision_number, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&r.id)
    .bind(&r.name)
    .bind(&r.description)
    .bind(&r.project_id)
    .bind(r.admin_state_up)
    .bind(&r.status)
    .bind(r.enable_snat)
    .bind(&r.routes)
    .bind(&r.tags)
    .bind(r.revision_number)
    .bind(&r.created_at)
    .bind(&r.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes what an update may change of router `r.id`: name, description,
/// admin state and extra routes.
pub async fn update_router(pool: &Pool, r: &RouterRow) -> Result<()> {
    db::query("UPDATE routers SET name = ?, description = ?, admin_state_up = ?, routes = ? WHERE id = ?")
        .bind(&r.name)
        .bind(&r.description)
        .bind(r.admin_state_up)
        .bind(&r.routes)
        .bind(&r.id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Sets a router's gateway (its network and port, `None` for none) and SNAT.
pub async fn set_gateway(
    pool: &Pool,
    router: &str,
    network: Option<&str>,
    port: Option<&str>,
    snat: bool,
) -> Result<()> {
    db::query("UPDATE routers SET gw_network_id = ?, gw_port_id = ?, enable_snat = ? WHERE id = ?")
        .bind(network)
        .bind(port)
        .bind(snat)
        .bind(router)
        .execute(pool)
        .await?;
    Ok(())
}

/// The ids of `project`'s routers named `auto_allocated_router`.
pub async fn auto_allocated_routers(pool: &Pool, project: &str) -> Result<Vec<String>> {
    Ok(db::query_scalar("SELECT id FROM routers WHERE project_id = ? AND name = 'auto_allocated_router'")
        .bind(project)
        .fetch_all(pool)
        .await?)
}

/// The routers with a port owned as `device_owner` (their interfaces) on
/// `subnet`, in the order the ports were given their addresses.
pub async fn routers_on_subnet(pool: &Pool, subnet: &str, device_owner: &str) -> Result<Vec<RouterRow>> {
    Ok(db::query_as(&format!(
        "SELECT r.* FROM ip_allocations a JOIN ports p ON p.id = a.port_id JOIN routers r ON r.id = p.device_id
         WHERE a.subnet_id = ? AND p.device_owner = ? ORDER BY a.{}",
        pool.inserted()
    ))
    .bind(subnet)
    .bind(device_owner)
    .fetch_all(pool)
    .await?)
}

/// Forgets a router on the floating IPs it routed.
pub async fn unroute_floating_ips(pool: &Pool, router: &str) -> Result<()> {
    db::query("UPDATE floatingips SET router_id = NULL WHERE router_id = ?").bind(router).execute(pool).await?;
    Ok(())
}

/// Inserts a new floating IP.
pub async fn insert_floating_ip(pool: &Pool, f: &FloatingIpRow) -> Result<()> {
    db::query(
        "INSERT INTO floatingips (id, project_id, description, floating_network_id, floating_ip_address,
            floating_port_id, status, tags, revision_number, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&f.id)
    .bind(&f.project_id)
    .bind(&f.description)
    .bind(&f.floating_network_id)
    .bind(&f.floating_ip_address)
    .bind(&f.floating_port_id)
    .bind(&f.status)
    .bind(&f.tags)
    .bind(f.revision_number)
    .bind(&f.created_at)
    .bind(&f.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Another floating IP than `except` on `port`'s fixed address `fixed_ip`.
pub async fn floating_ip_on(pool: &Pool, port: &str, fixed_ip: &str, except: &str) -> Result<Option<String>> {
    Ok(db::query_scalar("SELECT id FROM floatingips WHERE port_id = ? AND fixed_ip_address = ? AND id != ?")
        .bind(port)
        .bind(fixed_ip)
        .bind(except)
        .fetch_optional(pool)
        .await?)
}

/// Associates a floating IP with a port's fixed address and the router
/// between them (all `None` to disassociate), with its new status.
pub async fn associate_floating_ip(
    pool: &Pool,
    id: &str,
    port: Option<&str>,
    fixed_ip: Option<&str>,
    router: Option<&str>,
    status: &str,
) -> Result<()> {
    db::query("UPDATE floatingips SET port_id = ?, fixed_ip_address = ?, router_id = ?, status = ? WHERE id = ?")
        .bind(port)
        .bind(fixed_ip)
        .bind(router)
        .bind(status)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Sets a floating IP's description.
pub async fn set_floating_ip_description(pool: &Pool, id: &str, description: &str) -> Result<()> {
    db::query("UPDATE floatingips SET description = ? WHERE id = ?").bind(description).bind(id).execute(pool).await?;
    Ok(())
}
