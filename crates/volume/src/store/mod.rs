//! The volume tables: volumes, volume types and their access lists, and the
//! projects' volume quotas. No rules here: who sees or changes what, and
//! which status may follow which, are the service's.

use std::collections::BTreeMap;

use oxistack_core::db::{self, JsonText, Param, Pool, Select, Tx};
use oxistack_core::error::{Error, OnUnique, Result};
use sqlx::FromRow;

use crate::status::VolumeStatus;

mod attachments;
mod backups;
mod snapshots;
mod transfers;
pub use attachments::*;
pub use backups::*;
pub use snapshots::*;
pub use transfers::*;

/// Keys to string values (volume metadata, a type's extra specs).
pub type Metadata = BTreeMap<String, String>;

#[derive(Clone, Debug, FromRow)]
pub struct VolumeRow {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// GiB.
    pub size: i64,
    pub status: VolumeStatus,
    pub volume_type_id: String,
    pub availability_zone: String,
    pub bootable: bool,
    pub multiattach: bool,
    pub metadata: JsonText<Metadata>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub image_id: Option<String>,
    pub host: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// What the volume keeps of the image it was made from.
    pub image_metadata: JsonText<Metadata>,
}

#[derive(Clone, Debug, FromRow)]
pub struct TypeRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub extra_specs: JsonText<Metadata>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

pub fn volume_not_found(id: &str) -> Error {
    Error::NotFound(format!("Volume {id} could not be found."))
}

pub fn type_not_found(id: &str) -> Error {
    Error::NotFound(format!("Volume type {id} could not be found."))
}

