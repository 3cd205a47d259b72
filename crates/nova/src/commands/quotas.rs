//! Quotas, limits and usage.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::cli::QuotaUpdateArgs;
use crate::find::query;
use crate::session::{Error, Result, Session};
use crate::table::{self, Table};

const QUOTA_RESOURCES: [&str; 14] = [
    "instances",
    "cores",
    "ram",
    "floating_ips",
    "fixed_ips",
    "metadata_items",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
    "key_pairs",
    "security_groups",
    "security_group_rules",
    "server_groups",
    "server_group_members",
];

fn print_quotas(quotas: &Value) {
    let mut t = Table::new(&["Quota", "Limit"]);
    for r in QUOTA_RESOURCES {
        if let Some(v) = quotas.get(r) {
            t.push(vec![r.to_string(), table::cell(Some(v))]);
        }
    }
    t.print();
}

fn project_of(s: &Session, tenant: Option<&str>) -> String {
    tenant.map(str::to_string).or_else(|| s.project_id.clone()).unwrap_or_default()
}

pub async fn show(s: &mut Session, tenant: Option<&str>, user: Option<&str>, detail: bool) -> Result<()> {
    let project = project_of(s, tenant);
    let suffix = if detail { "/detail" } else { "" };
    let q = user.map(|u| query(&[("user_id", u.to_string())])).unwrap_or_default();
    let body = s.get(&format!("/os-quota-sets/{project}{suffix}{q}")).await?;
    print_quotas(&body["quota_set"]);
    Ok(())
}

pub async fn defaults(s: &mut Session, tenant: Option<&str>) -> Result<()> {
    let project = project_of(s, tenant);
    let body = s.get(&format!("/os-quota-sets/{project}/defaults")).await?;
    print_quotas(&body["quota_set"]);
    Ok(())
}

pub async fn update(s: &mut Session, a: &QuotaUpdateArgs) -> Result<()> {
    let mut set = Map::new();
    for (k, v) in [
        ("instances", a.instances),
        ("cores", a.cores),
        ("ram", a.ram),
        ("metadata_items", a.metadata_items),
        ("key_pairs", a.key_pairs),
        ("server_groups", a.server_groups),
        ("server_group_members", a.server_group_members),
    ] {
        if let Some(v) = v {
            set.insert(k.into(), json!(v));
        }
    }
    if set.is_empty() {
        return Ok(());
    }
    if a.force {
        set.insert("force".into(), json!(true));
    }
    let q = a.user.as_ref().map(|u| query(&[("user_id", u.clone())])).unwrap_or_default();
    s.put(&format!("/os-quota-sets/{}{q}", a.tenant), &json!({"quota_set": set})).await?;
    Ok(())
}

/// `_print_absolute_limits`: each limit under its display name, used and max
/// side by side, names sorted.
fn absolute_name(key: &str) -> (&str, &'static str) {
    match key {
        "maxServerMeta" => ("Server Meta", "max"),
        "maxPersonality" => ("Personality", "max"),
        "maxPersonalitySize" => ("Personality Size", "max"),
        "maxImageMeta" => ("ImageMeta", "max"),
        "maxTotalKeypairs" => ("Keypairs", "max"),
        "totalCoresUsed" => ("Cores", "used"),
        "maxTotalCores" => ("Cores", "max"),
        "totalRAMUsed" => ("RAM", "used"),
        "maxTotalRAMSize" => ("RAM", "max"),
        "totalInstancesUsed" => ("Instances", "used"),
        "maxTotalInstances" => ("Instances", "max"),
        "totalFloatingIpsUsed" => ("FloatingIps", "used"),
        "maxTotalFloatingIps" => ("FloatingIps", "max"),
        "totalSecurityGroupsUsed" => ("SecurityGroups", "used"),
        "maxSecurityGroups" => ("SecurityGroups", "max"),
        "maxSecurityGroupRules" => ("SecurityGroupRules", "max"),
        "maxServerGroups" => ("ServerGroups", "max"),
        "totalServerGroupsUsed" => ("ServerGroups", "used"),
        "maxServerGroupMembers" => ("ServerGroupMembers", "max"),
        other => (other, "other"),
    }
}

