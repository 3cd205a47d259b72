//! Response bodies as Cinder's view builders shape them, per microversion
//! and per caller (admins see where a volume lives).

use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::{json, Value};

use oxistack_core::context::Context;

use crate::backend::Connection;
use crate::microversion::*;
use crate::status::AttachStatus;
use crate::store::{AttachmentRow, BackupRow, SnapshotRow, TypeRow, VolumeRow};

/// Cinder's timestamps: microseconds, no zone.
pub fn now() -> String {
    oxistack_core::time::micros_no_zone(oxistack_core::time::now())
}

/// The service's link bases: `<url>/v3/<project>` and `<url>/<project>`.
#[derive(Clone, Debug)]
pub struct Base {
    pub v3: String,
    pub bookmark: String,
}

impl Base {
    pub fn new(url: &str, project: &str) -> Base {
        let url = url.trim_end_matches('/');
        Base { v3: format!("{url}/v3/{project}"), bookmark: format!("{url}/{project}") }
    }

    pub fn links(&self, collection: &str, id: &str) -> Value {
        json!([
            {"href": format!("{}/{collection}/{id}", self.v3), "rel": "self"},
            {"href": format!("{}/{collection}/{id}", self.bookmark), "rel": "bookmark"},
        ])
    }
}

/// A volume's detail view, written straight to the response.
pub struct VolumeView<'a> {
    pub volume: &'a VolumeRow,
    /// Its type's name (a volume's type is never gone while it exists).
    pub type_name: &'a str,
    pub base: &'a Base,
    pub version: ApiVersion,
    pub ctx: &'a Context,
    /// Its attachments (those attached are shown).
    pub attachments: &'a [AttachmentRow],
    /// Show and detail add the extension attributes; create answers
    /// without them.
    pub extended: bool,
}

impl Serialize for VolumeView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (v, ver, admin) = (self.volume, self.version, self.ctx.is_admin());
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &v.id)?;
        m.serialize_entry("status", &v.status)?;
        m.serialize_entry("size", &v.size)?;
        m.serialize_entry("availability_zone", &v.availability_zone)?;
        m.serialize_entry("created_at", &v.created_at)?;
        m.serialize_entry("updated_at", &v.updated_at)?;
        m.serialize_entry("name", &v.name)?;
        m.serialize_entry("description", &v.description)?;
        m.serialize_entry("volume_type", self.type_name)?;
        m.serialize_entry("snapshot_id", &v.snapshot_id)?;
        m.serialize_entry("source_volid", &v.source_volid)?;
        m.serialize_entry("metadata", &v.metadata)?;
        m.serialize_entry("links", &self.base.links("volumes", &v.id))?;
        m.serialize_entry("user_id", &v.user_id)?;
        m.serialize_entry("bootable", if v.bootable { "true" } else { "false" })?;
        m.serialize_entry("encrypted", &false)?;
        m.serialize_entry("replication_status", &None::<&str>)?;
        m.serialize_entry("consistencygroup_id", &None::<&str>)?;
        m.serialize_entry("multiattach", &v.multiattach)?;
        let attached: Vec<Value> = self
            .attachments
            .iter()
            .filter(|a| a.attach_status == AttachStatus::Attached)
            .map(|a| {
                json!({
                    "id": v.id,
                    "attachment_id": a.id,
                    "volume_id": v.id,
                    "server_id": a.instance_uuid,
                    "host_name": a.attached_host,
                    "device": a.mountpoint,
                    "attached_at": a.attach_time,
                })
            })
            .collect();
        m.serialize_entry("attachments", &attached)?;
        if admin {
            m.serialize_entry("migration_status", &None::<&str>)?;
        }
        if ver >= V3_13 {
            m.serialize_entry("group_id", &None::<&str>)?;
        }
        if ver >= V3_21 && admin {
            m.serialize_entry("provider_id", &None::<&str>)?;
        }
        if ver >= V3_48 {
            // Volumes are files of this host: no target is shared.
            m.serialize_entry("shared_targets", &false)?;
            m.serialize_entry("service_uuid", &None::<&str>)?;
        }
        if ver >= V3_61 && admin {
            m.serialize_entry("cluster_name", &None::<&str>)?;
        }
        if ver >= V3_63 {
            m.serialize_entry("volume_type_id", &v.volume_type_id)?;
        }
        if ver >= V3_65 {
            m.serialize_entry("consumes_quota", &true)?;
        }
        if self.extended {
            if admin {
                m.serialize_entry("os-vol-host-attr:host", &format!("{}@file#file", v.host))?;
                m.serialize_entry("os-vol-mig-status-attr:migstat", &None::<&str>)?;
                m.serialize_entry("os-vol-mig-status-attr:name_id", &None::<&str>)?;
            }
            m.serialize_entry("os-vol-tenant-attr:tenant_id", &v.project_id)?;
            if !v.image_metadata.0.is_empty() {
                m.serialize_entry("volume_image_metadata", &v.image_metadata)?;
            }
        }
        m.end()
    }
}

