//! Role grants on projects, domains and the system, and the role assignment
//! list: who may see and change them, and what `effective=true` expands.

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::roles::expand_implied;
use crate::store::{self, Assignment, Domain, Filter, Group, Project, Role, User};
use crate::{policy, Identity};

/// One row of the role assignment list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentRow {
    pub a: Assignment,
    /// Set for effective rows that come from a group.
    pub via_group: Option<String>,
}

/// What a role assignment list narrows to (Keystone's query names).
#[derive(Debug, Default)]
pub struct AssignmentQuery<'a> {
    pub effective: bool,
    pub user_id: Option<&'a str>,
    pub group_id: Option<&'a str>,
    pub role_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub domain_id: Option<&'a str>,
    pub system: bool,
    pub inherited: bool,
}

/// Something an assignment names, with its name and its domain's.
#[derive(Clone, Debug)]
pub struct Named {
    pub id: String,
    pub name: String,
    /// Its domain's id and name.
    pub domain: Option<(String, String)>,
}

/// The names of an assignment's role, actor and target (`include_names`).
#[derive(Clone, Debug)]
pub struct AssignmentNames {
    pub role: Named,
    pub actor: Named,
    /// A project or a domain; none for the system.
    pub target: Option<Named>,
}

fn no_assignment(a: &Assignment) -> Error {
    Error::NotFound(format!("Could not find role assignment with role: {}.", a.role_id))
}

impl Identity {
    /// Checks that the actor and target exist; the target's domain.
    async fn grant_parts(&self, a: &Assignment) -> Result<Option<String>> {
        match a.actor_type.as_str() {
            "user" => drop(store::get::<User>(&self.pool, "users", "user", &a.actor_id).await?),
            _ => drop(store::get::<Group>(&self.pool, "groups", "group", &a.actor_id).await?),
        }
        Ok(match a.target_type.as_str() {
            "project" => Some(store::get::<Project>(&self.pool, "projects", "project", &a.target_id).await?.domain_id),
            "domain" => Some(store::get::<Domain>(&self.pool, "domains", "domain", &a.target_id).await?.id),
            _ => None,
        })
    }

    /// The roles granted directly to `want`'s actor on its target.
    pub async fn grants(&self, ctx: &Context, want: &Assignment) -> Result<Vec<Role>> {
        let domain = self.grant_parts(want).await?;
        policy::reader(ctx, "identity:list_grants", domain.as_deref())?;
        let mut roles = vec![];
        for a in store::all_assignments(&self.pool).await? {
            if a.actor_type == want.actor_type
                && a.actor_id == want.actor_id
                && a.target_type == want.target_type
                && a.target_id == want.target_id
                && !a.inherited
            {
                roles.push(store::get::<Role>(&self.pool, "roles", "role", &a.role_id).await?);
            }
        }
        Ok(roles)
    }

    /// Whether grant `a` exists (a 404 when it does not).
    pub async fn check_grant(&self, ctx: &Context, a: &Assignment) -> Result<()> {
        let domain = self.grant_parts(a).await?;
        policy::reader(ctx, "identity:check_grant", domain.as_deref())?;
        let _: Role = store::get(&self.pool, "roles", "role", &a.role_id).await?;
        if !store::all_assignments(&self.pool).await?.contains(a) {
            return Err(no_assignment(a));
        }
        Ok(())
    }

    pub async fn grant(&self, ctx: &Context, a: &Assignment) -> Result<()> {
        policy::admin(ctx, "identity:create_grant")?;
        self.grant_parts(a).await?;
        let _: Role = store::get(&self.pool, "roles", "role", &a.role_id).await?;
        store::insert_assignment(&self.pool, a).await
    }

    pub async fn revoke_grant(&self, ctx: &Context, a: &Assignment) -> Result<()> {
        policy::admin(ctx, "identity:revoke_grant")?;
        self.grant_parts(a).await?;
        if !store::delete_assignment(&self.pool, a).await? {
            return Err(no_assignment(a));
        }
        Ok(())
    }

