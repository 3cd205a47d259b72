//! Attachments of volumes to servers, as Cinder's attachment API keeps
//! them: a volume is reserved for a server (`reserved`), connected from a
//! hypervisor's host (`attaching`, the answer is how to open it), completed
//! (`attached`) and, when it ends, detached and removed. The volume's own
//! status follows its attachments (`reserved`, `attaching`, `in-use`,
//! `detaching`, `available`) and is decided under the volume's claim, so
//! two servers never both take a volume that is not multiattach.
//!
//! Compute drives attachments through this service API (never the
//! tables): [`Volume::reserve`] with the caller's rights, then the steps
//! of the reservation it holds. The Cinder API's `/attachments` and the
//! legacy volume actions call the same steps after their policy checks.

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{enforce, Target};
use serde_json::Value;

use crate::backend::Connection;
use crate::status::{AttachStatus, VolumeStatus};
use crate::store::{self, AttachmentRow, VolumeRow};
use crate::views::now;
use crate::Volume;

/// The statuses a volume's attachments decide; any other (an extend, an
/// error) is left as it is.
const FOLLOWS_ATTACHMENTS: &[VolumeStatus] = &[
    VolumeStatus::Available,
    VolumeStatus::Reserved,
    VolumeStatus::Attaching,
    VolumeStatus::InUse,
    VolumeStatus::Detaching,
];

/// What a volume's status is, given its attachments: in use while any is
/// attached, else as the furthest step under way.
fn status_from(attachments: &[AttachmentRow]) -> VolumeStatus {
    let has = |s: AttachStatus| attachments.iter().any(|a| a.attach_status == s);
    if has(AttachStatus::Attached) {
        VolumeStatus::InUse
    } else if has(AttachStatus::Detaching) {
        VolumeStatus::Detaching
    } else if has(AttachStatus::Attaching) {
        VolumeStatus::Attaching
    } else if has(AttachStatus::Reserved) {
        VolumeStatus::Reserved
    } else {
        VolumeStatus::Available
    }
}

fn invalid_volume(message: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!("Invalid volume: {message}"))
}

impl Volume {
    fn attach_claim(volume_id: &str) -> String {
        format!("volume-attach:{volume_id}")
    }

    /// Sets the volume's status from its attachments (under its claim).
    pub(crate) async fn follow_attachments(&self, volume_id: &str) -> Result<()> {
        let Some(v) = store::volume(&self.pool, volume_id).await? else { return Ok(()) };
        if !FOLLOWS_ATTACHMENTS.contains(&v.status) {
            return Ok(());
        }
        let to = status_from(&store::attachments_of(&self.pool, volume_id).await?);
        if to != v.status {
            store::set_volume_status(&self.pool, volume_id, to, &now()).await?;
        }
        Ok(())
    }

    /// Reserves volume `volume_id` for server `instance` as `ctx` (Cinder's
    /// attachment create): an available volume, or a multiattach one in
    /// use; a server holds one attachment of a volume at most.
    pub async fn reserve(
        &self,
        ctx: &Context,
        volume_id: &str,
        instance: Option<&str>,
        mode: &str,
    ) -> Result<AttachmentRow> {
        self.reserve_as(ctx, &uuid::Uuid::new_v4().to_string(), volume_id, instance, mode).await
    }

    /// [`Self::reserve`], the attachment given id `attachment_id`: Compute
    /// records the mapping that holds it before it exists, so that a stop
    /// between the two leaves a mapping to undo, never a reservation no
    /// one knows.
    pub async fn reserve_as(
        &self,
        ctx: &Context,
        attachment_id: &str,
        volume_id: &str,
        instance: Option<&str>,
        mode: &str,
    ) -> Result<AttachmentRow> {
        enforce(ctx, "volume:attachment_create", &Target::caller(ctx))?;
        let v = self.visible(ctx, volume_id).await?;
        enforce(ctx, "volume:attachment_create", &Target::project(&v.project_id))?;
        if !["rw", "ro"].contains(&mode) {
            return Err(Error::BadRequest(format!("Invalid input received: Invalid attach mode {mode}.")));
        }
        let claim = self.pool.lock(&Self::attach_claim(volume_id)).await?;
        let reserved = self.reserve_claimed(attachment_id, volume_id, instance, mode).await;
        claim.release().await;
        reserved
    }

