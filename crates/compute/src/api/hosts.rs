//! Admin views of the compute hosts: `/os-services` and `/os-hypervisors`
//! (list, detail, show, statistics), one per `compute_nodes` row.

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;

use super::{ApiResult, Caller, NovaFault, Shared};
use crate::host::{self, stable_uuid, ComputeNode, HostUsage};
use crate::microversion::{ApiVersion, V2_11, V2_53, V2_88};

/// Each compute host's `nova-scheduler`, `nova-conductor` and `nova-compute`
/// (every server runs the three), up while its heartbeat is fresh.
pub async fn services(c: Shared, Caller(_): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    let mut rows = vec![];
    let zones = crate::aggregates::Zones::read(&c.pool, &c.config.availability_zone).await?;
    for node in host::nodes(&c.pool).await? {
        let host = &node.host;
        let zone = zones.of(host);
        let up = host::is_up(&node);
        for (n, binary, zone) in
            [(1, "nova-scheduler", "internal"), (2, "nova-conductor", "internal"), (3, "nova-compute", zone)]
        {
            let mut m = Map::new();
            // 2.53: services are named by UUID.
            m.insert(
                "id".into(),
                if v >= V2_53 {
                    json!(stable_uuid("service", &format!("{host}/{binary}")))
                } else {
                    json!((node.id - 1) * 3 + n)
                },
            );
            m.insert("binary".into(), json!(binary));
            m.insert("host".into(), json!(host));
            m.insert("zone".into(), json!(zone));
            m.insert("status".into(), json!("enabled"));
            m.insert("state".into(), json!(if up { "up" } else { "down" }));
            m.insert("updated_at".into(), json!(node.updated_at));
            m.insert("disabled_reason".into(), Value::Null);
            if v >= V2_11 {
                m.insert("forced_down".into(), json!(false));
            }
            rows.push(Value::Object(m));
        }
    }
    Ok(Json(json!({"services": rows})))
}

fn hypervisor_id(node: &ComputeNode, v: ApiVersion) -> Value {
    if v >= V2_53 {
        json!(stable_uuid("hypervisor", &node.host))
    } else {
        json!(node.id)
    }
}

fn id_text(id: &Value) -> String {
    id.as_str().map(String::from).unwrap_or_else(|| id.to_string())
}

fn hypervisor(node: &ComputeNode, used: &HostUsage, v: ApiVersion, detail: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), hypervisor_id(node, v));
    m.insert("hypervisor_hostname".into(), json!(node.host));
    m.insert("state".into(), json!(if host::is_up(node) { "up" } else { "down" }));
    m.insert("status".into(), json!("enabled"));
    if detail {
        m.insert("hypervisor_type".into(), json!(node.hypervisor_type));
        m.insert("hypervisor_version".into(), json!(1000));
        m.insert("host_ip".into(), json!("127.0.0.1"));
        let service_id = if v >= V2_53 {
            json!(stable_uuid("service", &format!("{}/nova-compute", node.host)))
        } else {
            json!((node.id - 1) * 3 + 3)
        };
        m.insert("service".into(), json!({"host": node.host, "id": service_id, "disabled_reason": null}));
        if v >= V2_88 {
            m.insert("uptime".into(), Value::Null);
        } else {
            for (k, val) in [
                ("vcpus", node.vcpus),
                ("memory_mb", node.memory_mb),
                ("local_gb", node.local_gb),
                ("vcpus_used", used.vcpus),
                ("memory_mb_used", used.memory_mb),
                ("local_gb_used", used.disk_gb),
                ("free_ram_mb", node.memory_mb - used.memory_mb),
                ("free_disk_gb", node.local_gb - used.disk_gb),
                ("current_workload", 0),
                ("running_vms", used.instances),
                ("disk_available_least", node.local_gb - used.disk_gb),
            ] {
                m.insert(k.into(), json!(val));
            }
            m.insert("cpu_info".into(), json!(json!({"arch": std::env::consts::ARCH, "vendor": "", "model": "", "features": [], "topology": {"cores": node.vcpus, "threads": 1, "sockets": 1}}).to_string()));
        }
    }
    Value::Object(m)
}

pub async fn list(c: Shared, Caller(_): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    let all: Vec<Value> = host::hypervisors(&c.pool).await?.iter().map(|(n, u)| hypervisor(n, u, v, false)).collect();
    Ok(Json(json!({"hypervisors": all})))
}

pub async fn detail(c: Shared, Caller(_): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    let all: Vec<Value> = host::hypervisors(&c.pool).await?.iter().map(|(n, u)| hypervisor(n, u, v, true)).collect();
    Ok(Json(json!({"hypervisors": all})))
}

pub async fn show(c: Shared, Caller(_): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    host::hypervisors(&c.pool)
        .await?
        .iter()
        .find(|(n, _)| id_text(&hypervisor_id(n, v)) == id)
        .map(|(n, u)| Json(json!({"hypervisor": hypervisor(n, u, v, true)})))
        .ok_or_else(|| NovaFault(Error::NotFound(format!("Hypervisor with ID '{id}' could not be found."))))
}

/// Removed at 2.88.
pub async fn statistics(c: Shared, Caller(_): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    if v >= V2_88 {
        return Err(NovaFault(Error::NotFound("The resource could not be found.".into())));
    }
    let all = host::hypervisors(&c.pool).await?;
    let sum = |f: &dyn Fn(&ComputeNode, &HostUsage) -> i64| all.iter().map(|(n, u)| f(n, u)).sum::<i64>();
    Ok(Json(json!({"hypervisor_statistics": {
        "count": all.len(), "current_workload": 0,
        "disk_available_least": sum(&|n, u| n.local_gb - u.disk_gb),
        "free_disk_gb": sum(&|n, u| n.local_gb - u.disk_gb), "free_ram_mb": sum(&|n, u| n.memory_mb - u.memory_mb),
        "local_gb": sum(&|n, _| n.local_gb), "local_gb_used": sum(&|_, u| u.disk_gb),
        "memory_mb": sum(&|n, _| n.memory_mb), "memory_mb_used": sum(&|_, u| u.memory_mb),
        "running_vms": sum(&|_, u| u.instances), "vcpus": sum(&|n, _| n.vcpus), "vcpus_used": sum(&|_, u| u.vcpus),
    }})))
}
