//! The Network HTTP API (Neutron v2.0). Every collection is served by the
//! same handlers over [`Resource`]: filters on any attribute, `fields`,
//! sorting, `limit`/`marker` paging with links, tags, bulk create. The rules
//! live in the resource modules of the crate.

mod extensions;
mod resources;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use oxistack_core::context::{Context, SharedValidator};
use oxistack_core::middleware::{authenticate, Auth};
use oxistack_core::policy::{self, Target};

use crate::{Listed, Network, NeutronError, Result, LIST_CONTROLS};

pub use resources::{FloatingIps, Networks, Ports, Resource, Routers, Rules, SecurityGroups, SubnetPools, Subnets};

pub type Shared = State<Arc<Network>>;

pub struct Caller(pub Context);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = NeutronError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> std::result::Result<Self, Self::Rejection> {
        Ok(Caller(Auth::caller(&parts.extensions)?))
    }
}

/// A JSON object body; anything else is a 400.
fn object(body: &axum::body::Bytes) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(NeutronError::bad_request("Body contains invalid data")),
        Err(e) => Err(NeutronError::bad_request(format!("Malformed request body: {e}"))),
    }
}

/// `{"<key>": {...}}`'s inner object.
fn member(body: &axum::body::Bytes, key: &str) -> Result<Map<String, Value>> {
    match object(body)?.remove(key) {
        Some(Value::Object(o)) => Ok(o),
        _ => Err(NeutronError::bad_request(format!("Resource body required: '{key}' not found in the request."))),
    }
}

/// The routes of the Network service, to be nested at `/network`.
pub fn router(network: Arc<Network>, validator: SharedValidator, base_url: String) -> Router {
    let versions = {
        let base = base_url.clone();
        move || async move {
            Json(json!({"versions": [{"id": "v2.0", "status": "CURRENT",
                "links": [{"href": format!("{base}/v2.0/"), "rel": "self"}]}]}))
        }
    };
    let r = Router::new().route("/", get(versions)).route("/v2.0", get(resources_index));
    let r = collection::<Networks>(r);
    let r = collection::<Subnets>(r);
    let r = collection::<Ports>(r);
    let r = collection::<Routers>(r);
    let r = collection::<FloatingIps>(r);
    let r = collection::<SecurityGroups>(r);
    let r = collection::<Rules>(r);
    let r = collection::<SubnetPools>(r);
    r.route("/v2.0/routers/{id}/add_router_interface", put(add_interface))
        .route("/v2.0/routers/{id}/remove_router_interface", put(remove_interface))
        .route("/v2.0/extensions", get(extensions::list))
        .route("/v2.0/extensions/{alias}", get(extensions::show))
        .route("/v2.0/availability_zones", get(extensions::availability_zones))
        .route("/v2.0/quotas", get(extensions::list_quotas))
        .route(
            "/v2.0/quotas/{project}",
            get(extensions::show_quota).put(extensions::update_quota).delete(extensions::reset_quota),
        )
        .route("/v2.0/quotas/{project}/default", get(extensions::default_quota))
        .route("/v2.0/network-ip-availabilities", get(extensions::ip_availabilities))
        .route("/v2.0/network-ip-availabilities/{id}", get(extensions::ip_availability))
        .route(
            "/v2.0/auto-allocated-topology/{project}",
            get(extensions::auto_allocated_topology).delete(extensions::delete_auto_allocated_topology),
        )
        .fallback(|| async { NeutronError::not_found("HTTPNotFound", "The resource could not be found.") })
        .method_not_allowed_fallback(|| async {
            NeutronError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTPMethodNotAllowed",
                "The method is not allowed for this resource.",
            )
        })
        .layer(middleware::from_fn_with_state(validator, authenticate))
        .with_state(Arc::new(Api { network, base_url }))
}

/// What the handlers share: the service and where it is served.
pub struct Api {
    pub network: Arc<Network>,
    pub base_url: String,
}

type ApiState = State<Arc<Api>>;

