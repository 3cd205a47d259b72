//! The backups table.

use oxistack_core::db::{self, Param, Pool, Select};
use oxistack_core::error::{Error, Result};
use sqlx::FromRow;

use crate::status::BackupStatus;

#[derive(Clone, Debug, FromRow)]
pub struct BackupRow {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// GiB.
    pub size: i64,
    pub status: BackupStatus,
    pub availability_zone: String,
    pub container: Option<String>,
    pub fail_reason: Option<String>,
    pub host: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub data_timestamp: String,
}

pub fn backup_not_found(id: &str) -> Error {
    Error::NotFound(format!("Backup {id} could not be found."))
}

pub async fn insert_backup(pool: &Pool, b: &BackupRow) -> Result<()> {
    db::query(
        "INSERT INTO volume_backups (id, project_id, user_id, volume_id, name, description, size, status,
            availability_zone, container, fail_reason, host, created_at, updated_at, data_timestamp)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&b.id)
    .bind(&b.project_id)
    .bind(&b.user_id)
    .bind(&b.volume_id)
    .bind(&b.name)
    .bind(&b.description)
    .bind(b.size)
    .bind(b.status)
    .bind(&b.availability_zone)
    .bind(&b.container)
    .bind(&b.fail_reason)
    .bind(&b.host)
    .bind(&b.created_at)
    .bind(&b.updated_at)
    .bind(&b.data_timestamp)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn backup(pool: &Pool, id: &str) -> Result<Option<BackupRow>> {
    Ok(db::query_as("SELECT * FROM volume_backups WHERE id = ?").bind(id).fetch_optional(pool).await?)
}

/// Moves a backup from one of `from` to `to` (with `fail_reason` when
/// given) unless another request moved it first: whether it moved.
pub async fn backup_transition(
    pool: &Pool,
    id: &str,
    from: &[BackupStatus],
    to: BackupStatus,
    fail_reason: Option<&str>,
    now: &str,
) -> Result<bool> {
    let marks = vec!["?"; from.len()].join(", ");
    let sql = format!(
        "UPDATE volume_backups SET status = ?, fail_reason = COALESCE(?, fail_reason), updated_at = ?
         WHERE id = ? AND status IN ({marks})"
    );
    let mut q = db::query(&sql).bind(to).bind(fail_reason).bind(now).bind(id);
    for s in from {
        q = q.bind(*s);
    }
    Ok(q.execute(pool).await?.rows_affected() == 1)
}

pub async fn delete_backup_row(pool: &Pool, id: &str) -> Result<()> {
    db::query("DELETE FROM volume_backups WHERE id = ?").bind(id).execute(pool).await?;
    Ok(())
}

/// The backups in one of `statuses` on `host`, for the reconciliation at
/// start.
pub async fn backups_in(pool: &Pool, host: &str, statuses: &[BackupStatus]) -> Result<Vec<BackupRow>> {
    let (sql, params) = Select::new("SELECT * FROM volume_backups").eq("host", host).any_of("status", statuses).build();
    Ok(db::query_as(&sql).bind_all(params).fetch_all(pool).await?)
}

/// One page of a project's backups (every project's for `None`), newest
/// first, after `after`.
pub async fn backups_page(
    pool: &Pool,
    project: Option<&str>,
    volume_id: Option<&str>,
    after: Option<&BackupRow>,
    limit: i64,
) -> Result<Vec<BackupRow>> {
    let mut select = Select::new("SELECT * FROM volume_backups");
    if let Some(p) = project {
        select = select.eq("project_id", p);
    }
    if let Some(v) = volume_id {
        select = select.eq("volume_id", v);
    }
    let position = after.map(|a| vec![Param::Text(a.created_at.clone()), Param::Text(a.id.clone())]);
    let (sql, params) = select.page(&[("created_at", false), ("id", false)], position.as_deref(), Some(limit)).build();
    Ok(db::query_as(&sql).bind_all(params).fetch_all(pool).await?)
}

/// A project's backups and their GiB, for its quotas.
pub async fn backup_usage(pool: &Pool, project: &str) -> Result<(i64, i64)> {
    #[derive(FromRow)]
    struct Used {
        count: i64,
        gigabytes: i64,
    }
    let u: Used = db::query_as(
        "SELECT COUNT(*) AS count, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS gigabytes FROM volume_backups
         WHERE project_id = ?",
    )
    .bind(project)
    .fetch_one(pool)
    .await?;
    Ok((u.count, u.gigabytes))
}
