//! `/servers`: create, list (with filters, sorting, pagination), show, update,
//! delete.

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use serde_json::{json, Map, Value};

use oxistack_core::context::Context;

use super::{bad, base, ApiResult, Body, Caller, NovaFault, Shared};
use crate::boot::CreateServer;
use crate::listing::ServerQuery;
use crate::microversion::*;
use crate::network::{Requested, RequestedNetwork};
use crate::store::{Instance, InstanceOrder};
use crate::views;

/// Fields of `server` on create, and the microversion each appeared in.
const CREATE_FIELDS: &[(&str, ApiVersion)] = &[
    ("name", MIN),
    ("imageRef", MIN),
    ("flavorRef", MIN),
    ("key_name", MIN),
    ("user_data", MIN),
    ("metadata", MIN),
    ("availability_zone", MIN),
    ("min_count", MIN),
    ("max_count", MIN),
    ("return_reservation_id", MIN),
    ("networks", MIN),
    ("security_groups", MIN),
    ("block_device_mapping_v2", MIN),
    ("block_device_mapping", MIN),
    ("config_drive", MIN),
    ("adminPass", MIN),
    ("accessIPv4", MIN),
    ("accessIPv6", MIN),
    ("OS-DCF:diskConfig", MIN),
    ("personality", MIN),
    ("description", V2_19),
    ("tags", V2_52),
    ("trusted_image_certificates", V2_63),
    ("host", V2_74),
    ("hypervisor_hostname", V2_74),
    ("hostname", V2_90),
];

fn str_field(s: &Map<String, Value>, k: &str) -> ApiResult<Option<String>> {
    match s.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(x)) => Ok(Some(x.clone())),
        Some(other) => {
            Err(bad(format!("Invalid input for field/attribute {k}. Value: {other}. {other} is not of type 'string'")))
        }
    }
}

/// `accessIPv4`/`accessIPv6`: an address of that family, or empty.
fn access_ip(s: &Map<String, Value>, k: &str) -> ApiResult<Option<String>> {
    let Some(ip) = str_field(s, k)? else { return Ok(None) };
    let valid = ip.is_empty()
        || match k {
            "accessIPv4" => ip.parse::<std::net::Ipv4Addr>().is_ok(),
            _ => ip.parse::<std::net::Ipv6Addr>().is_ok(),
        };
    if !valid {
        let family = if k == "accessIPv4" { "ipv4" } else { "ipv6" };
        return Err(bad(format!("Invalid input for field/attribute {k}. Value: {ip}. '{ip}' is not a '{family}'")));
    }
    Ok(Some(ip))
}

fn count_field(s: &Map<String, Value>, k: &str) -> ApiResult<Option<i64>> {
    match s.get(k) {
        None => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n >= 1) => Ok(n.as_i64()),
        Some(Value::String(x)) if x.parse::<i64>().is_ok_and(|n| n >= 1) => Ok(x.parse().ok()),
        Some(other) => Err(bad(format!(
            "Invalid input for field/attribute {k}. Value: {other}. {other} is less than the minimum of 1"
        ))),
    }
}

/// `networks`: "auto", "none", or a list of `{uuid, fixed_ip, port}`.
fn networks_field(v: Option<&Value>) -> ApiResult<Requested> {
    let invalid = |what: &str| bad(format!("Invalid input for field/attribute networks. {what}"));
    match v {
        None | Some(Value::Null) => Ok(Requested::Auto),
        Some(Value::String(s)) if s == "auto" => Ok(Requested::Auto),
        Some(Value::String(s)) if s == "none" => Ok(Requested::None),
        Some(Value::Array(list)) => list
            .iter()
            .map(|n| {
                let o = n.as_object().ok_or_else(|| invalid("Each network must be an object."))?;
                for k in o.keys() {
                    if !["uuid", "fixed_ip", "port", "tag"].contains(&k.as_str()) {
                        return Err(invalid(&format!("Additional properties are not allowed ('{k}' was unexpected)")));
                    }
                }
                let field = |k: &str| o.get(k).and_then(Value::as_str).map(String::from);
                let r = RequestedNetwork { network: field("uuid"), fixed_ip: field("fixed_ip"), port: field("port") };
                if r.network.is_none() && r.port.is_none() {
                    return Err(invalid("A network needs a uuid or a port."));
                }
                Ok(r)
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Requested::List),
        Some(other) => Err(invalid(&format!("Value: {other}."))),
    }
}

/// `security_groups`: `[{"name": name or id}]`.
fn security_groups_field(v: Option<&Value>) -> ApiResult<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(list)) => list
            .iter()
            .map(|g| {
                g.get("name")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .ok_or_else(|| bad("Invalid input for field/attribute security_groups. Each needs a name."))
            })
            .collect(),
        Some(other) => Err(bad(format!("Invalid input for field/attribute security_groups. Value: {other}."))),
    }
}

