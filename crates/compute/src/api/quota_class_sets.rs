//! `/os-quota-class-sets/{class}`: the default limits every project starts
//! from (class `default`), shown and changed by admins.

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Map, Value};

use super::quota_sets::{add_retired, parse_limits};
use super::{ApiResult, Body, Caller, Shared};
use crate::microversion::{ApiVersion, V2_50};
use crate::quotas;

/// Before 2.50 class sets showed the network quotas and not the server group
/// ones; before 2.57 the injected-file quotas.
fn body(id: Option<&str>, limits: std::collections::BTreeMap<String, i64>, v: ApiVersion) -> Value {
    let mut m: Map<String, Value> = limits.into_iter().map(|(k, l)| (k, json!(l))).collect();
    if v < V2_50 {
        m.remove("server_groups");
        m.remove("server_group_members");
    }
    add_retired(&mut m, v, true);
    if let Some(id) = id {
        m.insert("id".into(), json!(id));
    }
    json!({"quota_class_set": m})
}

pub async fn show(c: Shared, Caller(_): Caller, v: ApiVersion, Path(class): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(body(Some(&class), quotas::class_limits(&c.pool, &class).await?, v)))
}

pub async fn update(
    c: Shared,
    Caller(_): Caller,
    v: ApiVersion,
    Path(class): Path<String>,
    Body(b): Body,
) -> ApiResult<Json<Value>> {
    for (k, limit) in parse_limits(&b, "quota_class_set", v, true)? {
        quotas::set_class(&c.pool, &class, &k, limit).await?;
    }
    Ok(Json(body(None, quotas::class_limits(&c.pool, &class).await?, v)))
}
