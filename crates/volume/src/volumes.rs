//! Volumes: who may see and change them, what a request may ask, and the
//! status each step moves a volume through (`creating → available`,
//! `available → extending → available`, `→ deleting → gone`), each written
//! before the backend's work starts.

use std::sync::Arc;

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{enforce, Target};

use crate::sources::{fill, Source};
use crate::status::{SnapshotStatus, VolumeStatus};
use crate::store::{self, Change, Metadata, VolumeFilter, VolumeOrder, VolumeRow};
use crate::views::now;
use crate::Volume;

/// Cinder's `osapi_max_limit`: the largest page, and the page when no
/// limit is given.
pub const MAX_LIMIT: usize = 1000;

/// The largest size Cinder's schema takes, in GiB.
pub const MAX_SIZE: i64 = 2_147_483_647;

/// A create request, as the API read it.
#[derive(Clone, Debug, Default)]
pub struct CreateVolume {
    pub size: Option<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// A type's name or id.
    pub volume_type: Option<String>,
    pub availability_zone: Option<String>,
    pub metadata: Metadata,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub image_ref: Option<String>,
    pub backup_id: Option<String>,
}

/// The fields of `PUT /volumes/{id}`; `None` leaves one as it is.
#[derive(Clone, Debug, Default)]
pub struct VolumeUpdate {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub metadata: Option<Metadata>,
}

/// A list request, as the API read it.
#[derive(Clone, Debug)]
pub struct VolumeQuery {
    pub all_tenants: bool,
    pub project: Option<String>,
    pub filter: VolumeFilter,
    pub order: VolumeOrder,
    pub ascending: bool,
    pub marker: Option<String>,
    pub limit: Option<usize>,
}

impl Default for VolumeQuery {
    fn default() -> Self {
        VolumeQuery {
            all_tenants: false,
            project: None,
            filter: VolumeFilter::default(),
            order: VolumeOrder::CreatedAt,
            ascending: false,
            marker: None,
            limit: None,
        }
    }
}

fn invalid_volume(message: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!("Invalid volume: {message}"))
}

/// Metadata as Cinder's schema takes it: keys of 1–255 letters, digits and
/// `-_:. /`, values of at most 255 characters.
pub fn check_metadata(metadata: &Metadata) -> Result<()> {
    for (k, v) in metadata {
        let key_ok = (1..=255).contains(&k.chars().count())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_:. /".contains(c));
        if !key_ok {
            return Err(Error::BadRequest(format!(
                "Invalid input for field/attribute metadata. Value: {k}. '{k}' does not match any of the regexes: '^[a-zA-Z0-9-_:. /]{{1,255}}$'"
            )));
        }
        if v.chars().count() > 255 {
            return Err(Error::BadRequest(format!(
                "Invalid input for field/attribute {k}. Value: {v}. '{v}' is too long"
            )));
        }
    }
    Ok(())
}

impl Volume {
    /// A volume `ctx` may see: another project's is absent to all but
    /// admins, as Cinder's lookups answer.
    pub(crate) async fn visible(&self, ctx: &Context, id: &str) -> Result<VolumeRow> {
        match store::volume(&self.pool, id).await? {
            Some(v) if ctx.is_admin() || ctx.project_id() == Some(v.project_id.as_str()) => Ok(v),
            _ => Err(store::volume_not_found(id)),
        }
    }

    /// A volume `ctx` may act on under `rule`.
    pub(crate) async fn checked(&self, ctx: &Context, id: &str, rule: &str) -> Result<VolumeRow> {
        let v = self.visible(ctx, id).await?;
        enforce(ctx, rule, &Target::project(&v.project_id))?;
        Ok(v)
    }

    pub async fn volume(&self, ctx: &Context, id: &str) -> Result<VolumeRow> {
        self.checked(ctx, id, "volume:get").await
    }

