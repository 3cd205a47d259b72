//! `/v3/roles` and implied roles (`/v3/roles/{id}/implies`, `/v3/role_inferences`).

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use super::{created, link, list_body, opt_str, req_str, ApiResult, Body, Caller, Params, Shared};
use crate::roles::RoleFields;
use crate::store::Role;
use crate::Identity;

pub fn view(id: &Identity, r: &Role) -> Value {
    json!({
        "id": r.id, "name": r.name, "description": r.description, "options": {},
        "domain_id": if r.domain_id.is_empty() { Value::Null } else { json!(r.domain_id) },
        "links": {"self": link(id, &format!("roles/{}", r.id))},
    })
}

fn brief(id: &Identity, r: &Role) -> Value {
    json!({"id": r.id, "name": r.name, "links": {"self": link(id, &format!("roles/{}", r.id))}})
}

/// A role as `/v3/role_inferences` lists it: `brief` plus its description.
fn described(id: &Identity, r: &Role) -> Value {
    let mut v = brief(id, r);
    v["description"] = json!(r.description);
    v
}

pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let roles = id
        .list_roles(&ctx, params.get("name").map(String::as_str), params.get("domain_id").map(String::as_str))
        .await?;
    let items = roles.iter().map(|r| view(&id, r)).collect();
    Ok(list_body("roles", items, link(&id, "roles")))
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(rid): Path<String>) -> ApiResult<Json<Value>> {
    let r = id.role(&ctx, &rid).await?;
    Ok(Json(json!({"role": view(&id, &r)})))
}

fn fields(body: &Body, creating: bool) -> ApiResult<RoleFields<'_>> {
    let b = body.member("role")?;
    Ok(RoleFields {
        name: if creating || b.contains_key("name") { Some(req_str(b, "name")?) } else { None },
        domain_id: if creating { opt_str(b, "domain_id")? } else { None },
        description: opt_str(b, "description")?,
    })
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    let r = id.create_role(&ctx, fields(&body, true)).await?;
    Ok(created(json!({"role": view(&id, &r)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(rid): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    let r = id.update_role(&ctx, &rid, fields(&body, false)).await?;
    Ok(Json(json!({"role": view(&id, &r)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(rid): Path<String>) -> ApiResult<StatusCode> {
    id.delete_role(&ctx, &rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_implied(id: Shared, Caller(ctx): Caller, Path(prior): Path<String>) -> ApiResult<Json<Value>> {
    let (p, implied) = id.implied_roles(&ctx, &prior).await?;
    let implies: Vec<Value> = implied.iter().map(|i| brief(&id, i)).collect();
    Ok(Json(json!({
        "role_inference": {"prior_role": brief(&id, &p), "implies": implies},
        "links": {"self": link(&id, &format!("roles/{prior}/implies"))},
    })))
}

pub async fn create_implied(
    id: Shared,
    Caller(ctx): Caller,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (p, i) = id.create_implied_role(&ctx, &prior, &implied).await?;
    Ok(created(json!({"role_inference": {"prior_role": brief(&id, &p), "implies": brief(&id, &i)}})))
}

pub async fn check_implied(
    id: Shared,
    method: Method,
    Caller(ctx): Caller,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (p, i) = id.implied_role(&ctx, &prior, &implied).await?;
    if method == Method::HEAD {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(json!({"role_inference": {"prior_role": brief(&id, &p), "implies": brief(&id, &i)}})).into_response())
}

pub async fn delete_implied(
    id: Shared,
    Caller(ctx): Caller,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    id.delete_implied_role(&ctx, &prior, &implied).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn inferences(id: Shared, Caller(ctx): Caller) -> ApiResult<Json<Value>> {
    let out: Vec<Value> = (id.role_inferences(&ctx).await?.iter())
        .map(|(p, implies)| {
            let implies: Vec<Value> = implies.iter().map(|i| described(&id, i)).collect();
            json!({"prior_role": described(&id, p), "implies": implies})
        })
        .collect();
    Ok(Json(json!({"role_inferences": out, "links": {"self": link(&id, "role_inferences")}})))
}
