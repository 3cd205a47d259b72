//! `/os-server-groups`

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use super::{bad, ApiResult, Body, Caller, Params, Shared};
use crate::microversion::{ApiVersion, V2_13, V2_64};
use crate::server_groups::{self, Group};

async fn view(c: &crate::Compute, g: &Group, v: ApiVersion) -> ApiResult<Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(g.id));
    m.insert("name".into(), json!(g.name));
    // 2.64: one policy and its rules, instead of a list of policies and metadata.
    if v >= V2_64 {
        m.insert("policy".into(), json!(g.policy));
        m.insert("rules".into(), json!(g.rules));
    } else {
        m.insert("policies".into(), json!([g.policy]));
        m.insert("metadata".into(), json!({}));
    }
    m.insert("members".into(), json!(server_groups::members(&c.pool, &g.id).await?));
    if v >= V2_13 {
        m.insert("project_id".into(), json!(g.project_id));
        m.insert("user_id".into(), json!(g.user_id));
    }
    Ok(Value::Object(m))
}

pub async fn create(c: Shared, Caller(ctx): Caller, v: ApiVersion, Body(body): Body) -> ApiResult<Json<Value>> {
    let g = body
        .get("server_group")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute server_group."))?;
    let name = g
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty() && n.len() <= 255)
        .ok_or_else(|| bad("Invalid input for field/attribute name."))?;
    let (policy, rules) = if v >= V2_64 {
        let p = g
            .get("policy")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("Invalid input for field/attribute server_group. 'policy' is a required property"))?;
        (p.to_owned(), g.get("rules").cloned().unwrap_or(json!({})))
    } else {
        let ps: Vec<String> = serde_json::from_value(g.get("policies").cloned().unwrap_or(Value::Null))
            .map_err(|_| bad("Invalid input for field/attribute policies."))?;
        if ps.len() != 1 {
            return Err(bad("Invalid input for field/attribute policies: exactly one policy is required."));
        }
        (ps[0].clone(), json!({}))
    };
    let group = server_groups::create(&c.pool, &ctx, name, &policy, rules).await?;
    Ok(Json(json!({"server_group": view(&c, &group, v).await?})))
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion, params: Params) -> ApiResult<Json<Value>> {
    let all =
        ctx.is_admin() && params.get("all_projects").is_some_and(|a| !matches!(a.as_str(), "0" | "false" | "False"));
    let project = if all { None } else { Some(ctx.project_id().unwrap_or_default()) };
    let mut out = vec![];
    for g in server_groups::list(&c.pool, project).await? {
        out.push(view(&c, &g, v).await?);
    }
    Ok(Json(json!({"server_groups": out})))
}

pub async fn show(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let g = server_groups::find(&c.pool, &ctx, &id).await?;
    Ok(Json(json!({"server_group": view(&c, &g, v).await?})))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    server_groups::delete(&c.pool, &ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
