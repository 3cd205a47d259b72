//! Backups: a copy of a volume kept apart from it (files of the backend
//! now; the Object Storage service's once it exists), counted against the
//! project's `backups` and `backup_gigabytes` quotas. A backup is
//! `creating → available` while its volume is `backing-up`; a restore is
//! `restoring` while the volume it writes is `restoring-backup`. Each
//! status is written before the backend's work starts.

use std::sync::Arc;

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{enforce, Target};

use crate::status::{BackupStatus, VolumeStatus};
use crate::store::{self, BackupRow, Change, VolumeRow};
use crate::views::now;
use crate::volumes::MAX_LIMIT;
use crate::Volume;

/// A create request, as the API read it.
#[derive(Clone, Debug, Default)]
pub struct CreateBackup {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub container: Option<String>,
    /// Back up an `in-use` volume too.
    pub force: bool,
}

/// Where a restore went.
#[derive(Clone, Debug)]
pub struct Restored {
    pub backup_id: String,
    pub volume_id: String,
    pub volume_name: Option<String>,
}

fn over_limit(message: String) -> Error {
    Error::PayloadTooLarge(message)
}

impl Volume {
    /// A backup `ctx` may see: another project's is absent to all but admins.
    async fn visible_backup(&self, ctx: &Context, id: &str) -> Result<BackupRow> {
        match store::backup(&self.pool, id).await? {
            Some(b) if ctx.is_admin() || ctx.project_id() == Some(b.project_id.as_str()) => Ok(b),
            _ => Err(store::backup_not_found(id)),
        }
    }

    async fn checked_backup(&self, ctx: &Context, id: &str, rule: &str) -> Result<BackupRow> {
        let b = self.visible_backup(ctx, id).await?;
        enforce(ctx, rule, &Target::project(&b.project_id))?;
        Ok(b)
    }

    pub async fn backup(&self, ctx: &Context, id: &str) -> Result<BackupRow> {
        self.checked_backup(ctx, id, "backup:get").await
    }

    /// A page of the backups `ctx` may list (every project's for admins
    /// with `all_tenants`), and the next page's marker.
    pub async fn list_backups(
        &self,
        ctx: &Context,
        all_tenants: bool,
        volume_id: Option<&str>,
        marker: Option<&str>,
        limit: Option<usize>,
    ) -> Result<(Vec<BackupRow>, Option<String>)> {
        enforce(ctx, "backup:get_all", &Target::caller(ctx))?;
        let project = if ctx.is_admin() && all_tenants { None } else { Some(ctx.project_id().unwrap_or_default()) };
        let after = match marker {
            Some(m) => match store::backup(&self.pool, m).await? {
                Some(b) if project.is_none_or(|p| p == b.project_id) => Some(b),
                _ => return Err(store::backup_not_found(m)),
            },
            None => None,
        };
        let limit = limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
        if limit == 0 {
            return Ok((vec![], None));
        }
        let rows = store::backups_page(&self.pool, project, volume_id, after.as_ref(), limit as i64).await?;
        let next = (rows.len() == limit).then(|| rows[limit - 1].id.clone());
        Ok((rows, next))
    }

    /// Whether `project` has room for one more backup of `gigabytes` GiB.
    async fn check_backup_room(&self, project: &str, gigabytes: i64) -> Result<()> {
        let limits = self.limits(project).await?;
        let (count, used) = store::backup_usage(&self.pool, project).await?;
        let limit = |k: &str| limits.get(k).copied().unwrap_or(-1);
        let gb = limit("backup_gigabytes");
        if gb >= 0 && used + gigabytes > gb {
            return Err(over_limit(format!(
                "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup gigabytes quota. Requested {gigabytes}G, quota is {gb}G and {used}G has been consumed."
            )));
        }
        let n = limit("backups");
        if n >= 0 && count + 1 > n {
            return Err(over_limit(format!("BackupLimitExceeded: Maximum number of backups allowed ({n}) exceeded")));
        }
        Ok(())
    }