/// Reads `{"server": {...}}` as the requested microversion defines it.
fn parse_create(body: &Value, v: ApiVersion) -> ApiResult<(CreateServer, bool)> {
    let s = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute server."))?;
    for k in s.keys() {
        // 2.57 removed personality files.
        let removed = k == "personality" && v >= V2_57;
        match CREATE_FIELDS.iter().find(|(name, _)| name == k) {
            Some((_, since)) if v >= *since && !removed => {}
            _ => return Err(bad(format!("Invalid input for field/attribute server. Additional properties are not allowed ('{k}' was unexpected)"))),
        }
    }
    let name = str_field(s, "name")?
        .ok_or_else(|| bad("Invalid input for field/attribute server. 'name' is a required property"))?;
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(bad(
            "Invalid input for field/attribute name. Value: must be 1 to 255 characters, not only spaces.",
        ));
    }
    // 2.37: networks must be given.
    if v >= V2_37 && !s.contains_key("networks") {
        return Err(bad("Invalid input for field/attribute server. 'networks' is a required property"));
    }
    let mappings = super::block_devices::parse(s, v)?;
    let (block_devices, local_disks) = (mappings.volumes, mappings.local);
    let image_ref = match str_field(s, "imageRef")?.filter(|i| !i.is_empty()) {
        Some(i) => i.rsplit('/').next().unwrap_or_default().to_owned(),
        None => mappings.image.unwrap_or_default(),
    };
    // Without an image, the server boots from its volume of boot index 0.
    if image_ref.is_empty() && !block_devices.iter().any(|d| d.is_root()) {
        return Err(if s.contains_key("imageRef") || !block_devices.is_empty() {
            bad("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.")
        } else {
            bad("Invalid input for field/attribute server. 'imageRef' is a required property")
        });
    }
    let flavor_ref = str_field(s, "flavorRef")?
        .or_else(|| s.get("flavorRef").and_then(Value::as_i64).map(|n| n.to_string()))
        .ok_or_else(|| bad("Invalid input for field/attribute server. 'flavorRef' is a required property"))?;
    let flavor_ref = flavor_ref.rsplit('/').next().unwrap_or_default().to_owned();
    let user_data = str_field(s, "user_data")?;
    if let Some(u) = &user_data {
        if u.len() > 65535 || base64::engine::general_purpose::STANDARD.decode(u).is_err() {
            return Err(bad("User data needs to be valid base 64."));
        }
    }
    let metadata = match s.get("metadata") {
        None => Map::new(),
        Some(Value::Object(m)) if m.values().all(Value::is_string) => m.clone(),
        Some(_) => return Err(bad("Invalid input for field/attribute metadata: values must be strings.")),
    };
    let min_count = count_field(s, "min_count")?.unwrap_or(1);
    let max_count = count_field(s, "max_count")?.unwrap_or(min_count);
    if min_count > max_count {
        return Err(bad("min_count must be <= max_count"));
    }
    let tags: Vec<String> = match s.get("tags") {
        None => vec![],
        Some(t) => serde_json::from_value(t.clone()).map_err(|_| bad("Invalid input for field/attribute tags."))?,
    };
    let config_drive = match s.get("config_drive") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(x)) => matches!(x.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        Some(other) => return Err(bad(format!("Invalid input for field/attribute config_drive. Value: {other}."))),
    };
    let return_reservation_id = s.get("return_reservation_id").and_then(Value::as_bool).unwrap_or(false);
    let hints = body.get("OS-SCH-HNT:scheduler_hints").or_else(|| body.get("os:scheduler_hints"));
    let group = match hints.and_then(|h| h.get("group")) {
        None | Some(Value::Null) => None,
        Some(Value::String(g)) => Some(g.clone()),
        Some(other) => return Err(bad(format!("Invalid input for field/attribute group. Value: {other}."))),
    };
    Ok((
        CreateServer {
            name,
            image_ref,
            flavor_ref,
            key_name: str_field(s, "key_name")?,
            user_data,
            metadata,
            availability_zone: str_field(s, "availability_zone")?,
            min_count,
            max_count,
            description: str_field(s, "description")?,
            tags,
            config_drive,
            hostname: str_field(s, "hostname")?,
            group,
            networks: networks_field(s.get("networks"))?,
            security_groups: security_groups_field(s.get("security_groups"))?,
            block_devices,
            local_disks,
            access_ipv4: access_ip(s, "accessIPv4")?.unwrap_or_default(),
            access_ipv6: access_ip(s, "accessIPv6")?.unwrap_or_default(),
            admin_pass: str_field(s, "adminPass")?.unwrap_or_else(super::generated_password),
        },
        return_reservation_id,
    ))
}

