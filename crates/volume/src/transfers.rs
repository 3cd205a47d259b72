//! Volume transfers: a project offers an available volume
//! (`awaiting-transfer`) under a key it gives to another project, whose
//! member accepts with the key; the volume (and its snapshots, unless the
//! transfer keeps them) becomes that project's, within its quotas. Only a
//! salted hash of the key is stored; the key is answered once.

use std::sync::Arc;

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{enforce, Target};
use sha2::{Digest, Sha256};

use crate::status::{SnapshotStatus, VolumeStatus};
use crate::store::{self, Change, TransferRow};
use crate::views::now;
use crate::Volume;

/// Cinder's `volume_transfer_key_length` and salt length.
const KEY_LENGTH: usize = 16;
const SALT_LENGTH: usize = 8;

fn random_text(length: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..length).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

fn hash_key(salt: &str, key: &str) -> String {
    Sha256::digest(format!("{salt}{key}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A transfer request, as the API read it.
#[derive(Clone, Debug, Default)]
pub struct CreateTransfer {
    pub volume_id: String,
    pub name: Option<String>,
    /// 3.55: the snapshots stay with the giving project.
    pub no_snapshots: bool,
}

impl Volume {
    /// A transfer `ctx` may see: its own project's (any, to admins).
    pub async fn transfer(&self, ctx: &Context, id: &str) -> Result<TransferRow> {
        let t = store::open_transfer(&self.pool, id).await?.ok_or_else(|| store::transfer_not_found(id))?;
        if !ctx.is_admin() && ctx.project_id() != Some(t.source_project_id.as_str()) {
            return Err(store::transfer_not_found(id));
        }
        enforce(ctx, "volume:get_transfer", &Target::project(&t.source_project_id))?;
        Ok(t)
    }

    /// The open transfers of the caller's project (of all, to an admin
    /// asking for all tenants).
    pub async fn transfers(&self, ctx: &Context, all_tenants: bool) -> Result<Vec<TransferRow>> {
        enforce(ctx, "volume:get_all_transfers", &Target::caller(ctx))?;
        let project = if all_tenants && ctx.is_admin() { None } else { Some(ctx.project_id().unwrap_or_default()) };
        store::open_transfers(&self.pool, project).await
    }

    /// Offers an available volume of the caller's project: the transfer
    /// and its key, which is shown this once.
    pub async fn create_transfer(&self, ctx: &Context, req: Result<CreateTransfer>) -> Result<(TransferRow, String)> {
        let req = req?;
        let v = self.checked(ctx, &req.volume_id, "volume:create_transfer").await?;
        if v.status != VolumeStatus::Available {
            return Err(Error::BadRequest(format!("Invalid volume: Status of volume {} must be available", v.id)));
        }
        let snapshots = store::snapshots_of(&self.pool, &v.id).await?;
        if !req.no_snapshots && snapshots.iter().any(|s| s.status != SnapshotStatus::Available) {
            return Err(Error::BadRequest(format!(
                "Invalid volume: Volume {} has snapshots that are not available.",
                v.id
            )));
        }
        let key = random_text(KEY_LENGTH);
        let salt = random_text(SALT_LENGTH);
        let t = TransferRow {
            id: uuid::Uuid::new_v4().to_string(),
            volume_id: v.id.clone(),
            source_project_id: v.project_id.clone(),
            name: req.name,
            crypt_hash: hash_key(&salt, &key),
            salt,
            no_snapshots: req.no_snapshots,
            accepted: false,
            destination_project_id: None,
            created_at: now(),
        };
        let now = now();
        let offered = [VolumeStatus::Available];
        if !store::transition(&self.pool, &v.id, &offered, VolumeStatus::AwaitingTransfer, Change::default(), &now)
            .await?
        {
            return Err(Error::BadRequest(format!("Invalid volume: Status of volume {} must be available", v.id)));
        }
        if let Err(e) = store::insert_transfer(&self.pool, &t).await {
            let back = VolumeStatus::Available;
            let _ =
                store::transition(&self.pool, &v.id, &[VolumeStatus::AwaitingTransfer], back, Change::default(), &now)
                    .await;
            return Err(e);
        }
        Ok((t, key))
    }

    /// Withdraws a transfer: the volume is available to its project again.
    pub async fn delete_transfer(&self, ctx: &Context, id: &str) -> Result<()> {
        let t = self.transfer(ctx, id).await?;
        enforce(ctx, "volume:delete_transfer", &Target::project(&t.source_project_id))?;
        store::cancel_transfer(&self.pool, &t, &now()).await
    }

    /// Takes transfer `id` into the caller's project with `auth_key`.
    pub async fn accept_transfer(self: &Arc<Self>, ctx: &Context, id: &str, auth_key: &str) -> Result<TransferRow> {
        enforce(ctx, "volume:accept_transfer", &Target::caller(ctx))?;
        let project =
            ctx.project_id().ok_or_else(|| Error::BadRequest("A project-scoped token is required.".into()))?.to_owned();
        let t = store::open_transfer(&self.pool, id).await?.ok_or_else(|| store::transfer_not_found(id))?;
        if hash_key(&t.salt, auth_key) != t.crypt_hash {
            tracing::warn!(transfer = %id, "a transfer accept with a wrong key");
            return Err(Error::BadRequest(format!(
                "Invalid auth key: Attempt to transfer {id} with invalid auth key."
            )));
        }
        let v = store::volume(&self.pool, &t.volume_id).await?.ok_or_else(|| store::volume_not_found(&t.volume_id))?;
        if v.status != VolumeStatus::AwaitingTransfer {
            return Err(Error::BadRequest(format!(
                "Invalid volume: Status of volume {} must be awaiting-transfer",
                v.id
            )));
        }
        let volume_type = store::volume_type(&self.pool, &v.volume_type_id)
            .await?
            .ok_or_else(|| store::type_not_found(&v.volume_type_id))?;
        let snapshots = if t.no_snapshots { vec![] } else { store::snapshots_of(&self.pool, &v.id).await? };
        let snapshot_gb: i64 = snapshots.iter().map(|s| s.size).sum();
        // The quota check and the move are one step for the taking project.
        let claim = self.pool.lock(&format!("volume-quota:{project}")).await?;
        let moved = async {
            self.check_transfer_room(&project, &volume_type, v.size, snapshots.len() as i64, snapshot_gb).await?;
            if !store::accept_transfer(&self.pool, &t, &project, &ctx.user_id, &now()).await? {
                return Err(store::transfer_not_found(id));
            }
            Ok(())
        }
        .await;
        claim.release().await;
        moved?;
        Ok(TransferRow { accepted: true, destination_project_id: Some(project), ..t })
    }
}
