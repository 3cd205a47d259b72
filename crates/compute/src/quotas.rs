//! Quotas: Nova's defaults, per-project limits set by admins (-1 for no
//! limit), and what a project uses.

use std::collections::BTreeMap;

use oxistack_core::db::Pool;
use oxistack_core::error::Result;

use crate::store::quotas::{self as store, Scope};

/// The resources counted today and Nova's default limit of each.
pub const DEFAULTS: &[(&str, i64)] = &[
    ("cores", 20),
    ("instances", 10),
    ("key_pairs", 100),
    ("metadata_items", 128),
    ("ram", 51200),
    ("server_groups", 10),
    ("server_group_members", 10),
];

/// The limits of a quota class: Nova's defaults with what admins changed.
/// Every project's defaults are those of the class `default`.
pub async fn class_limits(pool: &Pool, class: &str) -> Result<BTreeMap<String, i64>> {
    let mut limits: BTreeMap<String, i64> = DEFAULTS.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    limits.extend(store::overrides(pool, Scope::Class, class).await?);
    Ok(limits)
}

pub async fn set_class(pool: &Pool, class: &str, resource: &str, limit: i64) -> Result<()> {
    store::upsert(pool, Scope::Class, class, resource, limit).await
}

/// A project's limits: the defaults with its overrides.
pub async fn limits(pool: &Pool, project: &str) -> Result<BTreeMap<String, i64>> {
    let mut limits = class_limits(pool, "default").await?;
    limits.extend(store::overrides(pool, Scope::Project, project).await?);
    Ok(limits)
}

pub async fn set(pool: &Pool, project: &str, resource: &str, limit: i64) -> Result<()> {
    store::upsert(pool, Scope::Project, project, resource, limit).await
}

pub async fn reset(pool: &Pool, project: &str) -> Result<()> {
    store::reset_project(pool, project).await
}

/// What `project` uses of its instances, cores and RAM (MiB) quotas.
pub async fn usage(pool: &Pool, project: &str) -> Result<(i64, i64, i64)> {
    crate::store::usage(pool, project).await
}

/// Whether `used + requested` fits `limit` (-1 is no limit).
pub fn fits(limit: i64, used: i64, requested: i64) -> bool {
    limit < 0 || used + requested <= limit
}

#[cfg(test)]
mod tests {
    #[test]
    fn minus_one_is_unlimited() {
        assert!(super::fits(-1, 1_000_000, 5));
        assert!(super::fits(10, 5, 5));
        assert!(!super::fits(10, 6, 5));
    }
}
