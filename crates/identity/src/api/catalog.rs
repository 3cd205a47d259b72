//! `/v3/regions`, `/v3/services`, `/v3/endpoints`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::error::Error;

use super::{created, invalid, link, list_body, opt_bool, opt_str, req_str, ApiResult, Body, Caller, Params, Shared};
use crate::catalog::INTERFACES;
use crate::store::{self, Endpoint, Filter, Region, Service};
use crate::{new_id, policy, Identity};

fn region_view(id: &Identity, r: &Region) -> Value {
    json!({"id": r.id, "description": r.description, "parent_region_id": r.parent_region_id,
           "links": {"self": link(id, &format!("regions/{}", r.id))}})
}

fn service_view(id: &Identity, s: &Service) -> Value {
    json!({"id": s.id, "type": s.service_type, "name": s.name, "description": s.description, "enabled": s.enabled,
           "links": {"self": link(id, &format!("services/{}", s.id))}})
}

fn endpoint_view(id: &Identity, e: &Endpoint) -> Value {
    json!({"id": e.id, "interface": e.interface, "region": e.region_id, "region_id": e.region_id,
           "service_id": e.service_id, "url": e.url, "enabled": e.enabled,
           "links": {"self": link(id, &format!("endpoints/{}", e.id))}})
}

pub async fn list_regions(id: Shared, Caller(_): Caller, params: Params) -> ApiResult<Json<Value>> {
    let filter = Filter::default().eq("parent_region_id", params.get("parent_region_id").map(String::as_str));
    let items = store::list::<Region>(&id.pool, "regions", filter).await?.iter().map(|r| region_view(&id, r)).collect();
    Ok(list_body("regions", items, link(&id, "regions")))
}

pub async fn show_region(id: Shared, Caller(_): Caller, Path(rid): Path<String>) -> ApiResult<Json<Value>> {
    let r: Region = store::get(&id.pool, "regions", "region", &rid).await?;
    Ok(Json(json!({"region": region_view(&id, &r)})))
}

async fn check_parent(id: &Identity, parent: Option<&str>) -> ApiResult<()> {
    if let Some(p) = parent {
        let _: Region = store::get(&id.pool, "regions", "region", p).await?;
    }
    Ok(())
}

pub async fn create_region(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    policy::admin(&ctx, "identity:create_region")?;
    let b = body.member("region")?;
    let r = Region {
        id: opt_str(b, "id")?.map(String::from).unwrap_or_else(new_id),
        description: opt_str(b, "description")?.unwrap_or("").into(),
        parent_region_id: opt_str(b, "parent_region_id")?.map(String::from),
    };
    check_parent(&id, r.parent_region_id.as_deref()).await?;
    store::insert_region(&id.pool, &r).await?;
    Ok(created(json!({"region": region_view(&id, &r)})))
}

pub async fn update_region(
    id: Shared,
    Caller(ctx): Caller,
    Path(rid): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    policy::admin(&ctx, "identity:update_region")?;
    let b = body.member("region")?;
    let mut r: Region = store::get(&id.pool, "regions", "region", &rid).await?;
    if let Some(d) = opt_str(b, "description")? {
        r.description = d.into();
    }
    if b.contains_key("parent_region_id") {
        r.parent_region_id = opt_str(b, "parent_region_id")?.map(String::from);
        if r.parent_region_id.as_deref() == Some(rid.as_str()) {
            return Err(Error::BadRequest("A region cannot be its own parent.".into()).into());
        }
        check_parent(&id, r.parent_region_id.as_deref()).await?;
    }
    store::update_region(&id.pool, &r).await?;
    Ok(Json(json!({"region": region_view(&id, &r)})))
}

pub async fn delete_region(id: Shared, Caller(ctx): Caller, Path(rid): Path<String>) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:delete_region")?;
    store::delete(&id.pool, "regions", "region", &rid).await.map_err(|e| match e {
        Error::Internal(_) => Error::Forbidden(format!("Region {rid} is in use by endpoints or child regions.")),
        other => other,
    })?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_services(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    policy::reader(&ctx, "identity:list_services", None)?;
    let filter = Filter::default()
        .eq("type", params.get("type").map(String::as_str))
        .eq("name", params.get("name").map(String::as_str));
    let items =
        store::list::<Service>(&id.pool, "services", filter).await?.iter().map(|s| service_view(&id, s)).collect();
    Ok(list_body("services", items, link(&id, "services")))
}

pub async fn show_service(id: Shared, Caller(ctx): Caller, Path(sid): Path<String>) -> ApiResult<Json<Value>> {
    policy::reader(&ctx, "identity:get_service", None)?;
    let s: Service = store::get(&id.pool, "services", "service", &sid).await?;
    Ok(Json(json!({"service": service_view(&id, &s)})))
}

