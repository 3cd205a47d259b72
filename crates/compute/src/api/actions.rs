//! `POST /servers/{id}/action`, dispatched on the body's only key as Nova does.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::policy::Target;

use super::{bad, ApiResult, Body, Caller, Shared};
use crate::microversion::{ApiVersion, V2_45, V2_73};
use crate::service::{self, Action};

/// Nova's policy rule of each server action; `None`: no such action.
fn action_rule(name: &str) -> Option<&'static str> {
    Some(match name {
        "os-stop" => "os_compute_api:servers:stop",
        "os-start" => "os_compute_api:servers:start",
        "pause" => "os_compute_api:os-pause-server:pause",
        "unpause" => "os_compute_api:os-pause-server:unpause",
        "suspend" => "os_compute_api:os-suspend-server:suspend",
        "resume" => "os_compute_api:os-suspend-server:resume",
        "reboot" => "os_compute_api:servers:reboot",
        "rebuild" => "os_compute_api:servers:rebuild",
        "resize" => "os_compute_api:servers:resize",
        "confirmResize" => "os_compute_api:servers:confirm_resize",
        "revertResize" => "os_compute_api:servers:revert_resize",
        "rescue" => "os_compute_api:os-rescue",
        "unrescue" => "os_compute_api:os-unrescue",
        "shelve" => "os_compute_api:os-shelve:shelve",
        "shelveOffload" => "os_compute_api:os-shelve:shelve_offload",
        "unshelve" => "os_compute_api:os-shelve:unshelve",
        "os-getConsoleOutput" => "os_compute_api:os-console-output",
        "migrate" => "os_compute_api:os-migrate-server:migrate",
        "os-migrateLive" => "os_compute_api:os-migrate-server:migrate_live",
        "evacuate" => "os_compute_api:os-evacuate",
        "os-getSerialConsole" | "os-getVNCConsole" | "os-getSPICEConsole" | "os-getRDPConsole" => {
            "os_compute_api:os-remote-consoles"
        }
        "createImage" => "os_compute_api:servers:create_image",
        "forceDelete" => "os_compute_api:os-deferred-delete:force",
        "restore" => "os_compute_api:os-deferred-delete:restore",
        "changePassword" => "os_compute_api:os-admin-password",
        "addSecurityGroup" => "os_compute_api:os-security-groups:add",
        "removeSecurityGroup" => "os_compute_api:os-security-groups:remove",
        "lock" => "os_compute_api:os-lock-server:lock",
        "unlock" => "os_compute_api:os-lock-server:unlock",
        _ => return None,
    })
}

