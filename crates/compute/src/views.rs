//! Response bodies, shaped for the requested microversion: a field appears
//! from its version on (absent before, which Nova distinguishes from null).

use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::{json, Map, Value};

use oxistack_core::context::Context;

use crate::microversion::*;
use crate::states::{status, VmState};
use crate::store::volumes::Bdm;
use crate::store::{Flavor, Instance, Keypair};

pub fn links(base: &str, collection: &str, id: &str) -> Value {
    json!(self_and_bookmark(base, collection, id))
}

pub fn flavor(base: &str, f: &Flavor, v: ApiVersion) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(f.id));
    m.insert("name".into(), json!(f.name));
    m.insert("ram".into(), json!(f.ram));
    m.insert("disk".into(), json!(f.disk));
    m.insert("vcpus".into(), json!(f.vcpus));
    m.insert("OS-FLV-EXT-DATA:ephemeral".into(), json!(f.ephemeral));
    m.insert("OS-FLV-DISABLED:disabled".into(), json!(f.disabled));
    // Before 2.75 a flavor without swap said "" rather than 0.
    m.insert("swap".into(), if f.swap == 0 && v < V2_75 { json!("") } else { json!(f.swap) });
    m.insert("rxtx_factor".into(), json!(f.rxtx_factor));
    m.insert("os-flavor-access:is_public".into(), json!(f.is_public));
    if v >= V2_55 {
        m.insert("description".into(), json!(f.description));
    }
    if v >= V2_61 {
        m.insert("extra_specs".into(), json!(f.extra_specs));
    }
    m.insert("links".into(), links(base, "flavors", &f.id));
    Value::Object(m)
}

pub fn flavor_brief(base: &str, f: &Flavor, v: ApiVersion) -> Value {
    let mut b = json!({"id": f.id, "name": f.name, "links": links(base, "flavors", &f.id)});
    if v >= V2_55 {
        b["description"] = json!(f.description);
    }
    b
}

pub fn keypair(k: &Keypair, v: ApiVersion, detail: bool) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(k.name));
    m.insert("public_key".into(), json!(k.public_key));
    m.insert("fingerprint".into(), json!(k.fingerprint));
    if v >= V2_2 {
        m.insert("type".into(), json!(k.key_type));
    }
    if detail {
        m.insert("user_id".into(), json!(k.user_id));
        m.insert("created_at".into(), json!(k.created_at));
        m.insert("deleted".into(), json!(false));
        m.insert("deleted_at".into(), Value::Null);
        m.insert("updated_at".into(), Value::Null);
        m.insert("id".into(), json!(1));
    }
    Value::Object(m)
}

/// Nova's opaque host id: a hash of the project and host, so users see which
/// of their servers share a host without learning host names.
pub fn host_id(project_id: &str, host: Option<&str>) -> String {
    use md5::{Digest, Md5};
    match host {
        Some(h) => {
            let d = Md5::digest(format!("{project_id}{h}").as_bytes());
            d.iter().map(|b| format!("{b:02x}")).collect()
        }
        None => String::new(),
    }
}

/// A server's body as `show` and `servers/detail` answer it, written
/// straight to the response: a page of 1,000 is not built as a tree of JSON
/// values first.
pub struct ServerView<'a> {
    pub base: &'a str,
    pub instance: &'a Instance,
    pub version: ApiVersion,
    pub ctx: &'a Context,
    /// The volumes attached to it.
    pub volumes: &'a [Bdm],
}

/// A server's `os-extended-volumes:volumes_attached`: each volume's id,
/// and from 2.3 whether it goes with the server.
struct VolumesAttached<'a>(&'a [Bdm], ApiVersion);

impl Serialize for VolumesAttached<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for b in self.0 {
            if self.1 >= V2_3 {
                seq.serialize_element(&json!({"id": b.volume_id, "delete_on_termination": b.delete_on_termination}))?;
            } else {
                seq.serialize_element(&json!({"id": b.volume_id}))?;
            }
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct Link<'a> {
    rel: &'a str,
    href: String,
}

/// A bookmark link alone, as the image and flavor references of a server.
fn bookmark(root: &str, collection: &str, id: &str) -> [Link<'static>; 1] {
    [Link { rel: "bookmark", href: format!("{root}/{collection}/{id}") }]
}

