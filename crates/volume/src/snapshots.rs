//! Snapshots: a volume's data kept as it was, counted against the
//! project's `snapshots` and `gigabytes` quotas; `creating → available`,
//! `→ deleting → gone`, each status written before the backend's work.

use std::sync::Arc;

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{enforce, Target};

use crate::status::{SnapshotStatus, VolumeStatus};
use crate::store::{self, Metadata, SnapshotFilter, SnapshotRow};
use crate::views::now;
use crate::volumes::{check_metadata, MAX_LIMIT};
use crate::Volume;

/// A create request, as the API read it.
#[derive(Clone, Debug, Default)]
pub struct CreateSnapshot {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Snapshot an `in-use` volume too.
    pub force: bool,
    pub metadata: Metadata,
}

/// The fields of `PUT /snapshots/{id}`; `None` leaves one as it is.
#[derive(Clone, Debug, Default)]
pub struct SnapshotUpdate {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
}

/// A list request, as the API read it.
#[derive(Clone, Debug, Default)]
pub struct SnapshotQuery {
    pub all_tenants: bool,
    pub project: Option<String>,
    pub filter: SnapshotFilter,
    pub ascending: bool,
    pub marker: Option<String>,
    pub limit: Option<usize>,
}

fn invalid_snapshot(message: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!("Invalid snapshot: {message}"))
}

impl Volume {
    /// A snapshot `ctx` may see: another project's is absent to all but
    /// admins.
    pub(crate) async fn visible_snapshot(&self, ctx: &Context, id: &str) -> Result<SnapshotRow> {
        match store::snapshot(&self.pool, id).await? {
            Some(s) if ctx.is_admin() || ctx.project_id() == Some(s.project_id.as_str()) => Ok(s),
            _ => Err(store::snapshot_not_found(id)),
        }
    }

    async fn checked_snapshot(&self, ctx: &Context, id: &str, rule: &str) -> Result<SnapshotRow> {
        let s = self.visible_snapshot(ctx, id).await?;
        enforce(ctx, rule, &Target::project(&s.project_id))?;
        Ok(s)
    }

    pub async fn snapshot(&self, ctx: &Context, id: &str) -> Result<SnapshotRow> {
        self.checked_snapshot(ctx, id, "volume:get_snapshot").await
    }

    fn snapshot_filter(&self, ctx: &Context, q: &SnapshotQuery) -> SnapshotFilter {
        let mut filter = q.filter.clone();
        filter.project = if ctx.is_admin() && (q.all_tenants || q.project.is_some()) {
            q.project.clone()
        } else {
            Some(ctx.project_id().unwrap_or_default().to_owned())
        };
        filter
    }

    /// One page of the snapshots `ctx` may list, and the next page's marker.
    pub async fn list_snapshots(&self, ctx: &Context, q: SnapshotQuery) -> Result<(Vec<SnapshotRow>, Option<String>)> {
        enforce(ctx, "volume:get_all_snapshots", &Target::caller(ctx))?;
        let filter = self.snapshot_filter(ctx, &q);
        let after = match &q.marker {
            Some(m) => match store::snapshot(&self.pool, m).await? {
                Some(s) if filter.project.as_deref().is_none_or(|p| p == s.project_id) => Some(s),
                _ => return Err(store::snapshot_not_found(m)),
            },
            None => None,
        };
        let limit = q.limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
        if limit == 0 {
            return Ok((vec![], None));
        }
        let rows = store::snapshots_page(&self.pool, &filter, q.ascending, after.as_ref(), limit as i64).await?;
        let next = (rows.len() == limit).then(|| rows[limit - 1].id.clone());
        Ok((rows, next))
    }

    pub async fn count_snapshots(&self, ctx: &Context, q: &SnapshotQuery) -> Result<usize> {
        Ok(store::count_snapshots(&self.pool, &self.snapshot_filter(ctx, q)).await? as usize)
    }