    async fn reserve_claimed(
        &self,
        attachment_id: &str,
        volume_id: &str,
        instance: Option<&str>,
        mode: &str,
    ) -> Result<AttachmentRow> {
        let v: VolumeRow =
            store::volume(&self.pool, volume_id).await?.ok_or_else(|| store::volume_not_found(volume_id))?;
        let shared =
            v.multiattach && matches!(v.status, VolumeStatus::Reserved | VolumeStatus::Attaching | VolumeStatus::InUse);
        if v.status != VolumeStatus::Available && !shared {
            return Err(invalid_volume(format!(
                "Volume {volume_id} status must be available to reserve, but the current status is {}.",
                v.status
            )));
        }
        let existing = store::attachments_of(&self.pool, volume_id).await?;
        if let Some(i) = instance {
            if existing.iter().any(|a| a.instance_uuid.as_deref() == Some(i)) {
                return Err(invalid_volume(format!("Volume {volume_id} is already attached to server {i}.")));
            }
        }
        let a = AttachmentRow {
            id: attachment_id.to_owned(),
            volume_id: volume_id.to_owned(),
            project_id: v.project_id.clone(),
            instance_uuid: instance.map(str::to_owned),
            attached_host: None,
            mountpoint: None,
            attach_status: AttachStatus::Reserved,
            attach_mode: mode.to_owned(),
            connector: oxistack_core::db::JsonText(Value::Object(Default::default())),
            attach_time: None,
            created_at: now(),
            updated_at: None,
        };
        store::insert_attachment(&self.pool, &a).await?;
        self.follow_attachments(volume_id).await?;
        Ok(a)
    }

    /// Moves attachment `id` with `step` under its volume's claim; the
    /// attachment after.
    async fn step(&self, id: &str, step: impl FnOnce(&mut AttachmentRow) -> Result<()>) -> Result<AttachmentRow> {
        let a = store::attachment(&self.pool, id).await?.ok_or_else(|| store::attachment_not_found(id))?;
        let claim = self.pool.lock(&Self::attach_claim(&a.volume_id)).await?;
        let stepped = async {
            let mut a = store::attachment(&self.pool, id).await?.ok_or_else(|| store::attachment_not_found(id))?;
            step(&mut a)?;
            store::save_attachment(&self.pool, &a, &now()).await?;
            self.follow_attachments(&a.volume_id).await?;
            Ok(a)
        }
        .await;
        claim.release().await;
        stepped
    }

    /// Connects attachment `id` from the host `connector` describes
    /// (Cinder's attachment update): how that host opens the volume.
    pub async fn connect(&self, id: &str, connector: Value) -> Result<(AttachmentRow, Connection)> {
        let a = self
            .step(id, |a| {
                if !matches!(a.attach_status, AttachStatus::Reserved | AttachStatus::Attaching | AttachStatus::Attached)
                {
                    return Err(invalid_volume(format!(
                        "Attachment {} is {}; only a reserved attachment is connected.",
                        a.id, a.attach_status
                    )));
                }
                a.attached_host = connector.get("host").and_then(Value::as_str).map(str::to_owned);
                if a.attach_status == AttachStatus::Reserved {
                    a.attach_status = AttachStatus::Attaching;
                }
                a.connector = oxistack_core::db::JsonText(connector);
                Ok(())
            })
            .await?;
        let connection = self.backend.connection(&a.volume_id);
        Ok((a, connection))
    }

    /// Marks attachment `id` attached at `mountpoint` (`os-complete`): the
    /// volume is in use.
    pub async fn complete(&self, id: &str, mountpoint: Option<&str>) -> Result<AttachmentRow> {
        self.step(id, |a| {
            if a.attach_status == AttachStatus::Detaching {
                return Err(invalid_volume(format!("Attachment {} is detaching.", a.id)));
            }
            a.attach_status = AttachStatus::Attached;
            if mountpoint.is_some() {
                a.mountpoint = mountpoint.map(str::to_owned);
            }
            a.attach_time.get_or_insert_with(now);
            Ok(())
        })
        .await
    }

    /// Marks attachment `id` detaching (the hypervisor is letting go).
    pub async fn begin_detaching(&self, id: &str) -> Result<AttachmentRow> {
        self.step(id, |a| {
            a.attach_status = AttachStatus::Detaching;
            Ok(())
        })
        .await
    }

