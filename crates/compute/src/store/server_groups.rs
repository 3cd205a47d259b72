//! The `server_groups` and `server_group_members` tables.

use oxistack_core::db::{self, JsonText, Pool};
use oxistack_core::error::Result;
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub policy: String,
    /// The policy's rules (`max_server_per_host`).
    pub rules: JsonText<serde_json::Map<String, serde_json::Value>>,
    pub created_at: String,
}

/// Live members of a group.
pub async fn members(pool: &Pool, group_id: &str) -> Result<Vec<String>> {
    Ok(db::query_scalar(
        "SELECT m.instance_id FROM server_group_members m JOIN instances i ON i.id = m.instance_id
         WHERE m.group_id = ? AND i.deleted = FALSE ORDER BY i.created_at",
    )
    .bind(group_id)
    .fetch_all(pool)
    .await?)
}

/// How many live members of a group each host has.
pub async fn member_hosts(pool: &Pool, group_id: &str) -> Result<Vec<(String, i64)>> {
    Ok(db::query_as(
        "SELECT i.host, COUNT(*) FROM server_group_members m JOIN instances i ON i.id = m.instance_id
         WHERE m.group_id = ? AND i.deleted = FALSE AND i.host IS NOT NULL GROUP BY i.host",
    )
    .bind(group_id)
    .fetch_all(pool)
    .await?)
}

pub async fn find(pool: &Pool, id: &str) -> Result<Option<Group>> {
    Ok(db::query_as("SELECT * FROM server_groups WHERE id = ?").bind(id).fetch_optional(pool).await?)
}

pub async fn list(pool: &Pool, project: Option<&str>) -> Result<Vec<Group>> {
    let q = match project {
        Some(p) => db::query_as("SELECT * FROM server_groups WHERE project_id = ? ORDER BY created_at, id").bind(p),
        None => db::query_as("SELECT * FROM server_groups ORDER BY created_at, id"),
    };
    Ok(q.fetch_all(pool).await?)
}

pub async fn insert(pool: &Pool, g: &Group) -> Result<()> {
    db::query(
        "INSERT INTO server_groups (id, name, project_id, user_id, policy, rules, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&g.id)
    .bind(&g.name)
    .bind(&g.project_id)
    .bind(&g.user_id)
    .bind(&g.policy)
    .bind(&g.rules)
    .bind(&g.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete(pool: &Pool, id: &str) -> Result<()> {
    db::query("DELETE FROM server_groups WHERE id = ?").bind(id).execute(pool).await?;
    Ok(())
}

pub async fn add_member(pool: &Pool, group_id: &str, instance_id: &str) -> Result<()> {
    db::query("INSERT INTO server_group_members (group_id, instance_id) VALUES (?, ?)")
        .bind(group_id)
        .bind(instance_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The groups an instance belongs to.
pub async fn of_instance(pool: &Pool, instance_id: &str) -> Result<Vec<String>> {
    Ok(db::query_scalar("SELECT group_id FROM server_group_members WHERE instance_id = ?")
        .bind(instance_id)
        .fetch_all(pool)
        .await?)
}
