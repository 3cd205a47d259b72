//! `/v3/groups` and group membership.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{created, link, list_body, opt_str, req_str, ApiResult, Body, Caller, Params, Shared};
use crate::groups::GroupFields;
use crate::store::Group;
use crate::Identity;

pub fn view(id: &Identity, g: &Group) -> Value {
    json!({
        "id": g.id, "name": g.name, "domain_id": g.domain_id, "description": g.description,
        "links": {"self": link(id, &format!("groups/{}", g.id))},
    })
}

pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let groups = id
        .list_groups(&ctx, params.get("name").map(String::as_str), params.get("domain_id").map(String::as_str))
        .await?;
    let items = groups.iter().map(|g| view(&id, g)).collect();
    Ok(list_body("groups", items, link(&id, "groups")))
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(gid): Path<String>) -> ApiResult<Json<Value>> {
    let g = id.group(&ctx, &gid, "identity:get_group").await?;
    Ok(Json(json!({"group": view(&id, &g)})))
}

fn fields(body: &Body, creating: bool) -> ApiResult<GroupFields<'_>> {
    let b = body.member("group")?;
    Ok(GroupFields {
        domain_id: if creating { opt_str(b, "domain_id")? } else { None },
        name: if creating || b.contains_key("name") { Some(req_str(b, "name")?) } else { None },
        description: opt_str(b, "description")?,
    })
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    let g = id.create_group(&ctx, fields(&body, true)).await?;
    Ok(created(json!({"group": view(&id, &g)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(gid): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    let g = id.update_group(&ctx, &gid, fields(&body, false)).await?;
    Ok(Json(json!({"group": view(&id, &g)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(gid): Path<String>) -> ApiResult<StatusCode> {
    id.delete_group(&ctx, &gid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn users(id: Shared, Caller(ctx): Caller, Path(gid): Path<String>) -> ApiResult<Json<Value>> {
    let items = id.group_users(&ctx, &gid).await?.iter().map(|u| super::users::view(&id, u)).collect();
    Ok(list_body("users", items, link(&id, &format!("groups/{gid}/users"))))
}

pub async fn of_user(id: Shared, Caller(ctx): Caller, Path(uid): Path<String>) -> ApiResult<Json<Value>> {
    let items = id.user_groups(&ctx, &uid).await?.iter().map(|g| view(&id, g)).collect();
    Ok(list_body("groups", items, link(&id, &format!("users/{uid}/groups"))))
}

pub async fn add_user(
    id: Shared,
    Caller(ctx): Caller,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    id.add_member(&ctx, &gid, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn check_user(
    id: Shared,
    Caller(ctx): Caller,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    id.check_member(&ctx, &gid, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_user(
    id: Shared,
    Caller(ctx): Caller,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    id.remove_member(&ctx, &gid, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}