    /// One page of the volumes `ctx` may list, and the marker of the next
    /// page when there may be more.
    pub async fn list_volumes(&self, ctx: &Context, q: VolumeQuery) -> Result<(Vec<VolumeRow>, Option<String>)> {
        enforce(ctx, "volume:get_all", &Target::caller(ctx))?;
        let mut filter = q.filter.clone();
        filter.project = self.listed_project(ctx, &q);
        let after = match &q.marker {
            Some(m) => match store::volume(&self.pool, m).await? {
                Some(v) if filter.project.as_deref().is_none_or(|p| p == v.project_id) => Some(v),
                _ => return Err(store::volume_not_found(m)),
            },
            None => None,
        };
        let limit = q.limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
        if limit == 0 {
            return Ok((vec![], None));
        }
        let rows = store::volumes_page(&self.pool, &filter, q.order, q.ascending, after.as_ref(), limit as i64).await?;
        // Cinder links a next page whenever a page is full.
        let next = (rows.len() == limit).then(|| rows[limit - 1].id.clone());
        Ok((rows, next))
    }

    /// How many volumes a list would show on all its pages
    /// (`with_count`).
    pub async fn count_volumes(&self, ctx: &Context, q: &VolumeQuery) -> Result<usize> {
        let mut filter = q.filter.clone();
        filter.project = self.listed_project(ctx, q);
        Ok(store::count_volumes(&self.pool, &filter).await? as usize)
    }

    /// The project a list shows: only admins list other projects' volumes;
    /// anyone else's `all_tenants` is ignored, as Cinder ignores it.
    fn listed_project(&self, ctx: &Context, q: &VolumeQuery) -> Option<String> {
        if ctx.is_admin() && (q.all_tenants || q.project.is_some()) {
            q.project.clone()
        } else {
            Some(ctx.project_id().unwrap_or_default().to_owned())
        }
    }