    pub async fn create_snapshot(self: &Arc<Self>, ctx: &Context, req: Result<CreateSnapshot>) -> Result<SnapshotRow> {
        enforce(ctx, "volume:create_snapshot", &Target::caller(ctx))?;
        let req = req?;
        let v = self.visible(ctx, &req.volume_id).await?;
        enforce(ctx, "volume:create_snapshot", &Target::project(&v.project_id))?;
        check_metadata(&req.metadata)?;
        // The volume's status is read under the claim a delete takes, so a
        // snapshot never appears on a volume being deleted.
        let claim = self.pool.lock(&format!("volume-quota:{}", v.project_id)).await?;
        let v = store::volume(&self.pool, &v.id).await?.ok_or_else(|| store::volume_not_found(&v.id))?;
        let usable = v.status == VolumeStatus::Available || (req.force && v.status == VolumeStatus::InUse);
        if !usable {
            return Err(Error::BadRequest(format!(
                "Invalid volume: Volume {} status must be available, but current status is: {}.",
                v.id, v.status
            )));
        }
        let volume_type = store::volume_type(&self.pool, &v.volume_type_id)
            .await?
            .ok_or_else(|| store::type_not_found(&v.volume_type_id))?;
        let row = SnapshotRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: v.project_id.clone(),
            user_id: ctx.user_id.clone(),
            volume_id: v.id.clone(),
            name: req.name,
            description: req.description,
            size: v.size,
            status: SnapshotStatus::Creating,
            metadata: oxistack_core::db::JsonText(req.metadata),
            host: v.host.clone(),
            created_at: now(),
            updated_at: None,
        };
        self.check_snapshot_room(&v.project_id, &volume_type, v.size).await?;
        store::insert_snapshot(&self.pool, &row).await?;
        claim.release().await;
        let this = self.clone();
        let (sid, vid) = (row.id.clone(), v.id.clone());
        tokio::spawn(async move {
            let id = sid.clone();
            let to = match this.on_backend(move |b| b.create_snapshot(&vid, &id)).await {
                Ok(()) => SnapshotStatus::Available,
                Err(e) => {
                    tracing::error!(snapshot = %sid, error = %e, "the backend could not make the snapshot");
                    SnapshotStatus::Error
                }
            };
            this.settle_snapshot(&sid, SnapshotStatus::Creating, to).await;
        });
        Ok(row)
    }

    async fn settle_snapshot(&self, id: &str, from: SnapshotStatus, to: SnapshotStatus) {
        if let Err(e) = store::snapshot_transition(&self.pool, id, &[from], to, &now()).await {
            tracing::error!(snapshot = %id, error = %e, "could not record the end of a snapshot's {from}");
        }
    }

    pub async fn update_snapshot(
        &self,
        ctx: &Context,
        id: &str,
        fields: Result<SnapshotUpdate>,
    ) -> Result<SnapshotRow> {
        let mut s = self.checked_snapshot(ctx, id, "volume:update_snapshot").await?;
        let fields = fields?;
        if let Some(name) = fields.name {
            s.name = name;
        }
        if let Some(description) = fields.description {
            s.description = description;
        }
        let now = now();
        store::save_snapshot_details(&self.pool, &s, &now).await?;
        s.updated_at = Some(now);
        Ok(s)
    }

    /// `DELETE /snapshots/{id}`, or with `force` (`os-force_delete`,
    /// admins) from any status but `deleting`.
    pub async fn delete_snapshot(self: &Arc<Self>, ctx: &Context, id: &str, force: bool) -> Result<()> {
        let rule =
            if force { "volume_extension:snapshot_admin_actions:force_delete" } else { "volume:delete_snapshot" };
        let s = self.checked_snapshot(ctx, id, rule).await?;
        let from: Vec<SnapshotStatus> = if force {
            SnapshotStatus::ALL.iter().copied().filter(|s| *s != SnapshotStatus::Deleting).collect()
        } else {
            vec![SnapshotStatus::Available, SnapshotStatus::Error]
        };
        if !store::snapshot_transition(&self.pool, id, &from, SnapshotStatus::Deleting, &now()).await? {
            return Err(invalid_snapshot(format!(
                "Volume Snapshot status must be available or error and must not be part of a group, currently {}.",
                s.status
            )));
        }
        let this = self.clone();
        tokio::spawn(async move { this.finish_snapshot_delete(s.id).await });
        Ok(())
    }

    /// The backend's part of a snapshot's delete: the data, then the row;
    /// or `error_deleting`.
    pub(crate) async fn finish_snapshot_delete(&self, id: String) {
        let sid = id.clone();
        match self.on_backend(move |b| b.delete_snapshot(&sid)).await {
            Ok(()) => {
                if let Err(e) = store::delete_snapshot_row(&self.pool, &id).await {
                    tracing::error!(snapshot = %id, error = %e, "could not remove a deleted snapshot's row");
                }
            }
            Err(e) => {
                tracing::error!(snapshot = %id, error = %e, "the backend could not delete the snapshot");
                self.settle_snapshot(&id, SnapshotStatus::Deleting, SnapshotStatus::ErrorDeleting).await;
            }
        }
    }

    /// `os-reset_status` (admins): any status but `deleting`.
    pub async fn reset_snapshot_status(&self, ctx: &Context, id: &str, status: &str) -> Result<()> {
        let s = self.checked_snapshot(ctx, id, "volume_extension:snapshot_admin_actions:reset_status").await?;
        let to = SnapshotStatus::parse(&status.to_lowercase())
            .filter(|to| *to != SnapshotStatus::Deleting)
            .ok_or_else(|| Error::BadRequest(format!("Invalid input for field/attribute status. Value: {status}.")))?;
        store::snapshot_transition(&self.pool, id, &[s.status], to, &now()).await?;
        Ok(())
    }

    pub async fn snapshot_metadata(&self, ctx: &Context, id: &str) -> Result<Metadata> {
        Ok(self.checked_snapshot(ctx, id, "volume:get_snapshot_metadata").await?.metadata.0)
    }

    /// Merges `items` into the snapshot's metadata (`replace`: instead of
    /// it); the metadata after.
    pub async fn set_snapshot_metadata(
        &self,
        ctx: &Context,
        id: &str,
        items: Metadata,
        replace: bool,
    ) -> Result<Metadata> {
        let mut s = self.checked_snapshot(ctx, id, "volume:update_snapshot_metadata").await?;
        check_metadata(&items)?;
        if replace {
            s.metadata.0 = items;
        } else {
            s.metadata.0.extend(items);
        }
        store::save_snapshot_details(&self.pool, &s, &now()).await?;
        Ok(s.metadata.0)
    }

    pub async fn delete_snapshot_metadata_item(&self, ctx: &Context, id: &str, key: &str) -> Result<()> {
        let mut s = self.checked_snapshot(ctx, id, "volume:delete_snapshot_metadata").await?;
        if s.metadata.0.remove(key).is_none() {
            return Err(Error::NotFound(format!("Snapshot {id} has no metadata with key {key}.")));
        }
        store::save_snapshot_details(&self.pool, &s, &now()).await
    }
}