fn self_and_bookmark(base: &str, collection: &str, id: &str) -> [Link<'static>; 2] {
    let root = base.trim_end_matches("/v2.1");
    [
        Link { rel: "self", href: format!("{base}/{collection}/{id}") },
        Link { rel: "bookmark", href: format!("{root}/{collection}/{id}") },
    ]
}

#[derive(Serialize)]
struct ImageRef<'a> {
    id: &'a str,
    links: [Link<'static>; 1],
    /// 2.98: the image's properties as booted; none are recorded yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<Map<String, Value>>,
}

/// The flavor in a server: from 2.47 embedded as it was at boot, before
/// that a reference.
#[derive(Serialize)]
#[serde(untagged)]
enum FlavorRef<'a> {
    Embedded {
        vcpus: i64,
        ram: i64,
        disk: i64,
        ephemeral: i64,
        swap: i64,
        original_name: &'a str,
        extra_specs: &'a crate::store::Metadata,
    },
    Reference {
        id: &'a str,
        links: [Link<'static>; 1],
    },
}

impl Serialize for ServerView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (i, v, admin) = (self.instance, self.version, self.ctx.is_admin());
        let f = &i.flavor;
        let root = self.base.trim_end_matches("/v2.1");
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &i.id)?;
        m.serialize_entry("name", &i.name)?;
        m.serialize_entry("status", status(i.vm_state, i.task_state))?;
        m.serialize_entry("tenant_id", &i.project_id)?;
        m.serialize_entry("user_id", &i.user_id)?;
        m.serialize_entry("metadata", &i.metadata)?;
        m.serialize_entry("hostId", &host_id(&i.project_id, i.host.as_deref()))?;
        // A server booted from a volume has no image: Nova shows "".
        if i.image_ref.is_empty() {
            m.serialize_entry("image", "")?;
        } else {
            let image = ImageRef {
                id: &i.image_ref,
                links: bookmark(root, "images", &i.image_ref),
                properties: (v >= V2_98).then(Map::new),
            };
            m.serialize_entry("image", &image)?;
        }
        let flavor = if v >= V2_47 {
            FlavorRef::Embedded {
                vcpus: f.vcpus,
                ram: f.ram,
                disk: f.disk,
                ephemeral: f.ephemeral,
                swap: f.swap,
                original_name: &f.name,
                extra_specs: &f.extra_specs,
            }
        } else {
            FlavorRef::Reference { id: &f.id, links: bookmark(root, "flavors", &f.id) }
        };
        m.serialize_entry("flavor", &flavor)?;
        m.serialize_entry("created", &i.created_at)?;
        m.serialize_entry("updated", &i.updated_at)?;
        m.serialize_entry("addresses", &crate::network::Addresses(&i.network_info))?;
        m.serialize_entry("accessIPv4", &i.access_ipv4)?;
        m.serialize_entry("accessIPv6", &i.access_ipv6)?;
        m.serialize_entry("links", &self_and_bookmark(self.base, "servers", &i.id))?;
        m.serialize_entry("OS-DCF:diskConfig", "MANUAL")?;
        m.serialize_entry("progress", &if i.vm_state == VmState::Building { 0 } else { 100 })?;
        m.serialize_entry("OS-EXT-AZ:availability_zone", &i.availability_zone)?;
        m.serialize_entry("config_drive", &i.config_drive)?;
        m.serialize_entry("key_name", &i.key_name)?;
        m.serialize_entry("OS-SRV-USG:launched_at", &i.launched_at)?;
        m.serialize_entry("OS-SRV-USG:terminated_at", &i.terminated_at)?;
        m.serialize_entry("security_groups", &crate::network::SecurityGroups(&i.network_info))?;
        m.serialize_entry("OS-EXT-STS:task_state", &i.task_state)?;
        m.serialize_entry("OS-EXT-STS:vm_state", &i.vm_state)?;
        m.serialize_entry("OS-EXT-STS:power_state", &i.power_state)?;
        m.serialize_entry("os-extended-volumes:volumes_attached", &VolumesAttached(self.volumes, v))?;
        if admin {
            m.serialize_entry("OS-EXT-SRV-ATTR:host", &i.host)?;
            m.serialize_entry("OS-EXT-SRV-ATTR:instance_name", &format!("instance-{}", &i.id[..8]))?;
            m.serialize_entry("OS-EXT-SRV-ATTR:hypervisor_hostname", &i.host)?;
            if v >= V2_3 {
                m.serialize_entry("OS-EXT-SRV-ATTR:reservation_id", &i.reservation_id)?;
                m.serialize_entry("OS-EXT-SRV-ATTR:launch_index", &i.launch_index)?;
                m.serialize_entry("OS-EXT-SRV-ATTR:kernel_id", "")?;
                m.serialize_entry("OS-EXT-SRV-ATTR:ramdisk_id", "")?;
                m.serialize_entry("OS-EXT-SRV-ATTR:root_device_name", "/dev/vda")?;
                m.serialize_entry("OS-EXT-SRV-ATTR:user_data", &i.user_data)?;
            }
            if v >= V2_16 {
                m.serialize_entry("host_status", if i.host.is_some() { "UP" } else { "" })?;
            }
        }
        if admin && v >= V2_3 || v >= V2_90 {
            m.serialize_entry("OS-EXT-SRV-ATTR:hostname", &i.hostname)?;
        }
        if v >= V2_9 {
            m.serialize_entry("locked", &i.locked)?;
        }
        if v >= V2_73 {
            m.serialize_entry("locked_reason", &i.locked_reason)?;
        }
        if v >= V2_19 {
            m.serialize_entry("description", &i.description)?;
        }
        if v >= V2_26 {
            m.serialize_entry("tags", &i.tags)?;
        }
        if v >= V2_63 {
            m.serialize_entry("trusted_image_certificates", &())?;
        }
        if v >= V2_96 {
            m.serialize_entry("pinned_availability_zone", &i.pinned_availability_zone)?;
        }
        if v >= V2_100 {
            m.serialize_entry("scheduler_hints", &Map::new())?;
        }
        if let Some(fault) = &i.fault {
            if matches!(i.vm_state, VmState::Error | VmState::Deleted) {
                m.serialize_entry("fault", &fault.0)?;
            }
        }
        m.end()
    }
}