    pub async fn create_volume(self: &Arc<Self>, ctx: &Context, req: Result<CreateVolume>) -> Result<VolumeRow> {
        enforce(ctx, "volume:create", &Target::caller(ctx))?;
        let req = req?;
        let project =
            ctx.project_id().ok_or_else(|| Error::BadRequest("A project-scoped token is required.".into()))?;
        let source = self.resolve_source(ctx, &req).await?;
        let size = source.size(req.size)?;
        if size > MAX_SIZE {
            return Err(Error::BadRequest(format!(
                "Invalid input for field/attribute size. Value: {size}. {size} is greater than the maximum of {MAX_SIZE}"
            )));
        }
        check_metadata(&req.metadata)?;
        let zone = match req.availability_zone {
            Some(z) if z != self.config.availability_zone => {
                return Err(Error::BadRequest(format!("Invalid input received: Availability zone '{z}' is invalid.")))
            }
            _ => self.config.availability_zone.clone(),
        };
        let volume_type = match (&req.volume_type, &source.volume_type) {
            (None, Some(t)) => t.clone(),
            (asked, _) => self.type_for_create(ctx, asked.as_deref()).await?,
        };
        let multiattach = volume_type.extra_specs.get("multiattach").is_some_and(|v| v == "<is> True");
        let now = now();
        let row = VolumeRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.to_owned(),
            user_id: ctx.user_id.clone(),
            name: req.name,
            description: req.description,
            size,
            status: VolumeStatus::Creating,
            volume_type_id: volume_type.id.clone(),
            availability_zone: zone,
            bootable: source.bootable,
            multiattach,
            metadata: oxistack_core::db::JsonText(req.metadata),
            snapshot_id: source.snapshot_id.clone(),
            source_volid: source.source_volid.clone(),
            image_id: source.image_id.clone(),
            host: self.config.host.clone(),
            created_at: now,
            updated_at: None,
            image_metadata: oxistack_core::db::JsonText(source.image_metadata.clone()),
        };
        // The quota check and the row it counts are one step across every
        // server on the database.
        let claim = self.pool.lock(&format!("volume-quota:{project}")).await?;
        self.check_room(project, &volume_type, 1, size).await?;
        let mut tx = self.pool.begin_write().await?;
        store::insert_volume(&mut tx, &row).await?;
        tx.commit().await?;
        claim.release().await;
        let this = self.clone();
        let id = row.id.clone();
        tokio::spawn(async move { this.finish_create(id, size, source.source).await });
        Ok(row)
    }

    /// The backend's part of a create: `creating → available`, or `error`
    /// (`creating → downloading → available` from an image).
    async fn finish_create(self: Arc<Self>, id: String, size: i64, source: Source) {
        let mut from = VolumeStatus::Creating;
        if matches!(source, Source::Image { .. }) {
            if let Err(e) =
                store::transition(&self.pool, &id, &[from], VolumeStatus::Downloading, Change::default(), &now()).await
            {
                tracing::error!(volume = %id, error = %e, "could not record a volume's download");
                return;
            }
            from = VolumeStatus::Downloading;
        }
        let vid = id.clone();
        let to = match self.on_backend(move |b| fill(b, &vid, size as u64, &source)).await {
            Ok(()) => VolumeStatus::Available,
            Err(e) => {
                tracing::error!(volume = %id, error = %e, "the backend could not make the volume");
                VolumeStatus::Error
            }
        };
        self.settle(&id, from, to, Change::default()).await;
    }

    /// Ends a step: from its transitional status to where it led.
    async fn settle(&self, id: &str, from: VolumeStatus, to: VolumeStatus, change: Change<'_>) {
        if let Err(e) = store::transition(&self.pool, id, &[from], to, change, &now()).await {
            tracing::error!(volume = %id, error = %e, "could not record the end of a volume's {from}");
        }
    }

    pub async fn update_volume(&self, ctx: &Context, id: &str, fields: Result<VolumeUpdate>) -> Result<VolumeRow> {
        let mut v = self.checked(ctx, id, "volume:update").await?;
        let fields = fields?;
        if v.status == VolumeStatus::Maintenance {
            return Err(invalid_volume("The volume cannot be updated during maintenance."));
        }
        if let Some(name) = fields.name {
            v.name = name;
        }
        if let Some(description) = fields.description {
            v.description = description;
        }
        if let Some(metadata) = fields.metadata {
            check_metadata(&metadata)?;
            v.metadata.0 = metadata;
        }
        let now = now();
        store::save_details(&self.pool, &v, &now).await?;
        v.updated_at = Some(now);
        Ok(v)
    }

    /// `DELETE /volumes/{id}`; `cascade` deletes its snapshots with it.
    pub async fn delete_volume(self: &Arc<Self>, ctx: &Context, id: &str, force: bool, cascade: bool) -> Result<()> {
        let rule = if force { "volume:force_delete" } else { "volume:delete" };
        let v = self.checked(ctx, id, rule).await?;
        self.begin_delete(v, force, cascade).await
    }

    /// `os-force_delete`: a delete without the status check.
    pub async fn force_delete(self: &Arc<Self>, ctx: &Context, id: &str) -> Result<()> {
        let v = self.checked(ctx, id, "volume_extension:volume_admin_actions:force_delete").await?;
        self.begin_delete(v, true, false).await
    }

    pub(crate) async fn begin_delete(self: &Arc<Self>, v: VolumeRow, force: bool, cascade: bool) -> Result<()> {
        const WHY: &str = "must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.";
        let from: Vec<VolumeStatus> = if force {
            VolumeStatus::ALL
                .iter()
                .copied()
                .filter(|s| {
                    !matches!(
                        s,
                        VolumeStatus::InUse
                            | VolumeStatus::Reserved
                            | VolumeStatus::Attaching
                            | VolumeStatus::Detaching
                            | VolumeStatus::Deleting
                    )
                })
                .collect()
        } else {
            VolumeStatus::DELETABLE.to_vec()
        };
        // A snapshot is made under the same claim, so none appears between
        // this look and the volume's move to `deleting`.
        let claim = self.pool.lock(&format!("volume-quota:{}", v.project_id)).await?;
        if !store::attachments_of(&self.pool, &v.id).await?.is_empty() {
            return Err(invalid_volume(format!("Volume {} is attached or reserved for a server; {WHY}", v.id)));
        }
        let snapshots = store::snapshots_of(&self.pool, &v.id).await?;
        if !snapshots.is_empty() && !cascade {
            return Err(invalid_volume(format!("Volume {} still has {} dependent snapshots.", v.id, snapshots.len())));
        }
        if let Some(busy) =
            snapshots.iter().find(|s| !matches!(s.status, SnapshotStatus::Available | SnapshotStatus::Error))
        {
            return Err(invalid_volume(format!(
                "Snapshot {} of volume {} is {}; a cascade deletes only available or error snapshots.",
                busy.id, v.id, busy.status
            )));
        }
        let moved =
            store::transition(&self.pool, &v.id, &from, VolumeStatus::Deleting, Change::default(), &now()).await?;
        if moved {
            for s in &snapshots {
                store::snapshot_transition(&self.pool, &s.id, &[s.status], SnapshotStatus::Deleting, &now()).await?;
            }
        }
        claim.release().await;
        if !moved {
            return Err(if force {
                invalid_volume(format!("Volume  {WHY}"))
            } else {
                invalid_volume(format!(
                    "Volume status must be available or error or error_restoring or error_extending or error_managing and {WHY}"
                ))
            });
        }
        let this = self.clone();
        tokio::spawn(async move { this.finish_delete(v.id).await });
        Ok(())
    }

    /// The backend's part of a delete: the snapshots a cascade deletes,
    /// the data, then the row; or `error_deleting`.
    pub(crate) async fn finish_delete(self: &Arc<Self>, id: String) {
        let snapshots = match store::snapshots_of(&self.pool, &id).await {
            Ok(snapshots) => snapshots,
            Err(e) => {
                tracing::error!(volume = %id, error = %e, "could not read a deleted volume's snapshots");
                return self.settle(&id, VolumeStatus::Deleting, VolumeStatus::ErrorDeleting, Change::default()).await;
            }
        };
        for s in snapshots {
            self.finish_snapshot_delete(s.id).await;
        }
        if !store::snapshots_of(&self.pool, &id).await.is_ok_and(|left| left.is_empty()) {
            tracing::error!(volume = %id, "a deleted volume's snapshots could not all be deleted");
            return self.settle(&id, VolumeStatus::Deleting, VolumeStatus::ErrorDeleting, Change::default()).await;
        }
        let vid = id.clone();
        match self.on_backend(move |b| b.delete(&vid)).await {
            Ok(()) => {
                if let Err(e) = store::delete_volume(&self.pool, &id).await {
                    tracing::error!(volume = %id, error = %e, "could not remove a deleted volume's row");
                }
            }
            Err(e) => {
                tracing::error!(volume = %id, error = %e, "the backend could not delete the volume");
                self.settle(&id, VolumeStatus::Deleting, VolumeStatus::ErrorDeleting, Change::default()).await;
            }
        }
    }

    /// `os-extend`: `available → extending → available` with the new size.
    pub async fn extend(self: &Arc<Self>, ctx: &Context, id: &str, new_size: i64, in_use_allowed: bool) -> Result<()> {
        let v = self.checked(ctx, id, "volume:extend").await?;
        let mut from = vec![VolumeStatus::Available];
        if in_use_allowed {
            enforce(ctx, "volume:extend_attached_volume", &Target::project(&v.project_id))?;
            from.push(VolumeStatus::InUse);
        }
        if !from.contains(&v.status) {
            return Err(invalid_volume(format!(
                "Volume {id} status must be '{{'status': 'available'}}' to extend, currently {}.",
                v.status
            )));
        }
        if new_size > MAX_SIZE {
            return Err(Error::BadRequest(format!(
                "Invalid input for field/attribute new_size. Value: {new_size}. {new_size} is greater than the maximum of {MAX_SIZE}"
            )));
        }
        if new_size <= v.size {
            return Err(Error::BadRequest(format!(
                "Invalid input received: New size for extend must be greater than current size. (current: {}, extended: {new_size}).",
                v.size
            )));
        }
        let volume_type = store::volume_type(&self.pool, &v.volume_type_id)
            .await?
            .ok_or_else(|| store::type_not_found(&v.volume_type_id))?;
        let claim = self.pool.lock(&format!("volume-quota:{}", v.project_id)).await?;
        self.check_room(&v.project_id, &volume_type, 0, new_size - v.size).await?;
        self.check_per_volume(&v.project_id, new_size).await?;
        // The new size is counted from the start, so that no other request
        // takes the room while the backend grows the volume.
        let change = Change { size: Some(new_size), ..Default::default() };
        let moved = store::transition(&self.pool, id, &[v.status], VolumeStatus::Extending, change, &now()).await?;
        claim.release().await;
        if !moved {
            return Err(invalid_volume(format!("Volume {id} changed status while it was being extended.")));
        }
        let (this, id, back, old_size) = (self.clone(), id.to_owned(), v.status, v.size);
        tokio::spawn(async move {
            let vid = id.clone();
            match this.on_backend(move |b| b.extend(&vid, new_size as u64)).await {
                Ok(()) => this.settle(&id, VolumeStatus::Extending, back, Change::default()).await,
                Err(e) => {
                    tracing::error!(volume = %id, error = %e, "the backend could not extend the volume");
                    let change = Change { size: Some(old_size), ..Default::default() };
                    this.settle(&id, VolumeStatus::Extending, VolumeStatus::ErrorExtending, change).await
                }
            }
        });
        Ok(())
    }

    /// `os-retype`: the volume's type becomes `new_type` (a name or id),
    /// counted against that type's quotas. Every type's volumes live on
    /// the one backend of this host, so the data stays where it is and
    /// `migration_policy` has nothing to choose.
    pub async fn retype(&self, ctx: &Context, id: &str, new_type: &str) -> Result<()> {
        let v = self.checked(ctx, id, "volume:retype").await?;
        if !matches!(v.status, VolumeStatus::Available | VolumeStatus::InUse) {
            return Err(invalid_volume(format!(
                "Volume {id} status must be available or in-use to retype, but current status is: {}.",
                v.status
            )));
        }
        let to = self.find_type(ctx, new_type).await?.ok_or_else(|| {
            Error::BadRequest(format!("Invalid input received: Invalid volume_type passed: {new_type}."))
        })?;
        if to.id == v.volume_type_id {
            return Err(Error::BadRequest(format!(
                "Invalid input received: New volume_type same as original: {new_type}."
            )));
        }
        let claim = self.pool.lock(&format!("volume-quota:{}", v.project_id)).await?;
        self.check_type_room(&v.project_id, &to, 1, v.size).await?;
        let change = Change { volume_type_id: Some(&to.id), ..Default::default() };
        let moved = store::transition(&self.pool, id, &[v.status], v.status, change, &now()).await?;
        claim.release().await;
        if !moved {
            return Err(invalid_volume(format!("Volume {id} changed status while it was being retyped.")));
        }
        Ok(())
    }

    /// `os-set_bootable`.
    pub async fn set_bootable(&self, ctx: &Context, id: &str, bootable: bool) -> Result<()> {
        let mut v = self.checked(ctx, id, "volume:update").await?;
        v.bootable = bootable;
        store::save_details(&self.pool, &v, &now()).await
    }

    /// `os-reset_status` (admins): any status but `deleting`, and `in-use`
    /// only for a volume with attachments (no migrations are served: an
    /// `attach_status` or `migration_status` alone changes nothing).
    pub async fn reset_status(&self, ctx: &Context, id: &str, status: Option<&str>) -> Result<()> {
        let v = self.checked(ctx, id, "volume_extension:volume_admin_actions:reset_status").await?;
        let Some(status) = status else { return Ok(()) };
        let to = VolumeStatus::parse(&status.to_lowercase())
            .ok_or_else(|| Error::BadRequest(format!("Invalid input for field/attribute status. Value: {status}.")))?;
        match to {
            VolumeStatus::Deleting => return Err(Error::BadRequest("Cannot reset-state to deleting".into())),
            VolumeStatus::InUse if store::attachments_of(&self.pool, id).await?.is_empty() => {
                return Err(Error::BadRequest(
                    "Cannot reset-state to in-use because volume does not have any attachments.".into(),
                ))
            }
            _ => {}
        }
        store::transition(&self.pool, id, &[v.status], to, Change::default(), &now()).await?;
        Ok(())
    }

    pub async fn metadata(&self, ctx: &Context, id: &str) -> Result<Metadata> {
        Ok(self.checked(ctx, id, "volume:get_volume_metadata").await?.metadata.0)
    }

    /// Merges `items` into the metadata (`replace`: instead of it); the
    /// metadata after.
    pub async fn set_metadata(&self, ctx: &Context, id: &str, items: Metadata, replace: bool) -> Result<Metadata> {
        let rule = if replace { "volume:update_volume_metadata" } else { "volume:create_volume_metadata" };
        let mut v = self.checked(ctx, id, rule).await?;
        check_metadata(&items)?;
        if replace {
            v.metadata.0 = items;
        } else {
            v.metadata.0.extend(items);
        }
        store::save_details(&self.pool, &v, &now()).await?;
        Ok(v.metadata.0)
    }

    pub async fn delete_metadata_item(&self, ctx: &Context, id: &str, key: &str) -> Result<()> {
        let mut v = self.checked(ctx, id, "volume:delete_volume_metadata").await?;
        if v.metadata.0.remove(key).is_none() {
            return Err(Error::NotFound(format!("Volume {id} has no metadata with key {key}.")));
        }
        store::save_details(&self.pool, &v, &now()).await
    }
}
