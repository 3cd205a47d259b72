//! Admin views of the compute host: `/os-services` and `/os-hypervisors`
//! (list, detail, show, statistics).

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;

use super::{ApiResult, Caller, NovaFault, Shared};
use crate::host::{self, stable_uuid};
use crate::microversion::{ApiVersion, V2_11, V2_53, V2_88};

pub async fn services(c: Shared, Caller(_): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    let host = &c.config.host;
    let now = crate::service::now();
    let rows: Vec<Value> = [
        ("nova-scheduler", "internal", 1),
        ("nova-conductor", "internal", 2),
        ("nova-compute", c.config.availability_zone.as_str(), 3),
    ]
    .iter()
    .map(|(binary, zone, n)| {
        let mut m = Map::new();
        // 2.53: services are named by UUID.
        m.insert(
            "id".into(),
            if v >= V2_53 { json!(stable_uuid("service", &format!("{host}/{binary}"))) } else { json!(n) },
        );
        m.insert("binary".into(), json!(binary));
        m.insert("host".into(), json!(host));
        m.insert("zone".into(), json!(zone));
        m.insert("status".into(), json!("enabled"));
        m.insert("state".into(), json!("up"));
        m.insert("updated_at".into(), json!(now));
        m.insert("disabled_reason".into(), Value::Null);
        if v >= V2_11 {
            m.insert("forced_down".into(), json!(false));
        }
        Value::Object(m)
    })
    .collect();
    Ok(Json(json!({"services": rows})))
}

fn hypervisor_id(c: &crate::Compute, v: ApiVersion) -> Value {
    if v >= V2_53 {
        json!(stable_uuid("hypervisor", &c.config.host))
    } else {
        json!(1)
    }
}

async fn hypervisor(c: &crate::Compute, v: ApiVersion, detail: bool) -> ApiResult<Value> {
    let mut m = Map::new();
    m.insert("id".into(), hypervisor_id(c, v));
    m.insert("hypervisor_hostname".into(), json!(c.config.host));
    m.insert("state".into(), json!("up"));
    m.insert("status".into(), json!("enabled"));
    if detail {
        let s = host::state(&c.pool, &c.config.host, &c.config.state_path, c.driver.capacity()).await?;
        m.insert("hypervisor_type".into(), json!(if c.driver.name() == "fake" { "fake" } else { "QEMU" }));
        m.insert("hypervisor_version".into(), json!(1000));
        m.insert("host_ip".into(), json!("127.0.0.1"));
        let service_id = if v >= V2_53 {
            json!(stable_uuid("service", &format!("{}/nova-compute", c.config.host)))
        } else {
            json!(3)
        };
        m.insert("service".into(), json!({"host": c.config.host, "id": service_id, "disabled_reason": null}));
        if v >= V2_88 {
            m.insert("uptime".into(), Value::Null);
        } else {
            for (k, val) in [
                ("vcpus", s.vcpus),
                ("memory_mb", s.memory_mb),
                ("local_gb", s.local_gb),
                ("vcpus_used", s.vcpus_used),
                ("memory_mb_used", s.memory_mb_used),
                ("local_gb_used", s.local_gb_used),
                ("free_ram_mb", s.memory_mb - s.memory_mb_used),
                ("free_disk_gb", s.local_gb - s.local_gb_used),
                ("current_workload", 0),
                ("running_vms", s.running_vms),
                ("disk_available_least", s.local_gb - s.local_gb_used),
            ] {
                m.insert(k.into(), json!(val));
            }
            m.insert("cpu_info".into(), json!(json!({"arch": std::env::consts::ARCH, "vendor": "", "model": "", "features": [], "topology": {"cores": s.vcpus, "threads": 1, "sockets": 1}}).to_string()));
        }
    }
    Ok(Value::Object(m))
}

pub async fn list(c: Shared, Caller(_): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"hypervisors": [hypervisor(&c, v, false).await?]})))
}

pub async fn detail(c: Shared, Caller(_): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"hypervisors": [hypervisor(&c, v, true).await?]})))
}

pub async fn show(c: Shared, Caller(_): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let ours = hypervisor_id(&c, v);
    if ours.as_str().map(String::from).unwrap_or_else(|| ours.to_string()) != id {
        return Err(NovaFault(Error::NotFound(format!("Hypervisor with ID '{id}' could not be found."))));
    }
    Ok(Json(json!({"hypervisor": hypervisor(&c, v, true).await?})))
}

/// Removed at 2.88.
pub async fn statistics(c: Shared, Caller(_): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    if v >= V2_88 {
        return Err(NovaFault(Error::NotFound("The resource could not be found.".into())));
    }
    let s = host::state(&c.pool, &c.config.host, &c.config.state_path, c.driver.capacity()).await?;
    Ok(Json(json!({"hypervisor_statistics": {
        "count": 1, "current_workload": 0, "disk_available_least": s.local_gb - s.local_gb_used,
        "free_disk_gb": s.local_gb - s.local_gb_used, "free_ram_mb": s.memory_mb - s.memory_mb_used,
        "local_gb": s.local_gb, "local_gb_used": s.local_gb_used, "memory_mb": s.memory_mb,
        "memory_mb_used": s.memory_mb_used, "running_vms": s.running_vms, "vcpus": s.vcpus, "vcpus_used": s.vcpus_used,
    }})))
}
