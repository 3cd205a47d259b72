//! The volumes a server is created with (Nova's block device mappings to
//! volume destinations): checked with the request, reserved (an existing
//! volume) before it is answered, made (from an image, a snapshot or blank)
//! by the build, which waits until Block Storage has them, then connected
//! and plugged in with the guest. The mapping with boot index 0 is the
//! server's root disk: it boots from that volume, not from an image.
//!
//! A snapshot of such a server (`createImage`) is, as in Nova, a snapshot
//! of each of its volumes and an image without data whose
//! `block_device_mapping` property names them; a server booted from that
//! image gets new volumes from those snapshots.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use oxistack_core::context::Context;
use oxistack_core::db::Pool;
use oxistack_core::error::{Error, Result};
use oxistack_volume::snapshots::CreateSnapshot;
use oxistack_volume::status::{SnapshotStatus, VolumeStatus};
use oxistack_volume::volumes::CreateVolume;
use oxistack_volume::Volume;

use crate::store::volumes::{self as bdms, Bdm, BdmStatus};
use crate::store::Instance;
use crate::virt::AttachedVolume;
use crate::Compute;

/// Where a mapped volume comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", content = "id", rename_all = "snake_case")]
pub enum BlockSource {
    /// A new volume with the image's data.
    Image(String),
    /// An existing volume.
    Volume(String),
    /// A new volume from a volume snapshot.
    Snapshot(String),
    /// A new empty volume.
    Blank,
}

/// One volume of a create request, as the API read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDevice {
    pub source: BlockSource,
    /// 0 for the root disk; `None` (or negative in the request) for a
    /// volume the server is not booted from.
    pub boot_index: Option<i64>,
    /// GiB, for a volume that is made.
    pub volume_size: Option<i64>,
    pub delete_on_termination: bool,
    pub device_name: Option<String>,
    pub tag: Option<String>,
    /// A volume type for a volume that is made (2.67).
    pub volume_type: Option<String>,
}

impl BlockDevice {
    pub fn is_root(&self) -> bool {
        self.boot_index == Some(0)
    }
}

/// A blank local disk of a create request: the flavor's ephemeral disk,
/// or its swap disk (`guest_format: swap`), of `size` (GiB, or MiB for
/// swap) when given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalDisk {
    pub swap: bool,
    pub size: Option<i64>,
}

/// Blank local disks as the flavor has them: its one ephemeral disk and
/// its swap disk, each at the flavor's size (Nova's limits answered past
/// it; a smaller or second disk is not served).
pub(crate) fn check_local_disks(disks: &[LocalDisk], flavor: &crate::store::Flavor) -> Result<()> {
    let (ephemeral, swap): (Vec<&LocalDisk>, Vec<&LocalDisk>) = disks.iter().partition(|d| !d.swap);
    if ephemeral.len() > 1 || swap.len() > 1 {
        return Err(invalid(
            "More than one ephemeral or swap disk: the flavor's ephemeral and swap disks are served, one each.",
        ));
    }
    if let Some(d) = ephemeral.first() {
        let size = d.size.unwrap_or(flavor.ephemeral);
        if flavor.ephemeral == 0 || size > flavor.ephemeral {
            return Err(Error::BadRequest(
                "Ephemeral disks requested are larger than the instance type allows. If no size is given in one block device mapping, flavor ephemeral size will be used.".into(),
            ));
        }
        if size != flavor.ephemeral {
            return Err(invalid(format!("An ephemeral disk is the flavor's {} GB here.", flavor.ephemeral)));
        }
    }
    if let Some(d) = swap.first() {
        let size = d.size.unwrap_or(flavor.swap);
        if flavor.swap == 0 || size > flavor.swap {
            return Err(Error::BadRequest("Swap drive requested is larger than instance type allows.".into()));
        }
        if size != flavor.swap {
            return Err(invalid(format!("A swap disk is the flavor's {} MB here.", flavor.swap)));
        }
    }
    Ok(())
}

/// How long a build waits for Block Storage to make a volume (Nova's
/// `block_device_allocate_retries` × interval is three minutes; an image's
/// conversion may take longer on a slow disk).
const VOLUME_WAIT: Duration = Duration::from_secs(600);

fn invalid(why: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!("Block Device Mapping is Invalid: {why}"))
}

