//! `/os-quota-sets/{project_id}`: show (with `detail` usage), defaults, update
//! and revert to defaults.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use super::{bad, require_admin, ApiResult, Body, Caller, Shared};
use crate::microversion::{ApiVersion, V2_36, V2_57};
use crate::{quotas, store};

/// Keys of resources no longer counted, shown with their old defaults by the
/// microversions that still had them.
fn legacy(v: ApiVersion, body: &mut Map<String, Value>) {
    if v < V2_57 {
        for (k, val) in
            [("injected_file_content_bytes", 10240), ("injected_file_path_bytes", 255), ("injected_files", 5)]
        {
            body.insert(k.into(), json!(val));
        }
    }
    if v < V2_36 {
        for (k, val) in [("fixed_ips", -1), ("floating_ips", -1), ("security_group_rules", -1), ("security_groups", -1)]
        {
            body.insert(k.into(), json!(val));
        }
    }
}

fn may_read(ctx: &oxistack_core::Context, project: &str) -> ApiResult<()> {
    if ctx.project_id() == Some(project) {
        Ok(())
    } else {
        require_admin(ctx, "os_compute_api:os-quota-sets:show")
    }
}

fn quota_body(project: Option<&str>, limits: impl IntoIterator<Item = (String, Value)>, v: ApiVersion) -> Value {
    let mut body: Map<String, Value> = limits.into_iter().collect();
    legacy(v, &mut body);
    if let Some(p) = project {
        body.insert("id".into(), json!(p));
    }
    json!({"quota_set": body})
}

pub async fn show(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    may_read(&ctx, &project)?;
    let limits = quotas::limits(&c.pool, &project).await?;
    Ok(Json(quota_body(Some(&project), limits.into_iter().map(|(k, l)| (k, json!(l))), v)))
}

pub async fn detail(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    may_read(&ctx, &project)?;
    let limits = quotas::limits(&c.pool, &project).await?;
    let (instances, cores, ram) = store::usage(&c.pool, &project).await?;
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

pub async fn defaults(Caller(_): Caller, v: ApiVersion, Path(project): Path<String>) -> Json<Value> {
    Json(quota_body(Some(&project), quotas::defaults().into_iter().map(|(k, l)| (k, json!(l))), v))
}

pub async fn update(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(project): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    require_admin(&ctx, "os_compute_api:os-quota-sets:update")?;
    let set = body
        .get("quota_set")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute quota_set."))?;
    let known = quotas::defaults();
    let mut changes = vec![];
    for (k, val) in set {
        if k == "force" {
            continue;
        }
        if !known.contains_key(k) {
            return Err(bad(format!("Invalid input for field/attribute quota_set. Additional properties are not allowed ('{k}' was unexpected)")));
        }
        let limit =
            val.as_i64().or_else(|| val.as_str().and_then(|s| s.parse().ok())).filter(|l| *l >= -1).ok_or_else(
                || {
                    bad(format!(
                        "Invalid input for field/attribute {k}. Value: {val}. {val} is less than the minimum of -1"
                    ))
                },
            )?;
        changes.push((k.clone(), limit));
    }
    for (k, limit) in changes {
        quotas::set(&c.pool, &project, &k, limit).await?;
    }
    let limits = quotas::limits(&c.pool, &project).await?;
    Ok(Json(quota_body(None, limits.into_iter().map(|(k, l)| (k, json!(l))), v)))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, Path(project): Path<String>) -> ApiResult<StatusCode> {
    require_admin(&ctx, "os_compute_api:os-quota-sets:delete")?;
    quotas::reset(&c.pool, &project).await?;
    Ok(StatusCode::ACCEPTED)
}
