//! Projects: who may list and see them, their hierarchy under a domain and
//! parent, their tags, and the tokens disabling or deleting one revokes.

use oxistack_core::context::{Context, Scope};
use oxistack_core::error::{Error, Result};

use crate::store::{self, Domain, Filter, Project};
use crate::{new_id, policy, Identity, DEFAULT_DOMAIN_ID};

/// Keystone's tag limits: at most 80 tags of 1 to 255 characters, without
/// '/' or ','.
pub const MAX_TAGS: usize = 80;

pub fn tags_of(p: &Project) -> Vec<String> {
    serde_json::from_str(&p.tags).unwrap_or_default()
}

fn valid_tags(tags: &[String]) -> Result<String> {
    let bad = |t: &String| t.is_empty() || t.len() > 255 || t.contains('/') || t.contains(',');
    if tags.len() > MAX_TAGS || tags.iter().any(bad) {
        return Err(Error::BadRequest(
            "Invalid input for field/attribute: tags. Each tag is a string of 1 to 255 characters without '/' or ','; at most 80 tags".into(),
        ));
    }
    Ok(serde_json::Value::from(tags.to_vec()).to_string())
}

/// What a project list narrows to; the tag filters are Keystone's `tags`
/// (all), `tags-any`, `not-tags` and `not-tags-any`.
#[derive(Debug, Default)]
pub struct ProjectFilter<'a> {
    pub name: Option<&'a str>,
    pub domain_id: Option<&'a str>,
    /// A project or a domain (that domain's top-level projects).
    pub parent_id: Option<&'a str>,
    pub enabled: Option<bool>,
    /// `is_domain=true`: no project acts as a domain here.
    pub is_domain: Option<bool>,
    pub tags: Vec<&'a str>,
    pub tags_any: Vec<&'a str>,
    pub not_tags: Vec<&'a str>,
    pub not_tags_any: Vec<&'a str>,
}

impl ProjectFilter<'_> {
    fn tags_match(&self, p: &Project) -> bool {
        let tags = tags_of(p);
        let has = |t: &&str| tags.iter().any(|x| x == t);
        self.tags.iter().all(has)
            && (self.tags_any.is_empty() || self.tags_any.iter().any(has))
            && (self.not_tags.is_empty() || !self.not_tags.iter().all(has))
            && !self.not_tags_any.iter().any(has)
    }
}

/// A project to create, as the request gave it.
#[derive(Debug, Default)]
pub struct NewProject<'a> {
    pub name: &'a str,
    pub domain_id: Option<&'a str>,
    /// A project, or a domain (then a top-level project of it).
    pub parent_id: Option<&'a str>,
    pub description: Option<&'a str>,
    pub enabled: Option<bool>,
    pub tags: Option<Vec<String>>,
}

/// What an update changes; `None` leaves an attribute as it is.
#[derive(Debug, Default)]
pub struct ProjectChange<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub enabled: Option<bool>,
    pub tags: Option<Vec<String>>,
}

impl Identity {
    /// The projects the caller may list (a domain reader sees its domain's).
    pub async fn list_projects(&self, ctx: &Context, filter: &ProjectFilter<'_>) -> Result<Vec<Project>> {
        let only = policy::list_scope(ctx, "identity:list_projects")?;
        if filter.is_domain == Some(true) {
            return Ok(vec![]);
        }
        let domain = only.as_deref().or(filter.domain_id);
        // A parent_id naming a domain means that domain's top-level projects.
        let parent = match filter.parent_id {
            Some(pid) if store::find::<Domain>(&self.pool, "domains", pid).await?.is_some() => Some(None),
            Some(pid) => Some(Some(pid)),
            None => None,
        };
        let sql = Filter::default()
            .eq("name", filter.name)
            .eq("domain_id", domain)
            .eq_or_null("parent_id", parent)
            .flag("enabled", filter.enabled);
        Ok(store::list::<Project>(&self.pool, "projects", sql)
            .await?
            .into_iter()
            .filter(|p| filter.tags_match(p))
            .filter(|p| match (filter.parent_id, &p.parent_id) {
                (Some(pid), None) => pid == p.domain_id,
                _ => true,
            })
            .collect())
    }

