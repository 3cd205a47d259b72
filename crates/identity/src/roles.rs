//! Which roles a user holds on a target: direct and group assignments, roles
//! inherited from the domain or parent projects, and implied roles.

use std::collections::BTreeSet;

use oxistack_core::db::Pool;
use oxistack_core::error::Result;

use crate::store::{self, Assignment, Role};

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
