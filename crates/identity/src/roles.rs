//! Roles: their definitions and inference rules (who may see and change
//! them), and which roles a user holds on a target: direct and group
//! assignments, roles inherited from the domain or parent projects, and
//! implied roles.

use std::collections::BTreeSet;

use oxistack_core::context::Context;
use oxistack_core::db::Pool;
use oxistack_core::error::{Error, Result};

use crate::store::{self, Assignment, Filter, Role};
use crate::{new_id, policy, Identity};

/// A role to create, or (with `None` for what stays) a change to one.
#[derive(Debug, Default)]
pub struct RoleFields<'a> {
    pub name: Option<&'a str>,
    /// At creation: a domain-specific role's domain.
    pub domain_id: Option<&'a str>,
    pub description: Option<&'a str>,
}

/// An inference rule: a prior role and the role it implies.
pub type Inference = (Role, Role);

impl Identity {
    /// The global roles, or a domain's own (`domain_id`), for their readers.
    pub async fn list_roles(&self, ctx: &Context, name: Option<&str>, domain_id: Option<&str>) -> Result<Vec<Role>> {
        policy::reader(ctx, "identity:list_roles", domain_id)?;
        let filter = Filter::default().eq("name", name).eq("domain_id", Some(domain_id.unwrap_or("")));
        store::list::<Role>(&self.pool, "roles", filter).await
    }

    pub async fn role(&self, ctx: &Context, rid: &str) -> Result<Role> {
        let r: Role = store::get(&self.pool, "roles", "role", rid).await?;
        policy::reader(ctx, "identity:get_role", Some(&r.domain_id))?;
        Ok(r)
    }

    /// Creates the role the request describes (read as for
    /// [`Identity::create_user`]).
    pub async fn create_role<E: From<Error>>(
        &self,
        ctx: &Context,
        asked: std::result::Result<RoleFields<'_>, E>,
    ) -> std::result::Result<Role, E> {
        policy::admin(ctx, "identity:create_role")?;
        let new = asked?;
        let r = Role {
            id: new_id(),
            name: new.name.unwrap_or_default().into(),
            domain_id: new.domain_id.unwrap_or("").into(),
            description: new.description.unwrap_or("").into(),
        };
        store::insert_role(&self.pool, &r).await?;
        Ok(r)
    }

    pub async fn update_role<E: From<Error>>(
        &self,
        ctx: &Context,
        rid: &str,
        asked: std::result::Result<RoleFields<'_>, E>,
    ) -> std::result::Result<Role, E> {
        policy::admin(ctx, "identity:update_role")?;
        let change = asked?;
        let mut r: Role = store::get(&self.pool, "roles", "role", rid).await?;
        if let Some(name) = change.name {
            r.name = name.into();
        }
        if let Some(d) = change.description {
            r.description = d.into();
        }
        store::update_role(&self.pool, &r).await?;
        Ok(r)
    }

    /// Deletes a role: its assignments and inference rules go with it (ON
    /// DELETE CASCADE), and tokens lose it at their next validation.
    pub async fn delete_role(&self, ctx: &Context, rid: &str) -> Result<()> {
        policy::admin(ctx, "identity:delete_role")?;
        store::delete(&self.pool, "roles", "role", rid).await
    }

    async fn role_pair(&self, prior: &str, implied: &str) -> Result<Inference> {
        Ok((
            store::get(&self.pool, "roles", "role", prior).await?,
            store::get(&self.pool, "roles", "role", implied).await?,
        ))
    }

    /// Role `prior` and the roles it implies directly.
    pub async fn implied_roles(&self, ctx: &Context, prior: &str) -> Result<(Role, Vec<Role>)> {
        policy::reader(ctx, "identity:list_implied_roles", None)?;
        let p: Role = store::get(&self.pool, "roles", "role", prior).await?;
        let mut implies = vec![];
        for (_, i) in store::implied_roles(&self.pool).await?.into_iter().filter(|(a, _)| a == prior) {
            implies.push(store::get(&self.pool, "roles", "role", &i).await?);
        }
        Ok((p, implies))
    }

    /// Adds the rule that `prior` implies `implied`, unless it makes a cycle.
    pub async fn create_implied_role(&self, ctx: &Context, prior: &str, implied: &str) -> Result<Inference> {
        policy::admin(ctx, "identity:create_implied_role")?;
        let pair = self.role_pair(prior, implied).await?;
        let rules = store::implied_roles(&self.pool).await?;
        if expand_implied([implied.to_owned()], &rules).contains(prior) {
            return Err(Error::Forbidden(format!("Implied role {implied} would create a cycle with {prior}.")));
        }
        store::insert_implied_role(&self.pool, prior, implied).await?;
        Ok(pair)
    }

    /// The rule that `prior` implies `implied`; 404 when there is none.
    pub async fn implied_role(&self, ctx: &Context, prior: &str, implied: &str) -> Result<Inference> {
        policy::reader(ctx, "identity:get_implied_role", None)?;
        let pair = self.role_pair(prior, implied).await?;
        if !store::implied_roles(&self.pool).await?.contains(&(prior.to_owned(), implied.to_owned())) {
            return Err(Error::NotFound(format!("{prior} does not imply {implied}.")));
        }
        Ok(pair)
    }

    pub async fn delete_implied_role(&self, ctx: &Context, prior: &str, implied: &str) -> Result<()> {
        policy::admin(ctx, "identity:delete_implied_role")?;
        self.role_pair(prior, implied).await?;
        if !store::delete_implied_role(&self.pool, prior, implied).await? {
            return Err(Error::NotFound(format!("{prior} does not imply {implied}.")));
        }
        Ok(())
    }

