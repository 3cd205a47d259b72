//! The `network_quotas` table: the limits admins set per project.

use oxistack_core::db::{self, Pool};

use crate::Result;

/// The limits set for a project, as (resource, limit).
pub async fn overrides(pool: &Pool, project: &str) -> Result<Vec<(String, i64)>> {
    Ok(db::query_as("SELECT resource, hard_limit FROM network_quotas WHERE project_id = ?")
        .bind(project)
        .fetch_all(pool)
        .await?)
}

/// Sets (or replaces) a project's limit on a resource.
pub async fn set_limit(pool: &Pool, project: &str, resource: &str, limit: i64) -> Result<()> {
    db::query(
        "INSERT INTO network_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
         ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
    )
    .bind(project)
    .bind(resource)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets every limit set for a project.
pub async fn reset(pool: &Pool, project: &str) -> Result<()> {
    db::query("DELETE FROM network_quotas WHERE project_id = ?").bind(project).execute(pool).await?;
    Ok(())
}

/// The projects with limits set, by id.
pub async fn projects(pool: &Pool) -> Result<Vec<String>> {
    Ok(db::query_scalar("SELECT DISTINCT project_id FROM network_quotas ORDER BY project_id").fetch_all(pool).await?)
}
