//! `/v3/projects`, with the parent hierarchy and tags.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::error::Error;

use super::{
    created, invalid, link, list_body, opt_bool, opt_str, query_flag, req_str, ApiResult, Body, Caller, Params, Shared,
};
use crate::store::{self, Domain, Filter, Project};
use crate::{new_id, policy, Identity, DEFAULT_DOMAIN_ID};

pub fn tags_of(p: &Project) -> Vec<String> {
    serde_json::from_str(&p.tags).unwrap_or_default()
}

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

/// Keystone's tag filters: `tags` (all), `tags-any`, `not-tags`, `not-tags-any`.
fn tags_match(p: &Project, params: &std::collections::HashMap<String, String>) -> bool {
    let tags = tags_of(p);
    let has = |t: &&str| tags.iter().any(|x| x == t);
    let all = split(params.get("tags"));
    let any = split(params.get("tags-any"));
    let not_all = split(params.get("not-tags"));
    let not_any = split(params.get("not-tags-any"));
    all.iter().all(has)
        && (any.is_empty() || any.iter().any(has))
        && (not_all.is_empty() || !not_all.iter().all(has))
        && !not_any.iter().any(has)
}

pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let only = policy::list_scope(&ctx, "identity:list_projects")?;
    if query_flag(&params, "is_domain") == Some(true) {
        return Ok(list_body("projects", vec![], link(&id, "projects")));
    }
    let domain = only.as_deref().or(params.get("domain_id").map(String::as_str));
    // A parent_id naming a domain means that domain's top-level projects.
    let parent = match params.get("parent_id") {
        Some(pid) if store::find::<Domain>(&id.pool, "domains", pid).await?.is_some() => Some(None),
        Some(pid) => Some(Some(pid.as_str())),
        None => None,
    };
    let filter = Filter::default()
        .eq("name", params.get("name").map(String::as_str))
        .eq("domain_id", domain)
        .eq_or_null("parent_id", parent)
        .flag("enabled", query_flag(&params, "enabled"));
    let items = store::list::<Project>(&id.pool, "projects", filter)
        .await?
        .iter()
        .filter(|p| tags_match(p, &params))
        .filter(|p| match (params.get("parent_id"), &p.parent_id) {
            (Some(pid), None) => *pid == p.domain_id,
            _ => true,
        })
        .map(|p| view(&id, p))
        .collect();
    Ok(list_body("projects", items, link(&id, "projects")))
}

pub async fn load(id: &Identity, ctx: &oxistack_core::Context, pid: &str, rule: &str) -> ApiResult<Project> {
    let p: Project = store::get(&id.pool, "projects", "project", pid).await?;
    policy::reader_or(ctx, rule, Some(&p.domain_id), ctx.project_id() == Some(pid))?;
    Ok(p)
}

pub async fn show(id: Shared, Caller(ctx): Caller, Path(pid): Path<String>) -> ApiResult<Json<Value>> {
    let p = load(&id, &ctx, &pid, "identity:get_project").await?;
    Ok(Json(json!({"project": view(&id, &p)})))
}

fn valid_tags(v: &Value) -> ApiResult<String> {
    let tags = v.as_array().ok_or_else(|| invalid("tags. Expecting a list of strings"))?;
    if tags.len() > 80
        || tags
            .iter()
            .any(|t| t.as_str().is_none_or(|s| s.is_empty() || s.len() > 255 || s.contains('/') || s.contains(',')))
    {
        return Err(invalid("tags. Each tag is a string of 1 to 255 characters without '/' or ','; at most 80 tags"));
    }
    Ok(v.to_string())
}

pub async fn create(id: Shared, Caller(ctx): Caller, body: Body) -> ApiResult<(StatusCode, Json<Value>)> {
    policy::admin(&ctx, "identity:create_project")?;
    let b = body.member("project")?;
    if opt_bool(b, "is_domain")? == Some(true) {
        return Err(
            Error::NotImplemented("Projects acting as domains are not supported; create a domain.".into()).into()
        );
    }
    let default_domain = match &ctx.scope {
        oxistack_core::context::Scope::Project { domain_id, .. } => domain_id.clone(),
        oxistack_core::context::Scope::Domain { id, .. } => id.clone(),
        _ => DEFAULT_DOMAIN_ID.into(),
    };
    let mut domain_id = opt_str(b, "domain_id")?.map(String::from);
    let mut parent_id = None;
    if let Some(pid) = opt_str(b, "parent_id")? {
        match store::find::<Project>(&id.pool, "projects", pid).await? {
            Some(parent) => {
                if domain_id.as_ref().is_some_and(|d| *d != parent.domain_id) {
                    return Err(Error::BadRequest(
                        "Cannot create project, the parent is in a different domain.".into(),
                    )
                    .into());
                }
                domain_id = Some(parent.domain_id);
                parent_id = Some(parent.id);
            }
            None if store::find::<Domain>(&id.pool, "domains", pid).await?.is_some() => domain_id = Some(pid.into()),
            None => return Err(store::not_found("project", pid).into()),
        }
    }
    let domain_id = domain_id.unwrap_or(default_domain);
    let _: Domain = store::get(&id.pool, "domains", "domain", &domain_id).await?;
    let p = Project {
        id: new_id(),
        name: req_str(b, "name")?.into(),
        domain_id,
        parent_id,
        description: opt_str(b, "description")?.unwrap_or("").into(),
        enabled: opt_bool(b, "enabled")?.unwrap_or(true),
        tags: b.get("tags").map(valid_tags).transpose()?.unwrap_or_else(|| "[]".into()),
    };
    store::insert_project(&id.pool, &p).await?;
    Ok(created(json!({"project": view(&id, &p)})))
}

