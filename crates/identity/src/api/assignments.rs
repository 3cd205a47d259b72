//! Role grants (`/v3/{projects,domains}/{id}/{users,groups}/{id}/roles/{role}` and
//! `/v3/system/{users,groups}/{id}/roles/{role}`) and `/v3/role_assignments`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Path};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::{link, query_flag, ApiResult, Caller, Params, Shared};
use crate::assignments::{AssignmentNames, AssignmentQuery, AssignmentRow, Named};
use crate::store::Assignment;
use crate::Identity;

/// The grant routes, one pair per target and actor type.
pub fn grant_routes() -> Router<Arc<Identity>> {
    let mut r = Router::new();
    for target in ["projects/{id}", "domains/{id}", "system"] {
        for actor in ["users", "groups"] {
            let base = format!("/v3/{target}/{actor}/{{actor_id}}/roles");
            r = r
                .route(&base, get(list_grants))
                .route(&format!("{base}/{{role}}"), get(check).head(check).put(grant).delete(revoke));
        }
    }
    r
}

/// The assignment a grant URL names (its role left empty when there is none).
fn from_path(matched: &MatchedPath, params: &HashMap<String, String>) -> Assignment {
    let path = matched.as_str();
    let (target_type, target_id) = if path.contains("/v3/projects/") {
        ("project", params.get("id").cloned().unwrap_or_default())
    } else if path.contains("/v3/domains/") {
        ("domain", params.get("id").cloned().unwrap_or_default())
    } else {
        ("system", "all".to_string())
    };
    let actor_type = if path.contains("/users/") { "user" } else { "group" };
    Assignment {
        actor_type: actor_type.into(),
        actor_id: params.get("actor_id").cloned().unwrap_or_default(),
        target_type: target_type.into(),
        target_id,
        role_id: params.get("role").cloned().unwrap_or_default(),
        inherited: false,
    }
}

pub async fn list_grants(
    id: Shared,
    Caller(ctx): Caller,
    matched: MatchedPath,
    Path(params): Path<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let want = from_path(&matched, &params);
    let items: Vec<Value> = id.grants(&ctx, &want).await?.iter().map(|r| super::roles::view(&id, r)).collect();
    let target = match want.target_type.as_str() {
        "system" => "system".to_owned(),
        kind => format!("{kind}s/{}", want.target_id),
    };
    let this = super::link(&id, &format!("{target}/{}s/{}/roles", want.actor_type, want.actor_id));
    Ok(Json(json!({"roles": items, "links": {"self": this, "previous": null, "next": null}})))
}

pub async fn check(
    id: Shared,
    Caller(ctx): Caller,
    matched: MatchedPath,
    Path(params): Path<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    id.check_grant(&ctx, &from_path(&matched, &params)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn grant(
    id: Shared,
    Caller(ctx): Caller,
    matched: MatchedPath,
    Path(params): Path<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    id.grant(&ctx, &from_path(&matched, &params)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn revoke(
    id: Shared,
    Caller(ctx): Caller,
    matched: MatchedPath,
    Path(params): Path<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    id.revoke_grant(&ctx, &from_path(&matched, &params)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/role_assignments`
pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let get = |k: &str| params.get(k).map(String::as_str);
    let query = AssignmentQuery {
        effective: query_flag(&params, "effective") == Some(true),
        user_id: get("user.id"),
        group_id: get("group.id"),
        role_id: get("role.id"),
        project_id: get("scope.project.id"),
        domain_id: get("scope.domain.id"),
        system: params.contains_key("scope.system"),
        inherited: params.contains_key("scope.OS-INHERIT:inherited_to"),
    };
    let include_names = query_flag(&params, "include_names") == Some(true);
    let mut items = vec![];
    for r in id.role_assignments(&ctx, &query).await? {
        let names = if include_names { Some(id.assignment_names(&r.a).await?) } else { None };
        items.push(render(&id, &r, names.as_ref()));
    }
    Ok(Json(
        json!({"role_assignments": items, "links": {"self": link(&id, "role_assignments"), "previous": null, "next": null}}),
    ))
}

fn named(n: &Named) -> Value {
    let mut v = json!({"id": n.id, "name": n.name});
    if let Some((id, name)) = &n.domain {
        v["domain"] = json!({"id": id, "name": name});
    }
    v
}

fn render(id: &Identity, r: &AssignmentRow, names: Option<&AssignmentNames>) -> Value {
    let a = &r.a;
    let mut item = Map::new();
    item.insert("role".into(), names.map_or_else(|| json!({"id": a.role_id}), |n| named(&n.role)));
    item.insert(a.actor_type.clone(), names.map_or_else(|| json!({"id": a.actor_id}), |n| named(&n.actor)));
    let target = names.and_then(|n| n.target.as_ref());
    let mut scope = match (a.target_type.as_str(), target) {
        ("project", Some(t)) => json!({"project": named(t)}),
        ("domain", Some(t)) => json!({"domain": named(t)}),
        ("system", _) => json!({"system": {"all": true}}),
        (t, _) => json!({ t: {"id": a.target_id} }),
    };
    if a.inherited {
        scope["OS-INHERIT:inherited_to"] = json!("projects");
    }
    item.insert("scope".into(), scope);
    let target_path = match a.target_type.as_str() {
        "system" => "system".to_string(),
        t => format!("{t}s/{}", a.target_id),
    };
    let mut links =
        json!({"assignment": link(id, &format!("{target_path}/{}s/{}/roles/{}", a.actor_type, a.actor_id, a.role_id))});
    if let Some(g) = &r.via_group {
        links["membership"] = json!(link(id, &format!("groups/{g}/users/{}", a.actor_id)));
    }
    item.insert("links".into(), links);
    Value::Object(item)
}