fn collection<R: Resource>(r: Router<Arc<Api>>) -> Router<Arc<Api>> {
    let path = format!("/v2.0/{}", R::PATH);
    r.route(&path, get(list::<R>).post(create::<R>))
        .route(&format!("{path}/{{id}}"), get(show::<R>).put(update::<R>).delete(delete::<R>))
        .route(&format!("{path}/{{id}}/tags"), get(tags::<R>).put(replace_tags::<R>).delete(clear_tags::<R>))
        .route(&format!("{path}/{{id}}/tags/{{tag}}"), get(has_tag::<R>).put(add_tag::<R>).delete(remove_tag::<R>))
}

async fn resources_index(State(api): ApiState, Caller(_): Caller) -> Json<Value> {
    let names =
        ["network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule", "subnetpool"];
    let resources: Vec<Value> = names
        .iter()
        .map(|n| {
            let collection = format!("{n}s").replace('_', "-");
            json!({"name": n, "collection": collection,
                   "links": [{"href": format!("{}/v2.0/{collection}", api.base_url), "rel": "self"}]})
        })
        .collect();
    Json(json!({ "resources": resources }))
}

/// The query of a list call.
struct Query {
    params: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: Option<String>) -> Result<Query> {
        let params = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map_err(|e| NeutronError::bad_request(format!("Invalid query: {e}")))?;
        Ok(Query { params })
    }
    fn all(&self, key: &str) -> Vec<&str> {
        self.params.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }
    fn one(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A value as a filter compares it: strings as they are, booleans
/// case-insensitively, numbers in decimal.
fn matches(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(s) => s == wanted,
        Value::Bool(b) => wanted.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Number(n) => n.to_string() == wanted,
        Value::Null => wanted.is_empty(),
        Value::Array(items) => items.iter().any(|i| matches(i, wanted)),
        Value::Object(_) => false,
    }
}

/// `fixed_ips=ip_address=10.0.0.5` or `fixed_ips=subnet_id=...`.
fn matches_fixed_ip(value: &Value, wanted: &str) -> bool {
    let Some((key, v)) = wanted.split_once('=') else { return false };
    value.as_array().is_some_and(|ips| ips.iter().any(|ip| ip.get(key).and_then(Value::as_str) == Some(v)))
}

fn tag_filter(item: &Value, q: &Query) -> bool {
    let tags: Vec<&str> = item
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let split = |key: &str| -> Vec<String> { q.all(key).iter().flat_map(|v| v.split(',')).map(String::from).collect() };
    let all = split("tags");
    let any = split("tags-any");
    let not_all = split("not-tags");
    let not_any = split("not-tags-any");
    (all.is_empty() || all.iter().all(|t| tags.contains(&t.as_str())))
        && (any.is_empty() || any.iter().any(|t| tags.contains(&t.as_str())))
        && (not_all.is_empty() || !not_all.iter().all(|t| tags.contains(&t.as_str())))
        && (not_any.is_empty() || !not_any.iter().any(|t| tags.contains(&t.as_str())))
}

fn keep_fields(item: Value, fields: &[&str]) -> Value {
    if fields.is_empty() {
        return item;
    }
    match item {
        Value::Object(o) => Value::Object(o.into_iter().filter(|(k, _)| fields.contains(&k.as_str())).collect()),
        other => other,
    }
}

fn sort_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Less,
        (_, Value::Null) => std::cmp::Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Filters, sorts and pages `items` as the query asks; the page and its links.
fn select(items: Vec<Value>, q: &Query, base: &str, path: &str) -> Result<(Vec<Value>, Vec<Value>)> {
    let items = narrow(items, q)?;
    paginate(items, q, base, path)
}

