//! The snapshots table.

use oxistack_core::db::{self, JsonText, Param, Pool, Select};
use oxistack_core::error::{Error, Result};
use sqlx::FromRow;

use super::Metadata;
use crate::status::SnapshotStatus;

#[derive(Clone, Debug, FromRow)]
pub struct SnapshotRow {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// GiB.
    pub size: i64,
    pub status: SnapshotStatus,
    pub metadata: JsonText<Metadata>,
    pub host: String,
    pub created_at: String,
    pub updated_at: Option<String>,
}

pub fn snapshot_not_found(id: &str) -> Error {
    Error::NotFound(format!("Snapshot {id} could not be found."))
}

pub async fn insert_snapshot(pool: &Pool, s: &SnapshotRow) -> Result<()> {
    db::query(
        "INSERT INTO volume_snapshots (id, project_id, user_id, volume_id, name, description, size, status,
            metadata, host, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&s.id)
    .bind(&s.project_id)
    .bind(&s.user_id)
    .bind(&s.volume_id)
    .bind(&s.name)
    .bind(&s.description)
    .bind(s.size)
    .bind(s.status)
    .bind(&s.metadata)
    .bind(&s.host)
    .bind(&s.created_at)
    .bind(&s.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn snapshot(pool: &Pool, id: &str) -> Result<Option<SnapshotRow>> {
    Ok(db::query_as("SELECT * FROM volume_snapshots WHERE id = ?").bind(id).fetch_optional(pool).await?)
}

/// Volume `volume_id`'s snapshots, in any status.
pub async fn snapshots_of(pool: &Pool, volume_id: &str) -> Result<Vec<SnapshotRow>> {
    Ok(db::query_as("SELECT * FROM volume_snapshots WHERE volume_id = ?").bind(volume_id).fetch_all(pool).await?)
}

pub async fn save_snapshot_details(pool: &Pool, s: &SnapshotRow, now: &str) -> Result<()> {
    db::query("UPDATE volume_snapshots SET name = ?, description = ?, metadata = ?, updated_at = ? WHERE id = ?")
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.metadata)
        .bind(now)
        .bind(&s.id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Moves a snapshot from one of `from` to `to` unless another request
/// moved it first: whether it moved.
pub async fn snapshot_transition(
    pool: &Pool,
    id: &str,
    from: &[SnapshotStatus],
    to: SnapshotStatus,
    now: &str,
) -> Result<bool> {
    let marks = vec!["?"; from.len()].join(", ");
    let sql = format!("UPDATE volume_snapshots SET status = ?, updated_at = ? WHERE id = ? AND status IN ({marks})");
    let mut q = db::query(&sql).bind(to).bind(now).bind(id);
    for s in from {
        q = q.bind(*s);
    }
    Ok(q.execute(pool).await?.rows_affected() == 1)
}

pub async fn delete_snapshot_row(pool: &Pool, id: &str) -> Result<()> {
    db::query("DELETE FROM volume_snapshots WHERE id = ?").bind(id).execute(pool).await?;
    Ok(())
}

/// The snapshots in one of `statuses` on `host`, for the reconciliation at
/// start.
pub async fn snapshots_in(pool: &Pool, host: &str, statuses: &[SnapshotStatus]) -> Result<Vec<SnapshotRow>> {
    let (sql, params) =
        Select::new("SELECT * FROM volume_snapshots").eq("host", host).any_of("status", statuses).build();
    Ok(db::query_as(&sql).bind_all(params).fetch_all(pool).await?)
}

/// What a snapshot list selects, as the service resolved the request.
#[derive(Clone, Debug, Default)]
pub struct SnapshotFilter {
    /// One project's, or every project's when `None`.
    pub project: Option<String>,
    pub name: Option<String>,
    /// One of these (none when empty).
    pub statuses: Option<Vec<SnapshotStatus>>,
    pub volume_id: Option<String>,
    pub metadata: Metadata,
}

fn snapshots_filtered(head: &str, filter: &SnapshotFilter) -> Select {
    let mut select = Select::new(head);
    if let Some(p) = &filter.project {
        select = select.eq("project_id", p.as_str());
    }
    if let Some(n) = &filter.name {
        select = select.eq("name", n.as_str());
    }
    if let Some(statuses) = &filter.statuses {
        select = select.any_of("status", statuses);
    }
    if let Some(v) = &filter.volume_id {
        select = select.eq("volume_id", v.as_str());
    }
    super::with_metadata(select, &filter.metadata)
}

pub async fn count_snapshots(pool: &Pool, filter: &SnapshotFilter) -> Result<i64> {
    let (sql, params) = snapshots_filtered("SELECT COUNT(*) FROM volume_snapshots", filter).build();
    Ok(db::query_scalar(&sql).bind_all(params).fetch_one(pool).await?)
}

/// One page of snapshots by creation (then id), after `after`.
pub async fn snapshots_page(
    pool: &Pool,
    filter: &SnapshotFilter,
    ascending: bool,
    after: Option<&SnapshotRow>,
    limit: i64,
) -> Result<Vec<SnapshotRow>> {
    let select = snapshots_filtered("SELECT * FROM volume_snapshots", filter);
    let position = after.map(|a| vec![Param::Text(a.created_at.clone()), Param::Text(a.id.clone())]);
    let (sql, params) =
        select.page(&[("created_at", ascending), ("id", ascending)], position.as_deref(), Some(limit)).build();
    Ok(db::query_as(&sql).bind_all(params).fetch_all(pool).await?)
}
