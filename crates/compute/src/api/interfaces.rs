//! `/servers/{id}/os-interface`: the server's ports, attached and detached.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{bad, ApiResult, Body, Caller, Shared};
use crate::microversion::{ApiVersion, V2_70};

fn attachment(port: &Value, v: ApiVersion) -> Value {
    let mut a = json!({
        "port_state": port["status"],
        "fixed_ips": port["fixed_ips"],
        "port_id": port["id"],
        "net_id": port["network_id"],
        "mac_addr": port["mac_address"],
    });
    if v >= V2_70 {
        a["tag"] = Value::Null;
    }
    a
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let ports = c.interfaces(&ctx, &id).await?;
    Ok(Json(json!({"interfaceAttachments": ports.iter().map(|p| attachment(p, v)).collect::<Vec<_>>()})))
}

pub async fn show(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path((id, port)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let ports = c.interfaces(&ctx, &id).await?;
    let p = ports
        .iter()
        .find(|p| p["id"] == port.as_str())
        .ok_or_else(|| super::NovaFault(oxistack_core::Error::NotFound(format!("Port {port} is not attached"))))?;
    Ok(Json(json!({"interfaceAttachment": attachment(p, v)})))
}

pub async fn create(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let a = body.get("interfaceAttachment").cloned().unwrap_or(json!({}));
    let a = a.as_object().ok_or_else(|| bad("Invalid input for field/attribute interfaceAttachment."))?;
    for k in a.keys() {
        if !["net_id", "port_id", "fixed_ips", "tag"].contains(&k.as_str()) {
            return Err(bad(format!(
                "Invalid input for field/attribute interfaceAttachment. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    let field = |k: &str| a.get(k).and_then(Value::as_str).map(String::from);
    let fixed_ip = a
        .get("fixed_ips")
        .and_then(Value::as_array)
        .and_then(|ips| ips.first())
        .and_then(|ip| ip.get("ip_address"))
        .and_then(Value::as_str)
        .map(String::from);
    let port = c.attach_interface(&ctx, &id, field("net_id"), field("port_id"), fixed_ip).await?;
    Ok(Json(json!({"interfaceAttachment": attachment(&port, v)})))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, Path((id, port)): Path<(String, String)>) -> ApiResult<StatusCode> {
    c.detach_interface(&ctx, &id, &port).await?;
    Ok(StatusCode::ACCEPTED)
}
