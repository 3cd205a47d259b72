//! `/os-availability-zone` and `/os-services`.

use axum::Json;
use serde_json::{json, Value};

use oxistack_core::policy::{enforce, Target};

use super::{ApiResult, Caller, Shared};

/// Every authenticated caller may read the zones (Cinder checks no rule).
pub async fn availability_zones(c: Shared, Caller(_): Caller) -> Json<Value> {
    Json(json!({"availabilityZoneInfo": [
        {"zoneName": c.config.availability_zone, "zoneState": {"available": true}},
    ]}))
}

/// The services of this server: its scheduler and its volume backend.
pub async fn services(c: Shared, Caller(ctx): Caller) -> ApiResult<Json<Value>> {
    enforce(&ctx, "volume_extension:services:index", &Target::caller(&ctx))?;
    let updated = crate::views::now();
    let service = |binary: &str, host: String| {
        json!({"binary": binary, "host": host, "zone": c.config.availability_zone, "status": "enabled",
               "state": "up", "updated_at": updated, "disabled_reason": null})
    };
    Ok(Json(json!({"services": [
        service("cinder-scheduler", c.config.host.clone()),
        service("cinder-volume", format!("{}@file", c.config.host)),
    ]})))
}
