//! `/v3/users`, passwords, and the projects a user can reach.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;

use super::{
    created, link, list_body, opt_bool, opt_str, query_flag, req_str, ApiResult, Body, Caller, Params, Shared,
};
use crate::store::{self, Domain, Filter, User};
use crate::{new_id, password, policy, Identity, DEFAULT_DOMAIN_ID};

/// Attributes with a column of their own; everything else goes to `extra`.
const COLUMNS: [&str; 7] = ["id", "name", "domain_id", "enabled", "password", "default_project_id", "links"];

pub fn view(id: &Identity, u: &User) -> Value {
    let mut v: Map<String, Value> = serde_json::from_str(&u.extra).unwrap_or_default();
    v.insert("id".into(), json!(u.id));
    v.insert("name".into(), json!(u.name));
    v.insert("domain_id".into(), json!(u.domain_id));
    v.insert("enabled".into(), json!(u.enabled));
    v.insert("password_expires_at".into(), Value::Null);
    // Options (ignore_password_expiry, ...) are kept as given, in `extra`.
    v.entry("options").or_insert(json!({}));
    // No user is federated here: users live in the Identity store only.
    v.insert("federated".into(), json!([]));
    if let Some(p) = &u.default_project_id {
        v.insert("default_project_id".into(), json!(p));
    }
    v.insert("links".into(), json!({"self": link(id, &format!("users/{}", u.id))}));
    Value::Object(v)
}

fn extras(b: &Map<String, Value>, into: &mut Map<String, Value>) {
    for (k, v) in b {
        if !COLUMNS.contains(&k.as_str()) && !["password_expires_at", "federated"].contains(&k.as_str()) {
            into.insert(k.clone(), v.clone());
        }
    }
}

pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let only = policy::list_scope(&ctx, "identity:list_users")?;
    let filter = Filter::default()
        .eq("name", params.get("name").map(String::as_str))
        .eq("domain_id", only.as_deref().or(params.get("domain_id").map(String::as_str)))
        .flag("enabled", query_flag(&params, "enabled"));
    let items = store::list::<User>(&id.pool, "users", filter).await?.iter().map(|u| view(&id, u)).collect();
    Ok(list_body("users", items, link(&id, "users")))
}

pub async fn load(id: &Identity, ctx: &oxistack_core::Context, uid: &str, rule: &str) -> ApiResult<User> {
    let u: User = store::get(&id.pool, "users", "user", uid).await?;
    policy::reader_or(ctx, rule, Some(&u.domain_id), ctx.user_id == uid)?;
    Ok(u)
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>) -> ApiResult<Json<Value>> {
    let u = load(&id, &ctx, &uid, "identity:get_user").await?;
    Ok(Json(json!({"user": view(&id, &u)})))
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    policy::admin(&ctx, "identity:create_user")?;
    let b = body.member("user")?;
    let domain_id = opt_str(b, "domain_id")?.unwrap_or(DEFAULT_DOMAIN_ID).to_owned();
    let _: Domain = store::get(&id.pool, "domains", "domain", &domain_id).await?;
    let mut extra = Map::new();
    extras(b, &mut extra);
    let u = User {
        id: new_id(),
        name: req_str(b, "name")?.into(),
        domain_id,
        enabled: opt_bool(b, "enabled")?.unwrap_or(true),
        password_hash: match opt_str(b, "password")? {
            Some(pw) => Some(id.new_password(None, pw, false).await?),
            None => None,
        },
        default_project_id: opt_str(b, "default_project_id")?.map(String::from),
        extra: Value::Object(extra).to_string(),
    };
    store::insert_user(&id.pool, &u).await?;
    if let Some(hash) = &u.password_hash {
        id.remember_password(&u.id, hash).await?;
    }
    Ok(created(json!({"user": view(&id, &u)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    policy::admin(&ctx, "identity:update_user")?;
    let b = body.member("user")?;
    let mut u: User = store::get(&id.pool, "users", "user", &uid).await?;
    if b.contains_key("domain_id") {
        return Err(Error::BadRequest("Update of `domain_id` is not allowed.".into()).into());
    }
    if b.contains_key("name") {
        u.name = req_str(b, "name")?.into();
    }
    let mut revoke = false;
    if let Some(e) = opt_bool(b, "enabled")? {
        revoke |= u.enabled && !e;
        u.enabled = e;
        if e {
            id.unlock(&uid).await?;
        }
    }
    let mut new_hash = None;
    if let Some(pw) = opt_str(b, "password")? {
        new_hash = Some(id.new_password(Some(&uid), pw, false).await?);
        u.password_hash = new_hash.clone();
        revoke = true;
    }
    if b.contains_key("default_project_id") {
        u.default_project_id = opt_str(b, "default_project_id")?.map(String::from);
    }
    let mut extra: Map<String, Value> = serde_json::from_str(&u.extra).unwrap_or_default();
    extras(b, &mut extra);
    u.extra = Value::Object(extra).to_string();
    store::update_user(&id.pool, &u).await?;
    if let Some(hash) = &new_hash {
        id.remember_password(&uid, hash).await?;
    }
    if revoke {
        id.revoke_user_tokens(&uid).await?;
    }
    Ok(Json(json!({"user": view(&id, &u)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:delete_user")?;
    store::delete_user(&id.pool, &uid).await?;
    id.revoke_user_tokens(&uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v3/users/{id}/password`: needs no token, only the original password.
pub async fn change_password(id: Shared, Path(uid): Path<String>, body: Body) -> ApiResult<StatusCode> {
    let b = body.member("user")?;
    let original = req_str(b, "original_password")?;
    let new = req_str(b, "password")?;
    let mut u: User = store::get(&id.pool, "users", "user", &uid).await?;
    id.refuse_locked(&uid).await?;
    let ok = password::matches(original, u.password_hash.as_deref()).await.map_err(oxistack_core::Error::from)?;
    id.record_login(&uid, ok).await?;
    if !ok {
        return Err(Error::Unauthorized("The request you have made requires authentication.".into()).into());
    }
    let hash = id.new_password(Some(&uid), new, true).await?;
    u.password_hash = Some(hash.clone());
    store::update_user(&id.pool, &u).await?;
    id.remember_password(&uid, &hash).await?;
    id.revoke_user_tokens(&uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/users/{id}/projects`
pub async fn projects(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>) -> ApiResult<Json<Value>> {
    load(&id, &ctx, &uid, "identity:list_user_projects").await?;
    let items = super::tokens::projects_of(&id, &uid).await?.iter().map(|p| super::projects::view(&id, p)).collect();
    Ok(list_body("projects", items, link(&id, &format!("users/{uid}/projects"))))
}
