//! What a new volume is made from: nothing (blank), an image, a snapshot
//! or another volume. Each source is checked with the caller's rights and
//! its size before any row is made; an image passes the format inspector
//! again on the stored file, as Compute's boots do, before the backend
//! opens it.

use std::path::PathBuf;

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{enforce, Target};

use crate::backend::VolumeBackend;
use crate::status::{SnapshotStatus, VolumeStatus};
use crate::store::{self, Metadata, TypeRow};
use crate::volumes::CreateVolume;
use crate::Volume;

const GIB: u64 = 1 << 30;

/// A source the backend copies from.
#[derive(Clone, Debug)]
pub enum Source {
    Blank,
    Image { path: PathBuf, disk_format: String },
    Snapshot(String),
    Volume(String),
    Backup(String),
}

/// A checked source: what the backend copies, the smallest size the volume
/// may have, its size when none is asked, and what the new volume takes
/// from it.
pub(crate) struct Resolved {
    pub source: Source,
    pub min_size: i64,
    pub default_size: Option<i64>,
    /// The source volume's type, when the request names none.
    pub volume_type: Option<TypeRow>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub image_id: Option<String>,
    /// A volume holding an image boots; a copy of a volume or snapshot
    /// boots when its source did.
    pub bootable: bool,
    pub image_metadata: Metadata,
}

impl Resolved {
    fn blank() -> Resolved {
        Resolved {
            source: Source::Blank,
            min_size: 1,
            default_size: None,
            volume_type: None,
            snapshot_id: None,
            source_volid: None,
            image_id: None,
            bootable: false,
            image_metadata: Metadata::new(),
        }
    }

    /// The size the volume gets: the one asked, which must hold the source.
    pub fn size(&self, asked: Option<i64>) -> Result<i64> {
        let size = asked.or(self.default_size);
        let Some(size) = size.filter(|s| *s > 0) else {
            let shown = size.map(|s| s.to_string()).unwrap_or_else(|| "None".into());
            return Err(Error::BadRequest(format!(
                "Invalid input received: Invalid volume size provided for create request: {shown} (size argument must be an integer (or string representation of an integer) and greater than zero)."
            )));
        };
        if size < self.min_size {
            let what = match &self.source {
                Source::Blank => "",
                Source::Image { .. } => "image",
                Source::Snapshot(_) => "snapshot",
                Source::Volume(_) => "original volume",
                Source::Backup(_) => "backup",
            };
            return Err(Error::BadRequest(format!(
                "Invalid input received: Volume size '{size}'GB cannot be smaller than the {what} size {}GB. They must be >= original {what} size.",
                self.min_size
            )));
        }
        Ok(size)
    }
}

/// Fills new volume `id` of `size` GiB from `source` (on the blocking pool).
pub(crate) fn fill(backend: &dyn VolumeBackend, id: &str, size: u64, source: &Source) -> std::io::Result<()> {
    match source {
        Source::Blank => backend.create(id, size),
        Source::Image { path, disk_format } => backend.create_from_image(id, size, path, disk_format),
        Source::Snapshot(s) => backend.create_from_snapshot(s, id, size),
        Source::Volume(v) => backend.clone_volume(v, id, size),
        Source::Backup(b) => backend.restore_backup(b, id, size),
    }
}

fn ceil_gib(bytes: u64) -> i64 {
    bytes.div_ceil(GIB).max(1) as i64
}

impl Volume {
    /// The one source a create names, checked.
    pub(crate) async fn resolve_source(&self, ctx: &Context, req: &CreateVolume) -> Result<Resolved> {
        let named = [&req.image_ref, &req.snapshot_id, &req.source_volid, &req.backup_id]
            .iter()
            .filter(|s| s.is_some())
            .count();
        if named > 1 {
            return Err(Error::BadRequest(
                "Invalid input received: Only one of snapshot_id, source_volid, backup_id and imageRef may be given."
                    .into(),
            ));
        }
        if let Some(id) = &req.backup_id {
            let b = self.backup(ctx, id).await?;
            if b.status != crate::status::BackupStatus::Available {
                return Err(Error::BadRequest(format!(
                    "Invalid backup: Backup status must be available, currently {}.",
                    b.status
                )));
            }
            return Ok(Resolved {
                source: Source::Backup(b.id),
                min_size: b.size,
                default_size: Some(b.size),
                ..Resolved::blank()
            });
        }
        if let Some(id) = &req.snapshot_id {
            let s = self.snapshot(ctx, id).await?;
            if s.status != SnapshotStatus::Available {
                return Err(Error::BadRequest(format!(
                    "Invalid snapshot: Originating snapshot status must be one of 'available' values, currently {}.",
                    s.status
                )));
            }
            // A snapshot's volume outlives it (a volume with snapshots is
            // not deleted).
            let parent =
                store::volume(&self.pool, &s.volume_id).await?.ok_or_else(|| store::volume_not_found(&s.volume_id))?;
            return Ok(Resolved {
                source: Source::Snapshot(s.id.clone()),
                min_size: s.size,
                default_size: Some(s.size),
                volume_type: store::volume_type(&self.pool, &parent.volume_type_id).await?,
                snapshot_id: Some(s.id),
                bootable: parent.bootable,
                image_metadata: parent.image_metadata.0,
                ..Resolved::blank()
            });
        }
        if let Some(id) = &req.source_volid {
            let v = self.volume(ctx, id).await?;
            if !matches!(v.status, VolumeStatus::Available | VolumeStatus::InUse) {
                return Err(Error::BadRequest(format!(
                    "Invalid volume: Unable to create a volume from an originating source volume when its status is not one of 'available, in-use' values, currently {}.",
                    v.status
                )));
            }
            return Ok(Resolved {
                source: Source::Volume(v.id.clone()),
                min_size: v.size,
                default_size: Some(v.size),
                volume_type: store::volume_type(&self.pool, &v.volume_type_id).await?,
                source_volid: Some(v.id.clone()),
                bootable: v.bootable,
                image_metadata: v.image_metadata.0.clone(),
                ..Resolved::blank()
            });
        }
        if let Some(image_ref) = &req.image_ref {
            enforce(ctx, "volume:create_from_image", &Target::caller(ctx))?;
            return self.image_source(ctx, image_ref).await;
        }
        Ok(Resolved::blank())
    }

