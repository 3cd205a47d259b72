//! Neutron's quotas: defaults, per-project overrides, and the check made
//! before each create.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use oxistack_core::context::Context;

use crate::attrs::Body;
use crate::{store, Network, NeutronError, Result};

/// Neutron's defaults, by resource.
pub const DEFAULTS: &[(&str, i64)] = &[
    ("network", 100),
    ("subnet", 100),
    ("subnetpool", -1),
    ("port", 500),
    ("router", 10),
    ("floatingip", 50),
    ("security_group", 10),
    ("security_group_rule", 100),
    ("rbac_policy", 10),
];

/// The table counting a quota's resource.
fn table_of(resource: &str) -> Option<&'static str> {
    Some(match resource {
        "network" => "networks",
        "subnet" => "subnets",
        "subnetpool" => "subnetpools",
        "port" => "ports",
        "router" => "routers",
        "floatingip" => "floatingips",
        "security_group" => "security_groups",
        "security_group_rule" => "security_group_rules",
        _ => return None,
    })
}

impl Network {
    /// The projects that have quotas of their own.
    pub async fn projects_with_quotas(&self) -> Result<Vec<String>> {
        store::quotas::projects(&self.pool).await
    }

    pub async fn quota(&self, project: &str) -> Result<BTreeMap<String, i64>> {
        let mut q: BTreeMap<String, i64> = DEFAULTS.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        let rows = store::quotas::overrides(&self.pool, project).await?;
        q.extend(rows);
        Ok(q)
    }

    /// 409 OverQuota when `project` already has as many of `resource` as allowed.
    pub(crate) async fn check_quota(&self, project: &str, table: &str, resource: &str) -> Result<()> {
        let limit = self.quota(project).await?.get(resource).copied().unwrap_or(-1);
        if limit >= 0 && store::count(&self.pool, table, project).await? >= limit {
            return Err(NeutronError::conflict("OverQuota", format!("Quota exceeded for resources: ['{resource}'].")));
        }
        Ok(())
    }

    pub async fn show_quota(&self, ctx: &Context, project: &str) -> Result<Value> {
        if !crate::owns(ctx, project) {
            return Err(NeutronError::policy("get", "quota"));
        }
        Ok(json!(self.quota(project).await?))
    }

    pub async fn update_quota(&self, ctx: &Context, project: &str, body: &Body) -> Result<Value> {
        if !ctx.is_admin() {
            return Err(NeutronError::policy("update", "quota"));
        }
        // The quota-check-limit extension: with `check_limit`, no limit may
        // fall below what the project already uses.
        let check_limit = match body.get("check_limit") {
            None => false,
            Some(v) => v
                .as_bool()
                .or_else(|| v.as_str().and_then(|s| s.to_ascii_lowercase().parse().ok()))
                .ok_or_else(|| NeutronError::bad_request(format!("Invalid input for check_limit: '{v}'.")))?,
        };
        for (k, v) in body.iter().filter(|(k, _)| *k != "check_limit") {
            if !DEFAULTS.iter().any(|(name, _)| name == k) {
                return Err(NeutronError::bad_request(format!("Unrecognized attribute(s) '{k}'")));
            }
            let n = v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).filter(|n| *n >= -1).ok_or_else(
                || NeutronError::bad_request(format!("Invalid input for {k}. Reason: '{v}' is not an integer.")),
            )?;
            if check_limit && n >= 0 {
                if let Some(table) = table_of(k) {
                    let used = store::count(&self.pool, table, project).await?;
                    if n < used {
                        return Err(NeutronError::conflict(
                            "InvalidQuotaValue",
                            format!(
                                "Quota limit {n} for {k} must be greater than or equal to already used and reserved {used}."
                            ),
                        ));
                    }
                }
            }
            store::quotas::set_limit(&self.pool, project, k, n).await?;
        }
        Ok(json!(self.quota(project).await?))
    }

    pub async fn reset_quota(&self, ctx: &Context, project: &str) -> Result<()> {
        if !ctx.is_admin() {
            return Err(NeutronError::policy("delete", "quota"));
        }
        store::quotas::reset(&self.pool, project).await
    }
}
