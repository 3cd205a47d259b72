//! `/v3/regions`, `/v3/services`, `/v3/endpoints`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{created, link, list_body, opt_bool, opt_str, req_str, ApiResult, Body, Caller, Params, Shared};
use crate::catalog_admin::{EndpointFields, RegionFields, ServiceFields};
use crate::store::{Endpoint, Region, Service};
use crate::Identity;

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
    let regions = id.list_regions(params.get("parent_region_id").map(String::as_str)).await?;
    let items = regions.iter().map(|r| region_view(&id, r)).collect();
    Ok(list_body("regions", items, link(&id, "regions")))
}

pub async fn show_region(id: Shared, Caller(_): Caller, Path(rid): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"region": region_view(&id, &id.region(&rid).await?)})))
}

fn region_fields(body: &Body, creating: bool) -> ApiResult<RegionFields<'_>> {
    let b = body.member("region")?;
    Ok(RegionFields {
        id: if creating { opt_str(b, "id")? } else { None },
        description: opt_str(b, "description")?,
        parent_region_id: if b.contains_key("parent_region_id") { Some(opt_str(b, "parent_region_id")?) } else { None },
    })
}

pub async fn create_region(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    let r = id.create_region(&ctx, region_fields(&body, true)).await?;
    Ok(created(json!({"region": region_view(&id, &r)})))
}

pub async fn update_region(
    id: Shared,
    Caller(ctx): Caller,
    Path(rid): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let r = id.update_region(&ctx, &rid, region_fields(&body, false)).await?;
    Ok(Json(json!({"region": region_view(&id, &r)})))
}

pub async fn delete_region(id: Shared, Caller(ctx): Caller, Path(rid): Path<String>) -> ApiResult<StatusCode> {
    id.delete_region(&ctx, &rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_services(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let get = |k: &str| params.get(k).map(String::as_str);
    let items = id.list_services(&ctx, get("type"), get("name")).await?.iter().map(|s| service_view(&id, s)).collect();
    Ok(list_body("services", items, link(&id, "services")))
}

pub async fn show_service(id: Shared, Caller(ctx): Caller, Path(sid): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"service": service_view(&id, &id.service(&ctx, &sid).await?)})))
}

fn service_fields(body: &Body, creating: bool) -> ApiResult<ServiceFields<'_>> {
    let b = body.member("service")?;
    Ok(ServiceFields {
        service_type: if creating || b.contains_key("type") { Some(req_str(b, "type")?) } else { None },
        name: opt_str(b, "name")?,
        description: opt_str(b, "description")?,
        enabled: opt_bool(b, "enabled")?,
    })
}

pub async fn create_service(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    let s = id.create_service(&ctx, service_fields(&body, true)).await?;
    Ok(created(json!({"service": service_view(&id, &s)})))
}

pub async fn update_service(
    id: Shared,
    Caller(ctx): Caller,
    Path(sid): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let s = id.update_service(&ctx, &sid, service_fields(&body, false)).await?;
    Ok(Json(json!({"service": service_view(&id, &s)})))
}

pub async fn delete_service(id: Shared, Caller(ctx): Caller, Path(sid): Path<String>) -> ApiResult<StatusCode> {
    id.delete_service(&ctx, &sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_endpoints(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let get = |k: &str| params.get(k).map(String::as_str);
    let endpoints = id.list_endpoints(&ctx, get("service_id"), get("interface"), get("region_id")).await?;
    let items = endpoints.iter().map(|e| endpoint_view(&id, e)).collect();
    Ok(list_body("endpoints", items, link(&id, "endpoints")))
}

pub async fn show_endpoint(id: Shared, Caller(ctx): Caller, Path(eid): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"endpoint": endpoint_view(&id, &id.endpoint(&ctx, &eid).await?)})))
}

fn endpoint_fields(body: &Body, creating: bool) -> ApiResult<EndpointFields<'_>> {
    let b = body.member("endpoint")?;
    if creating {
        req_str(b, "interface")?;
        req_str(b, "service_id")?;
        req_str(b, "url")?;
    }
    Ok(EndpointFields {
        interface: opt_str(b, "interface")?,
        service_id: opt_str(b, "service_id")?,
        region_id: opt_str(b, "region_id")?.or(opt_str(b, "region")?),
        url: opt_str(b, "url")?,
        enabled: opt_bool(b, "enabled")?,
    })
}

pub async fn create_endpoint(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    let e = id.create_endpoint(&ctx, endpoint_fields(&body, true)).await?;
    Ok(created(json!({"endpoint": endpoint_view(&id, &e)})))
}

pub async fn update_endpoint(
    id: Shared,
    Caller(ctx): Caller,
    Path(eid): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let e = id.update_endpoint(&ctx, &eid, endpoint_fields(&body, false)).await?;
    Ok(Json(json!({"endpoint": endpoint_view(&id, &e)})))
}

pub async fn delete_endpoint(id: Shared, Caller(ctx): Caller, Path(eid): Path<String>) -> ApiResult<StatusCode> {
    id.delete_endpoint(&ctx, &eid).await?;
    Ok(StatusCode::NO_CONTENT)
}