    /// `/v3/role_assignments`: the assignments `q` selects among those the
    /// caller may list (a domain reader: its domain's).
    pub async fn role_assignments(&self, ctx: &Context, q: &AssignmentQuery<'_>) -> Result<Vec<AssignmentRow>> {
        let only = policy::list_scope(ctx, "identity:list_role_assignments")?;
        let all = store::all_assignments(&self.pool).await?;
        let rows = if q.effective {
            self.effective(all).await?
        } else {
            all.into_iter().map(|a| AssignmentRow { a, via_group: None }).collect()
        };
        let projects = store::list::<Project>(&self.pool, "projects", Filter::default()).await?;
        let domain_of = |a: &Assignment| match a.target_type.as_str() {
            "domain" => Some(a.target_id.clone()),
            "project" => projects.iter().find(|p| p.id == a.target_id).map(|p| p.domain_id.clone()),
            _ => None,
        };
        Ok(rows
            .into_iter()
            .filter(|r| {
                let a = &r.a;
                q.user_id.is_none_or(|u| a.actor_type == "user" && a.actor_id == u)
                    && q.group_id.is_none_or(|g| a.actor_type == "group" && a.actor_id == g)
                    && q.role_id.is_none_or(|x| a.role_id == x)
                    && q.project_id.is_none_or(|p| a.target_type == "project" && a.target_id == p)
                    && q.domain_id.is_none_or(|d| a.target_type == "domain" && a.target_id == d)
                    && (!q.system || a.target_type == "system")
                    && (!q.inherited || a.inherited)
                    && only.as_ref().is_none_or(|d| domain_of(a).as_ref() == Some(d))
            })
            .collect())
    }

    /// Expands assignments as `effective=true` asks: group members instead
    /// of groups, inherited assignments onto the projects below, implied roles.
    async fn effective(&self, all: Vec<Assignment>) -> Result<Vec<AssignmentRow>> {
        let rules = store::implied_roles(&self.pool).await?;
        let projects = store::list::<Project>(&self.pool, "projects", Filter::default()).await?;
        let mut out: Vec<AssignmentRow> = vec![];
        for a in all {
            let actors: Vec<(String, Option<String>)> = if a.actor_type == "group" {
                store::group_users(&self.pool, &a.actor_id)
                    .await?
                    .into_iter()
                    .map(|u| (u.id, Some(a.actor_id.clone())))
                    .collect()
            } else {
                vec![(a.actor_id.clone(), None)]
            };
            let targets: Vec<(String, String)> = if !a.inherited {
                vec![(a.target_type.clone(), a.target_id.clone())]
            } else {
                let mut t = vec![];
                for p in &projects {
                    let below = match a.target_type.as_str() {
                        "domain" => p.domain_id == a.target_id,
                        _ => store::project_ancestors(&self.pool, &p.id).await?.contains(&a.target_id),
                    };
                    if below {
                        t.push(("project".to_string(), p.id.clone()));
                    }
                }
                t
            };
            for (actor, via_group) in &actors {
                for (tt, tid) in &targets {
                    for role in expand_implied([a.role_id.clone()], &rules) {
                        let row = AssignmentRow {
                            a: Assignment {
                                actor_type: "user".into(),
                                actor_id: actor.clone(),
                                target_type: tt.clone(),
                                target_id: tid.clone(),
                                role_id: role,
                                inherited: false,
                            },
                            via_group: via_group.clone(),
                        };
                        if !out.iter().any(|r| r.a == row.a) {
                            out.push(row);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    async fn named(&self, table: &str, kind: &str, id: &str, domain_id: Option<String>) -> Result<Named> {
        let name = store::column_of(&self.pool, table, "name", id).await?.ok_or_else(|| store::not_found(kind, id))?;
        let domain = match domain_id {
            Some(d) => {
                let dom: Domain = store::get(&self.pool, "domains", "domain", &d).await?;
                Some((dom.id, dom.name))
            }
            None => None,
        };
        Ok(Named { id: id.to_owned(), name, domain })
    }

    /// The names of `a`'s role, actor and target, with their domains.
    pub async fn assignment_names(&self, a: &Assignment) -> Result<AssignmentNames> {
        let role: Role = store::get(&self.pool, "roles", "role", &a.role_id).await?;
        let role_domain = if role.domain_id.is_empty() {
            None
        } else {
            let d = self.named("domains", "domain", &role.domain_id, None).await?;
            Some((d.id, d.name))
        };
        let (table, kind) = if a.actor_type == "user" { ("users", "user") } else { ("groups", "group") };
        let actor_domain = store::column_of(&self.pool, table, "domain_id", &a.actor_id).await?;
        let actor = self.named(table, kind, &a.actor_id, actor_domain).await?;
        let target = match a.target_type.as_str() {
            "project" => {
                let p: Project = store::get(&self.pool, "projects", "project", &a.target_id).await?;
                Some(self.named("projects", "project", &p.id, Some(p.domain_id)).await?)
            }
            "domain" => Some(self.named("domains", "domain", &a.target_id, None).await?),
            _ => None,
        };
        Ok(AssignmentNames { role: Named { id: role.id, name: role.name, domain: role_domain }, actor, target })
    }
}