pub async fn create(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (req, return_reservation_id) = parse_create(&body, v)?;
    let groups: Vec<Value> = if req.security_groups.is_empty() {
        vec![json!({"name": "default"})]
    } else {
        req.security_groups.iter().map(|g| json!({ "name": g })).collect()
    };
    let admin_pass = req.admin_pass.clone();
    let created = c.create_servers(&ctx, req).await?;
    if return_reservation_id {
        return Ok((StatusCode::ACCEPTED, Json(json!({"reservation_id": created[0].reservation_id}))));
    }
    let first = &created[0];
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"server": {
            "id": first.id,
            "links": views::links(&base(&c), "servers", &first.id),
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": groups,
            "adminPass": admin_pass,
        }})),
    ))
}

/// A bounded pattern: a hostile one may not take the server's memory.
fn pattern(key: &str, p: &str) -> ApiResult<regex_lite::Regex> {
    regex_lite::RegexBuilder::new(p)
        .size_limit(1 << 20)
        .nest_limit(64)
        .build()
        .map_err(|_| bad(format!("Invalid regular expression for {key}: {p}")))
}

/// A list call's query as the service takes it.
fn parse_list(params: &[(String, String)]) -> ApiResult<ServerQuery> {
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let pattern_of = |k: &str| get(k).map(|p| pattern(k, p)).transpose();
    Ok(ServerQuery {
        all_tenants: get("all_tenants")
            .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "off")),
        project: get("project_id").or(get("tenant_id")).map(String::from),
        name: pattern_of("name")?,
        // `ip` and `ip6`: patterns on the fixed addresses, for everyone;
        // `access_ip_v4`/`access_ip_v6`: exact, for admins (Nova's filters).
        ip: pattern_of("ip")?,
        ip6: pattern_of("ip6")?,
        access_ipv4: get("access_ip_v4").map(String::from),
        access_ipv6: get("access_ip_v6").map(String::from),
        statuses: params.iter().filter(|(k, _)| k == "status").map(|(_, v)| v.to_ascii_uppercase()).collect(),
        image: get("image").map(String::from),
        flavor: get("flavor").map(String::from),
        reservation_id: get("reservation_id").map(String::from),
        tags: get("tags").map(|t| t.split(',').map(String::from).collect()).unwrap_or_default(),
        // changes-since also lists the servers deleted since then, as DELETED.
        changes_since: match get("changes-since") {
            Some(t) => Some(
                chrono::DateTime::parse_from_rfc3339(&t.replace(' ', "+"))
                    .map_err(|_| bad(format!("Invalid input for query parameters changes-since. Value: {t}.")))?,
            ),
            None => None,
        },
        order: match get("sort_key").unwrap_or("created_at") {
            "display_name" | "name" => InstanceOrder::Name,
            "updated_at" => InstanceOrder::UpdatedAt,
            "vm_state" => InstanceOrder::VmState,
            "uuid" => InstanceOrder::Id,
            _ => InstanceOrder::CreatedAt,
        },
        ascending: get("sort_dir") == Some("asc"),
        marker: get("marker").map(String::from),
        limit: match get("limit") {
            Some(l) => Some(l.parse::<usize>().map_err(|_| bad("Invalid input for query parameters limit."))?),
            None => None,
        },
    })
}