/// One server's body as a JSON value, for answers that add to it.
pub fn server(base: &str, i: &Instance, v: ApiVersion, ctx: &Context, volumes: &[Bdm]) -> Value {
    // A view of strings, numbers and string-keyed maps always converts.
    serde_json::to_value(ServerView { base, instance: i, version: v, ctx, volumes }).unwrap_or_default()
}

/// The server in the answer to an update or a rebuild: before 2.75 only the
/// fields of Nova's response schema for those (no `OS-EXT-*`, no security
/// groups, ...); from 2.75 the whole server, as `show` answers it.
pub fn server_after_change(base: &str, i: &Instance, v: ApiVersion, ctx: &Context, volumes: &[Bdm]) -> Value {
    let mut full = server(base, i, v, ctx, volumes);
    if v >= V2_75 {
        return full;
    }
    const KEPT: &[&str] = &[
        "OS-DCF:diskConfig",
        "accessIPv4",
        "accessIPv6",
        "addresses",
        "created",
        "flavor",
        "hostId",
        "id",
        "image",
        "links",
        "metadata",
        "name",
        "progress",
        "status",
        "tenant_id",
        "updated",
        "user_id",
        // Each from its own microversion on, as `server` inserts them.
        "description",
        "locked",
        "locked_reason",
        "tags",
        "server_groups",
        "trusted_image_certificates",
    ];
    if let Value::Object(m) = &mut full {
        m.retain(|k, _| KEPT.contains(&k.as_str()));
    }
    full
}

/// A server in `GET /servers`: its id, name and links.
#[derive(Serialize)]
pub struct ServerBrief<'a> {
    id: &'a str,
    name: &'a str,
    links: [Link<'static>; 2],
}

pub fn server_brief<'a>(base: &str, i: &'a Instance) -> ServerBrief<'a> {
    ServerBrief { id: &i.id, name: &i.name, links: self_and_bookmark(base, "servers", &i.id) }
}
