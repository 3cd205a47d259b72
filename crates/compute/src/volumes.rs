//! Volumes attached to servers (`os-volume_attachments`), through Block
//! Storage's service API (its rules and tables are its own): a volume is
//! reserved with the caller's rights, the mapping is recorded (`attaching`)
//! before the driver plugs it in, and only then completed; a detach is
//! recorded (`detaching`) before the driver unplugs it. A start after a
//! stop undoes an attach and finishes a detach it finds half done, and
//! ends the attachments of servers deleted meanwhile.

use std::sync::Arc;

use oxistack_core::context::Context;
use oxistack_core::db::Pool;
use oxistack_core::error::{Error, Result};
use oxistack_volume::Volume;
use serde_json::json;

use crate::actions;
use crate::store::volumes::{self as bdms, Bdm, BdmStatus};
use crate::store::Instance;
use crate::virt::AttachedVolume;
use crate::Compute;

/// An attach request, as the API read it.
#[derive(Clone, Debug, Default)]
pub struct AttachVolume {
    pub volume_id: String,
    pub device: Option<String>,
    pub tag: Option<String>,
    pub delete_on_termination: bool,
}

/// The device names a guest's disks take, in Nova's order: the root disk,
/// the ephemeral disk, swap, then volumes.
pub(crate) fn pick_device(inst: &Instance, attached: &[Bdm], asked: Option<&str>) -> Result<String> {
    let mut used = vec!["/dev/vda".to_owned()];
    let locals = usize::from(inst.flavor.ephemeral > 0) + usize::from(inst.flavor.swap > 0);
    for i in 0..locals {
        used.push(format!("/dev/vd{}", (b'b' + i as u8) as char));
    }
    used.extend(attached.iter().map(|b| b.device_name.clone()));
    if let Some(asked) = asked {
        let name = asked.strip_prefix("/dev/").unwrap_or(asked);
        let valid =
            !name.is_empty() && name.len() <= 8 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !valid {
            return Err(Error::BadRequest(format!("The supplied device path ({asked}) is invalid.")));
        }
        let path = format!("/dev/{name}");
        if used.contains(&path) {
            return Err(Error::BadRequest(format!("The supplied device path ({path}) is in use.")));
        }
        return Ok(path);
    }
    (b'b'..=b'z')
        .map(|c| format!("/dev/vd{}", c as char))
        .find(|d| !used.contains(d))
        .ok_or_else(|| Error::BadRequest("No free disk device names for prefix 'vd'".into()))
}

/// Ends the attachments of a deleted server (its guest is gone): each
/// volume is available again, or deleted when it was attached with
/// `delete_on_termination`.
pub(crate) async fn release_volumes(pool: &Pool, volume: &Arc<Volume>, instance: &str) -> Result<()> {
    for bdm in bdms::bdms_of(pool, instance).await? {
        end_mapping(pool, volume, &bdm).await?;
    }
    Ok(())
}

async fn end_mapping(pool: &Pool, volume: &Arc<Volume>, bdm: &Bdm) -> Result<()> {
    volume.release(&bdm.attachment_id).await?;
    if bdm.delete_on_termination {
        if let Err(e) = volume.delete_with_server(&bdm.volume_id).await {
            tracing::warn!(volume = %bdm.volume_id, error = %e, "deleting a volume with its server failed");
        }
    }
    bdms::delete_bdm(pool, &bdm.id).await
}

/// The volumes an instance has attached, as its driver plugs them (a
/// rebuild or an unshelve boots with them): its root volume, if it boots
/// from one, and the others.
pub(crate) async fn attached(
    pool: &Pool,
    volume: &Volume,
    instance: &str,
) -> Result<(Option<AttachedVolume>, Vec<AttachedVolume>)> {
    let mapped = bdms::bdms_of(pool, instance).await?;
    Ok(split_root(
        mapped.iter().filter(|b| b.status != BdmStatus::Attaching).map(|b| (b.is_root(), plugged(volume, b))),
    ))
}

/// Volumes as the driver takes them: the root one, if any, and the others.
pub(crate) fn split_root(
    volumes: impl IntoIterator<Item = (bool, AttachedVolume)>,
) -> (Option<AttachedVolume>, Vec<AttachedVolume>) {
    let (mut root, mut others) = (None, vec![]);
    for (is_root, v) in volumes {
        if is_root {
            root = Some(v);
        } else {
            others.push(v);
        }
    }
    (root, others)
}

/// Connects mapping `bdm` from `host` (Block Storage's attachment update):
/// the volume as the driver plugs it.
pub(crate) async fn connect_mapping(volume: &Volume, host: &str, bdm: &Bdm) -> Result<AttachedVolume> {
    let (_, connection) = volume.connect(&bdm.attachment_id, connector(host)).await?;
    Ok(AttachedVolume { volume_id: bdm.volume_id.clone(), device: bdm.device_name.clone(), connection })
}