pub async fn dispatch(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    let obj = body
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| bad("There is no such action: the body must name one action."))?;
    let (name, args) = obj.iter().next().unwrap();
    let rule = action_rule(name).ok_or_else(|| bad(format!("There is no such action: {name}")))?;
    oxistack_core::policy::enforce(&ctx, rule, &Target::caller(&ctx))?;
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
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    match name.as_str() {
        "rebuild" => {
            let image = args.get("imageRef").and_then(Value::as_str);
            let new_name = args.get("name").and_then(Value::as_str);
            if new_name.is_some_and(|n| !super::servers::valid_name(n)) {
                return Err(bad("Invalid input for field/attribute name."));
            }
            let admin_pass = match args.get("adminPass") {
                None => super::generated_password(),
                Some(Value::String(p)) => p.clone(),
                Some(_) => return Err(bad("Invalid input for field/attribute adminPass.")),
            };
            // 2.93: a server booted from a volume is rebuilt onto it.
            c.rebuild(&ctx, &id, image, new_name, &admin_pass, v >= crate::microversion::V2_93).await?;
            let inst = c.instance(&ctx, &id).await?;
            let volumes = c.volumes_of(&[inst.id.as_str()]).await?;
            let mut server = crate::views::server_after_change(&super::base(&c), &inst, v, &ctx, &volumes);
            server["adminPass"] = json!(admin_pass);
            return Ok((StatusCode::ACCEPTED, Json(json!({"server": server}))).into_response());
        }
        "resize" => {
            let flavor = args
                .get("flavorRef")
                .and_then(|f| f.as_str().map(String::from).or_else(|| f.as_i64().map(|n| n.to_string())))
                .ok_or_else(|| bad("Invalid input for field/attribute resize. 'flavorRef' is a required property"))?;
            c.resize(&ctx, &id, flavor.rsplit('/').next().unwrap_or_default()).await?;
        }
        "confirmResize" => {
            c.end_resize(&ctx, &id, true).await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        "revertResize" => c.end_resize(&ctx, &id, false).await?,
        "rescue" => {
            c.rescue(&ctx, &id, true).await?;
            let pass = super::generated_password();
            return Ok((StatusCode::OK, Json(json!({"adminPass": pass}))).into_response());
        }
        "unrescue" => c.rescue(&ctx, &id, false).await?,
        "shelve" => c.shelve(&ctx, &id, "shelve").await?,
        "shelveOffload" => c.shelve(&ctx, &id, "shelveOffload").await?,
        "unshelve" => c.shelve(&ctx, &id, "unshelve").await?,
        "os-getConsoleOutput" => {
            let length =
                args.get("length").and_then(|l| l.as_i64().or_else(|| l.as_str().and_then(|s| s.parse().ok())));
            let output = c.console_output(&ctx, &id, length).await?;
            return Ok((StatusCode::OK, Json(json!({"output": output}))).into_response());
        }
        // One compute host: the scheduler has nowhere to move a server to,
        // and the host an evacuation would leave is up. Nova answers both
        // with these 400s.
        "migrate" | "os-migrateLive" => {
            let inst = c.instance(&ctx, &id).await?;
            use crate::states::VmState::{Active, Paused, Stopped};
            let allowed = if name == "migrate" { [Active, Stopped] } else { [Active, Paused] };
            if !allowed.contains(&inst.vm_state) || inst.task_state.is_some() {
                return Err(super::NovaFault(oxistack_core::Error::Conflict(format!(
                    "Cannot '{name}' instance {id} while it is in vm_state {}",
                    inst.vm_state
                ))));
            }
            let kind = if name == "migrate" { "cold migrate" } else { "live migrate" };
            return Err(bad(format!("No valid host was found. No valid host found for {kind}")));
        }
        "evacuate" => {
            let inst = c.instance(&ctx, &id).await?;
            let host = inst.host.unwrap_or_else(|| c.config.host.clone());
            return Err(bad(format!("Compute service of {host} is still in use.")));
        }
        "os-getSerialConsole" => {
            if args.get("type").and_then(Value::as_str) != Some("serial") {
                return Err(bad("Invalid input for field/attribute type."));
            }
            let url = c.serial_console_url(&ctx, &id).await?;
            return Ok((StatusCode::OK, Json(json!({"console": {"type": "serial", "url": url}}))).into_response());
        }
        "os-getVNCConsole" | "os-getSPICEConsole" | "os-getRDPConsole" => {
            let kind = args.get("type").and_then(Value::as_str).unwrap_or("novnc");
            return Err(bad(format!("Unavailable console type {kind}.")));
        }
        "createImage" => {
            let name = args
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| bad("Invalid input for field/attribute name."))?;
            let metadata = args.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
            let image_id = c.snapshot(&ctx, &id, name, metadata).await?;
            let location = format!("{}/images/{image_id}", super::base(&c).trim_end_matches("/v2.1"));
            // 2.45: the image id in the body, no Location header.
            if v >= V2_45 {
                return Ok((StatusCode::ACCEPTED, Json(json!({"image_id": image_id}))).into_response());
            }
            return Ok((StatusCode::ACCEPTED, [(axum::http::header::LOCATION, location)]).into_response());
        }
        // No soft delete here: a force delete is a delete, and nothing waits
        // to be restored.
        "forceDelete" => c.delete(&ctx, &id).await?,
        "restore" => {
            c.instance(&ctx, &id).await?;
            return Err(oxistack_core::Error::Conflict(format!(
                "Cannot 'restore' instance {id} while it is in vm_state active"
            ))
            .into());
        }
        "changePassword" => {
            args.get("adminPass")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("Invalid input for field/attribute adminPass."))?;
            c.instance_to_change(&ctx, &id).await?;
        }
        "lock" => {
            // 2.73: a reason may be given.
            let reason = if v >= V2_73 { args.get("locked_reason").and_then(Value::as_str) } else { None };
            c.set_lock(&ctx, &id, true, reason).await?;
        }
        "unlock" => c.set_lock(&ctx, &id, false, None).await?,
        "addSecurityGroup" | "removeSecurityGroup" => {
            super::security_groups::change_server_groups(&c, &ctx, &id, args, name == "addSecurityGroup").await?;
        }
        other => return Err(bad(format!("There is no such action: {other}"))),
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
