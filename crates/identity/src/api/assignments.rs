//! Role grants (`/v3/{projects,domains}/{id}/{users,groups}/{id}/roles/{role}` and
//! `/v3/system/{users,groups}/{id}/roles/{role}`) and `/v3/role_assignments`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Path};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;

use super::{link, query_flag, ApiResult, Caller, Params, Shared};
use crate::roles::expand_implied;
use crate::store::{self, Assignment, Domain, Filter, Group, Project, Role, User};
use crate::{policy, Identity};

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

/// Checks that the actor and target exist; returns the target's domain.
async fn check_parts(id: &Identity, a: &Assignment) -> ApiResult<Option<String>> {
    match a.actor_type.as_str() {
        "user" => drop(store::get::<User>(&id.pool, "users", "user", &a.actor_id).await?),
        _ => drop(store::get::<Group>(&id.pool, "groups", "group", &a.actor_id).await?),
    }
    Ok(match a.target_type.as_str() {
        "project" => Some(store::get::<Project>(&id.pool, "projects", "project", &a.target_id).await?.domain_id),
        "domain" => Some(store::get::<Domain>(&id.pool, "domains", "domain", &a.target_id).await?.id),
        _ => None,
    })
}

pub async fn list_grants(
    id: Shared,
    Caller(ctx): Caller,
    matched: MatchedPath,
    Path(params): Path<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let want = from_path(&matched, &params);
    let domain = check_parts(&id, &want).await?;
    policy::reader(&ctx, "identity:list_grants", domain.as_deref())?;
    let mut items = vec![];
    for a in store::all_assignments(&id.pool).await? {
        if a.actor_type == want.actor_type
            && a.actor_id == want.actor_id
            && a.target_type == want.target_type
            && a.target_id == want.target_id
            && !a.inherited
        {
            items.push(super::roles::view(&id, &store::get::<Role>(&id.pool, "roles", "role", &a.role_id).await?));
        }
    }
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
    let a = from_path(&matched, &params);
    let domain = check_parts(&id, &a).await?;
    policy::reader(&ctx, "identity:check_grant", domain.as_deref())?;
    let _: Role = store::get(&id.pool, "roles", "role", &a.role_id).await?;
    if store::all_assignments(&id.pool).await?.contains(&a) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound(format!("Could not find role assignment with role: {}.", a.role_id)).into())
    }
}

