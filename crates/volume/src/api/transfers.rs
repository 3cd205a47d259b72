//! Volume transfers: `/os-volume-transfer`, and from 3.55 `/volume-transfers`
//! (`NEW`), which takes `no_snapshots`; from 3.57 the detail shows both
//! projects and whether it was accepted.

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{bad, base, boolean, text, ApiResult, Body, Caller, CinderFault, Shared};
use crate::microversion::*;
use crate::store::TransferRow;
use crate::transfers::CreateTransfer;
use crate::views::Base;
use oxistack_core::error::Error;

fn collection<const NEW: bool>() -> &'static str {
    if NEW {
        "volume-transfers"
    } else {
        "os-volume-transfer"
    }
}

/// `/volume-transfers` is 3.55's: before, it is not there.
fn served<const NEW: bool>(v: ApiVersion) -> ApiResult<()> {
    if NEW && v < V3_55 {
        return Err(CinderFault(Error::NotFound("The resource could not be found.".into())));
    }
    Ok(())
}

fn summary<const NEW: bool>(b: &Base, t: &TransferRow) -> Value {
    json!({"id": t.id, "name": t.name, "volume_id": t.volume_id, "links": b.links(collection::<NEW>(), &t.id)})
}

fn detail_view<const NEW: bool>(b: &Base, t: &TransferRow, v: ApiVersion) -> Value {
    let mut view = summary::<NEW>(b, t);
    view["created_at"] = json!(t.created_at);
    if v >= V3_55 {
        view["no_snapshots"] = json!(t.no_snapshots);
    }
    if v >= V3_57 {
        view["source_project_id"] = json!(t.source_project_id);
        view["destination_project_id"] = json!(t.destination_project_id);
        view["accepted"] = json!(t.accepted);
    }
    view
}

pub async fn create<const NEW: bool>(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Body(body): Body,
) -> ApiResult<Response> {
    served::<NEW>(v)?;
    let read = || -> ApiResult<CreateTransfer> {
        let t =
            body.get("transfer").and_then(Value::as_object).ok_or_else(|| bad("'transfer' is a required property"))?;
        let volume_id = text(t, "volume_id")?
            .ok_or_else(|| bad("Invalid input for field/attribute transfer. 'volume_id' is a required property"))?;
        let no_snapshots = match t.get("no_snapshots") {
            Some(flag) if NEW => {
                boolean(flag).ok_or_else(|| bad(format!("Invalid value '{flag}' for no_snapshots.")))?
            }
            _ => false,
        };
        Ok(CreateTransfer { volume_id, name: text(t, "name")?, no_snapshots })
    };
    let (t, key) = c.create_transfer(&ctx, read().map_err(|e| e.0)).await?;
    let mut view = detail_view::<NEW>(&base(&c, &ctx), &t, v);
    view["auth_key"] = json!(key);
    Ok((StatusCode::ACCEPTED, Json(json!({ "transfer": view }))).into_response())
}

async fn listing<const NEW: bool>(
    c: Shared,
    ctx: oxistack_core::Context,
    v: ApiVersion,
    q: Option<String>,
    detail: bool,
) -> ApiResult<Json<Value>> {
    served::<NEW>(v)?;
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).map_err(|e| bad(format!("Invalid query: {e}")))?;
    let all = params.iter().any(|(k, val)| k == "all_tenants" && boolean(&Value::from(val.as_str())) == Some(true));
    let b = base(&c, &ctx);
    let rows = c.transfers(&ctx, all).await?;
    let items: Vec<Value> =
        rows.iter().map(|t| if detail { detail_view::<NEW>(&b, t, v) } else { summary::<NEW>(&b, t) }).collect();
    Ok(Json(json!({ "transfers": items })))
}

pub async fn list<const NEW: bool>(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    listing::<NEW>(c, ctx, v, q, false).await
}

pub async fn detail<const NEW: bool>(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    listing::<NEW>(c, ctx, v, q, true).await
}

pub async fn show<const NEW: bool>(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    served::<NEW>(v)?;
    let t = c.transfer(&ctx, &id).await?;
    Ok(Json(json!({ "transfer": detail_view::<NEW>(&base(&c, &ctx), &t, v) })))
}

pub async fn delete<const NEW: bool>(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    served::<NEW>(v)?;
    c.delete_transfer(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn accept<const NEW: bool>(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    served::<NEW>(v)?;
    let key = body
        .get("accept")
        .and_then(|a| a.get("auth_key"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Invalid input for field/attribute accept. 'auth_key' is a required property"))?
        .to_owned();
    let t = c.accept_transfer(&ctx, &id, &key).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "transfer": summary::<NEW>(&base(&c, &ctx), &t) }))).into_response())
}
