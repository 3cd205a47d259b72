//! Keystone's default policy for the admin, member and reader personas, as rules
//! the handlers name, checked through the one policy table (`core::policy`). `admin` in any scope administers the whole cloud (Keystone's
//! `role:admin` check string); a system-scoped reader reads everything; a
//! domain-scoped reader reads its own domain; everyone may read themselves.

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{self, Target};

/// The refusal of `rule`, in Keystone's words.
pub fn deny(rule: &str) -> Error {
    policy::denied(rule)
}

/// Changes to Identity: admins only.
pub fn admin(ctx: &Context, rule: &str) -> Result<()> {
    policy::enforce(ctx, rule, &Target::default())
}

/// Reading: admins, system readers, and readers of `domain` (the target's domain).
pub fn reader(ctx: &Context, rule: &str, domain: Option<&str>) -> Result<()> {
    policy::enforce(ctx, rule, &Target { domain_id: domain, ..Default::default() })
}

/// As [`reader`], or when `owner` says the caller reads what is its own.
pub fn reader_or(ctx: &Context, rule: &str, domain: Option<&str>, owner: bool) -> Result<()> {
    policy::enforce(ctx, rule, &Target { domain_id: domain, owned: owner, ..Default::default() })
}

/// What belongs to user `uid`: the rule says whether admins may act on it too.
pub fn user(ctx: &Context, rule: &str, uid: &str) -> Result<()> {
    policy::enforce(ctx, rule, &Target::user(uid))
}

/// For list calls: `None` when the caller may list everything, `Some(domain)` when
/// a domain reader may list only its own domain, `Err` otherwise.
pub fn list_scope(ctx: &Context, rule: &str) -> Result<Option<String>> {
    if policy::allows(ctx, rule, &Target::default()) {
        return Ok(None);
    }
    match ctx.domain_id() {
        Some(d) if policy::allows(ctx, rule, &Target { domain_id: Some(d), ..Default::default() }) => {
            Ok(Some(d.to_owned()))
        }
        _ => Err(deny(rule)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule a handler names is in the one table (an absent one would
    /// be admin-only, silently).
    #[test]
    fn every_identity_rule_is_in_the_policy_table() {
        let mut dirs = vec![std::path::Path::new(&oxistack_core::testing::manifest_dir()).join("src")];
        let mut named = 0;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for rule in text.split('"').filter(|s| s.starts_with("identity:") && s.len() > 9 && !s.contains(' ')) {
                    assert!(policy::rule(rule).is_some(), "{rule} ({}) is not in core::policy's table", path.display());
                    named += 1;
                }
            }
        }
        assert!(named > 60, "found only {named} rules");
    }
    use oxistack_core::context::Scope;

    fn ctx(scope: Scope, roles: &[&str]) -> Context {
        Context {
            user_id: "u".into(),
            user_name: "u".into(),
            user_domain_id: "default".into(),
            scope,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            audit_ids: vec![],
            request_id: String::new(),
            restricted: false,
        }
    }

    fn project() -> Scope {
        Scope::Project { id: "p".into(), name: "p".into(), domain_id: "default".into(), domain_name: "Default".into() }
    }

    #[test]
    fn members_manage_and_list_nothing() {
        let member = ctx(project(), &["member", "reader"]);
        assert!(admin(&member, "identity:create_user").is_err());
        assert!(reader(&member, "identity:list_users", Some("default")).is_err());
        assert!(list_scope(&member, "identity:list_users").is_err());
        assert!(reader_or(&member, "identity:get_user", Some("default"), true).is_ok());
    }

    #[test]
    fn readers_read_within_their_scope() {
        let system = ctx(Scope::System, &["reader"]);
        assert!(reader(&system, "identity:get_user", Some("any")).is_ok());
        assert!(admin(&system, "identity:create_user").is_err());
        let domain = ctx(Scope::Domain { id: "d1".into(), name: "D1".into() }, &["reader"]);
        assert!(reader(&domain, "identity:get_user", Some("d1")).is_ok());
        assert!(reader(&domain, "identity:get_user", Some("d2")).is_err());
        assert_eq!(list_scope(&domain, "identity:list_users").unwrap(), Some("d1".into()));
    }

    #[test]
    fn admins_do_everything() {
        let a = ctx(project(), &["admin", "member", "reader"]);
        assert!(admin(&a, "identity:create_user").is_ok());
        assert_eq!(list_scope(&a, "identity:list_users").unwrap(), None);
        assert_eq!(
            deny("identity:list_users").to_string(),
            "You are not authorized to perform the requested action: identity:list_users."
        );
    }
}
