//! `/v3/groups` and group membership.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{created, link, list_body, opt_str, req_str, ApiResult, Body, Caller, Params, Shared};
use crate::store::{self, Domain, Filter, Group, User};
use crate::{new_id, policy, Identity, DEFAULT_DOMAIN_ID};

pub fn view(id: &Identity, g: &Group) -> Value {
    json!({
        "id": g.id, "name": g.name, "domain_id": g.domain_id, "description": g.description,
        "links": {"self": link(id, &format!("groups/{}", g.id))},
    })
}

pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let only = policy::list_scope(&ctx, "identity:list_groups")?;
    let filter = Filter::default()
        .eq("name", params.get("name").map(String::as_str))
        .eq("domain_id", only.as_deref().or(params.get("domain_id").map(String::as_str)));
    let items = store::list::<Group>(&id.pool, "groups", filter).await?.iter().map(|g| view(&id, g)).collect();
    Ok(list_body("groups", items, link(&id, "groups")))
}

async fn load(id: &Identity, ctx: &oxistack_core::Context, gid: &str, rule: &str) -> ApiResult<Group> {
    let g: Group = store::get(&id.pool, "groups", "group", gid).await?;
    policy::reader(ctx, rule, Some(&g.domain_id))?;
    Ok(g)
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(gid): Path<String>) -> ApiResult<Json<Value>> {
    let g = load(&id, &ctx, &gid, "identity:get_group").await?;
    Ok(Json(json!({"group": view(&id, &g)})))
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    policy::admin(&ctx, "identity:create_group")?;
    let b = body.member("group")?;
    let domain_id = opt_str(b, "domain_id")?.unwrap_or(DEFAULT_DOMAIN_ID).to_owned();
    let _: Domain = store::get(&id.pool, "domains", "domain", &domain_id).await?;
    let g = Group {
        id: new_id(),
        name: req_str(b, "name")?.into(),
        domain_id,
        description: opt_str(b, "description")?.unwrap_or("").into(),
    };
    store::insert_group(&id.pool, &g).await?;
    Ok(created(json!({"group": view(&id, &g)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(gid): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    policy::admin(&ctx, "identity:update_group")?;
    let b = body.member("group")?;
    let mut g: Group = store::get(&id.pool, "groups", "group", &gid).await?;
    if b.contains_key("name") {
        g.name = req_str(b, "name")?.into();
    }
    if let Some(d) = opt_str(b, "description")? {
        g.description = d.into();
    }
    store::update_group(&id.pool, &g).await?;
    Ok(Json(json!({"group": view(&id, &g)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(gid): Path<String>) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:delete_group")?;
    store::delete_group(&id.pool, &gid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn users(id: Shared, Caller(ctx): Caller, Path(gid): Path<String>) -> ApiResult<Json<Value>> {
    load(&id, &ctx, &gid, "identity:list_users_in_group").await?;
    let items = store::group_users(&id.pool, &gid).await?.iter().map(|u| super::users::view(&id, u)).collect();
    Ok(list_body("users", items, link(&id, &format!("groups/{gid}/users"))))
}

pub async fn of_user(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>) -> ApiResult<Json<Value>> {
    super::users::load(&id, &ctx, &uid, "identity:list_groups_for_user").await?;
    let items = store::user_groups(&id.pool, &uid).await?.iter().map(|g| view(&id, g)).collect();
    Ok(list_body("groups", items, link(&id, &format!("users/{uid}/groups"))))
}

async fn both(id: &Identity, gid: &str, uid: &str) -> ApiResult<()> {
    let _: Group = store::get(&id.pool, "groups", "group", gid).await?;
    let _: User = store::get(&id.pool, "users", "user", uid).await?;
    Ok(())
}

pub async fn add_user(
    id: Shared,
    Caller(ctx): Caller,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:add_user_to_group")?;
    both(&id, &gid, &uid).await?;
    store::add_member(&id.pool, &gid, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn check_user(
    id: Shared,
    Caller(ctx): Caller,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    load(&id, &ctx, &gid, "identity:check_user_in_group").await?;
    both(&id, &gid, &uid).await?;
    if store::is_member(&id.pool, &gid, &uid).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(oxistack_core::Error::NotFound(format!("User '{uid}' not found in group {gid}")).into())
    }
}

pub async fn remove_user(
    id: Shared,
    Caller(ctx): Caller,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:remove_user_from_group")?;
    both(&id, &gid, &uid).await?;
    if !store::remove_member(&id.pool, &gid, &uid).await? {
        return Err(oxistack_core::Error::NotFound(format!("User '{uid}' not found in group {gid}")).into());
    }
    Ok(StatusCode::NO_CONTENT)
}
