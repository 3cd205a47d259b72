//! Nova's security-group proxy: `os-security-groups` and
//! `os-security-group-rules` below 2.36, and a server's groups (its list and
//! the `addSecurityGroup`/`removeSecurityGroup` actions) at every version,
//! answered from the Network service with the caller's own rights, in
//! Nova's shapes (`ip_protocol`, `from_port`, `ip_range`, ingress rules only).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;
use oxistack_network::NeutronError;

use super::{bad, ApiResult, Body, Caller, NovaFault, Shared};
use crate::microversion::{ApiVersion, V2_36};

/// A Network error as Nova passes it on: its message, Nova's status (a
/// conflict such as deleting `default` is Nova's 400).
fn from_network(e: NeutronError) -> NovaFault {
    let message = e.message.clone();
    NovaFault(match e.status.as_u16() {
        404 => Error::NotFound(message),
        403 => Error::Forbidden(message),
        _ => Error::BadRequest(message),
    })
}

/// The proxy of groups and rules ended at 2.36.
fn proxied(v: ApiVersion) -> ApiResult<()> {
    Ok(v.require_before(V2_36)?)
}

/// A Neutron rule in Nova's shape.
fn rule_view(r: &Value, names: &Map<String, Value>) -> Value {
    let protocol = r["protocol"].as_str();
    let (from, to) = match (protocol, r["port_range_min"].as_i64(), r["port_range_max"].as_i64()) {
        (Some(p), None, None) if matches!(p.to_ascii_lowercase().as_str(), "tcp" | "udp") => (json!(1), json!(65535)),
        (Some(_), None, None) => (json!(-1), json!(-1)),
        (_, lo, hi) => (json!(lo), json!(hi)),
    };
    let (group, range) = match r["remote_group_id"].as_str() {
        Some(g) => {
            (json!({"name": names.get(g).cloned().unwrap_or(Value::Null), "tenant_id": r["project_id"]}), json!({}))
        }
        None => {
            let cidr = r["remote_ip_prefix"].as_str().map(String::from).unwrap_or_else(|| {
                if r["ethertype"] == "IPv6" {
                    "::/0".into()
                } else {
                    "0.0.0.0/0".into()
                }
            });
            (json!({}), json!({"cidr": cidr}))
        }
    };
    json!({"id": r["id"], "parent_group_id": r["security_group_id"], "ip_protocol": protocol,
           "from_port": from, "to_port": to, "group": group, "ip_range": range})
}

/// A Neutron group in Nova's shape, with its ingress rules.
fn group_view(g: &Value, names: &Map<String, Value>) -> Value {
    let rules: Vec<Value> = g["security_group_rules"]
        .as_array()
        .map(|rs| rs.iter().filter(|r| r["direction"] == "ingress").map(|r| rule_view(r, names)).collect())
        .unwrap_or_default();
    json!({"id": g["id"], "name": g["name"], "description": g["description"], "tenant_id": g["project_id"],
           "rules": rules})
}

async fn groups(c: &crate::Compute, ctx: &oxistack_core::Context) -> ApiResult<Vec<Value>> {
    c.network.list_security_groups(ctx).await.map_err(from_network)
}

fn names_of(all: &[Value]) -> Map<String, Value> {
    all.iter().filter_map(|g| Some((g["id"].as_str()?.to_owned(), g["name"].clone()))).collect()
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    proxied(v)?;
    let all = groups(&c, &ctx).await?;
    let names = names_of(&all);
    Ok(Json(json!({"security_groups": all.iter().map(|g| group_view(g, &names)).collect::<Vec<_>>()})))
}

pub async fn show(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    proxied(v)?;
    let g = c.network.show_security_group(&ctx, &id).await.map_err(from_network)?;
    let names = names_of(&groups(&c, &ctx).await?);
    Ok(Json(json!({"security_group": group_view(&g, &names)})))
}

/// The `{"security_group": {"name", "description"}}` of a create or update.
fn group_body(body: &Value) -> ApiResult<Map<String, Value>> {
    let g = body
        .get("security_group")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute security_group."))?;
    let mut out = Map::new();
    for key in ["name", "description"] {
        match g.get(key) {
            Some(Value::String(s)) if s.chars().count() <= 255 => {
                out.insert(key.into(), json!(s));
            }
            Some(_) => return Err(bad(format!("Invalid input for field/attribute {key}."))),
            None => return Err(bad(format!("Security group {key} is required."))),
        }
    }
    Ok(out)
}

pub async fn create(c: Shared, Caller(ctx): Caller, v: ApiVersion, Body(body): Body) -> ApiResult<Json<Value>> {
    proxied(v)?;
    let g = c.network.create_security_group(&ctx, &group_body(&body)?).await.map_err(from_network)?;
    Ok(Json(json!({"security_group": group_view(&g, &Map::new())})))
}