pub async fn update(id: Shared, Caller(ctx): Caller, Path(pid): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    policy::admin(&ctx, "identity:update_project")?;
    let b = body.member("project")?;
    let mut p: Project = store::get(&id.pool, "projects", "project", &pid).await?;
    for immutable in ["domain_id", "parent_id", "is_domain"] {
        if b.contains_key(immutable) {
            return Err(Error::BadRequest(format!("Update of `{immutable}` is not allowed.")).into());
        }
    }
    if b.contains_key("name") {
        p.name = req_str(b, "name")?.into();
    }
    if let Some(d) = opt_str(b, "description")? {
        p.description = d.into();
    }
    let disabling = opt_bool(b, "enabled")? == Some(false) && p.enabled;
    if let Some(e) = opt_bool(b, "enabled")? {
        p.enabled = e;
    }
    if let Some(t) = b.get("tags") {
        p.tags = valid_tags(t)?;
    }
    store::update_project(&id.pool, &p).await?;
    if disabling {
        id.revoke_project_tokens(&pid).await?;
    }
    Ok(Json(json!({"project": view(&id, &p)})))
}

pub async fn delete(id: Shared, Caller(ctx): Caller, Path(pid): Path<String>) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:delete_project")?;
    let _: Project = store::get(&id.pool, "projects", "project", &pid).await?;
    if store::project_has_children(&id.pool, &pid).await? {
        return Err(Error::Forbidden(format!(
            "Cannot delete the project {pid} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree."
        ))
        .into());
    }
    store::delete_project(&id.pool, &pid).await?;
    id.revoke_project_tokens(&pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn tags(id: Shared, Caller(ctx): Caller, Path(pid): Path<String>) -> ApiResult<Json<Value>> {
    let p = load(&id, &ctx, &pid, "identity:get_project_tags").await?;
    Ok(Json(json!({"tags": tags_of(&p)})))
}

pub async fn has_tag(
    id: Shared,
    Caller(ctx): Caller,
    Path((pid, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let p = load(&id, &ctx, &pid, "identity:get_project_tag").await?;
    if tags_of(&p).contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(store::not_found("tag", &tag).into())
    }
}

async fn set_tags(id: &Identity, p: &mut Project, tags: Vec<String>) -> ApiResult<()> {
    p.tags = valid_tags(&json!(tags))?;
    store::update_project(&id.pool, p).await?;
    Ok(())
}

pub async fn replace_tags(
    id: Shared,
    Caller(ctx): Caller,
    Path(pid): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    policy::admin(&ctx, "identity:update_project_tags")?;
    let mut p: Project = store::get(&id.pool, "projects", "project", &pid).await?;
    let tags: Vec<String> = serde_json::from_value(body.0.get("tags").cloned().unwrap_or(json!([])))
        .map_err(|_| invalid("tags. Expecting a list of strings"))?;
    set_tags(&id, &mut p, tags).await?;
    Ok(Json(json!({"tags": tags_of(&p)})))
}

pub async fn clear_tags(id: Shared, Caller(ctx): Caller, Path(pid): Path<String>) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:delete_project_tags")?;
    let mut p: Project = store::get(&id.pool, "projects", "project", &pid).await?;
    set_tags(&id, &mut p, vec![]).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_tag(
    id: Shared,
    Caller(ctx): Caller,
    Path((pid, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:create_project_tag")?;
    let mut p: Project = store::get(&id.pool, "projects", "project", &pid).await?;
    let mut tags = tags_of(&p);
    if !tags.contains(&tag) {
        tags.push(tag);
    }
    set_tags(&id, &mut p, tags).await?;
    Ok(StatusCode::CREATED)
}

pub async fn remove_tag(
    id: Shared,
    Caller(ctx): Caller,
    Path((pid, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:delete_project_tag")?;
    let mut p: Project = store::get(&id.pool, "projects", "project", &pid).await?;
    let mut tags = tags_of(&p);
    let before = tags.len();
    tags.retain(|t| *t != tag);
    if tags.len() == before {
        return Err(store::not_found("tag", &tag).into());
    }
    set_tags(&id, &mut p, tags).await?;
    Ok(StatusCode::NO_CONTENT)
}