pub async fn insert_volume(tx: &mut Tx, v: &VolumeRow) -> Result<()> {
    db::query(
        "INSERT INTO volumes (id, project_id, user_id, name, description, size, status, volume_type_id,
            availability_zone, bootable, multiattach, metadata, snapshot_id, source_volid, image_id, host,
            created_at, updated_at, image_metadata)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&v.id)
    .bind(&v.project_id)
    .bind(&v.user_id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(v.size)
    .bind(v.status)
    .bind(&v.volume_type_id)
    .bind(&v.availability_zone)
    .bind(v.bootable)
    .bind(v.multiattach)
    .bind(&v.metadata)
    .bind(&v.snapshot_id)
    .bind(&v.source_volid)
    .bind(&v.image_id)
    .bind(&v.host)
    .bind(&v.created_at)
    .bind(&v.updated_at)
    .bind(&v.image_metadata)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn volume(pool: &Pool, id: &str) -> Result<Option<VolumeRow>> {
    Ok(db::query_as("SELECT * FROM volumes WHERE id = ?").bind(id).fetch_optional(pool).await?)
}

/// The fields a user changes (`PUT /volumes/{id}`, metadata, bootable).
pub async fn save_details(pool: &Pool, v: &VolumeRow, now: &str) -> Result<()> {
    db::query("UPDATE volumes SET name = ?, description = ?, metadata = ?, bootable = ?, updated_at = ? WHERE id = ?")
        .bind(&v.name)
        .bind(&v.description)
        .bind(&v.metadata)
        .bind(v.bootable)
        .bind(now)
        .bind(&v.id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn save_image_metadata(pool: &Pool, id: &str, items: &JsonText<Metadata>, now: &str) -> Result<()> {
    db::query("UPDATE volumes SET image_metadata = ?, updated_at = ? WHERE id = ?")
        .bind(items)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The image a volume holds now (after a reimage): bootable, with that
/// image's metadata.
pub async fn save_image(pool: &Pool, id: &str, image_id: &str, metadata: &Metadata, now: &str) -> Result<()> {
    db::query("UPDATE volumes SET image_id = ?, image_metadata = ?, bootable = ?, updated_at = ? WHERE id = ?")
        .bind(image_id)
        .bind(JsonText(metadata.clone()))
        .bind(true)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Moves a volume from one of `from` to `to` (and, when given, a new size
/// and type), unless another request moved it first: whether it moved.
pub async fn transition(
    pool: &Pool,
    id: &str,
    from: &[VolumeStatus],
    to: VolumeStatus,
    change: Change<'_>,
    now: &str,
) -> Result<bool> {
    let marks = vec!["?"; from.len()].join(", ");
    let sql = format!(
        "UPDATE volumes SET status = ?, size = COALESCE(?, size), volume_type_id = COALESCE(?, volume_type_id),
            updated_at = ? WHERE id = ? AND status IN ({marks})"
    );
    let mut q = db::query(&sql).bind(to).bind(change.size).bind(change.volume_type_id).bind(now).bind(id);
    for s in from {
        q = q.bind(*s);
    }
    Ok(q.execute(pool).await?.rows_affected() == 1)
}

/// What a transition changes beside the status.
#[derive(Clone, Copy, Debug, Default)]
pub struct Change<'a> {
    pub size: Option<i64>,
    pub volume_type_id: Option<&'a str>,
}

pub async fn delete_volume(pool: &Pool, id: &str) -> Result<()> {
    db::query("DELETE FROM volumes WHERE id = ?").bind(id).execute(pool).await?;
    Ok(())
}

/// The volumes in one of `statuses` on `host`, for the reconciliation at
/// start.
pub async fn volumes_in(pool: &Pool, host: &str, statuses: &[VolumeStatus]) -> Result<Vec<VolumeRow>> {
    let (sql, params) = Select::new("SELECT * FROM volumes").eq("host", host).any_of("status", statuses).build();
    Ok(db::query_as(&sql).bind_all(params).fetch_all(pool).await?)
}

/// A column a volume list may be ordered by (never NULL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeOrder {
    CreatedAt,
    Id,
    Size,
    Status,
    AvailabilityZone,
}

impl VolumeOrder {
    pub fn parse(key: &str) -> Option<VolumeOrder> {
        Some(match key {
            "created_at" => VolumeOrder::CreatedAt,
            "id" => VolumeOrder::Id,
            "size" => VolumeOrder::Size,
            "status" => VolumeOrder::Status,
            "availability_zone" => VolumeOrder::AvailabilityZone,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            VolumeOrder::CreatedAt => "created_at",
            VolumeOrder::Id => "id",
            VolumeOrder::Size => "size",
            VolumeOrder::Status => "status",
            VolumeOrder::AvailabilityZone => "availability_zone",
        }
    }

    fn value(self, v: &VolumeRow) -> Param {
        match self {
            VolumeOrder::CreatedAt => Param::Text(v.created_at.clone()),
            VolumeOrder::Id => Param::Text(v.id.clone()),
            VolumeOrder::Size => Param::Int(v.size),
            VolumeOrder::Status => Param::Text(v.status.to_string()),
            VolumeOrder::AvailabilityZone => Param::Text(v.availability_zone.clone()),
        }
    }
}

/// What a volume list selects, as the service resolved the request.
#[derive(Clone, Debug, Default)]
pub struct VolumeFilter {
    /// One project's, or every project's when `None`.
    pub project: Option<String>,
    pub name: Option<String>,
    /// One of these (none when empty).
    pub statuses: Option<Vec<VolumeStatus>>,
    pub bootable: Option<bool>,
    pub availability_zone: Option<String>,
    pub size: Option<i64>,
    pub volume_type_id: Option<String>,
    /// Metadata items every listed volume has.
    pub metadata: Metadata,
}

/// The volumes a filter selects, after `head`.
fn filtered(head: &str, filter: &VolumeFilter) -> Select {
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
    if let Some(b) = filter.bootable {
        select = select.eq("bootable", b);
    }
    if let Some(z) = &filter.availability_zone {
        select = select.eq("availability_zone", z.as_str());
    }
    if let Some(s) = filter.size {
        select = select.eq("size", s);
    }
    if let Some(t) = &filter.volume_type_id {
        select = select.eq("volume_type_id", t.as_str());
    }
    with_metadata(select, &filter.metadata)
}

/// Rows whose `metadata` has every item of `items`. The column is a JSON
/// object written by serde_json, keys and values escaped: `"key":"value"`
/// occurs in it exactly when the row has that item.
fn with_metadata(mut select: Select, items: &Metadata) -> Select {
    for (k, v) in items {
        select = select.contains("metadata", &format!("{}:{}", serde_json::json!(k), serde_json::json!(v)));
    }
    select
}

pub async fn count_volumes(pool: &Pool, filter: &VolumeFilter) -> Result<i64> {
    let (sql, params) = filtered("SELECT COUNT(*) FROM volumes", filter).build();
    Ok(db::query_scalar(&sql).bind_all(params).fetch_one(pool).await?)
}

/// One page of volumes in `order` (then id), after `after`.
pub async fn volumes_page(
    pool: &Pool,
    filter: &VolumeFilter,
    order: VolumeOrder,
    ascending: bool,
    after: Option<&VolumeRow>,
    limit: i64,
) -> Result<Vec<VolumeRow>> {
    let select = filtered("SELECT * FROM volumes", filter);
    let keys: Vec<(&'static str, bool)> = if order == VolumeOrder::Id {
        vec![("id", ascending)]
    } else {
        vec![(order.column(), ascending), ("id", ascending)]
    };
    let position = after.map(|a| {
        let mut values = vec![order.value(a)];
        if order != VolumeOrder::Id {
            values.push(Param::Text(a.id.clone()));
        }
        values
    });
    let (sql, params) = select.page(&keys, position.as_deref(), Some(limit)).build();
    Ok(db::query_as(&sql).bind_all(params).fetch_all(pool).await?)
}

/// What a project's volumes and snapshots hold, as Cinder's quotas count
/// them: `gigabytes` are the volumes' and the snapshots' GiB together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub volumes: i64,
    pub snapshots: i64,
    pub gigabytes: i64,
    pub by_type: BTreeMap<String, TypeUsed>,
    pub backups: i64,
    pub backup_gigabytes: i64,
}

/// One volume type's share of a [`Usage`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TypeUsed {
    pub volumes: i64,
    pub snapshots: i64,
    pub gigabytes: i64,
}

#[derive(FromRow)]
struct TypeUsage {
    volume_type_id: String,
    count: i64,
    gigabytes: i64,
}

pub async fn usage(pool: &Pool, project: &str) -> Result<Usage> {
    let rows: Vec<TypeUsage> = db::query_as(
        "SELECT volume_type_id, COUNT(*) AS count, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS gigabytes
         FROM volumes WHERE project_id = ? GROUP BY volume_type_id",
    )
    .bind(project)
    .fetch_all(pool)
    .await?;
    // A snapshot counts against its volume's type.
    let snapshots: Vec<TypeUsage> = db::query_as(
        "SELECT v.volume_type_id, COUNT(*) AS count, CAST(COALESCE(SUM(s.size), 0) AS BIGINT) AS gigabytes
         FROM volume_snapshots s JOIN volumes v ON v.id = s.volume_id WHERE s.project_id = ? GROUP BY v.volume_type_id",
    )
    .bind(project)
    .fetch_all(pool)
    .await?;
    let mut usage = Usage::default();
    for r in rows {
        usage.volumes += r.count;
        usage.gigabytes += r.gigabytes;
        let t = usage.by_type.entry(r.volume_type_id).or_default();
        t.volumes += r.count;
        t.gigabytes += r.gigabytes;
    }
    (usage.backups, usage.backup_gigabytes) = backup_usage(pool, project).await?;
    for r in snapshots {
        usage.snapshots += r.count;
        usage.gigabytes += r.gigabytes;
        let t = usage.by_type.entry(r.volume_type_id).or_default();
        t.snapshots += r.count;
        t.gigabytes += r.gigabytes;
    }
    Ok(usage)
}

// Volume types.

pub async fn insert_type(pool: &Pool, t: &TypeRow) -> Result<()> {
    db::query(
        "INSERT INTO volume_types (id, name, description, is_public, extra_specs, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(&t.description)
    .bind(t.is_public)
    .bind(&t.extra_specs)
    .bind(&t.created_at)
    .bind(&t.updated_at)
    .execute(pool)
    .await
    .on_unique(|| Error::Conflict(format!("Volume Type {} already exists.", t.name)))?;
    Ok(())
}

pub async fn volume_type(pool: &Pool, id: &str) -> Result<Option<TypeRow>> {
    Ok(db::query_as("SELECT * FROM volume_types WHERE id = ?").bind(id).fetch_optional(pool).await?)
}

pub async fn type_named(pool: &Pool, name: &str) -> Result<Option<TypeRow>> {
    Ok(db::query_as("SELECT * FROM volume_types WHERE name = ?").bind(name).fetch_optional(pool).await?)
}

/// The types `project` may use (public ones and those it was given), or
/// every type when `None`.
pub async fn types(pool: &Pool, project: Option<&str>) -> Result<Vec<TypeRow>> {
    Ok(match project {
        None => db::query_as("SELECT * FROM volume_types ORDER BY created_at, id").fetch_all(pool).await?,
        Some(p) => {
            db::query_as(
                "SELECT * FROM volume_types WHERE is_public = TRUE
                    OR id IN (SELECT type_id FROM volume_type_access WHERE project_id = ?)
                 ORDER BY created_at, id",
            )
            .bind(p)
            .fetch_all(pool)
            .await?
        }
    })
}

pub async fn save_type(pool: &Pool, t: &TypeRow) -> Result<()> {
    db::query(
        "UPDATE volume_types SET name = ?, description = ?, is_public = ?, extra_specs = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(&t.name)
    .bind(&t.description)
    .bind(t.is_public)
    .bind(&t.extra_specs)
    .bind(&t.updated_at)
    .bind(&t.id)
    .execute(pool)
    .await
    .on_unique(|| Error::Conflict(format!("Volume Type {} already exists.", t.name)))?;
    Ok(())
}

/// Deletes a type no volume uses: whether it was deleted.
pub async fn delete_unused_type(pool: &Pool, id: &str) -> Result<bool> {
    let done = db::query(
        "DELETE FROM volume_types WHERE id = ? AND NOT EXISTS (SELECT 1 FROM volumes WHERE volume_type_id = ?)",
    )
    .bind(id)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn type_access(pool: &Pool, type_id: &str) -> Result<Vec<String>> {
    Ok(db::query_scalar("SELECT project_id FROM volume_type_access WHERE type_id = ? ORDER BY project_id")
        .bind(type_id)
        .fetch_all(pool)
        .await?)
}

pub async fn has_type_access(pool: &Pool, type_id: &str, project: &str) -> Result<bool> {
    let n: i64 = db::query_scalar("SELECT COUNT(*) FROM volume_type_access WHERE type_id = ? AND project_id = ?")
        .bind(type_id)
        .bind(project)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

pub async fn add_type_access(pool: &Pool, type_id: &str, project: &str) -> Result<()> {
    db::query("INSERT INTO volume_type_access (type_id, project_id) VALUES (?, ?)")
        .bind(type_id)
        .bind(project)
        .execute(pool)
        .await
        .on_unique(|| {
            Error::Conflict(format!("Volume type access for {type_id}/{project} combination already exists."))
        })?;
    Ok(())
}

/// Whether there was access to remove.
pub async fn remove_type_access(pool: &Pool, type_id: &str, project: &str) -> Result<bool> {
    let done = db::query("DELETE FROM volume_type_access WHERE type_id = ? AND project_id = ?")
        .bind(type_id)
        .bind(project)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

// Quotas.

/// Whose limits a row holds: a project's, or a quota class's.
#[derive(Clone, Copy, Debug)]
pub enum QuotaHolder<'a> {
    Project(&'a str),
    Class(&'a str),
}

impl QuotaHolder<'_> {
    /// The table and its key column.
    fn table(&self) -> (&'static str, &'static str, &str) {
        match self {
            QuotaHolder::Project(p) => ("volume_quotas", "project_id", p),
            QuotaHolder::Class(c) => ("volume_quota_classes", "class_name", c),
        }
    }
}

/// The limits set for a project or class, by resource name.
pub async fn quotas(pool: &Pool, holder: QuotaHolder<'_>) -> Result<BTreeMap<String, i64>> {
    #[derive(FromRow)]
    struct Limit {
        resource: String,
        hard_limit: i64,
    }
    let (table, key, id) = holder.table();
    let rows: Vec<Limit> = db::query_as(&format!("SELECT resource, hard_limit FROM {table} WHERE {key} = ?"))
        .bind(id)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|r| (r.resource, r.hard_limit)).collect())
}

pub async fn set_quotas(pool: &Pool, holder: QuotaHolder<'_>, limits: &BTreeMap<String, i64>) -> Result<()> {
    let (table, key, id) = holder.table();
    let sql = format!(
        "INSERT INTO {table} ({key}, resource, hard_limit) VALUES (?, ?, ?)
         ON CONFLICT ({key}, resource) DO UPDATE SET hard_limit = excluded.hard_limit"
    );
    let mut tx = pool.begin_write().await?;
    for (resource, limit) in limits {
        db::query(&sql).bind(id).bind(resource).bind(*limit).execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn delete_quotas(pool: &Pool, project: &str) -> Result<()> {
    db::query("DELETE FROM volume_quotas WHERE project_id = ?").bind(project).execute(pool).await?;
    Ok(())
}
