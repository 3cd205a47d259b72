//! Block Storage: a Cinder v3-compatible API over a volume backend.
//!
//! Owns the volumes, snapshots, volume types and volume quota tables and the
//! volumes' data (through [`backend::VolumeBackend`]). `api/` parses and
//! renders; `volumes`, `snapshots`, `types` and `quotas` hold the policy
//! checks, rules and status
//! changes; `store` holds the SQL. Every status a step leaves a volume in is
//! written before the step starts, so [`Volume::open`] finds what a stopped
//! server left in flight and ends it as cinder-volume's start does.

pub mod api;
pub mod attachments;
pub mod backend;
pub mod backups;
pub mod images;
pub mod microversion;
pub mod quotas;
pub mod snapshots;
pub mod sources;
pub mod status;
pub mod transfers;
// The one module of the crate with SQL (see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub mod store;
pub mod types;
pub mod views;
pub mod volumes;

use std::sync::Arc;

use oxistack_core::db::{self, Migration, Migrations, Pool};

use crate::backend::VolumeBackend;
use crate::status::{BackupStatus, SnapshotStatus, VolumeStatus};

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &[
        Migration { version: 1, sql: include_str!("../migrations/sqlite/0001_volume.sql") },
        Migration { version: 2, sql: include_str!("../migrations/sqlite/0002_snapshots.sql") },
        Migration { version: 3, sql: include_str!("../migrations/sqlite/0003_attachments.sql") },
        Migration { version: 4, sql: include_str!("../migrations/sqlite/0004_backups.sql") },
        Migration { version: 5, sql: include_str!("../migrations/sqlite/0005_quota_classes.sql") },
        Migration { version: 6, sql: include_str!("../migrations/sqlite/0006_transfers.sql") },
    ],
    postgres: &[
        Migration { version: 1, sql: include_str!("../migrations/postgres/0001_volume.sql") },
        Migration { version: 2, sql: include_str!("../migrations/postgres/0002_snapshots.sql") },
        Migration { version: 3, sql: include_str!("../migrations/postgres/0003_attachments.sql") },
        Migration { version: 4, sql: include_str!("../migrations/postgres/0004_backups.sql") },
        Migration { version: 5, sql: include_str!("../migrations/postgres/0005_quota_classes.sql") },
        Migration { version: 6, sql: include_str!("../migrations/postgres/0006_transfers.sql") },
    ],
};

#[derive(Clone, Debug)]
pub struct VolumeConfig {
    /// This server's host: the backend whose volumes it serves.
    pub host: String,
    pub availability_zone: String,
    /// The service's public URL (`.../volume`), the base of links.
    pub url: String,
}

/// The Block Storage service.
pub struct Volume {
    pub pool: Pool,
    pub config: VolumeConfig,
    pub backend: Arc<dyn VolumeBackend>,
    /// Where volumes made from images read them, with the caller's rights.
    pub images: Arc<oxistack_image::Image>,
}

impl Volume {
    /// Runs `work` on the backend, on the blocking pool (backend calls do
    /// file or network I/O): its answer, or its error (or the stopped
    /// task's) as text for the log.
    pub(crate) async fn on_backend<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn VolumeBackend) -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let backend = self.backend.clone();
        match tokio::task::spawn_blocking(move || work(backend.as_ref())).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("the backend's work stopped: {e}")),
        }
    }

    /// Opens the service: its tables, the default volume type, and the
    /// volumes a stopped server left in flight on this host.
    pub async fn open(
        pool: Pool,
        config: VolumeConfig,
        backend: Arc<dyn VolumeBackend>,
        images: Arc<oxistack_image::Image>,
    ) -> anyhow::Result<Arc<Self>> {
        db::migrate(&pool, "volume", &MIGRATIONS).await?;
        let volume = Arc::new(Volume { pool, config, backend, images });
        volume.ensure_default_type().await?;
        volume.reconcile().await?;
        Ok(volume)
    }

    /// Ends what the last run left half done: a create, extend or restore
    /// cut short is an error of that volume, snapshot or backup, a backup's
    /// read leaves its volume as it was, a delete is finished (a snapshot's
    /// first: a volume's delete follows its snapshots').
    async fn reconcile(self: &Arc<Self>) -> anyhow::Result<()> {
        let transitional: Vec<BackupStatus> =
            BackupStatus::ALL.iter().copied().filter(|s| s.after_restart().is_some()).collect();
        for b in store::backups_in(&self.pool, &self.config.host, &transitional).await? {
            match b.status.after_restart() {
                Some(Some(to)) => {
                    tracing::warn!(backup = %b.id, from = %b.status, to = %to, "backup work was cut short by a stop");
                    let reason =
                        (to == BackupStatus::Error).then_some("The backup was cut short by a stop of the service.");
                    store::backup_transition(&self.pool, &b.id, &[b.status], to, reason, &views::now()).await?;
                }
                Some(None) => {
                    tracing::warn!(backup = %b.id, "finishing a delete cut short by a stop");
                    self.finish_backup_delete(b.id.clone()).await;
                }
                None => {}
            }
        }
        let transitional: Vec<SnapshotStatus> =
            SnapshotStatus::ALL.iter().copied().filter(|s| s.after_restart().is_some()).collect();
        for s in store::snapshots_in(&self.pool, &self.config.host, &transitional).await? {
            match s.status.after_restart() {
                Some(Some(to)) => {
                    tracing::warn!(snapshot = %s.id, from = %s.status, to = %to, "snapshot work was cut short by a stop");
                    store::snapshot_transition(&self.pool, &s.id, &[s.status], to, &views::now()).await?;
                }
                Some(None) => {
                    tracing::warn!(snapshot = %s.id, "finishing a delete cut short by a stop");
                    self.finish_snapshot_delete(s.id.clone()).await;
                }
                None => {}
            }
        }
        let transitional: Vec<VolumeStatus> =
            VolumeStatus::ALL.iter().copied().filter(|s| s.after_restart().is_some()).collect();
        for v in store::volumes_in(&self.pool, &self.config.host, &transitional).await? {
            match v.status.after_restart() {
                Some(Some(to)) => {
                    tracing::warn!(volume = %v.id, from = %v.status, to = %to, "volume work was cut short by a stop");
                    store::transition(&self.pool, &v.id, &[v.status], to, Default::default(), &views::now()).await?;
                    if matches!(v.status, VolumeStatus::BackingUp | VolumeStatus::Uploading) {
                        self.follow_attachments(&v.id).await?;
                    }
                }
                Some(None) => {
                    tracing::warn!(volume = %v.id, "finishing a delete cut short by a stop");
                    self.finish_delete(v.id.clone()).await;
                }
                None => {}
            }
        }
        Ok(())
    }
}
