//! `/v3/users`, passwords, and the projects a user can reach.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;

use super::{
    created, link, list_body, opt_bool, opt_str, query_flag, req_str, ApiResult, Body, Caller, Params, Shared,
};
use crate::store::User;
use crate::users::{NewUser, UserChange, UserFilter};
use crate::Identity;

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

/// The attributes of `b` without a column of their own.
fn extras(b: &Map<String, Value>) -> Map<String, Value> {
    b.iter()
        .filter(|(k, _)| !COLUMNS.contains(&k.as_str()) && !["password_expires_at", "federated"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let filter = UserFilter {
        name: params.get("name").map(String::as_str),
        domain_id: params.get("domain_id").map(String::as_str),
        enabled: query_flag(&params, "enabled"),
    };
    let items = id.list_users(&ctx, &filter).await?.iter().map(|u| view(&id, u)).collect();
    Ok(list_body("users", items, link(&id, "users")))
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>) -> ApiResult<Json<Value>> {
    let u = id.user(&ctx, &uid, "identity:get_user").await?;
    Ok(Json(json!({"user": view(&id, &u)})))
}

fn new_user(body: &Body) -> ApiResult<NewUser<'_>> {
    let b = body.member("user")?;
    Ok(NewUser {
        name: req_str(b, "name")?,
        domain_id: opt_str(b, "domain_id")?,
        enabled: opt_bool(b, "enabled")?,
        password: opt_str(b, "password")?,
        default_project_id: opt_str(b, "default_project_id")?,
        extra: extras(b),
    })
}

fn user_change(body: &Body) -> ApiResult<UserChange<'_>> {
    let b = body.member("user")?;
    if b.contains_key("domain_id") {
        return Err(Error::BadRequest("Update of `domain_id` is not allowed.".into()).into());
    }
    Ok(UserChange {
        name: if b.contains_key("name") { Some(req_str(b, "name")?) } else { None },
        enabled: opt_bool(b, "enabled")?,
        password: opt_str(b, "password")?,
        default_project_id: if b.contains_key("default_project_id") {
            Some(opt_str(b, "default_project_id")?)
        } else {
            None
        },
        extra: extras(b),
    })
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    let u = id.create_user(&ctx, new_user(&body)).await?;
    Ok(created(json!({"user": view(&id, &u)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    let u = id.update_user(&ctx, &uid, user_change(&body)).await?;
    Ok(Json(json!({"user": view(&id, &u)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>) -> ApiResult<StatusCode> {
    id.delete_user(&ctx, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v3/users/{id}/password`: needs no token, only the original password.
pub async fn change_password(id: Shared, Path(uid): Path<String>, body: Body) -> ApiResult<StatusCode> {
    let b = body.member("user")?;
    id.change_password(&uid, req_str(b, "original_password")?, req_str(b, "password")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/users/{id}/projects`
pub async fn projects(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>) -> ApiResult<Json<Value>> {
    id.user(&ctx, &uid, "identity:list_user_projects").await?;
    let items = id.projects_of(&uid).await?.iter().map(|p| super::projects::view(&id, p)).collect();
    Ok(list_body("projects", items, link(&id, &format!("users/{uid}/projects"))))
}