    /// Puts a detaching attachment back (`os-roll_detaching`).
    pub async fn roll_detaching(&self, id: &str) -> Result<AttachmentRow> {
        self.step(id, |a| {
            if a.attach_status == AttachStatus::Detaching {
                a.attach_status = AttachStatus::Attached;
            }
            Ok(())
        })
        .await
    }

    /// Ends attachment `id` (Cinder's attachment delete): the volume is
    /// available again when no other attachment holds it. An attachment
    /// already gone is already ended. The volume's attachments after.
    pub async fn release(&self, id: &str) -> Result<Vec<AttachmentRow>> {
        let Some(a) = store::attachment(&self.pool, id).await? else { return Ok(vec![]) };
        let claim = self.pool.lock(&Self::attach_claim(&a.volume_id)).await?;
        let released = async {
            store::delete_attachment(&self.pool, id).await?;
            self.follow_attachments(&a.volume_id).await?;
            store::attachments_of(&self.pool, &a.volume_id).await
        }
        .await;
        claim.release().await;
        released
    }

    /// An attachment `ctx` may see: its volume's project's, or any to admins.
    pub async fn attachment(&self, ctx: &Context, id: &str) -> Result<AttachmentRow> {
        match store::attachment(&self.pool, id).await? {
            Some(a) if ctx.is_admin() || ctx.project_id() == Some(a.project_id.as_str()) => Ok(a),
            _ => Err(store::attachment_not_found(id)),
        }
    }

    /// Attachment `id` if `ctx` may act on it under `rule`.
    pub async fn attachment_for(&self, ctx: &Context, id: &str, rule: &str) -> Result<AttachmentRow> {
        let a = self.attachment(ctx, id).await?;
        enforce(ctx, rule, &Target::project(&a.project_id))?;
        Ok(a)
    }

    /// The attachments `ctx` may list (`all_tenants` for admins).
    pub async fn list_attachments(&self, ctx: &Context, all_tenants: bool) -> Result<Vec<AttachmentRow>> {
        let project = if ctx.is_admin() && all_tenants { None } else { Some(ctx.project_id().unwrap_or_default()) };
        store::attachments_in(&self.pool, project).await
    }

    /// The attachments of the volumes `ids`, for a page of volumes.
    pub(crate) async fn attachments_of_all(&self, ids: &[&str]) -> Result<Vec<AttachmentRow>> {
        store::attachments_of_all(&self.pool, ids).await
    }

    /// Deletes a volume whose server ended with `delete_on_termination`
    /// (as the server's owner asked when attaching it).
    pub async fn delete_with_server(self: &std::sync::Arc<Self>, id: &str) -> Result<()> {
        let Some(v) = store::volume(&self.pool, id).await? else { return Ok(()) };
        self.begin_delete(v, false, false).await
    }
}

/// The legacy volume actions (before the attachments API), on the same
/// attachments.
impl Volume {
    async fn legacy(&self, ctx: &Context, volume_id: &str, action: &str) -> Result<Vec<AttachmentRow>> {
        let v = self.visible(ctx, volume_id).await?;
        enforce(ctx, &format!("volume_extension:volume_actions:{action}"), &Target::project(&v.project_id))?;
        store::attachments_of(&self.pool, volume_id).await
    }

    /// `os-reserve`.
    pub async fn legacy_reserve(&self, ctx: &Context, volume_id: &str) -> Result<()> {
        self.legacy(ctx, volume_id, "reserve").await?;
        self.reserve(ctx, volume_id, None, "rw").await.map(|_| ())
    }

    /// `os-unreserve`: the newest attachment not yet attached ends.
    pub async fn legacy_unreserve(&self, ctx: &Context, volume_id: &str) -> Result<()> {
        let pending = self.legacy(ctx, volume_id, "unreserve").await?;
        if let Some(a) = pending.iter().rev().find(|a| a.attach_status != AttachStatus::Attached) {
            self.release(&a.id).await?;
        }
        Ok(())
    }

    /// `os-initialize_connection`: how the host of `connector` opens the
    /// volume (the pending attachment's connector is recorded).
    pub async fn legacy_initialize_connection(
        &self,
        ctx: &Context,
        volume_id: &str,
        connector: Value,
    ) -> Result<Connection> {
        let all = self.legacy(ctx, volume_id, "initialize_connection").await?;
        match all.iter().rev().find(|a| a.attach_status != AttachStatus::Attached) {
            Some(a) => Ok(self.connect(&a.id, connector).await?.1),
            None => Ok(self.backend.connection(volume_id)),
        }
    }