/// The servers a list call shows, filtered, sorted and cut to one page, the
/// marker of the next page when there is one, and the query's parameters.
async fn select(
    c: &crate::Compute,
    ctx: &Context,
    query: Option<String>,
) -> ApiResult<(Vec<Instance>, Option<String>, Vec<(String, String)>)> {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).map_err(|e| bad(format!("Invalid query: {e}")))?;
    let (rows, next) = c.list_servers(ctx, &parse_list(&params)?).await?;
    Ok((rows, next, params))
}

/// A page of a server list, written as it is serialized.
#[derive(serde::Serialize)]
pub struct ServerPage<T> {
    servers: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    servers_links: Option<Value>,
}

fn page<T>(
    servers: Vec<T>,
    c: &crate::Compute,
    path: &str,
    next: Option<String>,
    params: Vec<(String, String)>,
) -> Json<ServerPage<T>> {
    let servers_links = next.map(|marker| super::next_link(c, path, params, marker));
    Json(ServerPage { servers, servers_links })
}

pub async fn list(c: Shared, Caller(ctx): Caller, RawQuery(q): RawQuery) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (rows, next, params) = select(&c, &ctx, q).await?;
    let b = base(&c);
    let servers = rows.iter().map(|i| views::server_brief(&b, i)).collect();
    Ok(page(servers, &c, "servers", next, params).into_response())
}

pub async fn detail(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    RawQuery(q): RawQuery,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (rows, next, params) = select(&c, &ctx, q).await?;
    let b = base(&c);
    let ids: Vec<&str> = rows.iter().map(|i| i.id.as_str()).collect();
    let volumes = c.volumes_of(&ids).await?;
    let attached: Vec<Vec<_>> =
        rows.iter().map(|i| volumes.iter().filter(|b| b.instance_uuid == i.id).cloned().collect()).collect();
    let servers = rows
        .iter()
        .zip(&attached)
        .map(|(instance, volumes)| views::ServerView { base: &b, instance, version: v, ctx: &ctx, volumes })
        .collect();
    Ok(page(servers, &c, "servers/detail", next, params).into_response())
}

pub async fn show(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let i = c.instance(&ctx, &id).await?;
    let volumes = c.volumes_of(&[i.id.as_str()]).await?;
    let mut server = views::server(&base(&c), &i, v, &ctx, &volumes);
    // 2.71: the server's groups, in show only.
    if v >= V2_71 {
        server["server_groups"] = json!(crate::server_groups::of_instance(&c.pool, &id).await?);
    }
    Ok(Json(json!({"server": server})))
}

/// Nova's server name: 1 to 255 characters, not only spaces.
pub fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= 255
}

pub async fn update(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let s = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute server."))?;
    let inst = c.instance_to_change(&ctx, &id).await?;
    let mut name = inst.name.clone();
    let mut description = inst.description.clone();
    let mut hostname = inst.hostname.clone();
    let (mut access_ipv4, mut access_ipv6) = (inst.access_ipv4.clone(), inst.access_ipv6.clone());
    for (k, val) in s {
        match k.as_str() {
            "name" => name = str_field(s, "name")?.filter(|n| valid_name(n)).ok_or_else(|| bad("Invalid input for field/attribute name."))?,
            "description" if v >= V2_19 => description = str_field(s, "description")?,
            "hostname" if v >= V2_90 => hostname = str_field(s, "hostname")?.ok_or_else(|| bad("Invalid input for field/attribute hostname."))?,
            "accessIPv4" => access_ipv4 = access_ip(s, k)?.unwrap_or_default(),
            "accessIPv6" => access_ipv6 = access_ip(s, k)?.unwrap_or_default(),
            "OS-DCF:diskConfig" => {}
            other => return Err(bad(format!("Invalid input for field/attribute server. Additional properties are not allowed ('{other}' was unexpected) {val}"))),
        }
    }
    let change = crate::store::Descriptive {
        name: &name,
        description: description.as_deref(),
        hostname: &hostname,
        access_ipv4: &access_ipv4,
        access_ipv6: &access_ipv6,
    };
    c.describe_server(&id, &change).await?;
    let i = c.instance(&ctx, &id).await?;
    let volumes = c.volumes_of(&[i.id.as_str()]).await?;
    Ok(Json(json!({"server": views::server_after_change(&base(&c), &i, v, &ctx, &volumes)})))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    c.delete(&ctx, &id).await.map_err(NovaFault)?;
    Ok(StatusCode::NO_CONTENT)
}