pub async fn create_service(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    policy::admin(&ctx, "identity:create_service")?;
    let b = body.member("service")?;
    let s = Service {
        id: new_id(),
        service_type: req_str(b, "type")?.into(),
        name: opt_str(b, "name")?.unwrap_or("").into(),
        description: opt_str(b, "description")?.unwrap_or("").into(),
        enabled: opt_bool(b, "enabled")?.unwrap_or(true),
    };
    store::insert_service(&id.pool, &s).await?;
    Ok(created(json!({"service": service_view(&id, &s)})))
}

pub async fn update_service(
    id: Shared,
    Caller(ctx): Caller,
    Path(sid): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    policy::admin(&ctx, "identity:update_service")?;
    let b = body.member("service")?;
    let mut s: Service = store::get(&id.pool, "services", "service", &sid).await?;
    if b.contains_key("type") {
        s.service_type = req_str(b, "type")?.into();
    }
    if let Some(n) = opt_str(b, "name")? {
        s.name = n.into();
    }
    if let Some(d) = opt_str(b, "description")? {
        s.description = d.into();
    }
    if let Some(e) = opt_bool(b, "enabled")? {
        s.enabled = e;
    }
    store::update_service(&id.pool, &s).await?;
    Ok(Json(json!({"service": service_view(&id, &s)})))
}

pub async fn delete_service(id: Shared, Caller(ctx): Caller, Path(sid): Path<String>) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:delete_service")?;
    store::delete(&id.pool, "services", "service", &sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_endpoints(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    policy::reader(&ctx, "identity:list_endpoints", None)?;
    let filter = Filter::default()
        .eq("service_id", params.get("service_id").map(String::as_str))
        .eq("interface", params.get("interface").map(String::as_str))
        .eq("region_id", params.get("region_id").map(String::as_str));
    let items =
        store::list::<Endpoint>(&id.pool, "endpoints", filter).await?.iter().map(|e| endpoint_view(&id, e)).collect();
    Ok(list_body("endpoints", items, link(&id, "endpoints")))
}

pub async fn show_endpoint(id: Shared, Caller(ctx): Caller, Path(eid): Path<String>) -> ApiResult<Json<Value>> {
    policy::reader(&ctx, "identity:get_endpoint", None)?;
    let e: Endpoint = store::get(&id.pool, "endpoints", "endpoint", &eid).await?;
    Ok(Json(json!({"endpoint": endpoint_view(&id, &e)})))
}

/// Validates and applies the fields of an endpoint body onto `e`.
async fn apply_endpoint(id: &Identity, b: &serde_json::Map<String, Value>, e: &mut Endpoint) -> ApiResult<()> {
    if let Some(i) = opt_str(b, "interface")? {
        if !INTERFACES.contains(&i) {
            return Err(invalid(&format!("interface. '{i}' does not match '^(?:admin|internal|public)*$'")));
        }
        e.interface = i.into();
    }
    if let Some(s) = opt_str(b, "service_id")? {
        let _: Service = store::get(&id.pool, "services", "service", s).await?;
        e.service_id = s.into();
    }
    if let Some(r) = opt_str(b, "region_id")?.or(opt_str(b, "region")?) {
        let _: Region = store::get(&id.pool, "regions", "region", r).await?;
        e.region_id = Some(r.into());
    }
    if let Some(u) = opt_str(b, "url")? {
        e.url = u.into();
    }
    if let Some(en) = opt_bool(b, "enabled")? {
        e.enabled = en;
    }
    Ok(())
}

pub async fn create_endpoint(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    policy::admin(&ctx, "identity:create_endpoint")?;
    let b = body.member("endpoint")?;
    req_str(b, "interface")?;
    req_str(b, "service_id")?;
    req_str(b, "url")?;
    let mut e = Endpoint {
        id: new_id(),
        service_id: String::new(),
        interface: String::new(),
        region_id: None,
        url: String::new(),
        enabled: true,
    };
    apply_endpoint(&id, b, &mut e).await?;
    store::insert_endpoint(&id.pool, &e).await?;
    Ok(created(json!({"endpoint": endpoint_view(&id, &e)})))
}

pub async fn update_endpoint(
    id: Shared,
    Caller(ctx): Caller,
    Path(eid): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    policy::admin(&ctx, "identity:update_endpoint")?;
    let b = body.member("endpoint")?;
    let mut e: Endpoint = store::get(&id.pool, "endpoints", "endpoint", &eid).await?;
    apply_endpoint(&id, b, &mut e).await?;
    store::update_endpoint(&id.pool, &e).await?;
    Ok(Json(json!({"endpoint": endpoint_view(&id, &e)})))
}

pub async fn delete_endpoint(id: Shared, Caller(ctx): Caller, Path(eid): Path<String>) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:delete_endpoint")?;
    store::delete(&id.pool, "endpoints", "endpoint", &eid).await?;
    Ok(StatusCode::NO_CONTENT)
}