    /// Project `pid`, if the caller may see it under `rule` (a reader of its
    /// domain, or scoped to it).
    pub async fn project(&self, ctx: &Context, pid: &str, rule: &str) -> Result<Project> {
        let p: Project = store::get(&self.pool, "projects", "project", pid).await?;
        policy::reader_or(ctx, rule, Some(&p.domain_id), ctx.project_id() == Some(pid))?;
        Ok(p)
    }

    /// Creates the project the request describes (read as for
    /// [`Identity::create_user`]): in the domain it names, its parent's, or
    /// the caller's.
    pub async fn create_project<E: From<Error>>(
        &self,
        ctx: &Context,
        asked: std::result::Result<NewProject<'_>, E>,
    ) -> std::result::Result<Project, E> {
        policy::admin(ctx, "identity:create_project")?;
        let new = asked?;
        let default_domain = match &ctx.scope {
            Scope::Project { domain_id, .. } => domain_id.clone(),
            Scope::Domain { id, .. } => id.clone(),
            _ => DEFAULT_DOMAIN_ID.into(),
        };
        let mut domain_id = new.domain_id.map(String::from);
        let mut parent_id = None;
        if let Some(pid) = new.parent_id {
            match store::find::<Project>(&self.pool, "projects", pid).await? {
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
                None if store::find::<Domain>(&self.pool, "domains", pid).await?.is_some() => {
                    domain_id = Some(pid.into())
                }
                None => return Err(store::not_found("project", pid).into()),
            }
        }
        let domain_id = domain_id.unwrap_or(default_domain);
        let _: Domain = store::get(&self.pool, "domains", "domain", &domain_id).await?;
        let p = Project {
            id: new_id(),
            name: new.name.into(),
            domain_id,
            parent_id,
            description: new.description.unwrap_or("").into(),
            enabled: new.enabled.unwrap_or(true),
            tags: valid_tags(new.tags.as_deref().unwrap_or_default())?,
        };
        store::insert_project(&self.pool, &p).await?;
        Ok(p)
    }

    /// Changes project `pid`; disabling it revokes the tokens scoped to it.
    pub async fn update_project<E: From<Error>>(
        &self,
        ctx: &Context,
        pid: &str,
        asked: std::result::Result<ProjectChange<'_>, E>,
    ) -> std::result::Result<Project, E> {
        policy::admin(ctx, "identity:update_project")?;
        let change = asked?;
        let mut p: Project = store::get(&self.pool, "projects", "project", pid).await?;
        if let Some(name) = change.name {
            p.name = name.into();
        }
        if let Some(d) = change.description {
            p.description = d.into();
        }
        let disabling = change.enabled == Some(false) && p.enabled;
        if let Some(e) = change.enabled {
            p.enabled = e;
        }
        if let Some(t) = &change.tags {
            p.tags = valid_tags(t)?;
        }
        store::update_project(&self.pool, &p).await?;
        if disabling {
            self.revoke_project_tokens(pid).await?;
        }
        Ok(p)
    }

    /// Deletes a leaf project and revokes the tokens scoped to it.
    pub async fn delete_project(&self, ctx: &Context, pid: &str) -> Result<()> {
        policy::admin(ctx, "identity:delete_project")?;
        let _: Project = store::get(&self.pool, "projects", "project", pid).await?;
        if store::project_has_children(&self.pool, pid).await? {
            return Err(Error::Forbidden(format!(
                "Cannot delete the project {pid} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree."
            )));
        }
        store::delete_project(&self.pool, pid).await?;
        self.revoke_project_tokens(pid).await
    }

    /// Changes project `pid`'s tags with `change` under `rule`; its tags after.
    pub async fn change_project_tags<E: From<Error>>(
        &self,
        ctx: &Context,
        pid: &str,
        rule: &str,
        change: impl FnOnce(&mut Vec<String>) -> std::result::Result<(), E>,
    ) -> std::result::Result<Vec<String>, E> {
        policy::admin(ctx, rule)?;
        let mut p: Project = store::get(&self.pool, "projects", "project", pid).await?;
        let mut tags = tags_of(&p);
        change(&mut tags)?;
        p.tags = valid_tags(&tags)?;
        store::update_project(&self.pool, &p).await?;
        Ok(tags)
    }
}
