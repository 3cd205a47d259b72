//! `/v3/roles` and implied roles (`/v3/roles/{id}/implies`, `/v3/role_inferences`).

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::error::Error;

use super::{created, link, list_body, opt_str, req_str, ApiResult, Body, Caller, Params, Shared};
use crate::store::{self, Filter, Role};
use crate::{new_id, policy, Identity};

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
    policy::reader(&ctx, "identity:list_roles", params.get("domain_id").map(String::as_str))?;
    let filter = Filter::default()
        .eq("name", params.get("name").map(String::as_str))
        .eq("domain_id", Some(params.get("domain_id").map(String::as_str).unwrap_or("")));
    let items = store::list::<Role>(&id.pool, "roles", filter).await?.iter().map(|r| view(&id, r)).collect();
    Ok(list_body("roles", items, link(&id, "roles")))
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(rid): Path<String>) -> ApiResult<Json<Value>> {
    let r: Role = store::get(&id.pool, "roles", "role", &rid).await?;
    policy::reader(&ctx, "identity:get_role", Some(&r.domain_id))?;
    Ok(Json(json!({"role": view(&id, &r)})))
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    policy::admin(&ctx, "identity:create_role")?;
    let b = body.member("role")?;
    let r = Role {
        id: new_id(),
        name: req_str(b, "name")?.into(),
        domain_id: opt_str(b, "domain_id")?.unwrap_or("").into(),
        description: opt_str(b, "description")?.unwrap_or("").into(),
    };
    store::insert_role(&id.pool, &r).await?;
    Ok(created(json!({"role": view(&id, &r)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(rid): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    policy::admin(&ctx, "identity:update_role")?;
    let b = body.member("role")?;
    let mut r: Role = store::get(&id.pool, "roles", "role", &rid).await?;
    if b.contains_key("name") {
        r.name = req_str(b, "name")?.into();
    }
    if let Some(d) = opt_str(b, "description")? {
        r.description = d.into();
    }
    store::update_role(&id.pool, &r).await?;
    Ok(Json(json!({"role": view(&id, &r)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(rid): Path<String>) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:delete_role")?;
    // Assignments and inference rules go with the role (ON DELETE CASCADE), and
    // tokens lose it at their next validation.
    store::delete(&id.pool, "roles", "role", &rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn pair(id: &Identity, prior: &str, implied: &str) -> ApiResult<(Role, Role)> {
    Ok((store::get(&id.pool, "roles", "role", prior).await?, store::get(&id.pool, "roles", "role", implied).await?))
}

pub async fn list_implied(id: Shared, Caller(ctx): Caller, Path(prior): Path<String>) -> ApiResult<Json<Value>> {
    policy::reader(&ctx, "identity:list_implied_roles", None)?;
    let p: Role = store::get(&id.pool, "roles", "role", &prior).await?;
    let mut implies = vec![];
    for (_, i) in store::implied_roles(&id.pool).await?.into_iter().filter(|(a, _)| *a == prior) {
        implies.push(brief(&id, &store::get(&id.pool, "roles", "role", &i).await?));
    }
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
    policy::admin(&ctx, "identity:create_implied_role")?;
    let (p, i) = pair(&id, &prior, &implied).await?;
    let rules = store::implied_roles(&id.pool).await?;
    if crate::roles::expand_implied([implied.clone()], &rules).contains(&prior) {
        return Err(Error::Forbidden(format!("Implied role {implied} would create a cycle with {prior}.")).into());
    }
    store::insert_implied_role(&id.pool, &prior, &implied).await?;
    Ok(created(json!({"role_inference": {"prior_role": brief(&id, &p), "implies": brief(&id, &i)}})))
}

pub async fn check_implied(
    id: Shared,
    method: Method,
    Caller(ctx): Caller,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    policy::reader(&ctx, "identity:get_implied_role", None)?;
    let (p, i) = pair(&id, &prior, &implied).await?;
    if !store::implied_roles(&id.pool).await?.contains(&(prior.clone(), implied.clone())) {
        return Err(Error::NotFound(format!("{prior} does not imply {implied}.")).into());
    }
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
    policy::admin(&ctx, "identity:delete_implied_role")?;
    pair(&id, &prior, &implied).await?;
    if !store::delete_implied_role(&id.pool, &prior, &implied).await? {
        return Err(Error::NotFound(format!("{prior} does not imply {implied}.")).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn inferences(id: Shared, Caller(ctx): Caller) -> ApiResult<Json<Value>> {
    policy::reader(&ctx, "identity:list_role_inference_rules", None)?;
    let rules = store::implied_roles(&id.pool).await?;
    let mut out: Vec<Value> = vec![];
    let mut priors: Vec<String> = vec![];
    for (p, _) in &rules {
        if !priors.contains(p) {
            priors.push(p.clone());
        }
    }
    for prior in priors {
        let p: Role = store::get(&id.pool, "roles", "role", &prior).await?;
        let mut implies = vec![];
        for (_, i) in rules.iter().filter(|(a, _)| *a == prior) {
            implies.push(described(&id, &store::get(&id.pool, "roles", "role", i).await?));
        }
        out.push(json!({"prior_role": described(&id, &p), "implies": implies}));
    }
    Ok(Json(json!({"role_inferences": out, "links": {"self": link(&id, "role_inferences")}})))
}
