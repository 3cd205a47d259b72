//! Server groups. Their policies are the scheduler's to keep (see
//! [`crate::scheduler`]): `affinity` places every member on one host, hard
//! `anti-affinity` at most `max_server_per_host` (default 1) on each, and the
//! soft policies weigh hosts toward or away from the members.

use oxistack_core::context::Context;
use oxistack_core::db::{JsonText, Pool};
use oxistack_core::error::{Error, Result};
use serde_json::Value;

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
        rules: JsonText(rules.as_object().cloned().unwrap_or_default()),
        created_at: now(),
    };
    store::insert(pool, &g).await?;
    Ok(g)
}

pub async fn delete(pool: &Pool, ctx: &Context, id: &str) -> Result<()> {
    find(pool, ctx, id).await?;
    store::delete(pool, id).await
}