/// Completes mapping `bdm` once its volume is plugged in: the attachment
/// `attached` on its device, the mapping too.
pub(crate) async fn complete_mapping(pool: &Pool, volume: &Volume, bdm: &Bdm) -> Result<()> {
    volume.complete(&bdm.attachment_id, Some(&bdm.device_name)).await?;
    bdms::set_bdm_status(pool, &bdm.id, BdmStatus::Attached).await
}

/// A mapped volume as the driver plugs it: Block Storage's connection to it.
fn plugged(volume: &Volume, bdm: &Bdm) -> AttachedVolume {
    AttachedVolume {
        volume_id: bdm.volume_id.clone(),
        device: bdm.device_name.clone(),
        connection: volume.backend.connection(&bdm.volume_id),
    }
}

/// Records mapping `bdm` (`attaching`), then reserves its volume under the
/// attachment id it names: a stop between the two leaves a mapping the
/// next start undoes. On failure neither is left.
pub(crate) async fn reserve_mapped(pool: &Pool, volume: &Volume, ctx: &Context, bdm: &Bdm) -> Result<()> {
    bdms::insert_bdm(pool, bdm).await?;
    let reserved = volume.reserve_as(ctx, &bdm.attachment_id, &bdm.volume_id, Some(&bdm.instance_uuid), "rw").await;
    if let Err(e) = reserved {
        bdms::delete_bdm(pool, &bdm.id).await?;
        return Err(e);
    }
    Ok(())
}

/// The root volume of a server booted from one.
pub(crate) async fn root_volume(pool: &Pool, instance: &str) -> Result<Option<Bdm>> {
    Ok(bdms::bdms_of(pool, instance).await?.into_iter().find(Bdm::is_root))
}

/// A host's connector, as Nova's libvirt driver describes it to Cinder.
fn connector(host: &str) -> serde_json::Value {
    json!({"host": host, "platform": "x86_64", "os_type": "linux", "multipath": false})
}

fn not_attached(volume_id: &str) -> Error {
    Error::NotFound(format!("No volume Block Device Mapping with id {volume_id}."))
}

impl Compute {
    /// The volumes attached to a server `ctx` may see.
    pub async fn volume_attachments(&self, ctx: &Context, server_id: &str) -> Result<Vec<Bdm>> {
        let inst = self.instance(ctx, server_id).await?;
        Ok(bdms::bdms_of(&self.pool, &inst.id)
            .await?
            .into_iter()
            .filter(|b| b.status != BdmStatus::Attaching)
            .collect())
    }

    /// The volumes attached to the instances `ids`, for their views (whose
    /// visibility the caller checked).
    pub async fn volumes_of(&self, ids: &[&str]) -> Result<Vec<Bdm>> {
        bdms::bdms_of_all(&self.pool, ids).await
    }

    pub async fn volume_attachment(&self, ctx: &Context, server_id: &str, volume_id: &str) -> Result<Bdm> {
        let all = self.volume_attachments(ctx, server_id).await?;
        all.into_iter().find(|b| b.volume_id == volume_id).ok_or_else(|| not_attached(volume_id))
    }

    /// `POST /servers/{id}/os-volume_attachments`.
    pub async fn attach_volume(&self, ctx: &Context, server_id: &str, req: AttachVolume) -> Result<Bdm> {
        let inst = self.instance_to_change(ctx, server_id).await?;
        self.can_plug(&inst, "attach_volume")?;
        if !self.runs(&inst) {
            return Err(Error::Conflict(format!(
                "Instance {} runs on host {}; attaching volumes there is not served by this host.",
                inst.id,
                inst.host.as_deref().unwrap_or_default()
            )));
        }
        let attached = bdms::bdms_of(&self.pool, &inst.id).await?;
        if attached.iter().any(|b| b.volume_id == req.volume_id) {
            return Err(Error::BadRequest(format!("Invalid volume: volume {} already attached", req.volume_id)));
        }
        let device = pick_device(&inst, &attached, req.device.as_deref())?;
        let record = actions::start(&self.pool, ctx, &inst.id, "attach_volume", inst.host.as_deref()).await?;
        let bdm = Bdm::attaching(&inst.id, &req.volume_id, device, req.tag, req.delete_on_termination, None);
        if let Err(e) = reserve_mapped(&self.pool, &self.volume, ctx, &bdm).await {
            actions::finish(&self.pool, record, Some(&e.to_string())).await?;
            return Err(e);
        }
        let plugged = async {
            let volume = connect_mapping(&self.volume, &self.config.host, &bdm).await?;
            self.driver.attach_volume(&inst.id, &volume).await.map_err(|e| {
                Error::Conflict(format!("Failed to attach volume {} to instance {}: {e}", bdm.volume_id, inst.id))
            })?;
            complete_mapping(&self.pool, &self.volume, &bdm).await
        }
        .await;
        if let Err(e) = plugged {
            tracing::warn!(instance = %inst.id, volume = %bdm.volume_id, error = %e, "attaching a volume failed");
            self.undo_attach(&inst.id, &bdm).await;
            actions::finish(&self.pool, record, Some(&e.to_string())).await?;
            return Err(e);
        }
        actions::finish(&self.pool, record, None).await?;
        Ok(Bdm { status: BdmStatus::Attached, ..bdm })
    }

