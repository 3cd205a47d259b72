//! The `security_groups` and `security_group_rules` tables, and the `ports`
//! that name a group.

use oxistack_core::db::{self, Pool};

use super::{RuleRow, SecurityGroupRow};
use crate::Result;

/// Inserts a new group. The error is the database's, so that the caller can
/// tell a group made meanwhile (a unique violation).
pub async fn insert_group(pool: &Pool, g: &SecurityGroupRow) -> std::result::Result<(), sqlx::Error> {
    db::query(
        "INSERT INTO security_groups (id, name, description, project_id, stateful, tags, revision_number,
            created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&g.id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(&g.project_id)
    .bind(g.stateful)
    .bind(&g.tags)
    .bind(g.revision_number)
    .bind(&g.created_at)
    .bind(&g.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes what an update may change of group `g.id`: name, description and
/// whether it is stateful.
pub async fn update_group(pool: &Pool, g: &SecurityGroupRow) -> Result<()> {
    db::query("UPDATE security_groups SET name = ?, description = ?, stateful = ? WHERE id = ?")
        .bind(&g.name)
        .bind(&g.description)
        .bind(g.stateful)
        .bind(&g.id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The id of `project`'s group named `default`.
pub async fn default_group(pool: &Pool, project: &str) -> Result<Option<String>> {
    Ok(db::query_scalar("SELECT id FROM security_groups WHERE project_id = ? AND name = 'default'")
        .bind(project)
        .fetch_optional(pool)
        .await?)
}

/// A group of `project` with the id `name_or_id`, else one of that name.
pub async fn find_group(pool: &Pool, project: &str, name_or_id: &str) -> Result<Option<String>> {
    Ok(db::query_scalar(
        "SELECT id FROM security_groups WHERE project_id = ? AND (id = ? OR name = ?) ORDER BY id = ? DESC",
    )
    .bind(project)
    .bind(name_or_id)
    .bind(name_or_id)
    .bind(name_or_id)
    .fetch_optional(pool)
    .await?)
}

/// How many ports are in a group.
pub async fn ports_in_group(pool: &Pool, group: &str) -> Result<i64> {
    Ok(db::query_scalar("SELECT COUNT(*) FROM ports WHERE security_groups LIKE ?")
        .bind(listed_in(group))
        .fetch_one(pool)
        .await?)
}

/// The devices of the ports in a group, each once.
pub async fn devices_in_group(pool: &Pool, group: &str) -> Result<Vec<String>> {
    Ok(db::query_scalar("SELECT DISTINCT device_id FROM ports WHERE security_groups LIKE ?")
        .bind(listed_in(group))
        .fetch_all(pool)
        .await?)
}

/// Inserts a new rule.
pub async fn insert_rule(pool: &Pool, r: &RuleRow) -> Result<()> {
    db::query(
        "INSERT INTO security_group_rules (id, security_group_id, project_id, direction, ethertype, protocol,
            port_range_min, port_range_max, remote_ip_prefix, remote_group_id, description, revision_number,
            created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&r.id)
    .bind(&r.security_group_id)
    .bind(&r.project_id)
    .bind(&r.direction)
    .bind(&r.ethertype)
    .bind(&r.protocol)
    .bind(r.port_range_min)
    .bind(r.port_range_max)
    .bind(&r.remote_ip_prefix)
    .bind(&r.remote_group_id)
    .bind(&r.description)
    .bind(r.revision_number)
    .bind(&r.created_at)
    .bind(&r.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Sets a rule's description.
pub async fn set_rule_description(pool: &Pool, id: &str, description: &str) -> Result<()> {
    db::query("UPDATE security_group_rules SET description = ? WHERE id = ?")
        .bind(description)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The LIKE pattern of a port whose `security_groups` (a JSON list of ids)
/// names the group `id`: an existing group's id, a UUID, so it holds no
/// pattern characters.
fn listed_in(id: &str) -> String {
    format!("%\"{id}\"%")
}
