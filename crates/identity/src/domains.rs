//! Domains: who may list and see them, and their deletion (a disabled one
//! only, with everything in it).

use serde_json::Value;

use oxistack_core::context::{Context, Scope};
use oxistack_core::error::{Error, Result};

use crate::store::{self, Domain, Filter};
use crate::{new_id, policy, Identity};

/// A domain to create, or (all `None` but what changes) a change to one.
#[derive(Debug, Default)]
pub struct DomainFields<'a> {
    /// Keystone's `explicit_domain_id`, at creation only.
    pub id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub enabled: Option<bool>,
    pub tags: Option<Value>,
}

impl Identity {
    /// The domains the caller may list (a domain's reader sees its own).
    pub async fn list_domains(&self, ctx: &Context, name: Option<&str>, enabled: Option<bool>) -> Result<Vec<Domain>> {
        let only = policy::list_scope(ctx, "identity:list_domains")?;
        let filter = Filter::default().eq("name", name).eq("id", only.as_deref()).flag("enabled", enabled);
        store::list::<Domain>(&self.pool, "domains", filter).await
    }

    /// Domain `did`, for a reader of it or a caller scoped to it or to one
    /// of its projects.
    pub async fn domain(&self, ctx: &Context, did: &str) -> Result<Domain> {
        let owner =
            ctx.domain_id() == Some(did) || matches!(&ctx.scope, Scope::Project { domain_id, .. } if domain_id == did);
        policy::reader_or(ctx, "identity:get_domain", Some(did), owner)?;
        store::get(&self.pool, "domains", "domain", did).await
    }

    /// Creates the domain the request describes (read as for
    /// [`Identity::create_user`]).
    pub async fn create_domain<E: From<Error>>(
        &self,
        ctx: &Context,
        asked: std::result::Result<DomainFields<'_>, E>,
    ) -> std::result::Result<Domain, E> {
        policy::admin(ctx, "identity:create_domain")?;
        let new = asked?;
        let d = Domain {
            id: new.id.map(String::from).unwrap_or_else(new_id),
            name: new.name.unwrap_or_default().into(),
            description: new.description.unwrap_or("").into(),
            enabled: new.enabled.unwrap_or(true),
            tags: new.tags.unwrap_or_else(|| Value::Array(vec![])).to_string(),
        };
        store::insert_domain(&self.pool, &d).await?;
        Ok(d)
    }

    pub async fn update_domain<E: From<Error>>(
        &self,
        ctx: &Context,
        did: &str,
        asked: std::result::Result<DomainFields<'_>, E>,
    ) -> std::result::Result<Domain, E> {
        policy::admin(ctx, "identity:update_domain")?;
        let change = asked?;
        let mut d: Domain = store::get(&self.pool, "domains", "domain", did).await?;
        if let Some(name) = change.name {
            d.name = name.into();
        }
        if let Some(desc) = change.description {
            d.description = desc.into();
        }
        if let Some(e) = change.enabled {
            d.enabled = e;
        }
        if let Some(t) = change.tags {
            d.tags = t.to_string();
        }
        store::update_domain(&self.pool, &d).await?;
        Ok(d)
    }

    /// Deletes a disabled domain with its projects, users and groups.
    pub async fn delete_domain(&self, ctx: &Context, did: &str) -> Result<()> {
        policy::admin(ctx, "identity:delete_domain")?;
        let d: Domain = store::get(&self.pool, "domains", "domain", did).await?;
        if d.enabled {
            return Err(Error::Forbidden("Cannot delete a domain that is enabled, please disable it first.".into()));
        }
        store::delete_domain_cascade(&self.pool, did).await
    }
}