    /// Takes back an attach that did not finish: unplugged, the attachment
    /// ended, the mapping gone.
    async fn undo_attach(&self, instance: &str, bdm: &Bdm) {
        self.unplug(instance, bdm).await;
        if let Err(e) = self.volume.release(&bdm.attachment_id).await {
            tracing::error!(volume = %bdm.volume_id, error = %e, "ending an unfinished attachment failed");
            return;
        }
        if let Err(e) = bdms::delete_bdm(&self.pool, &bdm.id).await {
            tracing::error!(volume = %bdm.volume_id, error = %e, "removing an unfinished volume mapping failed");
        }
    }

    async fn unplug(&self, instance: &str, bdm: &Bdm) {
        let volume = plugged(&self.volume, bdm);
        match self.driver.detach_volume(instance, &volume).await {
            Ok(()) | Err(crate::virt::DriverError::NotFound(_)) => {}
            Err(e) => tracing::warn!(instance, volume = %bdm.volume_id, error = %e, "unplugging a volume failed"),
        }
    }

    /// `DELETE /servers/{id}/os-volume_attachments/{volume_id}`.
    pub async fn detach_volume(&self, ctx: &Context, server_id: &str, volume_id: &str) -> Result<()> {
        let inst = self.instance_to_change(ctx, server_id).await?;
        self.can_plug(&inst, "detach_volume")?;
        let bdm = bdms::bdms_of(&self.pool, &inst.id)
            .await?
            .into_iter()
            .find(|b| b.volume_id == volume_id && b.status == BdmStatus::Attached)
            .ok_or_else(|| not_attached(volume_id))?;
        if bdm.is_root() {
            return Err(Error::BadRequest("Cannot detach a root device volume".into()));
        }
        if !self.runs(&inst) {
            return Err(Error::Conflict(format!(
                "Instance {} runs on another host; detaching volumes there is not served by this host.",
                inst.id
            )));
        }
        let record = actions::start(&self.pool, ctx, &inst.id, "detach_volume", inst.host.as_deref()).await?;
        bdms::set_bdm_status(&self.pool, &bdm.id, BdmStatus::Detaching).await?;
        self.volume.begin_detaching(&bdm.attachment_id).await?;
        let volume = plugged(&self.volume, &bdm);
        if let Err(e) = self.driver.detach_volume(&inst.id, &volume).await {
            let error = Error::Conflict(format!("Failed to detach volume {volume_id} from instance {}: {e}", inst.id));
            self.volume.roll_detaching(&bdm.attachment_id).await?;
            bdms::set_bdm_status(&self.pool, &bdm.id, BdmStatus::Attached).await?;
            actions::finish(&self.pool, record, Some(&error.to_string())).await?;
            return Err(error);
        }
        self.volume.release(&bdm.attachment_id).await?;
        bdms::delete_bdm(&self.pool, &bdm.id).await?;
        actions::finish(&self.pool, record, None).await?;
        Ok(())
    }

    /// What a stop left of attaches and detaches on this host: an attach is
    /// undone, a detach finished, a deleted server's volumes let go.
    pub(crate) async fn reconcile_volumes(&self) -> Result<()> {
        for (bdm, deleted) in bdms::bdms_to_reconcile(&self.pool, &self.config.host).await? {
            if deleted {
                tracing::warn!(instance = %bdm.instance_uuid, volume = %bdm.volume_id, "ending a deleted server's attachment");
                end_mapping(&self.pool, &self.volume, &bdm).await?;
                continue;
            }
            match bdm.status {
                BdmStatus::Attaching => {
                    tracing::warn!(instance = %bdm.instance_uuid, volume = %bdm.volume_id, "undoing an attach cut short by a stop");
                    self.undo_attach(&bdm.instance_uuid, &bdm).await;
                }
                BdmStatus::Detaching => {
                    tracing::warn!(instance = %bdm.instance_uuid, volume = %bdm.volume_id, "finishing a detach cut short by a stop");
                    self.unplug(&bdm.instance_uuid, &bdm).await;
                    self.volume.release(&bdm.attachment_id).await?;
                    bdms::delete_bdm(&self.pool, &bdm.id).await?;
                }
                BdmStatus::Attached => {}
            }
        }
        Ok(())
    }
}