pub async fn limits(s: &mut Session, tenant: Option<&str>, reserved: bool) -> Result<()> {
    let mut q: Vec<(&str, String)> = Vec::new();
    if reserved {
        q.push(("reserved", "1".into()));
    }
    if let Some(t) = tenant {
        q.push(("tenant_id", t.into()));
    }
    let body = s.get(&format!("/limits{}", query(&q))).await?;
    let rate_columns = ["Verb", "URI", "Value", "Remain", "Unit", "Next_Available"];
    let mut rate = Table::new(&rate_columns);
    for group in body["limits"]["rate"].as_array().into_iter().flatten() {
        for l in group["limit"].as_array().into_iter().flatten() {
            rate.push(vec![
                table::cell(l.get("verb")),
                table::cell(group.get("uri")),
                table::cell(l.get("value")),
                table::cell(l.get("remaining")),
                table::cell(l.get("unit")),
                table::cell(l.get("next-available")),
            ]);
        }
    }
    rate.print();

    let mut names: Vec<String> = Vec::new();
    let mut max: Map<String, Value> = Map::new();
    let mut used: Map<String, Value> = Map::new();
    let mut other: Map<String, Value> = Map::new();
    for (key, value) in body["limits"]["absolute"].as_object().into_iter().flatten() {
        let (name, kind) = absolute_name(key);
        let target = match kind {
            "max" => &mut max,
            "used" => &mut used,
            _ => &mut other,
        };
        target.insert(name.to_string(), value.clone());
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names.sort();
    let mut columns = vec!["Name", "Used", "Max"];
    if !other.is_empty() {
        columns.push("Other");
    }
    let mut t = Table::new(&columns);
    let dash = json!("-");
    for name in &names {
        let mut row = vec![
            name.clone(),
            table::cell(Some(used.get(name).unwrap_or(&dash))),
            table::cell(Some(max.get(name).unwrap_or(&dash))),
        ];
        if !other.is_empty() {
            row.push(table::cell(Some(other.get(name).unwrap_or(&dash))));
        }
        t.push(row);
    }
    t.print();
    Ok(())
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

fn date_of(days: i64) -> String {
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The window of `usage` and `usage-list`: dates given as `YYYY-MM-DD`, by
/// default from four weeks ago to this time tomorrow. Returns the dates shown
/// and the instants asked for.
fn window(start: Option<&str>, end: Option<&str>) -> Result<((String, String), (String, String))> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (days, seconds) = (now.as_secs() as i64 / 86_400, now.as_secs() % 86_400);
    let time =
        format!("T{:02}:{:02}:{:02}.{:06}", seconds / 3600, seconds / 60 % 60, seconds % 60, now.subsec_micros());
    let given = |d: &str| {
        let ok = d.len() == 10 && d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-';
        if ok {
            Ok((d.to_string(), format!("{d}T00:00:00")))
        } else {
            Err(Error::command(format!("time data '{d}' does not match format '%Y-%m-%d'")))
        }
    };
    let start = match start {
        Some(d) => given(d)?,
        None => (date_of(days - 28), format!("{}{time}", date_of(days - 28))),
    };
    let end = match end {
        Some(d) => given(d)?,
        None => (date_of(days + 1), format!("{}{time}", date_of(days + 1))),
    };
    Ok(((start.0, end.0), (start.1, end.1)))
}

fn usage_row(u: &Value, with_tenant: bool) -> Vec<String> {
    let hours = |k: &str| format!("{:.2}", u[k].as_f64().unwrap_or(0.0));
    let mut row = Vec::new();
    if with_tenant {
        row.push(table::cell(u.get("tenant_id")));
    }
    row.push(u["server_usages"].as_array().map_or(0, Vec::len).to_string());
    row.push(hours("total_memory_mb_usage"));
    row.push(hours("total_vcpus_usage"));
    row.push(hours("total_local_gb_usage"));
    row
}

pub async fn usage(s: &mut Session, start: Option<&str>, end: Option<&str>, tenant: Option<&str>) -> Result<()> {
    let ((start, end), (from, to)) = window(start, end)?;
    let project = project_of(s, tenant);
    let body = s.get(&format!("/os-simple-tenant-usage/{project}?start={from}&end={to}")).await?;
    println!("Usage from {start} to {end}:");
    let mut t = Table::new(&["Servers", "RAM MiB-Hours", "CPU Hours", "Disk GiB-Hours"]);
    if let Some(u) = body.get("tenant_usage").filter(|u| u.as_object().is_some_and(|o| !o.is_empty())) {
        t.push(usage_row(u, false));
    }
    t.print();
    Ok(())
}

pub async fn usage_list(s: &mut Session, start: Option<&str>, end: Option<&str>) -> Result<()> {
    let ((start, end), (from, to)) = window(start, end)?;
    let body = s.get(&format!("/os-simple-tenant-usage?detailed=1&start={from}&end={to}")).await?;
    println!("Usage from {start} to {end}:");
    let mut t = Table::new(&["Tenant ID", "Servers", "RAM MiB-Hours", "CPU Hours", "Disk GiB-Hours"]);
    for u in body["tenant_usages"].as_array().into_iter().flatten() {
        t.push(usage_row(u, true));
    }
    t.print();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(20_417), "2025-11-25");
        assert_eq!(date_of(11_016), "2000-02-29");
    }
}
