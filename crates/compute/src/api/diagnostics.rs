//! `GET /servers/{id}/diagnostics` (admins): what the hypervisor reports of a
//! server, in the standard format of 2.48.

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Value};

use super::{ApiResult, Caller, Shared};
use crate::microversion::{ApiVersion, V2_48};

pub async fn show(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let inst = c.instance(&ctx, &id).await?;
    let f = &inst.flavor;
    let running = inst.power_state == crate::states::PowerState::Running;
    let vifs = &inst.network_info;
    let uptime = inst
        .launched_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .unwrap_or(0);
    if v < V2_48 {
        return Ok(Json(json!({"memory": f.ram * 1024, "cpu0_time": 0, "uptime": uptime})));
    }
    Ok(Json(json!({
        "state": if running { "running" } else { "shutdown" },
        "driver": c.driver.name(),
        "hypervisor": c.driver.name(),
        "hypervisor_os": std::env::consts::OS,
        "uptime": uptime,
        "config_drive": !inst.config_drive.is_empty(),
        "num_cpus": f.vcpus,
        "num_disks": 1,
        "num_nics": vifs.len(),
        "cpu_details": (0..f.vcpus).map(|i| json!({"id": i, "time": null, "utilisation": null})).collect::<Vec<_>>(),
        "disk_details": [{"read_bytes": null, "read_requests": null, "write_bytes": null, "write_requests": null, "errors_count": null}],
        "memory_details": {"maximum": f.ram * 1024, "used": null},
        // Counters the drivers do not gather are null, as Nova's schema allows.
        "nic_details": vifs.iter().map(|vif| json!({
            "mac_address": vif.mac, "rx_octets": null, "rx_errors": null, "rx_drop": null, "rx_packets": null,
            "rx_rate": null, "tx_octets": null, "tx_errors": null, "tx_drop": null, "tx_packets": null, "tx_rate": null,
        })).collect::<Vec<_>>(),
    })))
}
