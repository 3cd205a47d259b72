//! `/v3/domains`

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{
    created, link, list_body, opt_bool, opt_str, query_flag, req_str, ApiResult, Body, Caller, Params, Shared,
};
use crate::domains::DomainFields;
use crate::store::Domain;
use crate::Identity;

pub fn view(id: &Identity, d: &Domain) -> Value {
    json!({
        "id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled,
        "tags": serde_json::from_str::<Value>(&d.tags).unwrap_or(json!([])), "options": {},
        "links": {"self": link(id, &format!("domains/{}", d.id))},
    })
}

pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let domains = id.list_domains(&ctx, params.get("name").map(String::as_str), query_flag(&params, "enabled")).await?;
    let items = domains.iter().map(|d| view(&id, d)).collect();
    Ok(list_body("domains", items, link(&id, "domains")))
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(did): Path<String>) -> ApiResult<Json<Value>> {
    let d = id.domain(&ctx, &did).await?;
    Ok(Json(json!({"domain": view(&id, &d)})))
}

fn fields(body: &Body, creating: bool) -> ApiResult<DomainFields<'_>> {
    let b = body.member("domain")?;
    Ok(DomainFields {
        id: if creating { opt_str(b, "explicit_domain_id")? } else { None },
        name: if creating || b.contains_key("name") { Some(req_str(b, "name")?) } else { None },
        description: opt_str(b, "description")?,
        enabled: opt_bool(b, "enabled")?,
        tags: b.get("tags").cloned(),
    })
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    let d = id.create_domain(&ctx, fields(&body, true)).await?;
    Ok(created(json!({"domain": view(&id, &d)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(did): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    let d = id.update_domain(&ctx, &did, fields(&body, false)).await?;
    Ok(Json(json!({"domain": view(&id, &d)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(did): Path<String>) -> ApiResult<StatusCode> {
    id.delete_domain(&ctx, &did).await?;
    Ok(StatusCode::NO_CONTENT)
}