pub async fn grant(
    id: Shared,
    Caller(ctx): Caller,
    matched: MatchedPath,
    Path(params): Path<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:create_grant")?;
    let a = from_path(&matched, &params);
    check_parts(&id, &a).await?;
    let _: Role = store::get(&id.pool, "roles", "role", &a.role_id).await?;
    store::insert_assignment(&id.pool, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn revoke(
    id: Shared,
    Caller(ctx): Caller,
    matched: MatchedPath,
    Path(params): Path<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    policy::admin(&ctx, "identity:revoke_grant")?;
    let a = from_path(&matched, &params);
    check_parts(&id, &a).await?;
    if !store::delete_assignment(&id.pool, &a).await? {
        return Err(Error::NotFound(format!("Could not find role assignment with role: {}.", a.role_id)).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// One row of `/v3/role_assignments`, before rendering.
#[derive(Clone, PartialEq, Eq)]
struct Row {
    a: Assignment,
    /// Set for effective rows that come from a group.
    via_group: Option<String>,
}

/// Expands assignments as `effective=true` asks: group members instead of
/// groups, inherited assignments onto the projects below, implied roles.
async fn effective(id: &Identity, all: Vec<Assignment>) -> ApiResult<Vec<Row>> {
    let rules = store::implied_roles(&id.pool).await?;
    let projects = store::list::<Project>(&id.pool, "projects", Filter::default()).await?;
    let mut out: Vec<Row> = vec![];
    for a in all {
        let actors: Vec<(String, Option<String>)> = if a.actor_type == "group" {
            store::group_users(&id.pool, &a.actor_id)
                .await?
                .into_iter()
                .map(|u| (u.id, Some(a.actor_id.clone())))
                .collect()
        } else {
            vec![(a.actor_id.clone(), None)]
        };
        let targets: Vec<(String, String)> = if !a.inherited {
            vec![(a.target_type.clone(), a.target_id.clone())]
        } else {
            let mut t = vec![];
            for p in &projects {
                let below = match a.target_type.as_str() {
                    "domain" => p.domain_id == a.target_id,
                    _ => store::project_ancestors(&id.pool, &p.id).await?.contains(&a.target_id),
                };
                if below {
                    t.push(("project".to_string(), p.id.clone()));
                }
            }
            t
        };
        for (actor, via_group) in &actors {
            for (tt, tid) in &targets {
                for role in expand_implied([a.role_id.clone()], &rules) {
                    let row = Row {
                        a: Assignment {
                            actor_type: "user".into(),
                            actor_id: actor.clone(),
                            target_type: tt.clone(),
                            target_id: tid.clone(),
                            role_id: role,
                            inherited: false,
                        },
                        via_group: via_group.clone(),
                    };
                    if !out.iter().any(|r| r.a == row.a) {
                        out.push(row);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `GET /v3/role_assignments`
pub async fn list(id: Shared, Caller(ctx): Caller, params: Params) -> ApiResult<Json<Value>> {
    let only = policy::list_scope(&ctx, "identity:list_role_assignments")?;
    let all = store::all_assignments(&id.pool).await?;
    let rows = if query_flag(&params, "effective") == Some(true) {
        effective(&id, all).await?
    } else {
        all.into_iter().map(|a| Row { a, via_group: None }).collect()
    };
    let get = |k: &str| params.get(k).map(String::as_str);
    let include_names = query_flag(&params, "include_names") == Some(true);
    let projects = store::list::<Project>(&id.pool, "projects", Filter::default()).await?;
    let domain_of = |a: &Assignment| match a.target_type.as_str() {
        "domain" => Some(a.target_id.clone()),
        "project" => projects.iter().find(|p| p.id == a.target_id).map(|p| p.domain_id.clone()),
        _ => None,
    };
    let mut items = vec![];
    for r in rows {
        let a = &r.a;
        let keep = get("user.id").is_none_or(|u| a.actor_type == "user" && a.actor_id == u)
            && get("group.id").is_none_or(|g| a.actor_type == "group" && a.actor_id == g)
            && get("role.id").is_none_or(|x| a.role_id == x)
            && get("scope.project.id").is_none_or(|p| a.target_type == "project" && a.target_id == p)
            && get("scope.domain.id").is_none_or(|d| a.target_type == "domain" && a.target_id == d)
            && get("scope.system").is_none_or(|_| a.target_type == "system")
            && get("scope.OS-INHERIT:inherited_to").is_none_or(|_| a.inherited)
            && only.as_ref().is_none_or(|d| domain_of(a).as_ref() == Some(d));
        if keep {
            items.push(render(&id, &r, include_names).await?);
        }
    }
    Ok(Json(
        json!({"role_assignments": items, "links": {"self": link(&id, "role_assignments"), "previous": null, "next": null}}),
    ))
}

async fn named(id: &Identity, table: &str, kind: &str, obj_id: &str, domain_id: Option<String>) -> ApiResult<Value> {
    let name = store::column_of(&id.pool, table, "name", obj_id).await?;
    let mut v = json!({"id": obj_id, "name": name.ok_or_else(|| store::not_found(kind, obj_id))?});
    if let Some(d) = domain_id {
        let dom: Domain = store::get(&id.pool, "domains", "domain", &d).await?;
        v["domain"] = json!({"id": dom.id, "name": dom.name});
    }
    Ok(v)
}

async fn render(id: &Identity, r: &Row, names: bool) -> ApiResult<Value> {
    let a = &r.a;
    let mut item = Map::new();
    let role = if names {
        let role: Role = store::get(&id.pool, "roles", "role", &a.role_id).await?;
        let mut v = json!({"id": role.id, "name": role.name});
        if !role.domain_id.is_empty() {
            v["domain"] = named(id, "domains", "domain", &role.domain_id, None).await?;
        }
        v
    } else {
        json!({"id": a.role_id})
    };
    item.insert("role".into(), role);
    let actor = if names {
        let (table, kind) = if a.actor_type == "user" { ("users", "user") } else { ("groups", "group") };
        let dom = store::column_of(&id.pool, table, "domain_id", &a.actor_id).await?;
        named(id, table, kind, &a.actor_id, dom).await?
    } else {
        json!({"id": a.actor_id})
    };
    item.insert(a.actor_type.clone(), actor);
    let mut scope = match a.target_type.as_str() {
        "project" if names => {
            let p: Project = store::get(&id.pool, "projects", "project", &a.target_id).await?;
            json!({"project": named(id, "projects", "project", &p.id, Some(p.domain_id)).await?})
        }
        "domain" if names => json!({"domain": named(id, "domains", "domain", &a.target_id, None).await?}),
        "system" => json!({"system": {"all": true}}),
        t => json!({ t: {"id": a.target_id} }),
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
    Ok(Value::Object(item))
}
