//! The `block_device_mappings` table: the volumes attached to instances.

use oxistack_core::db::{self, Pool};
use oxistack_core::error::Result;
use sqlx::FromRow;

oxistack_core::text_enum! {
    /// The step a volume's attach or detach is at.
    BdmStatus {
        Attaching => "attaching",
        Attached => "attached",
        Detaching => "detaching",
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct Bdm {
    pub id: String,
    pub instance_uuid: String,
    pub volume_id: String,
    /// The Block Storage attachment this mapping holds.
    pub attachment_id: String,
    pub device_name: String,
    pub tag: Option<String>,
    pub delete_on_termination: bool,
    pub status: BdmStatus,
    pub created_at: String,
    /// 0 for the root volume of a server booted from a volume.
    pub boot_index: Option<i64>,
}

impl Bdm {
    /// A new mapping of `volume_id` to `instance` on `device_name`, at its
    /// first step (`attaching`), with the id of the attachment it is to hold.
    pub fn attaching(
        instance: &str,
        volume_id: &str,
        device_name: String,
        tag: Option<String>,
        delete_on_termination: bool,
        boot_index: Option<i64>,
    ) -> Bdm {
        Bdm {
            id: uuid::Uuid::new_v4().to_string(),
            instance_uuid: instance.to_owned(),
            volume_id: volume_id.to_owned(),
            attachment_id: uuid::Uuid::new_v4().to_string(),
            device_name,
            tag,
            delete_on_termination,
            status: BdmStatus::Attaching,
            created_at: oxistack_core::time::iso_seconds(oxistack_core::time::now()),
            boot_index,
        }
    }

    /// The volume the server boots from.
    pub fn is_root(&self) -> bool {
        self.boot_index == Some(0)
    }
}

pub async fn insert_bdm(pool: &Pool, b: &Bdm) -> Result<()> {
    db::query(
        "INSERT INTO block_device_mappings (id, instance_uuid, volume_id, attachment_id, device_name, tag,
            delete_on_termination, status, created_at, boot_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&b.id)
    .bind(&b.instance_uuid)
    .bind(&b.volume_id)
    .bind(&b.attachment_id)
    .bind(&b.device_name)
    .bind(&b.tag)
    .bind(b.delete_on_termination)
    .bind(b.status)
    .bind(&b.created_at)
    .bind(b.boot_index)
    .execute(pool)
    .await?;
    Ok(())
}

/// An instance's volumes, in the order they were attached.
pub async fn bdms_of(pool: &Pool, instance: &str) -> Result<Vec<Bdm>> {
    Ok(db::query_as("SELECT * FROM block_device_mappings WHERE instance_uuid = ? ORDER BY created_at, id")
        .bind(instance)
        .fetch_all(pool)
        .await?)
}

/// The volumes attached to the instances `ids` (a page's).
pub async fn bdms_of_all(pool: &Pool, ids: &[&str]) -> Result<Vec<Bdm>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "SELECT * FROM block_device_mappings WHERE instance_uuid IN ({marks}) AND status <> 'attaching'
         ORDER BY created_at, id"
    );
    let mut q = db::query_as(&sql);
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(pool).await?)
}

/// The mappings in `status` on `host`'s instances, and those of deleted
/// instances there, for the reconciliation at start.
pub async fn bdms_to_reconcile(pool: &Pool, host: &str) -> Result<Vec<(Bdm, bool)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        bdm: Bdm,
        deleted: bool,
    }
    let rows: Vec<Row> = db::query_as(
        "SELECT b.*, i.deleted FROM block_device_mappings b JOIN instances i ON i.id = b.instance_uuid
         WHERE i.host = ? AND (b.status <> ? OR i.deleted = TRUE) ORDER BY b.created_at, b.id",
    )
    .bind(host)
    .bind(BdmStatus::Attached)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.bdm, r.deleted)).collect())
}

pub async fn set_bdm_status(pool: &Pool, id: &str, status: BdmStatus) -> Result<()> {
    db::query("UPDATE block_device_mappings SET status = ? WHERE id = ?").bind(status).bind(id).execute(pool).await?;
    Ok(())
}

pub async fn delete_bdm(pool: &Pool, id: &str) -> Result<()> {
    db::query("DELETE FROM block_device_mappings WHERE id = ?").bind(id).execute(pool).await?;
    Ok(())
}
