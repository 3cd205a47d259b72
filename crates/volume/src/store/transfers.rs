//! The volume transfers table, and the move of a volume (with its
//! snapshots) to the project that accepts it.

use oxistack_core::db::{self, Pool};
use oxistack_core::error::{Error, Result};
use sqlx::FromRow;

use crate::status::VolumeStatus;

#[derive(Clone, Debug, FromRow)]
pub struct TransferRow {
    pub id: String,
    pub volume_id: String,
    pub source_project_id: String,
    pub name: Option<String>,
    pub salt: String,
    /// SHA-256 of the salt and the key, hex.
    pub crypt_hash: String,
    pub no_snapshots: bool,
    pub accepted: bool,
    pub destination_project_id: Option<String>,
    pub created_at: String,
}

pub fn transfer_not_found(id: &str) -> Error {
    Error::NotFound(format!("Transfer {id} could not be found."))
}

pub async fn insert_transfer(pool: &Pool, t: &TransferRow) -> Result<()> {
    db::query(
        "INSERT INTO volume_transfers (id, volume_id, source_project_id, name, salt, crypt_hash, no_snapshots,
            accepted, destination_project_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&t.id)
    .bind(&t.volume_id)
    .bind(&t.source_project_id)
    .bind(&t.name)
    .bind(&t.salt)
    .bind(&t.crypt_hash)
    .bind(t.no_snapshots)
    .bind(t.accepted)
    .bind(&t.destination_project_id)
    .bind(&t.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// A transfer not yet accepted.
pub async fn open_transfer(pool: &Pool, id: &str) -> Result<Option<TransferRow>> {
    Ok(db::query_as("SELECT * FROM volume_transfers WHERE id = ? AND accepted = FALSE")
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// The transfers not yet accepted, of `project` (of every project when
/// `None`), oldest first.
pub async fn open_transfers(pool: &Pool, project: Option<&str>) -> Result<Vec<TransferRow>> {
    let q = match project {
        Some(p) => db::query_as(
            "SELECT * FROM volume_transfers WHERE accepted = FALSE AND source_project_id = ? ORDER BY created_at, id",
        )
        .bind(p),
        None => db::query_as("SELECT * FROM volume_transfers WHERE accepted = FALSE ORDER BY created_at, id"),
    };
    Ok(q.fetch_all(pool).await?)
}

/// Removes a transfer and gives its volume back to its project
/// (`awaiting-transfer → available`), as one step.
pub async fn cancel_transfer(pool: &Pool, t: &TransferRow, now: &str) -> Result<()> {
    let mut tx = pool.begin_write().await?;
    db::query("DELETE FROM volume_transfers WHERE id = ? AND accepted = FALSE").bind(&t.id).execute(&mut tx).await?;
    db::query("UPDATE volumes SET status = ?, updated_at = ? WHERE id = ? AND status = ?")
        .bind(VolumeStatus::Available)
        .bind(now)
        .bind(&t.volume_id)
        .bind(VolumeStatus::AwaitingTransfer)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The volume of transfer `t` (and its snapshots, unless the transfer
/// keeps them) moves to `project` and `user`, available; the transfer is
/// recorded accepted. One step: whether it moved (an accept or a cancel
/// that came first leaves it).
pub async fn accept_transfer(pool: &Pool, t: &TransferRow, project: &str, user: &str, now: &str) -> Result<bool> {
    let mut tx = pool.begin_write().await?;
    let taken = db::query(
        "UPDATE volume_transfers SET accepted = TRUE, destination_project_id = ? WHERE id = ? AND accepted = FALSE",
    )
    .bind(project)
    .bind(&t.id)
    .execute(&mut tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Ok(false);
    }
    db::query("UPDATE volumes SET project_id = ?, user_id = ?, status = ?, updated_at = ? WHERE id = ? AND status = ?")
        .bind(project)
        .bind(user)
        .bind(VolumeStatus::Available)
        .bind(now)
        .bind(&t.volume_id)
        .bind(VolumeStatus::AwaitingTransfer)
        .execute(&mut tx)
        .await?;
    if !t.no_snapshots {
        db::query("UPDATE volume_snapshots SET project_id = ?, user_id = ?, updated_at = ? WHERE volume_id = ?")
            .bind(project)
            .bind(user)
            .bind(now)
            .bind(&t.volume_id)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}