/// `items` filtered and sorted as the query asks, from past its marker.
fn narrow(items: Vec<Value>, q: &Query) -> Result<Vec<Value>> {
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|item| {
            let mut keys: Vec<&str> =
                q.params.iter().map(|(k, _)| k.as_str()).filter(|k| !LIST_CONTROLS.contains(k)).collect();
            keys.dedup();
            keys.iter().all(|key| {
                let wanted = q.all(key);
                match item.get(*key) {
                    // Attributes the resource does not have filter nothing out.
                    None => true,
                    Some(v) if *key == "fixed_ips" => wanted.iter().all(|w| matches_fixed_ip(v, w)),
                    Some(v) => wanted.iter().any(|w| matches(v, w)),
                }
            }) && tag_filter(item, q)
        })
        .collect();
    let sort_keys = q.all("sort_key");
    let sort_dirs = q.all("sort_dir");
    if !sort_keys.is_empty() {
        for d in &sort_dirs {
            if *d != "asc" && *d != "desc" {
                return Err(NeutronError::bad_request(format!("Bad sort_dir: {d}; must be asc or desc.")));
            }
        }
        items.sort_by(|a, b| {
            for (i, key) in sort_keys.iter().enumerate() {
                let ord = sort_cmp(&a[*key], &b[*key]);
                let ord = if sort_dirs.get(i) == Some(&"desc") { ord.reverse() } else { ord };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            sort_cmp(&a["id"], &b["id"])
        });
    }
    if q.one("page_reverse").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        items.reverse();
    }
    let marker = q.one("marker");
    if let Some(m) = marker {
        let at = items
            .iter()
            .position(|i| i["id"] == m)
            .ok_or_else(|| NeutronError::not_found("HTTPNotFound", format!("Marker {m} could not be found.")))?;
        items.drain(..=at);
    }
    Ok(items)
}

/// The query's page of `items` (narrowed already, and holding at least the
/// page when there is more), its links, and the fields asked for.
fn paginate(mut items: Vec<Value>, q: &Query, base: &str, path: &str) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut links = vec![];
    let marker = q.one("marker");
    let limit = match q.one("limit") {
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            NeutronError::bad_request(format!(
                "Bad limit request: Limit must be an integer 0 or greater and not '{l}'."
            ))
        })?),
        None => None,
    };
    if let Some(limit) = limit.filter(|l| *l > 0) {
        if items.len() > limit {
            items.truncate(limit);
            let last = items.last().and_then(|i| i["id"].as_str()).unwrap_or_default();
            let mut query: Vec<(String, String)> =
                q.params.iter().filter(|(k, _)| k != "marker" && k != "page_reverse").cloned().collect();
            query.push(("marker".into(), last.into()));
            let qs = serde_urlencoded::to_string(&query).unwrap_or_default();
            links.push(json!({"rel": "next", "href": format!("{base}/v2.0/{path}?{qs}")}));
        }
        if marker.is_some() {
            if let Some(first) = items.first().and_then(|i| i["id"].as_str()) {
                let mut query: Vec<(String, String)> =
                    q.params.iter().filter(|(k, _)| k != "marker" && k != "page_reverse").cloned().collect();
                query.push(("marker".into(), first.into()));
                query.push(("page_reverse".into(), "True".into()));
                let qs = serde_urlencoded::to_string(&query).unwrap_or_default();
                links.push(json!({"rel": "previous", "href": format!("{base}/v2.0/{path}?{qs}")}));
            }
        }
    }
    let fields = q.all("fields");
    Ok((items.into_iter().map(|i| keep_fields(i, &fields)).collect(), links))
}

/// Neutron's rule `rule` on what belongs to `project` (the caller's own
/// when `None`). What the caller may not see was 404 before this is asked.
fn enforce(ctx: &Context, rule: &str, project: Option<&str>) -> Result<()> {
    let target = project.map_or_else(|| Target::caller(ctx), Target::project);
    Ok(policy::enforce(ctx, rule, &target)?)
}

/// The project a resource belongs to, as its body says.
fn owner(item: &Value) -> Option<&str> {
    item.as_object().and_then(owner_in)
}

/// The project a request body names for what it creates, if any.
fn owner_in(body: &Map<String, Value>) -> Option<&str> {
    body.get("project_id").or_else(|| body.get("tenant_id")).and_then(Value::as_str)
}

/// Checks `verb` on the existing resource `id`: it must be visible (404
/// otherwise), and the rule is asked on its owner.
async fn enforce_on<R: Resource>(api: &Api, ctx: &Context, verb: &str, id: &str) -> Result<Value> {
    let item = R::show(&api.network, ctx, id).await?;
    enforce(ctx, &format!("{verb}_{}", R::SINGULAR), owner(&item))?;
    Ok(item)
}

