//! Server groups and their placement policies. There is one compute host
//! today, so `affinity` always holds, and hard `anti-affinity` lets a group
//! place at most `max_server_per_host` (default 1) live servers.

use oxistack_core::context::Context;
use oxistack_core::db::Pool;
use oxistack_core::error::{Error, Result};
use serde_json::{json, Value};

use crate::quotas;
use crate::service::now;
use crate::store::server_groups as store;
pub use crate::store::server_groups::{add_member, list, members, of_instance, Group};

pub const POLICIES: &[&str] = &["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"];

pub async fn find(pool: &Pool, ctx: &Context, id: &str) -> Result<Group> {
    match store::find(pool, id).await? {
        Some(g) if ctx.is_admin() || ctx.project_id() == Some(g.project_id.as_str()) => Ok(g),
        _ => Err(Error::NotFound(format!("Instance group {id} could not be found."))),
    }
}

pub async fn create(pool: &Pool, ctx: &Context, name: &str, policy: &str, rules: Value) -> Result<Group> {
    let project = ctx.project_id().ok_or_else(|| Error::Forbidden("A project-scoped token is required.".into()))?;
    if !POLICIES.contains(&policy) {
        return Err(Error::BadRequest(format!(
            "Invalid input for field/attribute policy. Value: {policy}. '{policy}' is not one of {POLICIES:?}"
        )));
    }
    if policy != "anti-affinity" && rules.as_object().is_some_and(|r| !r.is_empty()) {
        return Err(Error::BadRequest("Only anti-affinity policy supports rules.".into()));
    }
    let limit = quotas::limits(pool, project).await?.get("server_groups").copied().unwrap_or(-1);
    let used = list(pool, Some(project)).await?.len() as i64;
    if !quotas::fits(limit, used, 1) {
        return Err(Error::Forbidden("Quota exceeded, too many server groups.".into()));
    }
    let g = Group {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.into(),
        project_id: project.into(),
        user_id: ctx.user_id.clone(),
        policy: policy.into(),
        rules: rules.to_string(),
        created_at: now(),
    };
    store::insert(pool, &g).await?;
    Ok(g)
}

pub async fn delete(pool: &Pool, ctx: &Context, id: &str) -> Result<()> {
    find(pool, ctx, id).await?;
    store::delete(pool, id).await
}

/// How many more servers the group may place on the one host; `None` for no
/// limit.
pub async fn room_on_host(pool: &Pool, g: &Group) -> Result<Option<i64>> {
    if g.policy != "anti-affinity" {
        return Ok(None);
    }
    let rules: Value = serde_json::from_str(&g.rules).unwrap_or(json!({}));
    let per_host = rules.get("max_server_per_host").and_then(Value::as_i64).unwrap_or(1);
    Ok(Some((per_host - members(pool, &g.id).await?.len() as i64).max(0)))
}