    async fn image_source(&self, ctx: &Context, image_ref: &str) -> Result<Resolved> {
        let unusable = || {
            Error::BadRequest(
                "Invalid input received: Invalid image identifier or unable to access requested image.".into(),
            )
        };
        let image = match self.images.visible(ctx, image_ref).await {
            Ok(image) => image,
            Err(Error::NotFound(_)) => self.image_named(ctx, image_ref).await?.ok_or_else(unusable)?,
            Err(e) => return Err(e),
        };
        if image.status != "active" {
            return Err(Error::BadRequest(format!("Invalid input received: Image {} is not active.", image.id)));
        }
        let Some((_, path)) = self.images.boot_source(&image.id).await? else { return Err(unusable()) };
        let disk_format = image.disk_format.clone().unwrap_or_else(|| "raw".into());
        let (file, format) = (path.clone(), disk_format.clone());
        let verdict = tokio::task::spawn_blocking(move || format_inspector::inspect_file(&file, &format))
            .await
            .map_err(anyhow::Error::from)?;
        let inspected = match verdict {
            Ok(Ok(inspected)) => inspected,
            Ok(Err(refusal)) => {
                tracing::warn!(image = %image.id, rule = refusal.rule, "a volume from an unsafe image refused");
                return Err(Error::BadRequest(format!(
                    "Invalid input received: Image {} is refused: {refusal}",
                    image.id
                )));
            }
            Err(e) => {
                tracing::error!(image = %image.id, error = %e, "reading an image's file failed");
                return Err(Error::BadRequest(format!(
                    "Invalid input received: Image {} has no readable data.",
                    image.id
                )));
            }
        };
        if qemu_img::qemu_format(&disk_format).is_none() {
            return Err(Error::BadRequest(format!(
                "Invalid input received: Images of disk_format {disk_format} cannot become volumes."
            )));
        }
        let virtual_gib = ceil_gib(inspected.virtual_size);
        let min_size = virtual_gib.max(image.min_disk);
        Ok(Resolved {
            source: Source::Image { path, disk_format },
            min_size,
            default_size: Some(min_size),
            image_id: Some(image.id.clone()),
            bootable: true,
            image_metadata: image_metadata(&image),
            ..Resolved::blank()
        })
    }
}

impl Volume {
    /// The one image named `name` that `ctx` sees, as Cinder takes a name
    /// for an `imageRef`; two of that name are an error.
    async fn image_named(&self, ctx: &Context, name: &str) -> Result<Option<oxistack_image::store::ImageRow>> {
        let q = oxistack_image::service::ListQuery {
            params: vec![("name".into(), name.to_owned()), ("limit".into(), "2".into())],
        };
        let (mut found, _) = self.images.list(ctx, &q).await?;
        if found.len() > 1 {
            return Err(Error::Conflict(format!(
                "Multiple matches found for '{name}', use an ID to be more specific."
            )));
        }
        Ok(found.pop())
    }
}

/// What Cinder keeps of an image in `volume_image_metadata`: its core
/// fields and its properties, as strings.
fn image_metadata(image: &oxistack_image::store::ImageRow) -> Metadata {
    let mut m = Metadata::new();
    m.insert("image_id".into(), image.id.clone());
    if let Some(name) = &image.name {
        m.insert("image_name".into(), name.clone());
    }
    for (k, v) in [
        ("checksum", image.checksum.clone()),
        ("container_format", image.container_format.clone()),
        ("disk_format", image.disk_format.clone()),
        ("size", image.size.map(|s| s.to_string())),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    }
    m.insert("min_disk".into(), image.min_disk.to_string());
    m.insert("min_ram".into(), image.min_ram.to_string());
    if let Ok(serde_json::Value::Object(props)) = serde_json::from_str::<serde_json::Value>(&image.properties) {
        for (k, v) in props {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            m.entry(k).or_insert(text);
        }
    }
    m
}