/// A volume in `GET /volumes`.
pub fn volume_summary(base: &Base, v: &VolumeRow) -> Value {
    json!({"id": v.id, "name": v.name, "links": base.links("volumes", &v.id)})
}

pub fn volume_type(t: &TypeRow, ctx: &Context) -> Value {
    let mut body = json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
        "extra_specs": t.extra_specs,
        "qos_specs_id": null,
    });
    // Cinder's `volume_extension:volume_type_access`: project members
    // and admins.
    if ctx.is_admin() || ctx.has_role("member") {
        body["os-volume-type-access:is_public"] = json!(t.is_public);
    }
    body
}

/// A snapshot as Cinder's view builder shows it; show and detail add the
/// extended attributes (`extended`).
pub fn snapshot(s: &SnapshotRow, version: ApiVersion, extended: bool) -> Value {
    let mut body = json!({
        "id": s.id,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "name": s.name,
        "description": s.description,
        "volume_id": s.volume_id,
        "status": s.status.as_str(),
        "size": s.size,
        "metadata": s.metadata,
    });
    if version >= V3_14 {
        body["group_snapshot_id"] = Value::Null;
    }
    if version >= V3_41 {
        body["user_id"] = json!(s.user_id);
    }
    if version >= V3_65 {
        body["consumes_quota"] = json!(true);
    }
    if extended {
        let progress = if s.status == crate::status::SnapshotStatus::Available { "100%" } else { "0%" };
        body["os-extended-snapshot-attributes:progress"] = json!(progress);
        body["os-extended-snapshot-attributes:project_id"] = json!(s.project_id);
    }
    body
}

/// An attachment in `GET /attachments`.
pub fn attachment_summary(a: &AttachmentRow) -> Value {
    json!({"id": a.id, "status": a.attach_status.as_str(), "instance": a.instance_uuid, "volume_id": a.volume_id})
}

/// An attachment's detail view; `connection` when the request connected it.
/// A file backend's path is the host's business: only admins see it.
pub fn attachment(a: &AttachmentRow, connection: Option<&Connection>, ctx: &Context) -> Value {
    let connection_info = connection.map(|c| {
        let mut info = json!(c);
        if !ctx.is_admin() {
            info["data"] = json!({});
        }
        info
    });
    json!({
        "id": a.id,
        "status": a.attach_status.as_str(),
        "instance": a.instance_uuid,
        "volume_id": a.volume_id,
        "attached_at": a.attach_time,
        "detached_at": null,
        "attach_mode": a.attach_mode,
        "connection_info": connection_info,
    })
}

/// A backup in `GET /backups` and a create's answer.
pub fn backup_summary(base: &Base, b: &BackupRow) -> Value {
    json!({"id": b.id, "name": b.name, "links": base.links("backups", &b.id)})
}

/// A backup's detail view at `version`.
pub fn backup(base: &Base, b: &BackupRow, version: ApiVersion, ctx: &Context) -> Value {
    let mut body = json!({
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "status": b.status.as_str(),
        "availability_zone": b.availability_zone,
        "volume_id": b.volume_id,
        "size": b.size,
        "object_count": 0,
        "container": b.container,
        "created_at": b.created_at,
        "updated_at": b.updated_at,
        "data_timestamp": b.data_timestamp,
        "snapshot_id": null,
        "has_dependent_backups": false,
        "is_incremental": false,
        "fail_reason": b.fail_reason,
        "links": base.links("backups", &b.id),
    });
    if version >= V3_18 && ctx.is_admin() {
        body["os-backup-project-attr:project_id"] = json!(b.project_id);
    }
    if version >= V3_43 {
        body["metadata"] = json!({});
    }
    if version >= V3_56 {
        body["user_id"] = json!(b.user_id);
    }
    if version >= V3_64 {
        body["encryption_key_id"] = Value::Null;
    }
    body
}
