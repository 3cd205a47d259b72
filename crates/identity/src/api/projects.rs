//! `/v3/projects`, with the parent hierarchy and tags.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::error::Error;

use super::{
    created, invalid, link, list_body, opt_bool, opt_str, query_flag, req_str, ApiResult, Body, Caller, Params, Shared,
};
use crate::projects::{tags_of, NewProject, ProjectChange, ProjectFilter};
use crate::store::{self, Project};
use crate::Identity;

pub fn view(id: &Identity, p: &Project) -> Value {
    json!({
        "id": p.id, "name": p.name, "domain_id": p.domain_id, "description": p.description,
        "enabled": p.enabled, "is_domain": false,
        // A top-level project's parent is its domain.
        "parent_id": p.parent_id.clone().unwrap_or_else(|| p.domain_id.clone()),
        "tags": tags_of(p), "options": {},
        "links": {"self": link(id, &format!("projects/{}", p.id))},
    })
}

fn split(v: Option<&String>) -> Vec<&str> {
    v.map(|s| s.split(',').filter(|t| !t.is_empty()).collect()).unwrap_or_default()
}

/// A body's `tags`: a list of strings (their limits are the service's).
fn tags_in(v: &Value) -> ApiResult<Vec<String>> {
    let tags = v.as_array().ok_or_else(|| invalid("tags. Expecting a list of strings"))?;
    tags.iter()
        .map(|t| {
            t.as_str().map(String::from).ok_or_else(|| {
                invalid("tags. Each tag is a string of 1 to 255 characters without '/' or ','; at most 80 tags")
            })
        })
        .collect()
}

pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let filter = ProjectFilter {
        name: params.get("name").map(String::as_str),
        domain_id: params.get("domain_id").map(String::as_str),
        parent_id: params.get("parent_id").map(String::as_str),
        enabled: query_flag(&params, "enabled"),
        is_domain: query_flag(&params, "is_domain"),
        tags: split(params.get("tags")),
        tags_any: split(params.get("tags-any")),
        not_tags: split(params.get("not-tags")),
        not_tags_any: split(params.get("not-tags-any")),
    };
    let items = id.list_projects(&ctx, &filter).await?.iter().map(|p| view(&id, p)).collect();
    Ok(list_body("projects", items, link(&id, "projects")))
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(pid): Path<String>) -> ApiResult<Json<Value>> {
    let p = id.project(&ctx, &pid, "identity:get_project").await?;
    Ok(Json(json!({"project": view(&id, &p)})))
}

fn new_project(body: &Body) -> ApiResult<NewProject<'_>> {
    let b = body.member("project")?;
    if opt_bool(b, "is_domain")? == Some(true) {
        return Err(
            Error::NotImplemented("Projects acting as domains are not supported; create a domain.".into()).into()
        );
    }
    Ok(NewProject {
        domain_id: opt_str(b, "domain_id")?,
        parent_id: opt_str(b, "parent_id")?,
        name: req_str(b, "name")?,
        description: opt_str(b, "description")?,
        enabled: opt_bool(b, "enabled")?,
        tags: b.get("tags").map(tags_in).transpose()?,
    })
}

fn project_change(body: &Body) -> ApiResult<ProjectChange<'_>> {
    let b = body.member("project")?;
    for immutable in ["domain_id", "parent_id", "is_domain"] {
        if b.contains_key(immutable) {
            return Err(Error::BadRequest(format!("Update of `{immutable}` is not allowed.")).into());
        }
    }
    Ok(ProjectChange {
        name: if b.contains_key("name") { Some(req_str(b, "name")?) } else { None },
        description: opt_str(b, "description")?,
        enabled: opt_bool(b, "enabled")?,
        tags: b.get("tags").map(tags_in).transpose()?,
    })
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    let p = id.create_project(&ctx, new_project(&body)).await?;
    Ok(created(json!({"project": view(&id, &p)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(pid): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    let p = id.update_project(&ctx, &pid, project_change(&body)).await?;
    Ok(Json(json!({"project": view(&id, &p)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(pid): Path<String>) -> ApiResult<StatusCode> {
    id.delete_project(&ctx, &pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn tags(id: Shared, Caller(ctx): Caller, Path(pid): Path<String>) -> ApiResult<Json<Value>> {
    let p = id.project(&ctx, &pid, "identity:get_project_tags").await?;
    Ok(Json(json!({"tags": tags_of(&p)})))
}

pub async fn has_tag(
    id: Shared,
    Caller(ctx): Caller,
    Path((pid, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let p = id.project(&ctx, &pid, "identity:get_project_tag").await?;
    if tags_of(&p).contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(store::not_found("tag", &tag).into())
    }
}

pub async fn replace_tags(
    id: Shared,
    Caller(ctx): Caller,
    Path(pid): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let asked: ApiResult<Vec<String>> = serde_json::from_value(body.0.get("tags").cloned().unwrap_or(json!([])))
        .map_err(|_| invalid("tags. Expecting a list of strings"));
    let tags = id
        .change_project_tags(&ctx, &pid, "identity:update_project_tags", |tags| {
            *tags = asked?;
            Ok::<_, super::KeystoneError>(())
        })
        .await?;
    Ok(Json(json!({"tags": tags})))
}

pub async fn clear_tags(id: Shared, Caller(ctx): Caller, Path(pid): Path<String>) -> ApiResult<StatusCode> {
    id.change_project_tags(&ctx, &pid, "identity:delete_project_tags", |tags| {
        tags.clear();
        Ok::<_, super::KeystoneError>(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_tag(
    id: Shared,
    Caller(ctx): Caller,
    Path((pid, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    id.change_project_tags(&ctx, &pid, "identity:create_project_tag", |tags| {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
        Ok::<_, super::KeystoneError>(())
    })
    .await?;
    Ok(StatusCode::CREATED)
}

pub async fn remove_tag(
    id: Shared,
    Caller(ctx): Caller,
    Path((pid, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    id.change_project_tags(&ctx, &pid, "identity:delete_project_tag", |tags| {
        let before = tags.len();
        tags.retain(|t| *t != tag);
        if tags.len() == before {
            return Err(super::KeystoneError::from(store::not_found("tag", &tag)));
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
