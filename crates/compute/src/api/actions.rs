//! `POST /servers/{id}/action`, dispatched on the body's only key as Nova does.

use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::Value;

use super::{bad, ApiResult, Body, Caller, Shared};
use crate::microversion::{ApiVersion, V2_73};
use crate::service::{self, Action};

pub async fn dispatch(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    let obj = body
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| bad("There is no such action: the body must name one action."))?;
    let (name, args) = obj.iter().next().unwrap();
    let simple: Option<&'static Action> = match name.as_str() {
        "os-stop" => Some(&service::STOP),
        "os-start" => Some(&service::START),
        "pause" => Some(&service::PAUSE),
        "unpause" => Some(&service::UNPAUSE),
        "suspend" => Some(&service::SUSPEND),
        "resume" => Some(&service::RESUME),
        "reboot" => {
            let kind = args.get("type").and_then(Value::as_str).unwrap_or("");
            match kind.to_ascii_uppercase().as_str() {
                "SOFT" => Some(&service::REBOOT),
                "HARD" => Some(&service::HARD_REBOOT),
                _ => return Err(bad(format!("Invalid input for field/attribute type. Value: {kind}. '{kind}' is not one of ['HARD', 'Hard', 'SOFT', 'Soft']"))),
            }
        }
        _ => None,
    };
    if let Some(action) = simple {
        c.act(&ctx, &id, action).await?;
        return Ok(StatusCode::ACCEPTED);
    }
    match name.as_str() {
        "lock" => {
            // 2.73: a reason may be given.
            let reason = if v >= V2_73 { args.get("locked_reason").and_then(Value::as_str) } else { None };
            c.set_lock(&ctx, &id, true, reason).await?;
        }
        "unlock" => c.set_lock(&ctx, &id, false, None).await?,
        other => return Err(bad(format!("There is no such action: {other}"))),
    }
    Ok(StatusCode::ACCEPTED)
}
