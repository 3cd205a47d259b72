//! Volumes and images: a volume written into a new image of the Image
//! service (`os-volume_upload_image`, `uploading` while its data is read),
//! an image written over a volume (`os-reimage`, as Compute's rebuild of a
//! server booted from a volume asks), and the image metadata a volume
//! keeps of the image it was made from.

use std::sync::Arc;

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{enforce, Target};
use serde_json::{json, Map, Value};

use crate::status::VolumeStatus;
use crate::store::{self, Change, Metadata, VolumeRow};
use crate::views::now;
use crate::Volume;

/// An upload request, as the API read it.
#[derive(Clone, Debug)]
pub struct UploadToImage {
    pub image_name: String,
    /// Upload an `in-use` volume too.
    pub force: bool,
    pub disk_format: String,
    pub container_format: String,
    pub visibility: Option<String>,
    pub protected: Option<bool>,
}

impl Volume {
    /// `os-volume_upload_image`: a new image of the caller's project holds
    /// the volume's data once the upload ends; the image's id at once.
    pub async fn upload_to_image(
        self: &Arc<Self>,
        ctx: &Context,
        id: &str,
        req: UploadToImage,
    ) -> Result<(VolumeRow, oxistack_image::store::ImageRow)> {
        let v = self.checked(ctx, id, "volume_extension:volume_actions:upload_image").await?;
        if req.visibility.as_deref() == Some("public") {
            enforce(ctx, "volume_extension:volume_actions:upload_public", &Target::project(&v.project_id))?;
        }
        if !["raw", "qcow2"].contains(&req.disk_format.as_str()) {
            return Err(Error::BadRequest(format!(
                "Invalid input received: Invalid disk-format '{}' is specified. Allowed disk-formats are raw, qcow2.",
                req.disk_format
            )));
        }
        let from: &[VolumeStatus] =
            if req.force { &[VolumeStatus::Available, VolumeStatus::InUse] } else { &[VolumeStatus::Available] };
        if !from.contains(&v.status) {
            return Err(Error::BadRequest(format!(
                "Invalid volume: Volume {id} status must be available or in-use, but current status is: {}.",
                v.status
            )));
        }
        let mut fields: Map<String, Value> = Map::new();
        fields.insert("name".into(), json!(req.image_name));
        fields.insert("disk_format".into(), json!(req.disk_format));
        fields.insert("container_format".into(), json!(req.container_format));
        fields.insert("min_disk".into(), json!(v.size));
        if let Some(vis) = &req.visibility {
            fields.insert("visibility".into(), json!(vis));
        }
        if let Some(p) = req.protected {
            fields.insert("protected".into(), json!(p));
        }
        let image = self.images.create(ctx, &fields).await?;
        if !store::transition(&self.pool, id, from, VolumeStatus::Uploading, Change::default(), &now()).await? {
            let _ = self.images.delete(ctx, &image.id).await;
            return Err(Error::BadRequest(format!(
                "Invalid volume: Volume {id} changed status while it was being uploaded."
            )));
        }
        let (this, ctx, vid, iid, format) =
            (self.clone(), ctx.clone(), v.id.clone(), image.id.clone(), req.disk_format.clone());
        tokio::spawn(async move {
            if let Err(e) = this.write_image(&ctx, &vid, &iid, &format).await {
                tracing::error!(volume = %vid, image = %iid, error = %e, "uploading a volume to an image failed");
                let _ = this.images.delete(&ctx, &iid).await;
            }
            this.end_reading(&vid, VolumeStatus::Uploading).await;
        });
        let mut shown = v;
        shown.status = VolumeStatus::Uploading;
        Ok((shown, image))
    }

    /// The backend writes the volume as the image's format; the Image
    /// service takes the data as any upload (and inspects it).
    async fn write_image(&self, ctx: &Context, volume: &str, image: &str, disk_format: &str) -> Result<()> {
        let (v, i, f) = (volume.to_owned(), image.to_owned(), disk_format.to_owned());
        let path = self.on_backend(move |b| b.export(&v, &i, &f)).await.map_err(|e| anyhow::anyhow!(e))?;
        let uploaded = async {
            let file = tokio::fs::File::open(&path).await.map_err(anyhow::Error::from)?;
            let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
            self.images.upload(ctx, image, body).await
        }
        .await;
        let i = image.to_owned();
        if let Err(e) = self.on_backend(move |b| b.remove_export(&i)).await {
            tracing::warn!(image = %image, error = %e, "removing an upload's export failed");
        }
        uploaded
    }

    /// A volume whose data was only read is as it was: available, or in
    /// use when its attachments say so.
    pub(crate) async fn end_reading(&self, volume_id: &str, during: VolumeStatus) {
        let ended = async {
            store::transition(&self.pool, volume_id, &[during], VolumeStatus::Available, Change::default(), &now())
                .await?;
            self.follow_attachments(volume_id).await
        };
        if let Err(e) = ended.await {
            tracing::error!(volume = %volume_id, error = %e, "could not record the end of reading a volume");
        }
    }

