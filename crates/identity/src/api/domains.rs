//! `/v3/domains`

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::error::Error;

use super::{
    created, link, list_body, opt_bool, opt_str, query_flag, req_str, ApiResult, Body, Caller, Params, Shared,
};
use crate::store::{self, Domain, Filter};
use crate::{new_id, policy, Identity};

pub fn view(id: &Identity, d: &Domain) -> Value {
    json!({
        "id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled,
        "tags": serde_json::from_str::<Value>(&d.tags).unwrap_or(json!([])), "options": {},
        "links": {"self": link(id, &format!("domains/{}", d.id))},
    })
}

pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let only = policy::list_scope(&ctx, "identity:list_domains")?;
    let filter = Filter::default()
        .eq("name", params.get("name").map(String::as_str))
        .eq("id", only.as_deref())
        .flag("enabled", query_flag(&params, "enabled"));
    let items = store::list::<Domain>(&id.pool, "domains", filter).await?.iter().map(|d| view(&id, d)).collect();
    Ok(list_body("domains", items, link(&id, "domains")))
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(did): Path<String>) -> ApiResult<Json<Value>> {
    let owner = ctx.domain_id() == Some(did.as_str())
        || matches!(&ctx.scope, oxistack_core::context::Scope::Project { domain_id, .. } if *domain_id == did);
    policy::reader_or(&ctx, "identity:get_domain", Some(&did), owner)?;
    let d: Domain = store::get(&id.pool, "domains", "domain", &did).await?;
    Ok(Json(json!({"domain": view(&id, &d)})))
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    policy::admin(&ctx, "identity:create_domain")?;
    let b = body.member("domain")?;
    let d = Domain {
        id: opt_str(b, "explicit_domain_id")?.map(String::from).unwrap_or_else(new_id),
        name: req_str(b, "name")?.into(),
        description: opt_str(b, "description")?.unwrap_or("").into(),
        enabled: opt_bool(b, "enabled")?.unwrap_or(true),
        tags: b.get("tags").cloned().unwrap_or(json!([])).to_string(),
    };
    store::insert_domain(&id.pool, &d).await?;
    Ok(created(json!({"domain": view(&id, &d)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(did): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    policy::admin(&ctx, "identity:update_domain")?;
    let b = body.member("domain")?;
    let mut d: Domain = store::get(&id.pool, "domains", "domain", &did).await?;
    if b.contains_key("name") {
        d.name = req_str(b, "name")?.into();
    }
    if let Some(desc) = opt_str(b, "description")? {
        d.description = desc.into();
    }
    if let Some(e) = opt_bool(b, "enabled")? {
        d.enabled = e;
    }
    if let Some(t) = b.get("tags") {
        d.tags = t.to_string();
    }
    store::update_domain(&id.pool, &d).await?;
    Ok(Json(json!({"domain": view(&id, &d)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(did): Path<String>) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:delete_domain")?;
    let d: Domain = store::get(&id.pool, "domains", "domain", &did).await?;
    if d.enabled {
        return Err(Error::Forbidden("Cannot delete a domain that is enabled, please disable it first.".into()).into());
    }
    store::delete_domain_cascade(&id.pool, &did).await?;
    Ok(StatusCode::NO_CONTENT)
}
