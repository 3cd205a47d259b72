//! The attachments table.

use oxistack_core::db::{self, JsonText, Pool};
use oxistack_core::error::{Error, Result};
use serde_json::Value;
use sqlx::FromRow;

use crate::status::{AttachStatus, VolumeStatus};

#[derive(Clone, Debug, FromRow)]
pub struct AttachmentRow {
    pub id: String,
    pub volume_id: String,
    pub project_id: String,
    pub instance_uuid: Option<String>,
    pub attached_host: Option<String>,
    pub mountpoint: Option<String>,
    pub attach_status: AttachStatus,
    /// `rw` or `ro`.
    pub attach_mode: String,
    pub connector: JsonText<Value>,
    pub attach_time: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

pub fn attachment_not_found(id: &str) -> Error {
    Error::NotFound(format!("VolumeAttachment {id} could not be found."))
}

pub async fn insert_attachment(pool: &Pool, a: &AttachmentRow) -> Result<()> {
    db::query(
        "INSERT INTO volume_attachments (id, volume_id, project_id, instance_uuid, attached_host, mountpoint,
            attach_status, attach_mode, connector, attach_time, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&a.id)
    .bind(&a.volume_id)
    .bind(&a.project_id)
    .bind(&a.instance_uuid)
    .bind(&a.attached_host)
    .bind(&a.mountpoint)
    .bind(a.attach_status)
    .bind(&a.attach_mode)
    .bind(&a.connector)
    .bind(&a.attach_time)
    .bind(&a.created_at)
    .bind(&a.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn attachment(pool: &Pool, id: &str) -> Result<Option<AttachmentRow>> {
    Ok(db::query_as("SELECT * FROM volume_attachments WHERE id = ?").bind(id).fetch_optional(pool).await?)
}

/// A volume's attachments, oldest first.
pub async fn attachments_of(pool: &Pool, volume_id: &str) -> Result<Vec<AttachmentRow>> {
    Ok(db::query_as("SELECT * FROM volume_attachments WHERE volume_id = ? ORDER BY created_at, id")
        .bind(volume_id)
        .fetch_all(pool)
        .await?)
}

/// The attachments of the volumes `ids` (a page's), oldest first.
pub async fn attachments_of_all(pool: &Pool, ids: &[&str]) -> Result<Vec<AttachmentRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!("SELECT * FROM volume_attachments WHERE volume_id IN ({marks}) ORDER BY created_at, id");
    let mut q = db::query_as(&sql);
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(pool).await?)
}

/// One project's attachments (every project's for `None`), oldest first.
pub async fn attachments_in(pool: &Pool, project: Option<&str>) -> Result<Vec<AttachmentRow>> {
    Ok(match project {
        Some(p) => {
            db::query_as("SELECT * FROM volume_attachments WHERE project_id = ? ORDER BY created_at, id")
                .bind(p)
                .fetch_all(pool)
                .await?
        }
        None => db::query_as("SELECT * FROM volume_attachments ORDER BY created_at, id").fetch_all(pool).await?,
    })
}

/// Writes an attachment's changing fields.
pub async fn save_attachment(pool: &Pool, a: &AttachmentRow, now: &str) -> Result<()> {
    db::query(
        "UPDATE volume_attachments SET instance_uuid = ?, attached_host = ?, mountpoint = ?, attach_status = ?,
            attach_mode = ?, connector = ?, attach_time = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&a.instance_uuid)
    .bind(&a.attached_host)
    .bind(&a.mountpoint)
    .bind(a.attach_status)
    .bind(&a.attach_mode)
    .bind(&a.connector)
    .bind(&a.attach_time)
    .bind(now)
    .bind(&a.id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete_attachment(pool: &Pool, id: &str) -> Result<()> {
    db::query("DELETE FROM volume_attachments WHERE id = ?").bind(id).execute(pool).await?;
    Ok(())
}

/// Sets a volume's status whatever it was (the attachment rules decide it
/// under the volume's claim).
pub async fn set_volume_status(pool: &Pool, id: &str, to: VolumeStatus, now: &str) -> Result<()> {
    db::query("UPDATE volumes SET status = ?, updated_at = ? WHERE id = ?")
        .bind(to)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
