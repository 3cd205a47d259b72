//! Quotas: Nova's defaults, per-project limits set by admins (-1 for no
//! limit), and what a project uses.

use std::collections::BTreeMap;

use oxistack_core::db::Pool;
use oxistack_core::error::Result;

/// The resources counted today and Nova's default limit of each.
pub const DEFAULTS: &[(&str, i64)] = &[
    ("cores", 20),
    ("instances", 10),
    ("key_pairs", 100),
    ("metadata_items", 128),
    ("ram", 51200),
    ("server_groups", 10),
    ("server_group_members", 10),
];

/// The limits of a quota class: Nova's defaults with what admins changed.
/// Every project's defaults are those of the class `default`.
pub async fn class_limits(pool: &Pool, class: &str) -> Result<BTreeMap<String, i64>> {
    let mut limits: BTreeMap<String, i64> = DEFAULTS.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT resource, hard_limit FROM quota_classes WHERE class_name = ?")
            .bind(class)
            .fetch_all(pool)
            .await?;
    limits.extend(rows);
    Ok(limits)
}

pub async fn set_class(pool: &Pool, class: &str, resource: &str, limit: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO quota_classes (class_name, resource, hard_limit) VALUES (?, ?, ?)
         ON CONFLICT (class_name, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
    )
    .bind(class)
    .bind(resource)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(())
}

/// A project's limits: the defaults with its overrides.
pub async fn limits(pool: &Pool, project: &str) -> Result<BTreeMap<String, i64>> {
    let mut limits = class_limits(pool, "default").await?;
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT resource, hard_limit FROM quotas WHERE project_id = ?")
        .bind(project)
        .fetch_all(pool)
        .await?;
    limits.extend(rows);
    Ok(limits)
}

pub async fn set(pool: &Pool, project: &str, resource: &str, limit: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
         ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
    )
    .bind(project)
    .bind(resource)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn reset(pool: &Pool, project: &str) -> Result<()> {
    sqlx::query("DELETE FROM quotas WHERE project_id = ?").bind(project).execute(pool).await?;
    Ok(())
}

/// Whether `used + requested` fits `limit` (-1 is no limit).
pub fn fits(limit: i64, used: i64, requested: i64) -> bool {
    limit < 0 || used + requested <= limit
}

#[cfg(test)]
mod tests {
    #[test]
    fn minus_one_is_unlimited() {
        assert!(super::fits(-1, 1_000_000, 5));
        assert!(super::fits(10, 5, 5));
        assert!(!super::fits(10, 6, 5));
    }
}