    /// `os-attach`: the pending attachment (or a new one) is attached to
    /// `instance` at `mountpoint`.
    pub async fn legacy_attach(
        &self,
        ctx: &Context,
        volume_id: &str,
        instance: Option<&str>,
        mountpoint: Option<&str>,
        mode: &str,
    ) -> Result<()> {
        let all = self.legacy(ctx, volume_id, "attach").await?;
        let pending = all.iter().rev().find(|a| a.attach_status != AttachStatus::Attached).cloned();
        let a = match pending {
            Some(a) => a,
            None => self.reserve(ctx, volume_id, instance, mode).await?,
        };
        self.step(&a.id, |a| {
            if instance.is_some() {
                a.instance_uuid = instance.map(str::to_owned);
            }
            Ok(())
        })
        .await?;
        self.complete(&a.id, mountpoint).await.map(|_| ())
    }

    /// `os-begin_detaching`: an in-use volume's attachments start to go.
    pub async fn legacy_begin_detaching(&self, ctx: &Context, volume_id: &str) -> Result<()> {
        let v = self.visible(ctx, volume_id).await?;
        let all = self.legacy(ctx, volume_id, "begin_detaching").await?;
        if v.status != VolumeStatus::InUse {
            return Err(invalid_volume(format!("Volume {volume_id} status must be in-use, currently {}.", v.status)));
        }
        for a in all.iter().filter(|a| a.attach_status == AttachStatus::Attached) {
            self.begin_detaching(&a.id).await?;
        }
        Ok(())
    }

    /// `os-roll_detaching`.
    pub async fn legacy_roll_detaching(&self, ctx: &Context, volume_id: &str) -> Result<()> {
        for a in self.legacy(ctx, volume_id, "roll_detaching").await? {
            self.roll_detaching(&a.id).await?;
        }
        Ok(())
    }

    /// `os-detach`: attachment `attachment_id` ends (the volume's only one
    /// when none is named).
    pub async fn legacy_detach(&self, ctx: &Context, volume_id: &str, attachment_id: Option<&str>) -> Result<()> {
        let all = self.legacy(ctx, volume_id, "detach").await?;
        let ended: Vec<&AttachmentRow> = match attachment_id {
            Some(id) => all.iter().filter(|a| a.id == id).collect(),
            None if all.len() <= 1 => all.iter().collect(),
            None => {
                return Err(invalid_volume(format!(
                    "Volume {volume_id} has {} attachments; os-detach names the attachment_id to end.",
                    all.len()
                )))
            }
        };
        if let (Some(id), true) = (attachment_id, ended.is_empty()) {
            return Err(store::attachment_not_found(id));
        }
        for a in ended {
            self.release(&a.id).await?;
        }
        Ok(())
    }

    /// `os-terminate_connection`: the host lets go; nothing is kept of a
    /// connection here.
    pub async fn legacy_terminate_connection(&self, ctx: &Context, volume_id: &str) -> Result<()> {
        self.legacy(ctx, volume_id, "terminate_connection").await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_is_in_use_while_any_attachment_is_attached() {
        let a = |s| AttachmentRow {
            id: String::new(),
            volume_id: String::new(),
            project_id: String::new(),
            instance_uuid: None,
            attached_host: None,
            mountpoint: None,
            attach_status: s,
            attach_mode: "rw".into(),
            connector: oxistack_core::db::JsonText(Value::Null),
            attach_time: None,
            created_at: String::new(),
            updated_at: None,
        };
        assert_eq!(status_from(&[]), VolumeStatus::Available);
        assert_eq!(status_from(&[a(AttachStatus::Reserved)]), VolumeStatus::Reserved);
        assert_eq!(status_from(&[a(AttachStatus::Reserved), a(AttachStatus::Attaching)]), VolumeStatus::Attaching);
        assert_eq!(status_from(&[a(AttachStatus::Detaching), a(AttachStatus::Attached)]), VolumeStatus::InUse);
        assert_eq!(status_from(&[a(AttachStatus::Detaching)]), VolumeStatus::Detaching);
    }
}
