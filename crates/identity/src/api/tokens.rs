//! `/v3/auth/*`: issuing, validating and revoking tokens, and what a token may
//! reach (its catalog, projects, domains, system).

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::context::Context;
use oxistack_core::error::Error;

use super::{link, list_body, query_flag, ApiResult, Body, Caller, KeystoneError, Params, Shared};
use crate::auth::Validated;
use crate::{policy, Identity};

const X_SUBJECT_TOKEN: &str = "x-subject-token";

/// `POST /v3/auth/tokens`
pub async fn create(id: Shared, params: Params, body: Body) -> ApiResult<Response> {
    let auth = body.member("auth")?;
    let v = id.authenticate(&Value::Object(auth.clone())).await?;
    let with_catalog = !query_flag(&params, "nocatalog").unwrap_or(false);
    let body = id.token_body(&v, with_catalog).await?;
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    res.headers_mut().insert(X_SUBJECT_TOKEN, HeaderValue::from_str(&v.token).map_err(anyhow::Error::from)?);
    Ok(res)
}

/// The token named by `X-Subject-Token`, which the caller must be allowed to see:
/// its own, or any for an admin (`identity:validate_token`).
async fn subject(id: &Identity, ctx: &Context, headers: &HeaderMap, rule: &str) -> ApiResult<Validated> {
    let token = headers.get(X_SUBJECT_TOKEN).and_then(|v| v.to_str().ok()).ok_or_else(|| {
        KeystoneError(Error::BadRequest("Expecting to find X-Subject-Token in request headers.".into()))
    })?;
    let v = id.validate(token).await?;
    let own = v.user.id == ctx.user_id || ctx.has_role("service");
    policy::reader_or(ctx, rule, None, own)?;
    Ok(v)
}

/// `GET /v3/auth/tokens`
pub async fn show(id: Shared, Caller(ctx): Caller, headers: HeaderMap, params: Params) -> ApiResult<Response> {
    let v = subject(&id, &ctx, &headers, "identity:validate_token").await?;
    let body = id.token_body(&v, !query_flag(&params, "nocatalog").unwrap_or(false)).await?;
    let mut res = Json(body).into_response();
    res.headers_mut().insert(X_SUBJECT_TOKEN, HeaderValue::from_str(&v.token).map_err(anyhow::Error::from)?);
    Ok(res)
}

/// `HEAD /v3/auth/tokens`
pub async fn check(id: Shared, Caller(ctx): Caller, headers: HeaderMap) -> ApiResult<StatusCode> {
    subject(&id, &ctx, &headers, "identity:check_token").await?;
    Ok(StatusCode::OK)
}

/// `DELETE /v3/auth/tokens`
pub async fn revoke(id: Shared, Caller(ctx): Caller, headers: HeaderMap) -> ApiResult<StatusCode> {
    let v = subject(&id, &ctx, &headers, "identity:revoke_token").await?;
    id.revoke_token(&v).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/auth/catalog`
pub async fn catalog(id: Shared, Caller(ctx): Caller) -> ApiResult<Json<Value>> {
    if ctx.scope == oxistack_core::context::Scope::Unscoped {
        return Err(KeystoneError(Error::Forbidden("A scoped token is required to read the catalog.".into())));
    }
    Ok(Json(json!({
        "catalog": id.catalog_v3(ctx.project_id()).await?,
        "links": {"self": link(&id, "auth/catalog"), "previous": null, "next": null},
    })))
}

/// `GET /v3/auth/projects`
pub async fn projects(id: Shared, Caller(ctx): Caller) -> ApiResult<Json<Value>> {
    let items = id.projects_of(&ctx.user_id).await?.iter().map(|p| super::projects::view(&id, p)).collect();
    Ok(list_body("projects", items, link(&id, "auth/projects")))
}

/// `GET /v3/auth/domains`
pub async fn domains(id: Shared, Caller(ctx): Caller) -> ApiResult<Json<Value>> {
    let items = id.domains_of(&ctx.user_id).await?.iter().map(|d| super::domains::view(&id, d)).collect();
    Ok(list_body("domains", items, link(&id, "auth/domains")))
}

/// `GET /v3/auth/system`
pub async fn system(id: Shared, Caller(ctx): Caller) -> ApiResult<Json<Value>> {
    let system = if id.has_system_role(&ctx.user_id).await? { vec![json!({"all": true})] } else { vec![] };
    Ok(Json(json!({"system": system, "links": {"self": link(&id, "auth/system")}})))
}
