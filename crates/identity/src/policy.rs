//! Keystone's default policy for the admin, member and reader personas, as rules
//! the handlers name. `admin` in any scope administers the whole cloud (Keystone's
//! `role:admin` check string); a system-scoped reader reads everything; a
//! domain-scoped reader reads its own domain; everyone may read themselves.

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

pub fn deny(rule: &str) -> Error {
    Error::Forbidden(format!("You are not authorized to perform the requested action: {rule}."))
}

/// Changes to Identity: admins only.
pub fn admin(ctx: &Context, rule: &str) -> Result<()> {
    if ctx.is_admin() {
        Ok(())
    } else {
        Err(deny(rule))
    }
}

/// Reading: admins, system readers, and readers of `domain` (the target's domain).
pub fn reader(ctx: &Context, rule: &str, domain: Option<&str>) -> Result<()> {
    reader_or(ctx, rule, domain, false)
}

/// As [`reader`], or when `owner` says the caller reads what is its own.
pub fn reader_or(ctx: &Context, rule: &str, domain: Option<&str>, owner: bool) -> Result<()> {
    if owner || is_reader_of(ctx, domain) {
        Ok(())
    } else {
        Err(deny(rule))
    }
}

fn is_reader_of(ctx: &Context, domain: Option<&str>) -> bool {
    if ctx.is_admin() || (ctx.is_system() && ctx.has_role("reader")) {
        return true;
    }
    match (ctx.domain_id(), domain) {
        (Some(mine), Some(target)) => mine == target && ctx.has_role("reader"),
        _ => false,
    }
}

/// For list calls: `None` when the caller may list everything, `Some(domain)` when
/// a domain reader may list only its own domain, `Err` otherwise.
pub fn list_scope(ctx: &Context, rule: &str) -> Result<Option<String>> {
    if ctx.is_admin() || (ctx.is_system() && ctx.has_role("reader")) {
        return Ok(None);
    }
    match ctx.domain_id() {
        Some(d) if ctx.has_role("reader") => Ok(Some(d.to_owned())),
        _ => Err(deny(rule)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