pub async fn update(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    proxied(v)?;
    let g = c.network.update_security_group(&ctx, &id, &group_body(&body)?).await.map_err(from_network)?;
    Ok(Json(json!({"security_group": group_view(&g, &Map::new())})))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<StatusCode> {
    proxied(v)?;
    let g = c.network.show_security_group(&ctx, &id).await.map_err(from_network)?;
    if g["name"] == "default" {
        return Err(bad("Unable to delete system group 'default'"));
    }
    c.network.delete_security_group(&ctx, &id).await.map_err(from_network)?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /os-security-group-rules`: Nova's rule, made an ingress rule.
pub async fn create_rule(c: Shared, Caller(ctx): Caller, v: ApiVersion, Body(body): Body) -> ApiResult<Json<Value>> {
    proxied(v)?;
    let r = body
        .get("security_group_rule")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute security_group_rule."))?;
    let parent = r.get("parent_group_id").and_then(Value::as_str).ok_or_else(|| bad("Missing parent_group_id."))?;
    let port = |k: &str| -> ApiResult<Option<i64>> {
        match r.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(p) => p
                .as_i64()
                .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
                .filter(|n| (-1..=65535).contains(n))
                .map(|n| (n >= 0).then_some(n))
                .ok_or_else(|| bad(format!("Invalid port range {p}."))),
        }
    };
    let protocol = r.get("ip_protocol").and_then(Value::as_str).map(str::to_ascii_lowercase);
    let cidr = r.get("cidr").and_then(Value::as_str);
    let group = r.get("group_id").and_then(Value::as_str);
    let mut rule = Map::new();
    rule.insert("security_group_id".into(), json!(parent));
    rule.insert("direction".into(), json!("ingress"));
    rule.insert("ethertype".into(), json!(if cidr.is_some_and(|c| c.contains(':')) { "IPv6" } else { "IPv4" }));
    rule.insert("protocol".into(), json!(protocol));
    rule.insert("port_range_min".into(), json!(port("from_port")?));
    rule.insert("port_range_max".into(), json!(port("to_port")?));
    match (group, cidr) {
        (Some(g), _) => rule.insert("remote_group_id".into(), json!(g)),
        (None, c) => rule.insert("remote_ip_prefix".into(), json!(c.unwrap_or("0.0.0.0/0"))),
    };
    let made = c.network.create_rule(&ctx, &rule).await.map_err(from_network)?;
    let names = names_of(&groups(&c, &ctx).await?);
    Ok(Json(json!({"security_group_rule": rule_view(&made, &names)})))
}

pub async fn delete_rule(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    proxied(v)?;
    c.network.delete_rule(&ctx, &id).await.map_err(from_network)?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /servers/{id}/os-security-groups`: the groups of its ports.
pub async fn of_server(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let ports = c.interfaces(&ctx, &id).await?;
    let all = groups(&c, &ctx).await?;
    let names = names_of(&all);
    // Only asked whether it holds a group: each group is listed once.
    let ids: Vec<&str> = ports
        .iter()
        .flat_map(|p| p["security_groups"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let views: Vec<Value> = all
        .iter()
        .filter(|g| g["id"].as_str().is_some_and(|i| ids.contains(&i)))
        .map(|g| group_view(g, &names))
        .collect();
    Ok(Json(json!({"security_groups": views})))
}

/// `addSecurityGroup` and `removeSecurityGroup`: the group, by name or id,
/// on every port of the server.
pub async fn change_server_groups(
    c: &crate::Compute,
    ctx: &oxistack_core::Context,
    id: &str,
    args: &Value,
    add: bool,
) -> ApiResult<()> {
    let inst = c.instance_to_change(ctx, id).await?;
    let wanted = args.get("name").and_then(Value::as_str).ok_or_else(|| bad("Missing parameter name"))?;
    let group = c.network.find_security_group(&inst.project_id, wanted).await.map_err(|_| {
        NovaFault(Error::NotFound(format!("Security group {wanted} not found for project {}.", inst.project_id)))
    })?;
    let ports = c.interfaces(ctx, id).await?;
    if ports.is_empty() {
        return Err(bad(format!("Security group {wanted} cannot be used: the server has no ports.")));
    }
    for p in &ports {
        let mut current: Vec<String> = serde_json::from_value(p["security_groups"].clone()).unwrap_or_default();
        let has = current.contains(&group);
        match (add, has) {
            (true, true) => {
                return Err(bad(format!("Security group {wanted} is already associated with the instance {id}")))
            }
            (false, false) => {
                return Err(bad(format!("Security group {wanted} not associated with the instance {id}")))
            }
            (true, false) => current.push(group.clone()),
            (false, true) => current.retain(|g| *g != group),
        }
        let port_id = p["id"].as_str().unwrap_or_default();
        let mut body = Map::new();
        body.insert("security_groups".into(), json!(current));
        c.network.update_port(ctx, port_id, &body).await.map_err(from_network)?;
    }
    crate::network::refresh(&c.network, &c.pool, id).await?;
    Ok(())
}
