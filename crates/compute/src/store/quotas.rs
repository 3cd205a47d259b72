//! The `quotas` (per project) and `quota_classes` tables: limits admins set.

use oxistack_core::db::{self, Pool};
use oxistack_core::error::Result;

/// Which of the two tables, and the column that keys it.
#[derive(Clone, Copy)]
pub enum Scope {
    Class,
    Project,
}

impl Scope {
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Scope::Class => ("quota_classes", "class_name"),
            Scope::Project => ("quotas", "project_id"),
        }
    }
}

/// The limits set on one class or project.
pub async fn overrides(pool: &Pool, scope: Scope, key: &str) -> Result<Vec<(String, i64)>> {
    let (table, key_column) = scope.table();
    Ok(db::query_as(&format!("SELECT resource, hard_limit FROM {table} WHERE {key_column} = ?"))
        .bind(key)
        .fetch_all(pool)
        .await?)
}

pub async fn upsert(pool: &Pool, scope: Scope, key: &str, resource: &str, limit: i64) -> Result<()> {
    let (table, key_column) = scope.table();
    db::query(&format!(
        "INSERT INTO {table} ({key_column}, resource, hard_limit) VALUES (?, ?, ?)
         ON CONFLICT ({key_column}, resource) DO UPDATE SET hard_limit = excluded.hard_limit"
    ))
    .bind(key)
    .bind(resource)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn reset_project(pool: &Pool, project: &str) -> Result<()> {
    db::query("DELETE FROM quotas WHERE project_id = ?").bind(project).execute(pool).await?;
    Ok(())
}