impl Compute {
    /// The request's volumes as `ctx` may use them: each source visible and
    /// ready, a root volume bootable and big enough for its image. Answers
    /// the minimum RAM the root's image asks for.
    pub(crate) async fn check_block_devices(&self, ctx: &Context, devices: &[BlockDevice]) -> Result<i64> {
        let mut min_ram = 0;
        for d in devices {
            match &d.source {
                BlockSource::Image(id) => {
                    let image =
                        self.image.visible(ctx, id).await.map_err(|_| invalid(format!("failed to get image {id}.")))?;
                    if image.status != "active" {
                        return Err(Error::BadRequest(format!("Image {id} is not active.")));
                    }
                    let size = d.volume_size.unwrap_or(0);
                    let bytes = image.virtual_size.or(image.size).unwrap_or(0);
                    let needed = ((bytes + (1 << 30) - 1) >> 30).max(image.min_disk);
                    if size < needed {
                        return Err(Error::BadRequest(format!(
                            "Volume is smaller than the minimum size specified in image metadata. Volume size is {} bytes, minimum size is {} bytes.",
                            size << 30,
                            needed << 30
                        )));
                    }
                    if d.is_root() {
                        min_ram = image.min_ram;
                    }
                }
                BlockSource::Volume(id) => {
                    let v = self
                        .volume
                        .volume(ctx, id)
                        .await
                        .map_err(|_| invalid(format!("failed to get volume {id}.")))?;
                    if d.is_root() && !v.bootable {
                        return Err(Error::BadRequest(format!("Block Device {id} is not bootable.")));
                    }
                    if d.is_root() {
                        min_ram = v.image_metadata.0.get("min_ram").and_then(|r| r.parse().ok()).unwrap_or(0);
                    }
                }
                BlockSource::Snapshot(id) => {
                    let s = self
                        .volume
                        .snapshot(ctx, id)
                        .await
                        .map_err(|_| invalid(format!("failed to get snapshot {id}.")))?;
                    if s.status != SnapshotStatus::Available {
                        return Err(invalid(format!("snapshot {id} is not available.")));
                    }
                }
                BlockSource::Blank => {}
            }
        }
        Ok(min_ram)
    }

