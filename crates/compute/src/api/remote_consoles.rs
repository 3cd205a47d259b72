//! `POST /servers/{id}/remote-consoles` (2.6): a console URL. Serial
//! consoles are served; graphical ones are not (400, as Nova answers for a
//! console type its driver lacks).

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Value};

use super::{bad, ApiResult, Body, Caller, Shared};

pub async fn create(
    c: Shared,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let rc = body
        .get("remote_console")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute remote_console."))?;
    let protocol = rc.get("protocol").and_then(Value::as_str).unwrap_or_default();
    let kind = rc.get("type").and_then(Value::as_str).unwrap_or_default();
    match (protocol, kind) {
        ("serial", "serial") => {
            let url = c.serial_console_url(&ctx, &id).await?;
            Ok(Json(json!({"remote_console": {"protocol": "serial", "type": "serial", "url": url}})))
        }
        ("vnc" | "spice" | "rdp" | "mks", _) => Err(bad(format!("Unavailable console type {kind}."))),
        _ => Err(bad(format!("Invalid input for field/attribute remote_console. Value: {protocol}/{kind}."))),
    }
}