    /// The enabled projects on which `user_id` holds a role.
    pub async fn projects_of(&self, user_id: &str) -> Result<Vec<crate::store::Project>> {
        let mut out = vec![];
        let enabled = Filter::default().flag("enabled", Some(true));
        for p in store::list::<crate::store::Project>(&self.pool, "projects", enabled).await? {
            let target = Target::Project { id: &p.id, domain_id: &p.domain_id };
            if !effective_roles(&self.pool, user_id, &target).await?.is_empty() {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The enabled domains on which `user_id` holds a role.
    pub async fn domains_of(&self, user_id: &str) -> Result<Vec<crate::store::Domain>> {
        let mut out = vec![];
        let enabled = Filter::default().flag("enabled", Some(true));
        for d in store::list::<crate::store::Domain>(&self.pool, "domains", enabled).await? {
            if !effective_roles(&self.pool, user_id, &Target::Domain(&d.id)).await?.is_empty() {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Whether `user_id` holds a role on the system.
    pub async fn has_system_role(&self, user_id: &str) -> Result<bool> {
        Ok(!effective_roles(&self.pool, user_id, &Target::System).await?.is_empty())
    }

    /// Every inference rule, by prior role in the order the rules first name it.
    pub async fn role_inferences(&self, ctx: &Context) -> Result<Vec<(Role, Vec<Role>)>> {
        policy::reader(ctx, "identity:list_role_inference_rules", None)?;
        let rules = store::implied_roles(&self.pool).await?;
        let mut priors: Vec<&String> = vec![];
        for (p, _) in &rules {
            if !priors.contains(&p) {
                priors.push(p);
            }
        }
        let mut out = vec![];
        for prior in priors {
            let p: Role = store::get(&self.pool, "roles", "role", prior).await?;
            let mut implies = vec![];
            for (_, i) in rules.iter().filter(|(a, _)| a == prior) {
                implies.push(store::get(&self.pool, "roles", "role", i).await?);
            }
            out.push((p, implies));
        }
        Ok(out)
    }
}

/// What a token or a check is scoped to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Project { id: &'a str, domain_id: &'a str },
    Domain(&'a str),
    System,
}

/// The closure of `roles` under the inference rules `rules` (prior, implied).
pub fn expand_implied(roles: impl IntoIterator<Item = String>, rules: &[(String, String)]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = roles.into_iter().collect();
    let mut frontier: Vec<String> = out.iter().cloned().collect();
    while let Some(r) = frontier.pop() {
        for (prior, implied) in rules {
            if *prior == r && out.insert(implied.clone()) {
                frontier.push(implied.clone());
            }
        }
    }
    out
}

/// Whether assignment `a` gives its role on `target`, where `ancestors` are the
/// target project's ancestors.
pub fn applies(a: &Assignment, target: &Target, ancestors: &[String]) -> bool {
    match target {
        Target::Project { id, domain_id } => match a.target_type.as_str() {
            "project" if !a.inherited => a.target_id == *id,
            "project" => ancestors.contains(&a.target_id),
            "domain" => a.inherited && a.target_id == *domain_id,
            _ => false,
        },
        Target::Domain(d) => a.target_type == "domain" && !a.inherited && a.target_id == *d,
        Target::System => a.target_type == "system",
    }
}

/// The user's effective roles on `target`, implied roles included, ordered by name.
pub async fn effective_roles(pool: &Pool, user_id: &str, target: &Target<'_>) -> Result<Vec<Role>> {
    let ancestors = match target {
        Target::Project { id, .. } => store::project_ancestors(pool, id).await?,
        _ => vec![],
    };
    let assigned = store::assignments_of_user(pool, user_id)
        .await?
        .into_iter()
        .filter(|a| applies(a, target, &ancestors))
        .map(|a| a.role_id);
    let ids = expand_implied(assigned, &store::implied_roles(pool).await?);
    roles_by_ids(pool, &ids).await
}

pub async fn roles_by_ids(pool: &Pool, ids: &BTreeSet<String>) -> Result<Vec<Role>> {
    let mut roles: Vec<Role> = store::list::<Role>(pool, "roles", store::Filter::default())
        .await?
        .into_iter()
        .filter(|r| ids.contains(&r.id))
        .collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(target_type: &str, target_id: &str, inherited: bool) -> Assignment {
        Assignment {
            actor_type: "user".into(),
            actor_id: "u".into(),
            target_type: target_type.into(),
            target_id: target_id.into(),
            role_id: "r".into(),
            inherited,
        }
    }

    #[test]
    fn implied_roles_close_transitively() {
        let rules = vec![("admin".to_string(), "member".to_string()), ("member".into(), "reader".into())];
        let got = expand_implied(["admin".to_string()], &rules);
        assert_eq!(got.into_iter().collect::<Vec<_>>(), vec!["admin", "member", "reader"]);
        let got = expand_implied(["reader".to_string()], &rules);
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn inheritance_reaches_down_only() {
        let p = Target::Project { id: "child", domain_id: "d" };
        let ancestors = vec!["parent".to_string()];
        assert!(applies(&a("project", "child", false), &p, &ancestors));
        assert!(!applies(&a("project", "child", true), &p, &ancestors));
        assert!(applies(&a("project", "parent", true), &p, &ancestors));
        assert!(!applies(&a("project", "parent", false), &p, &ancestors));
        assert!(applies(&a("domain", "d", true), &p, &ancestors));
        assert!(!applies(&a("domain", "d", false), &p, &ancestors));
        assert!(applies(&a("domain", "d", false), &Target::Domain("d"), &[]));
        assert!(!applies(&a("domain", "d", true), &Target::Domain("d"), &[]));
        assert!(applies(&a("system", "all", false), &Target::System, &[]));
    }
}