    /// Reserves the existing volumes of the request for `instance` (as Nova
    /// creates their attachments before it answers) and records their
    /// mappings; on failure none is left reserved.
    pub(crate) async fn reserve_block_devices(
        &self,
        ctx: &Context,
        inst: &Instance,
        devices: &[BlockDevice],
    ) -> Result<()> {
        for d in devices {
            let BlockSource::Volume(id) = &d.source else { continue };
            if let Err(e) = map_volume(&self.pool, &self.volume, ctx, inst, id, d).await {
                crate::volumes::release_volumes(&self.pool, &self.volume, &inst.id).await?;
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Reserves volume `id` for `inst` and records its mapping, as
/// `attaching`: the root on `/dev/vda`, another on the device asked for
/// or the next free one.
async fn map_volume(
    pool: &Pool,
    volume: &Volume,
    ctx: &Context,
    inst: &Instance,
    id: &str,
    d: &BlockDevice,
) -> Result<()> {
    let device_name = if d.is_root() {
        "/dev/vda".to_owned()
    } else {
        let mapped = bdms::bdms_of(pool, &inst.id).await?;
        crate::volumes::pick_device(inst, &mapped, d.device_name.as_deref())?
    };
    let bdm = Bdm::attaching(&inst.id, id, device_name, d.tag.clone(), d.delete_on_termination, d.boot_index);
    crate::volumes::reserve_mapped(pool, volume, ctx, &bdm).await
}

/// The build's part: the volumes that are made are made (as the caller),
/// waited for and reserved; then every volume of the instance is connected
/// from this host and completed. Answers the root volume, if the server
/// boots from one, and the others, as the driver plugs them.
pub(crate) async fn prepare(
    pool: &Pool,
    volume: &Arc<Volume>,
    host: &str,
    ctx: &Context,
    inst: &Instance,
    devices: &[BlockDevice],
) -> Result<(Option<AttachedVolume>, Vec<AttachedVolume>)> {
    for d in devices {
        let mut req = CreateVolume {
            size: d.volume_size,
            name: Some(String::new()),
            description: Some(String::new()),
            volume_type: d.volume_type.clone(),
            ..Default::default()
        };
        match &d.source {
            BlockSource::Volume(_) => continue,
            BlockSource::Image(id) => req.image_ref = Some(id.clone()),
            BlockSource::Snapshot(id) => req.snapshot_id = Some(id.clone()),
            BlockSource::Blank => {}
        }
        let made = volume.create_volume(ctx, Ok(req)).await?;
        wait_available(volume, ctx, &made.id).await?;
        map_volume(pool, volume, ctx, inst, &made.id, d).await?;
    }
    let mut plugged = vec![];
    for bdm in bdms::bdms_of(pool, &inst.id).await?.into_iter().filter(|b| b.status == BdmStatus::Attaching) {
        let v = crate::volumes::connect_mapping(volume, host, &bdm).await?;
        crate::volumes::complete_mapping(pool, volume, &bdm).await?;
        plugged.push((bdm.is_root(), v));
    }
    Ok(crate::volumes::split_root(plugged))
}

/// Waits until Block Storage made volume `id`; one that ended in error (or
/// took longer than [`VOLUME_WAIT`]) fails the build, as in Nova.
async fn wait_available(volume: &Volume, ctx: &Context, id: &str) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        let v = volume.volume(ctx, id).await?;
        match v.status {
            VolumeStatus::Available => return Ok(()),
            VolumeStatus::Creating | VolumeStatus::Downloading if started.elapsed() < VOLUME_WAIT => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            status => {
                return Err(Error::Conflict(format!(
                    "Volume {id} did not finish being created even after we waited {} seconds or {} attempts. And its status is {status}.",
                    started.elapsed().as_secs(),
                    started.elapsed().as_millis() / 200
                )))
            }
        }
    }
}

/// The image properties a volume-backed snapshot does not copy from its
/// root volume's image: they described the image's data, which it has not.
const NOT_COPIED: &[&str] =
    &["image_id", "image_name", "checksum", "size", "disk_format", "container_format", "min_disk", "min_ram"];

impl Compute {
    /// `createImage` of a server booted from a volume: a snapshot of each
    /// of its volumes (taken while attached, as Nova forces them), and an
    /// active image of no data that maps them. Answers the image's id.
    pub(crate) async fn snapshot_volume_backed(
        &self,
        ctx: &Context,
        inst: &Instance,
        name: &str,
        metadata: Map<String, Value>,
    ) -> Result<String> {
        let mut mappings = vec![];
        let mut properties = Map::new();
        for bdm in bdms::bdms_of(&self.pool, &inst.id).await?.into_iter().filter(|b| b.status == BdmStatus::Attached) {
            let v = self.volume.volume(ctx, &bdm.volume_id).await?;
            if bdm.is_root() {
                for (k, val) in &v.image_metadata.0 {
                    if !NOT_COPIED.contains(&k.as_str()) {
                        properties.insert(k.clone(), json!(val));
                    }
                }
            }
            let req = CreateSnapshot {
                volume_id: v.id.clone(),
                name: Some(format!("snapshot for {name}")),
                description: None,
                force: true,
                metadata: Default::default(),
            };
            let snapshot = self.volume.create_snapshot(ctx, Ok(req)).await?;
            mappings.push(json!({
                "boot_index": bdm.boot_index,
                "source_type": "snapshot",
                "destination_type": "volume",
                "snapshot_id": snapshot.id,
                "volume_id": null,
                "image_id": null,
                "volume_size": v.size,
                "delete_on_termination": bdm.delete_on_termination,
                "device_name": bdm.device_name,
                "tag": bdm.tag,
                "device_type": "disk",
                "disk_bus": "virtio",
                "guest_format": null,
                "no_device": null,
                "volume_type": null,
            }));
        }
        let mut body = properties;
        body.extend(metadata);
        body.insert("name".into(), json!(name));
        body.insert("instance_uuid".into(), json!(inst.id));
        body.insert("visibility".into(), json!("private"));
        body.insert("disk_format".into(), json!("raw"));
        body.insert("container_format".into(), json!("bare"));
        body.insert("bdm_v2".into(), json!("True"));
        body.insert("root_device_name".into(), json!("/dev/vda"));
        body.insert("block_device_mapping".into(), json!(Value::Array(mappings).to_string()));
        let created = self.image.create(ctx, &body).await?;
        // Active with no data, as Nova leaves it: what it boots is mapped.
        self.image.upload(ctx, &created.id, axum::body::Body::empty()).await?;
        Ok(created.id)
    }

    /// The volumes an image maps (a volume-backed server's snapshot), as
    /// a create request's: an image boot from it is a volume boot.
    pub(crate) async fn mapped_by_image(&self, ctx: &Context, image_ref: &str) -> Result<Vec<BlockDevice>> {
        let Ok(image) = self.image.visible(ctx, image_ref).await else { return Ok(vec![]) };
        let properties: Map<String, Value> = serde_json::from_str(&image.properties).unwrap_or_default();
        let v2 = properties.get("bdm_v2").is_some_and(|b| b == "True" || b == "true" || *b == json!(true));
        let mapped = match properties.get("block_device_mapping") {
            Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
            Some(list) => list.clone(),
            None => Value::Null,
        };
        let (true, Value::Array(entries)) = (v2, mapped) else { return Ok(vec![]) };
        entries.iter().map(|e| image_mapping(image_ref, e)).collect()
    }
}

/// One entry of an image's `block_device_mapping`.
fn image_mapping(image_ref: &str, e: &Value) -> Result<BlockDevice> {
    let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
    let broken = || invalid(format!("image {image_ref} maps a block device it does not name."));
    let source = match text("source_type").as_deref() {
        Some("snapshot") => BlockSource::Snapshot(text("snapshot_id").ok_or_else(broken)?),
        Some("volume") => BlockSource::Volume(text("volume_id").ok_or_else(broken)?),
        Some("image") => BlockSource::Image(text("image_id").ok_or_else(broken)?),
        Some("blank") => BlockSource::Blank,
        _ => return Err(broken()),
    };
    Ok(BlockDevice {
        source,
        boot_index: e.get("boot_index").and_then(Value::as_i64).filter(|i| *i >= 0),
        volume_size: e.get("volume_size").and_then(Value::as_i64),
        delete_on_termination: e.get("delete_on_termination").and_then(Value::as_bool).unwrap_or(false),
        device_name: text("device_name"),
        tag: text("tag"),
        volume_type: text("volume_type"),
    })
}
