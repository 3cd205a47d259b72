//! Response bodies, shaped for the requested microversion: a field appears
//! from its version on (absent before, which Nova distinguishes from null).

use serde_json::{json, Map, Value};

use oxistack_core::context::Context;

use crate::microversion::*;
use crate::states::{status, VmState};
use crate::store::{Flavor, Instance, Keypair};

pub fn links(base: &str, collection: &str, id: &str) -> Value {
    let root = base.trim_end_matches("/v2.1");
    json!([
        {"rel": "self", "href": format!("{base}/{collection}/{id}")},
        {"rel": "bookmark", "href": format!("{root}/{collection}/{id}")},
    ])
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

pub fn server(base: &str, i: &Instance, v: ApiVersion, ctx: &Context) -> Value {
    let f = &i.flavor;
    let root = base.trim_end_matches("/v2.1");
    let mut m = Map::new();
    m.insert("id".into(), json!(i.id));
    m.insert("name".into(), json!(i.name));
    m.insert("status".into(), json!(status(i.vm_state, i.task_state)));
    m.insert("tenant_id".into(), json!(i.project_id));
    m.insert("user_id".into(), json!(i.user_id));
    m.insert("metadata".into(), json!(i.metadata));
    m.insert("hostId".into(), json!(host_id(&i.project_id, i.host.as_deref())));
    let mut image =
        json!({"id": i.image_ref, "links": [{"rel": "bookmark", "href": format!("{root}/images/{}", i.image_ref)}]});
    if v >= V2_98 {
        // The image's properties as booted; none are recorded yet.
        image["properties"] = json!({});
    }
    m.insert("image".into(), image);
    // 2.47: the flavor is embedded as it was at boot.
    let flavor = if v >= V2_47 {
        json!({"vcpus": f.vcpus, "ram": f.ram, "disk": f.disk, "ephemeral": f.ephemeral, "swap": f.swap,
               "original_name": f.name, "extra_specs": f.extra_specs})
    } else {
        json!({"id": f.id, "links": [{"rel": "bookmark", "href": format!("{root}/flavors/{}", f.id)}]})
    };
    m.insert("flavor".into(), flavor);
    m.insert("created".into(), json!(i.created_at));
    m.insert("updated".into(), json!(i.updated_at));
    m.insert("addresses".into(), crate::network::addresses(&i.network_info));
    m.insert("accessIPv4".into(), json!(i.access_ipv4));
    m.insert("accessIPv6".into(), json!(i.access_ipv6));
    m.insert("links".into(), links(base, "servers", &i.id));
    m.insert("OS-DCF:diskConfig".into(), json!("MANUAL"));
    m.insert("progress".into(), json!(if i.vm_state == VmState::Building { 0 } else { 100 }));
    m.insert("OS-EXT-AZ:availability_zone".into(), json!(i.availability_zone));
    m.insert("config_drive".into(), json!(i.config_drive));
    m.insert("key_name".into(), json!(i.key_name));
    m.insert("OS-SRV-USG:launched_at".into(), json!(i.launched_at));
    m.insert("OS-SRV-USG:terminated_at".into(), json!(i.terminated_at));
    m.insert("security_groups".into(), crate::network::security_groups(&i.network_info));
    m.insert("OS-EXT-STS:task_state".into(), json!(i.task_state));
    m.insert("OS-EXT-STS:vm_state".into(), json!(i.vm_state));
    m.insert("OS-EXT-STS:power_state".into(), json!(i.power_state));
    m.insert("os-extended-volumes:volumes_attached".into(), json!([]));
    if ctx.is_admin() {
        m.insert("OS-EXT-SRV-ATTR:host".into(), json!(i.host));
        m.insert("OS-EXT-SRV-ATTR:instance_name".into(), json!(format!("instance-{}", &i.id[..8])));
        m.insert("OS-EXT-SRV-ATTR:hypervisor_hostname".into(), json!(i.host));
        if v >= V2_3 {
            m.insert("OS-EXT-SRV-ATTR:reservation_id".into(), json!(i.reservation_id));
            m.insert("OS-EXT-SRV-ATTR:launch_index".into(), json!(i.launch_index));
            m.insert("OS-EXT-SRV-ATTR:kernel_id".into(), json!(""));
            m.insert("OS-EXT-SRV-ATTR:ramdisk_id".into(), json!(""));
            m.insert("OS-EXT-SRV-ATTR:root_device_name".into(), json!("/dev/vda"));
            m.insert("OS-EXT-SRV-ATTR:user_data".into(), json!(i.user_data));
        }
        if v >= V2_16 {
            m.insert("host_status".into(), json!(if i.host.is_some() { "UP" } else { "" }));
        }
    }
    if ctx.is_admin() && v >= V2_3 || v >= V2_90 {
        m.insert("OS-EXT-SRV-ATTR:hostname".into(), json!(i.hostname));
    }
    if v >= V2_9 {
        m.insert("locked".into(), json!(i.locked));
    }
    if v >= V2_73 {
        m.insert("locked_reason".into(), json!(i.locked_reason));
    }
    if v >= V2_19 {
        m.insert("description".into(), json!(i.description));
    }
    if v >= V2_26 {
        m.insert("tags".into(), json!(i.tags));
    }
    if v >= V2_63 {
        m.insert("trusted_image_certificates".into(), Value::Null);
    }
    if v >= V2_96 {
        m.insert("pinned_availability_zone".into(), json!(i.pinned_availability_zone));
    }
    if v >= V2_100 {
        m.insert("scheduler_hints".into(), json!({}));
    }
    if let Some(fault) = &i.fault {
        if matches!(i.vm_state, VmState::Error | VmState::Deleted) {
            m.insert("fault".into(), fault.0.clone());
        }
    }
    Value::Object(m)
}

/// The server in the answer to an update or a rebuild: before 2.75 only the
/// fields of Nova's response schema for those (no `OS-EXT-*`, no security
/// groups, ...); from 2.75 the whole server, as `show` answers it.
pub fn server_after_change(base: &str, i: &Instance, v: ApiVersion, ctx: &Context) -> Value {
    let mut full = server(base, i, v, ctx);
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

pub fn server_brief(base: &str, i: &Instance) -> Value {
    json!({"id": i.id, "name": i.name, "links": links(base, "servers", &i.id)})
}
