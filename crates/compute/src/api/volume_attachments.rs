//! `/servers/{id}/os-volume_attachments`: the server's volumes, attached
//! and detached through Block Storage.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use super::{bad, ApiResult, Body, Caller, NovaFault, Shared};
use crate::microversion::{ApiVersion, V2_49, V2_70, V2_79, V2_89};
use crate::store::volumes::Bdm;
use crate::volumes::AttachVolume;

/// A volume attachment as Nova's view shows it at version `v`; an attach's
/// answer (`created`) keeps `id` and never names the mapping.
fn view(b: &Bdm, v: ApiVersion, created: bool) -> Value {
    let mut a = json!({"device": b.device_name, "serverId": b.instance_uuid, "volumeId": b.volume_id});
    if v < V2_89 || created {
        a["id"] = json!(b.volume_id);
    }
    if v >= V2_70 {
        a["tag"] = json!(b.tag);
    }
    if v >= V2_79 {
        a["delete_on_termination"] = json!(b.delete_on_termination);
    }
    if v >= V2_89 && !created {
        a["attachment_id"] = json!(b.attachment_id);
        a["bdm_uuid"] = json!(b.id);
    }
    a
}

fn read_attach(body: &Value, v: ApiVersion) -> ApiResult<AttachVolume> {
    let a = body.get("volumeAttachment").and_then(Value::as_object).ok_or_else(|| {
        bad("Invalid input for field/attribute volumeAttachment. 'volumeAttachment' is a required property")
    })?;
    let mut allowed = vec!["volumeId", "device"];
    if v >= V2_49 {
        allowed.push("tag");
    }
    if v >= V2_79 {
        allowed.push("delete_on_termination");
    }
    if let Some(k) = a.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field/attribute volumeAttachment. Value: {}. Additional properties are not allowed ('{k}' was unexpected)",
            Value::Object(a.clone())
        )));
    }
    let string = |k: &str, a: &Map<String, Value>| -> ApiResult<Option<String>> {
        match a.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(bad(format!(
                "Invalid input for field/attribute {k}. Value: {other}. {other} is not of type 'string'"
            ))),
        }
    };
    let volume_id = string("volumeId", a)?
        .ok_or_else(|| bad("Invalid input for field/attribute volumeAttachment. 'volumeId' is a required property"))?;
    if uuid::Uuid::parse_str(&volume_id).is_err() {
        return Err(bad(format!(
            "Invalid input for field/attribute volumeId. Value: {volume_id}. '{volume_id}' is not a 'uuid'"
        )));
    }
    let tag = string("tag", a)?;
    if tag.as_ref().is_some_and(|t| t.chars().count() > 60 || t.contains(['/', ','])) {
        return Err(bad("Invalid input for field/attribute tag. Value: too long or with '/' or ','."));
    }
    let delete_on_termination = match a.get("delete_on_termination") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(bad(format!(
            "Invalid input for field/attribute delete_on_termination. Value: {other}. {other} is not of type 'boolean'"
        )))
        }
    };
    Ok(AttachVolume { volume_id, device: string("device", a)?, tag, delete_on_termination })
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let all = c.volume_attachments(&ctx, &id).await?;
    Ok(Json(json!({"volumeAttachments": all.iter().map(|b| view(b, v, false)).collect::<Vec<_>>()})))
}

pub async fn show(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path((id, volume)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let b = c.volume_attachment(&ctx, &id, &volume).await?;
    Ok(Json(json!({"volumeAttachment": view(&b, v, false)})))
}

pub async fn create(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let req = read_attach(&body, v)?;
    let b = c.attach_volume(&ctx, &id, req).await?;
    Ok(Json(json!({"volumeAttachment": view(&b, v, true)})))
}

/// `PUT`: swapping one volume for another (an admin's migration tool) and
/// changing an attachment are not served.
pub async fn update(
    c: Shared,
    Caller(ctx): Caller,
    Path((id, volume)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    c.volume_attachment(&ctx, &id, &volume).await?;
    Err(NovaFault(oxistack_core::Error::NotImplemented(
        "Swapping or updating a volume attachment is not served.".into(),
    )))
}

pub async fn delete(
    c: Shared,
    Caller(ctx): Caller,
    Path((id, volume)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    c.detach_volume(&ctx, &id, &volume).await?;
    Ok(StatusCode::ACCEPTED)
}