    pub async fn create_backup(self: &Arc<Self>, ctx: &Context, req: Result<CreateBackup>) -> Result<BackupRow> {
        enforce(ctx, "backup:create", &Target::caller(ctx))?;
        let req = req?;
        let v = self.visible(ctx, &req.volume_id).await?;
        enforce(ctx, "backup:create", &Target::project(&v.project_id))?;
        let from: &[VolumeStatus] =
            if req.force { &[VolumeStatus::Available, VolumeStatus::InUse] } else { &[VolumeStatus::Available] };
        let claim = self.pool.lock(&format!("volume-quota:{}", v.project_id)).await?;
        self.check_backup_room(&v.project_id, v.size).await?;
        if !store::transition(&self.pool, &v.id, from, VolumeStatus::BackingUp, Change::default(), &now()).await? {
            let current = store::volume(&self.pool, &v.id).await?.map(|v| v.status).unwrap_or(v.status);
            return Err(Error::BadRequest(format!(
                "Invalid volume: Volume to be backed up must be available or in-use, but the current status is \"{current}\"."
            )));
        }
        let now = now();
        let row = BackupRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: v.project_id.clone(),
            user_id: ctx.user_id.clone(),
            volume_id: v.id.clone(),
            name: req.name,
            description: req.description,
            size: v.size,
            status: BackupStatus::Creating,
            availability_zone: v.availability_zone.clone(),
            container: req.container,
            fail_reason: None,
            host: v.host.clone(),
            created_at: now.clone(),
            updated_at: None,
            data_timestamp: now,
        };
        if let Err(e) = store::insert_backup(&self.pool, &row).await {
            self.end_backing_up(&v.id).await;
            return Err(e);
        }
        claim.release().await;
        let this = self.clone();
        let (bid, vid) = (row.id.clone(), v.id.clone());
        tokio::spawn(async move {
            let (b, vol) = (bid.clone(), vid.clone());
            let (to, reason) = match this.on_backend(move |backend| backend.create_backup(&vol, &b)).await {
                Ok(()) => (BackupStatus::Available, None),
                Err(e) => {
                    tracing::error!(backup = %bid, error = %e, "the backend could not back the volume up");
                    (BackupStatus::Error, Some("The volume's data could not be copied."))
                }
            };
            this.settle_backup(&bid, BackupStatus::Creating, to, reason).await;
            this.end_backing_up(&vid).await;
        });
        Ok(row)
    }

    /// The volume a backup read is as it was.
    pub(crate) async fn end_backing_up(&self, volume_id: &str) {
        self.end_reading(volume_id, VolumeStatus::BackingUp).await
    }

    async fn settle_backup(&self, id: &str, from: BackupStatus, to: BackupStatus, reason: Option<&str>) {
        if let Err(e) = store::backup_transition(&self.pool, id, &[from], to, reason, &now()).await {
            tracing::error!(backup = %id, error = %e, "could not record the end of a backup's {from}");
        }
    }

    /// `DELETE /backups/{id}` (with `force`, admins' `os-force_delete`).
    pub async fn delete_backup(self: &Arc<Self>, ctx: &Context, id: &str, force: bool) -> Result<()> {
        let rule = if force { "volume_extension:backup_admin_actions:force_delete" } else { "backup:delete" };
        let b = self.checked_backup(ctx, id, rule).await?;
        let from: Vec<BackupStatus> = if force {
            BackupStatus::ALL.iter().copied().filter(|s| *s != BackupStatus::Deleting).collect()
        } else {
            vec![BackupStatus::Available, BackupStatus::Error]
        };
        if !store::backup_transition(&self.pool, id, &from, BackupStatus::Deleting, None, &now()).await? {
            return Err(Error::BadRequest(format!(
                "Invalid backup: Backup status must be available or error, currently {}.",
                b.status
            )));
        }
        let this = self.clone();
        tokio::spawn(async move { this.finish_backup_delete(b.id).await });
        Ok(())
    }

    pub(crate) async fn finish_backup_delete(&self, id: String) {
        let bid = id.clone();
        match self.on_backend(move |b| b.delete_backup(&bid)).await {
            Ok(()) => {
                if let Err(e) = store::delete_backup_row(&self.pool, &id).await {
                    tracing::error!(backup = %id, error = %e, "could not remove a deleted backup's row");
                }
            }
            Err(e) => {
                tracing::error!(backup = %id, error = %e, "the backend could not delete the backup");
                self.settle_backup(&id, BackupStatus::Deleting, BackupStatus::ErrorDeleting, None).await;
            }
        }
    }

    /// `POST /backups/{id}/restore`: into volume `volume_id` (available and
    /// at least as large), or a new volume of the backup's size named
    /// `name`.
    pub async fn restore_backup(
        self: &Arc<Self>,
        ctx: &Context,
        id: &str,
        volume_id: Option<&str>,
        name: Option<String>,
    ) -> Result<Restored> {
        let b = self.checked_backup(ctx, id, "backup:restore").await?;
        if b.status != BackupStatus::Available {
            return Err(Error::BadRequest(format!(
                "Invalid backup: Backup status must be available, currently {}.",
                b.status
            )));
        }
        let target = match volume_id {
            Some(vid) => {
                let v = self.visible(ctx, vid).await?;
                if v.size < b.size {
                    return Err(Error::BadRequest(format!(
                        "Invalid volume: volume size {}GB is too small to restore backup of size {}GB.",
                        v.size, b.size
                    )));
                }
                if !store::transition(
                    &self.pool,
                    &v.id,
                    &[VolumeStatus::Available],
                    VolumeStatus::RestoringBackup,
                    Change::default(),
                    &now(),
                )
                .await?
                {
                    return Err(Error::BadRequest(format!(
                        "Invalid volume: Volume to be restored to must be available, but the current status is \"{}\".",
                        v.status
                    )));
                }
                v
            }
            None => self.volume_for_restore(ctx, &b, name).await?,
        };
        if !store::backup_transition(
            &self.pool,
            &b.id,
            &[BackupStatus::Available],
            BackupStatus::Restoring,
            None,
            &now(),
        )
        .await?
        {
            store::transition(
                &self.pool,
                &target.id,
                &[VolumeStatus::RestoringBackup],
                VolumeStatus::Available,
                Change::default(),
                &now(),
            )
            .await?;
            return Err(Error::BadRequest("Invalid backup: Backup changed status while it was being restored.".into()));
        }
        let this = self.clone();
        let (bid, vid, size) = (b.id.clone(), target.id.clone(), target.size);
        tokio::spawn(async move {
            let (bk, v) = (bid.clone(), vid.clone());
            let to = match this.on_backend(move |b| b.restore_backup(&bk, &v, size as u64)).await {
                Ok(()) => VolumeStatus::Available,
                Err(e) => {
                    tracing::error!(backup = %bid, volume = %vid, error = %e, "the backend could not restore the backup");
                    VolumeStatus::ErrorRestoring
                }
            };
            this.settle_backup(&bid, BackupStatus::Restoring, BackupStatus::Available, None).await;
            if let Err(e) =
                store::transition(&this.pool, &vid, &[VolumeStatus::RestoringBackup], to, Change::default(), &now())
                    .await
            {
                tracing::error!(volume = %vid, error = %e, "could not record the end of a restore");
            }
        });
        Ok(Restored { backup_id: b.id, volume_id: target.id, volume_name: target.name })
    }

    /// A new volume for a restore: the backup's size and zone, the default
    /// type, counted in the caller's quotas, `restoring-backup` from the
    /// start.
    async fn volume_for_restore(&self, ctx: &Context, b: &BackupRow, name: Option<String>) -> Result<VolumeRow> {
        enforce(ctx, "volume:create", &Target::caller(ctx))?;
        let project =
            ctx.project_id().ok_or_else(|| Error::BadRequest("A project-scoped token is required.".into()))?;
        let volume_type = self.type_for_create(ctx, None).await?;
        let row = VolumeRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.to_owned(),
            user_id: ctx.user_id.clone(),
            name: Some(name.unwrap_or_else(|| format!("restore_backup_{}", b.id))),
            description: None,
            size: b.size,
            status: VolumeStatus::RestoringBackup,
            volume_type_id: volume_type.id.clone(),
            availability_zone: b.availability_zone.clone(),
            bootable: false,
            multiattach: false,
            metadata: oxistack_core::db::JsonText(Default::default()),
            snapshot_id: None,
            source_volid: None,
            image_id: None,
            host: self.config.host.clone(),
            created_at: now(),
            updated_at: None,
            image_metadata: oxistack_core::db::JsonText(Default::default()),
        };
        let claim = self.pool.lock(&format!("volume-quota:{project}")).await?;
        self.check_room(project, &volume_type, 1, b.size).await?;
        let mut tx = self.pool.begin_write().await?;
        store::insert_volume(&mut tx, &row).await?;
        tx.commit().await?;
        claim.release().await;
        Ok(row)
    }

    /// Admins' `os-reset_status`: any status but `deleting`.
    pub async fn reset_backup_status(&self, ctx: &Context, id: &str, status: &str) -> Result<()> {
        let b = self.checked_backup(ctx, id, "volume_extension:backup_admin_actions:reset_status").await?;
        let to = BackupStatus::parse(&status.to_lowercase())
            .filter(|s| matches!(s, BackupStatus::Available | BackupStatus::Error))
            .ok_or_else(|| Error::BadRequest(format!("Invalid input for field/attribute status. Value: {status}.")))?;
        store::backup_transition(&self.pool, id, &[b.status], to, None, &now()).await?;
        Ok(())
    }
}
