//! `/servers/{id}/os-instance-actions`: what was done to a server and how it ended.

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;

use super::{ApiResult, Caller, NovaFault, Shared};
use crate::actions::{self, ActionRow};
use crate::microversion::{ApiVersion, V2_21, V2_51, V2_58, V2_62, V2_84};
use crate::store;

/// The server, also once deleted from 2.21 on.
async fn server(
    c: &crate::Compute,
    ctx: &oxistack_core::Context,
    id: &str,
    v: ApiVersion,
) -> ApiResult<store::Instance> {
    let found = if v >= V2_21 { c.instance_any(ctx, id).await } else { c.instance(ctx, id).await };
    found.map_err(NovaFault)
}

fn view(a: &ActionRow, v: ApiVersion) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("action".into(), json!(a.action));
    m.insert("instance_uuid".into(), json!(a.instance_id));
    m.insert("message".into(), json!(a.message));
    m.insert("project_id".into(), json!(a.project_id));
    m.insert("request_id".into(), json!(a.request_id));
    m.insert("start_time".into(), json!(a.start_time));
    m.insert("user_id".into(), json!(a.user_id));
    if v >= V2_58 {
        m.insert("updated_at".into(), json!(a.updated_at));
    }
    m
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    server(&c, &ctx, &id, v).await?;
    let rows: Vec<Value> = actions::list(&c.pool, &id).await?.iter().map(|a| Value::Object(view(a, v))).collect();
    Ok(Json(json!({"instanceActions": rows})))
}

pub async fn show(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path((id, request_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let inst = server(&c, &ctx, &id, v).await?;
    let action = actions::list(&c.pool, &id)
        .await?
        .into_iter()
        .find(|a| a.request_id == request_id)
        .ok_or_else(|| NovaFault(Error::NotFound(format!("Action {request_id} could not be found."))))?;
    let mut body = view(&action, v);
    // Before 2.51 only admins see events; from 2.51 everyone does, without tracebacks.
    if ctx.is_admin() || v >= V2_51 {
        let events: Vec<Value> = actions::events(&c.pool, action.id)
            .await?
            .into_iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("event".into(), json!(e.event));
                m.insert("start_time".into(), json!(e.start_time));
                m.insert("finish_time".into(), json!(e.finish_time));
                m.insert("result".into(), json!(e.result));
                if ctx.is_admin() {
                    m.insert("traceback".into(), json!(e.traceback));
                }
                if v >= V2_62 {
                    if ctx.is_admin() {
                        m.insert("host".into(), json!(e.host));
                    }
                    m.insert("hostId".into(), json!(crate::views::host_id(&inst.project_id, e.host.as_deref())));
                }
                if v >= V2_84 && ctx.is_admin() {
                    m.insert("details".into(), json!(e.traceback.as_ref().map(|_| "The operation failed.")));
                }
                Value::Object(m)
            })
            .collect();
        body.insert("events".into(), json!(events));
    }
    Ok(Json(json!({"instanceAction": body})))
}