    /// `os-show_image_metadata`.
    pub async fn image_metadata(&self, ctx: &Context, id: &str) -> Result<Metadata> {
        Ok(self.checked(ctx, id, "volume_extension:volume_image_metadata:show").await?.image_metadata.0)
    }

    /// `os-set_image_metadata`: merged into what the volume keeps; the
    /// whole after.
    pub async fn set_image_metadata(&self, ctx: &Context, id: &str, items: Metadata) -> Result<Metadata> {
        let mut v = self.checked(ctx, id, "volume_extension:volume_image_metadata:set").await?;
        crate::volumes::check_metadata(&items)?;
        v.image_metadata.0.extend(items);
        store::save_image_metadata(&self.pool, &v.id, &v.image_metadata, &now()).await?;
        Ok(v.image_metadata.0)
    }

    /// `os-unset_image_metadata`.
    pub async fn unset_image_metadata(&self, ctx: &Context, id: &str, key: &str) -> Result<()> {
        let mut v = self.checked(ctx, id, "volume_extension:volume_image_metadata:remove").await?;
        if v.image_metadata.0.remove(key).is_none() {
            return Err(Error::NotFound(format!("Glance metadata for volume {id} with key {key} could not be found.")));
        }
        store::save_image_metadata(&self.pool, &v.id, &v.image_metadata, &now()).await
    }
}

/// A reimage begun: the volume is `downloading`; [`Reimage::finish`]
/// writes the image and settles it.
pub struct Reimage {
    volume: Arc<Volume>,
    id: String,
    image_ref: String,
    size: u64,
    resolved: crate::sources::Resolved,
}

impl Volume {
    /// Cinder's `os-reimage` (3.68): the volume's data is to be replaced
    /// by image `image_ref`'s, its size kept. An attached volume is taken
    /// only with `reimage_reserved` (Compute holds it for a rebuild, its
    /// guest gone). Answers once the volume is `downloading`.
    pub async fn begin_reimage(
        self: &Arc<Self>,
        ctx: &Context,
        id: &str,
        image_ref: &str,
        reimage_reserved: bool,
    ) -> Result<Reimage> {
        let v = self.checked(ctx, id, "volume:reimage").await?;
        let mut from = vec![VolumeStatus::Available, VolumeStatus::Error];
        if reimage_reserved {
            enforce(ctx, "volume:reimage_reserved", &Target::project(&v.project_id))?;
            from.extend([VolumeStatus::Reserved, VolumeStatus::InUse]);
        }
        if !from.contains(&v.status) {
            return Err(Error::BadRequest(format!(
                "Invalid volume: Volume {id} status must be available or error, but current status is: {}.",
                v.status
            )));
        }
        let req = crate::volumes::CreateVolume { image_ref: Some(image_ref.to_owned()), ..Default::default() };
        let resolved = self.resolve_source(ctx, &req).await?;
        if resolved.min_size > v.size {
            return Err(Error::BadRequest(format!(
                "Invalid input received: Volume size '{}'GB cannot be smaller than the image size {}GB.",
                v.size, resolved.min_size
            )));
        }
        if !store::transition(&self.pool, id, &from, VolumeStatus::Downloading, Change::default(), &now()).await? {
            return Err(Error::Conflict(format!("Volume {id} changed while it was being reimaged.")));
        }
        Ok(Reimage {
            volume: self.clone(),
            id: id.to_owned(),
            image_ref: image_ref.to_owned(),
            size: v.size as u64,
            resolved,
        })
    }
}

impl Reimage {
    /// Writes the image over the volume: `available` (or `in-use`, as its
    /// attachments say) holding that image, or `error`.
    pub async fn finish(self) -> Result<()> {
        let Reimage { volume, id, image_ref, size, resolved } = self;
        let (vid, source) = (id.clone(), resolved.source);
        let written = volume.on_backend(move |b| crate::sources::fill(b, &vid, size, &source)).await;
        let to = match &written {
            Ok(()) => {
                let image_id = resolved.image_id.as_deref().unwrap_or(&image_ref);
                store::save_image(&volume.pool, &id, image_id, &resolved.image_metadata, &now()).await?;
                VolumeStatus::Available
            }
            Err(e) => {
                tracing::error!(volume = %id, error = %e, "the backend could not reimage the volume");
                VolumeStatus::Error
            }
        };
        store::transition(&volume.pool, &id, &[VolumeStatus::Downloading], to, Change::default(), &now()).await?;
        // Its attachments decide again whether it is in use.
        volume.follow_attachments(&id).await?;
        written.map_err(|e| Error::Internal(anyhow::anyhow!("reimaging volume {id}: {e}")))
    }
}
