//! `/os-simple-tenant-usage`: the hours, vCPUs, RAM and disk each project's
//! servers used over a period.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::Json;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};

use super::{bad, ApiResult, Caller, Params, Shared};
use crate::microversion::{ApiVersion, V2_40};
use crate::store::Instance;

/// Nova accepts `2012-10-08T20:10:44.587336`, with a space or a `T`, with or
/// without fractions and zone.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let s = s.replace(' ', "T");
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&s, f) {
            return Some(t.and_utc());
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(&s, f) {
            return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        }
    }
    None
}

fn period(params: &Params) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let now = Utc::now();
    let get = |k: &str, default: DateTime<Utc>| match params.get(k) {
        Some(s) => parse_time(s).ok_or_else(|| bad(format!("Invalid input for query parameters {k}. Value: {s}."))),
        None => Ok(default),
    };
    let end = get("end", now)?;
    let start = get("start", end - chrono::Duration::days(1))?;
    if start > end {
        return Err(bad("Invalid start time. The start time cannot occur after the end time."));
    }
    Ok((start, end))
}

fn usage_of(i: &Instance, start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Value> {
    let launched = parse_time(i.launched_at.as_deref()?)?;
    let ended = i.terminated_at.as_deref().and_then(parse_time);
    let from = launched.max(start);
    let to = ended.unwrap_or(end).min(end);
    if to <= from {
        return None;
    }
    let hours = (to - from).num_milliseconds() as f64 / 3_600_000.0;
    let f = &i.flavor;
    Some(json!({
        "instance_id": i.id, "name": i.name, "tenant_id": i.project_id, "flavor": f.name,
        "hours": hours, "vcpus": f.vcpus, "memory_mb": f.ram, "local_gb": f.disk,
        "started_at": launched.naive_utc().to_string().replace(' ', "T"),
        "ended_at": ended.map(|e| e.naive_utc().to_string().replace(' ', "T")),
        "state": if i.deleted { "terminated" } else { i.vm_state.as_str() },
        "uptime": (to - from).num_seconds(),
    }))
}

/// Usage of one project, or of every project, over the period; from 2.40,
/// with the marker of the next page when this one is full.
async fn usages(
    c: &crate::Compute,
    project: Option<&str>,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    detailed: bool,
    params: &Params,
    v: ApiVersion,
) -> ApiResult<(Vec<Value>, Option<String>)> {
    // From 2.40 the instances counted are paged with `marker` and `limit`
    // (Nova's max_limit, 1000, when none is given), and a full page links
    // to the next.
    let mut instances = c.instances_ever(project).await?;
    let mut next = None;
    if v >= V2_40 {
        if let Some(marker) = params.get("marker") {
            let at = instances
                .iter()
                .position(|i| i.id == *marker)
                .ok_or_else(|| bad(format!("marker [{marker}] not found")))?;
            instances.drain(..=at);
        }
        let limit = match params.get("limit") {
            Some(l) => l.parse().map_err(|_| bad("Invalid input for query parameters limit."))?,
            None => 1000,
        };
        instances.truncate(limit);
        if limit > 0 && instances.len() == limit {
            next = instances.last().map(|i| i.id.clone());
        }
    }
    let mut by_project: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for i in instances {
        if let Some(u) = usage_of(&i, start, end) {
            by_project.entry(i.project_id.clone()).or_default().push(u);
        }
    }
    if let Some(p) = project {
        by_project.entry(p.to_owned()).or_default();
    }
    let fmt = |t: DateTime<Utc>| t.naive_utc().to_string().replace(' ', "T");
    let all = by_project
        .into_iter()
        .map(|(tenant, servers)| {
            let sum = |k: &str| {
                servers.iter().map(|s| s["hours"].as_f64().unwrap_or(0.0) * s[k].as_f64().unwrap_or(1.0)).sum::<f64>()
            };
            let mut u = json!({
                "tenant_id": tenant, "start": fmt(start), "stop": fmt(end),
                "total_hours": servers.iter().map(|s| s["hours"].as_f64().unwrap_or(0.0)).sum::<f64>(),
                "total_vcpus_usage": sum("vcpus"), "total_memory_mb_usage": sum("memory_mb"),
                "total_local_gb_usage": sum("local_gb"),
            });
            if detailed {
                u["server_usages"] = json!(servers);
            }
            u
        })
        .collect();
    Ok((all, next))
}

/// The link to the page after `marker` (the query's parameters, which come
/// unordered, sorted).
fn next_link(c: &crate::Compute, path: &str, params: &Params, marker: String) -> Value {
    let mut query: Vec<(String, String)> = params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    query.sort();
    super::next_link(c, path, query, marker)
}

pub async fn index(c: Shared, Caller(_): Caller, v: ApiVersion, params: Params) -> ApiResult<Json<Value>> {
    let detailed = params.get("detailed").is_some_and(|d| d == "1" || d.eq_ignore_ascii_case("true"));
    let (all, next) = usages(&c, None, period(&params)?, detailed, &params, v).await?;
    let mut body = json!({ "tenant_usages": all });
    if let Some(marker) = next {
        body["tenant_usages_links"] = next_link(&c, "os-simple-tenant-usage", &params, marker);
    }
    Ok(Json(body))
}

pub async fn show(
    c: Shared,
    Caller(_): Caller,
    v: ApiVersion,
    params: Params,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    let (mut all, next) = usages(&c, Some(&project), period(&params)?, true, &params, v).await?;
    let mut body = json!({"tenant_usage": all.pop().unwrap_or(json!({}))});
    if let Some(marker) = next {
        body["tenant_usage_links"] = next_link(&c, &format!("os-simple-tenant-usage/{project}"), &params, marker);
    }
    Ok(Json(body))
}
