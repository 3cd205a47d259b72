//! `/os-quota-sets/{project_id}`: show (with `detail` usage), defaults, update
//! and revert to defaults.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use super::{bad, ApiResult, Body, Caller, Shared};
use crate::microversion::{ApiVersion, V2_36, V2_50, V2_57};
use crate::quotas;

pub async fn show(c: Shared, Caller(_): Caller, v: ApiVersion, Path(project): Path<String>) -> ApiResult<Json<Value>> {
    let limits = quotas::limits(&c.pool, &project).await?;
    Ok(Json(quota_body(Some(&project), limits.into_iter().map(|(k, l)| (k, json!(l))), v)))
}

pub async fn detail(
    c: Shared,
    Caller(_): Caller,
    v: ApiVersion,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    let limits = quotas::limits(&c.pool, &project).await?;
    let (instances, cores, ram) = quotas::usage(&c.pool, &project).await?;
    let used = |k: &str| match k {
        "instances" => instances,
        "cores" => cores,
        "ram" => ram,
        _ => 0,
    };
    let items = limits.into_iter().map(|(k, l)| {
        let in_use = used(&k);
        (k, json!({"limit": l, "in_use": in_use, "reserved": 0}))
    });
    Ok(Json(quota_body(Some(&project), items, v)))
}

pub async fn defaults(
    c: Shared,
    Caller(_): Caller,
    v: ApiVersion,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    let limits = quotas::class_limits(&c.pool, "default").await?;
    Ok(Json(quota_body(Some(&project), limits.into_iter().map(|(k, l)| (k, json!(l))), v)))
}

/// Quotas no longer counted that older microversions still accept (and that
/// are then ignored): the network ones until 2.36 (2.50 for quota classes),
/// the injected-file ones until 2.57.
fn retired(v: ApiVersion, class: bool) -> Vec<(&'static str, i64)> {
    let mut keys = vec![];
    if v < V2_36 || (class && v < V2_50) {
        keys.extend([("fixed_ips", -1), ("floating_ips", -1), ("security_group_rules", -1), ("security_groups", -1)]);
    }
    if v < V2_57 {
        keys.extend([("injected_file_content_bytes", 10240), ("injected_file_path_bytes", 255), ("injected_files", 5)]);
    }
    keys
}

/// Adds the retired quotas that `v` still shows, with their old defaults.
pub fn add_retired(body: &mut Map<String, Value>, v: ApiVersion, class: bool) {
    for (k, val) in retired(v, class) {
        body.insert(k.into(), json!(val));
    }
}

/// Reads `{"<key>": {"cores": 10, ...}}` into (resource, limit) pairs, each
/// resource known and each limit -1 or more.
pub fn parse_limits(body: &Value, key: &str, v: ApiVersion, class: bool) -> ApiResult<Vec<(String, i64)>> {
    let mut accepted: Vec<&str> = retired(v, class).into_iter().map(|(k, _)| k).collect();
    // Older clients also sent the `networks` quota with the network ones.
    if accepted.contains(&"fixed_ips") {
        accepted.push("networks");
    }
    let set = body
        .get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| bad(format!("Invalid input for field/attribute {key}.")))?;
    let mut changes = vec![];
    for (k, val) in set {
        if k == "force" {
            continue;
        }
        let is_retired = accepted.contains(&k.as_str());
        if !is_retired && !quotas::DEFAULTS.iter().any(|(name, _)| name == k) {
            return Err(bad(format!(
                "Invalid input for field/attribute {key}. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let limit =
            val.as_i64().or_else(|| val.as_str().and_then(|s| s.parse().ok())).filter(|l| *l >= -1).ok_or_else(
                || {
                    bad(format!(
                        "Invalid input for field/attribute {k}. Value: {val}. {val} is less than the minimum of -1"
                    ))
                },
            )?;
        if !is_retired {
            changes.push((k.clone(), limit));
        }
    }
    Ok(changes)
}

/// A quota body for `v`: the limits, and the retired quotas it still shows.
fn quota_body(id: Option<&str>, limits: impl IntoIterator<Item = (String, Value)>, v: ApiVersion) -> Value {
    let mut body: Map<String, Value> = limits.into_iter().collect();
    add_retired(&mut body, v, false);
    if let Some(p) = id {
        body.insert("id".into(), json!(p));
    }
    json!({ "quota_set": body })
}

pub async fn update(
    c: Shared,
    Caller(_): Caller,
    v: ApiVersion,
    Path(project): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let changes = parse_limits(&body, "quota_set", v, false)?;
    for (k, limit) in changes {
        quotas::set(&c.pool, &project, &k, limit).await?;
    }
    let limits = quotas::limits(&c.pool, &project).await?;
    Ok(Json(quota_body(None, limits.into_iter().map(|(k, l)| (k, json!(l))), v)))
}

pub async fn delete(c: Shared, Caller(_): Caller, Path(project): Path<String>) -> ApiResult<StatusCode> {
    quotas::reset(&c.pool, &project).await?;
    Ok(StatusCode::ACCEPTED)
}