async fn list<R: Resource>(State(api): ApiState, Caller(ctx): Caller, RawQuery(raw): RawQuery) -> Result<Json<Value>> {
    enforce(&ctx, &format!("get_{}", R::SINGULAR), None)?;
    let q = Query::parse(raw)?;
    let (page, links) = match R::list_where(&api.network, &ctx, &q.params).await? {
        Listed::All(items) => select(items, &q, &api.base_url, R::PATH)?,
        Listed::Page(items) => paginate(items, &q, &api.base_url, R::PATH)?,
    };
    let mut body = Map::new();
    body.insert(R::PLURAL.into(), Value::Array(page));
    if !links.is_empty() {
        body.insert(format!("{}_links", R::PLURAL), Value::Array(links));
    }
    Ok(Json(Value::Object(body)))
}

async fn show<R: Resource>(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>> {
    let q = Query::parse(raw)?;
    enforce(&ctx, &format!("get_{}", R::SINGULAR), None)?;
    let item = R::show(&api.network, &ctx, &id).await?;
    Ok(Json(json!({ R::SINGULAR: keep_fields(item, &q.all("fields")) })))
}

/// One resource, or several at once (`{"<plural>": [...]}`), created.
async fn create<R: Resource>(State(api): ApiState, Caller(ctx): Caller, body: axum::body::Bytes) -> Result<Response> {
    let mut outer = object(&body)?;
    if let Some(Value::Array(many)) = outer.remove(R::PLURAL) {
        let mut created = vec![];
        for item in many {
            let Value::Object(o) = item else {
                return Err(NeutronError::bad_request(format!(
                    "Resource body required: '{}' items must be objects.",
                    R::PLURAL
                )));
            };
            enforce(&ctx, &format!("create_{}", R::SINGULAR), owner_in(&o))?;
            created.push(R::create(&api.network, &ctx, &o).await?);
        }
        return Ok((StatusCode::CREATED, Json(json!({ R::PLURAL: created }))).into_response());
    }
    let inner = match outer.remove(R::SINGULAR) {
        Some(Value::Object(o)) => o,
        _ => {
            return Err(NeutronError::bad_request(format!(
                "Resource body required: '{}' not found in the request.",
                R::SINGULAR
            )))
        }
    };
    enforce(&ctx, &format!("create_{}", R::SINGULAR), owner_in(&inner))?;
    let created = R::create(&api.network, &ctx, &inner).await?;
    Ok((StatusCode::CREATED, Json(json!({ R::SINGULAR: created }))).into_response())
}

async fn update<R: Resource>(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>> {
    let inner = member(&body, R::SINGULAR)?;
    enforce_on::<R>(&api, &ctx, "update", &id).await?;
    Ok(Json(json!({ R::SINGULAR: R::update(&api.network, &ctx, &id, &inner).await? })))
}

async fn delete<R: Resource>(State(api): ApiState, Caller(ctx): Caller, Path(id): Path<String>) -> Result<StatusCode> {
    enforce_on::<R>(&api, &ctx, "delete", &id).await?;
    R::delete(&api.network, &ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tags of `id`, once the caller passed Neutron's `<verb>_<plural>_tags`.
async fn current_tags<R: Resource>(api: &Api, ctx: &Context, verb: &str, id: &str) -> Result<Vec<String>> {
    let item = R::show(&api.network, ctx, id).await?;
    let rule = format!("{verb}_{}_tags", R::PLURAL);
    enforce(ctx, &rule, if verb == "get" { None } else { owner(&item) })?;
    Ok(serde_json::from_value(item["tags"].clone()).unwrap_or_default())
}

async fn write_tags<R: Resource>(api: &Api, id: &str, tags: &[String]) -> Result<()> {
    api.network.set_tags(R::TABLE, id, tags).await
}

async fn tags<R: Resource>(State(api): ApiState, Caller(ctx): Caller, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!({"tags": current_tags::<R>(&api, &ctx, "get", &id).await?})))
}

async fn replace_tags<R: Resource>(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>> {
    current_tags::<R>(&api, &ctx, "update", &id).await?;
    let tags: Vec<String> = object(&body)?
        .get("tags")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .ok_or_else(|| NeutronError::bad_request("Invalid input for tags."))?;
    write_tags::<R>(&api, &id, &tags).await?;
    Ok(Json(json!({ "tags": tags })))
}

async fn clear_tags<R: Resource>(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    current_tags::<R>(&api, &ctx, "delete", &id).await?;
    write_tags::<R>(&api, &id, &[]).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn has_tag<R: Resource>(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    if current_tags::<R>(&api, &ctx, "get", &id).await?.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(NeutronError::not_found("TagNotFound", format!("Tag {tag} could not be found for {} {id}.", R::SINGULAR)))
    }
}

async fn add_tag<R: Resource>(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    let mut tags = current_tags::<R>(&api, &ctx, "create", &id).await?;
    if !tags.contains(&tag) {
        tags.push(tag);
        write_tags::<R>(&api, &id, &tags).await?;
    }
    Ok(StatusCode::CREATED)
}

async fn remove_tag<R: Resource>(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    let mut tags = current_tags::<R>(&api, &ctx, "delete", &id).await?;
    let before = tags.len();
    tags.retain(|t| t != &tag);
    if tags.len() == before {
        return Err(NeutronError::not_found(
            "TagNotFound",
            format!("Tag {tag} could not be found for {} {id}.", R::SINGULAR),
        ));
    }
    write_tags::<R>(&api, &id, &tags).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_interface(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>> {
    let router = Routers::show(&api.network, &ctx, &id).await?;
    enforce(&ctx, "add_router_interface", owner(&router))?;
    Ok(Json(api.network.add_interface(&ctx, &id, &object(&body)?).await?))
}

async fn remove_interface(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>> {
    let router = Routers::show(&api.network, &ctx, &id).await?;
    enforce(&ctx, "remove_router_interface", owner(&router))?;
    Ok(Json(api.network.remove_interface(&ctx, &id, &object(&body)?).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        Query::parse(Some(s.into())).unwrap()
    }

    fn items() -> Vec<Value> {
        (1..=5)
            .map(|i| {
                json!({"id": format!("id{i}"), "name": format!("n{}", i % 2), "shared": i == 3,
                            "tags": if i == 2 { json!(["red"]) } else { json!([]) },
                            "fixed_ips": [{"subnet_id": "s", "ip_address": format!("10.0.0.{i}")}]})
            })
            .collect()
    }

    #[test]
    fn filters_compare_as_neutron_does() {
        let (page, _) = select(items(), &q("name=n1&shared=True"), "http://x", "networks").unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0]["id"], "id3");
        let (page, _) = select(items(), &q("fixed_ips=ip_address%3D10.0.0.4"), "http://x", "ports").unwrap();
        assert_eq!(page[0]["id"], "id4");
        let (page, _) = select(items(), &q("tags=red"), "http://x", "networks").unwrap();
        assert_eq!(page.len(), 1);
        let (page, _) = select(items(), &q("unknown_attr=1&fields=id"), "http://x", "networks").unwrap();
        assert_eq!(page.len(), 5);
        assert_eq!(page[0], json!({"id": "id1"}));
    }

    #[test]
    fn pages_link_onwards() {
        let (page, links) = select(items(), &q("limit=2&sort_key=id&sort_dir=desc"), "http://x", "networks").unwrap();
        assert_eq!(page.iter().map(|i| i["id"].as_str().unwrap()).collect::<Vec<_>>(), ["id5", "id4"]);
        let next = links[0]["href"].as_str().unwrap();
        assert!(next.starts_with("http://x/v2.0/networks?") && next.contains("marker=id4"));
        let (page, links) =
            select(items(), &q("limit=2&sort_key=id&sort_dir=desc&marker=id4"), "http://x", "networks").unwrap();
        assert_eq!(page[0]["id"], "id3");
        assert_eq!(links.len(), 2);
        assert!(select(items(), &q("marker=nope"), "http://x", "networks").is_err());
    }
}
