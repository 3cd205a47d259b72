//! Identity's rules through its API: policy personas, groups, implied roles,
//! domains, the project hierarchy, tags, revocation.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::TestCloud;

fn names(list: &Value, key: &str) -> Vec<String> {
    let mut n: Vec<String> =
        list[key].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_owned()).collect();
    n.sort();
    n
}

#[tokio::test]
async fn members_read_themselves_and_manage_nothing() {
    let c = TestCloud::new().await;
    let pid = c.project("demo").await;
    let uid = c.user("alice", "pw").await;
    c.grant(&format!("projects/{pid}"), &format!("users/{uid}"), "member").await;
    let t = c.login("alice", "pw", json!({"project": {"id": pid}})).await;
    let as_alice = |m: Method, p: &str, b: Option<Value>| {
        let t = t.clone();
        let p = p.to_owned();
        let c = &c;
        async move { c.call(m, &p, Some(&t), b).await }
    };
    assert_eq!(as_alice(Method::GET, &format!("/v3/users/{uid}"), None).await.status, StatusCode::OK);
    assert_eq!(as_alice(Method::GET, &format!("/v3/projects/{pid}"), None).await.status, StatusCode::OK);
    let r = as_alice(Method::GET, "/v3/users", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["error"]["message"],
        "You are not authorized to perform the requested action: identity:list_users."
    );
    let r = as_alice(Method::POST, "/v3/projects", Some(json!({"project": {"name": "x"}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let admin_project = c.get("/v3/projects?name=admin").await.body["projects"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        as_alice(Method::GET, &format!("/v3/projects/{admin_project}"), None).await.status,
        StatusCode::FORBIDDEN
    );
    let r = as_alice(Method::GET, "/v3/auth/projects", None).await;
    assert_eq!(names(&r.body, "projects"), vec!["demo"]);
    // member implies reader.
    let r = c.call(Method::GET, "/v3/auth/tokens", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let mut req =
        axum::http::Request::builder().uri("/v3/auth/tokens").header("x-auth-token", &t).header("x-subject-token", &t);
    req = req.method(Method::GET);
    let r = c.send(req.body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(names(&r.body["token"], "roles"), vec!["member", "reader"]);
}

#[tokio::test]
async fn roles_through_groups_count_until_membership_ends() {
    let c = TestCloud::new().await;
    let pid = c.project("demo").await;
    let uid = c.user("bob", "pw").await;
    let g = c.post("/v3/groups", json!({"group": {"name": "devs"}})).await;
    assert_eq!(g.status, StatusCode::CREATED);
    let gid = g.body["group"]["id"].as_str().unwrap().to_owned();
    assert_eq!(c.put(&format!("/v3/groups/{gid}/users/{uid}")).await.status, StatusCode::NO_CONTENT);
    c.grant(&format!("projects/{pid}"), &format!("groups/{gid}"), "reader").await;
    assert_eq!(c.try_login("bob", "pw", json!({"project": {"id": pid}})).await.status, StatusCode::CREATED);
    let t = c.login("bob", "pw", json!({"project": {"id": pid}})).await;

    let r = c.get(&format!("/v3/role_assignments?effective&user.id={uid}&include_names=1")).await;
    let rows = r.body["role_assignments"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{:#}", r.body);
    assert_eq!(rows[0]["role"]["name"], "reader");
    assert_eq!(rows[0]["user"]["domain"]["name"], "Default");
    assert_eq!(rows[0]["scope"]["project"]["name"], "demo");
    assert!(rows[0]["links"]["membership"].as_str().unwrap().ends_with(&format!("/groups/{gid}/users/{uid}")));
    let r = c.get(&format!("/v3/role_assignments?group.id={gid}")).await;
    assert_eq!(r.body["role_assignments"][0]["group"]["id"], json!(gid));

    let r = c.call(Method::DELETE, &format!("/v3/groups/{gid}/users/{uid}"), Some(&c.admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call(Method::GET, "/v3/auth/projects", Some(&t), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(c.try_login("bob", "pw", json!({"project": {"id": pid}})).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn implied_roles_expand_and_refuse_cycles() {
    let c = TestCloud::new().await;
    let t = c.call(Method::GET, "/v3/auth/projects", Some(&c.admin), None).await;
    assert_eq!(t.status, StatusCode::OK);
    let admin = c.role_id("admin").await;
    let reader = c.role_id("reader").await;
    let r = c.put(&format!("/v3/roles/{reader}/implies/{admin}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = c.post("/v3/roles", json!({"role": {"name": "observer"}})).await;
    let observer = r.body["role"]["id"].as_str().unwrap().to_owned();
    let r = c.put(&format!("/v3/roles/{reader}/implies/{observer}")).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["role_inference"]["implies"]["name"], "observer");
    let admin_token = c
        .login("admin", crate::ADMIN_PASSWORD, json!({"project": {"name": "admin", "domain": {"id": "default"}}}))
        .await;
    let req = axum::http::Request::builder()
        .uri("/v3/auth/tokens")
        .header("x-auth-token", &admin_token)
        .header("x-subject-token", &admin_token)
        .body(axum::body::Body::empty())
        .unwrap();
    let r = c.send(req).await;
    assert_eq!(names(&r.body["token"], "roles"), vec!["admin", "member", "observer", "reader"]);
    let r = c.call(Method::HEAD, &format!("/v3/roles/{reader}/implies/{observer}"), Some(&c.admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.call(Method::DELETE, &format!("/v3/roles/{reader}/implies/{observer}"), Some(&c.admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn domain_readers_read_their_domain_only() {
    let c = TestCloud::new().await;
    let d = c.post("/v3/domains", json!({"domain": {"name": "acme"}})).await.body["domain"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c.post("/v3/users", json!({"user": {"name": "carol", "password": "pw", "domain_id": d}})).await;
    let carol = r.body["user"]["id"].as_str().unwrap().to_owned();
    c.grant(&format!("domains/{d}"), &format!("users/{carol}"), "reader").await;
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "carol", "domain": {"name": "acme"}, "password": "pw"}}}, "scope": {"domain": {"name": "acme"}}}});
    let r = c.call(Method::POST, "/v3/auth/tokens", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["token"]["domain"]["name"], "acme");
    let t = r.headers["x-subject-token"].to_str().unwrap().to_owned();
    let r = c.call(Method::GET, "/v3/users", Some(&t), None).await;
    assert_eq!(names(&r.body, "users"), vec!["carol"]);
    let r = c.call(Method::POST, "/v3/users", Some(&t), Some(json!({"user": {"name": "x", "domain_id": d}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.call(Method::GET, "/v3/auth/domains", Some(&t), None).await;
    assert_eq!(names(&r.body, "domains"), vec!["acme"]);

    // An enabled domain cannot go; a disabled one goes with all it holds.
    let r = c.call(Method::DELETE, &format!("/v3/domains/{d}"), Some(&c.admin), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .call(Method::PATCH, &format!("/v3/domains/{d}"), Some(&c.admin), Some(json!({"domain": {"enabled": false}})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.call(Method::GET, "/v3/users", Some(&t), None).await.status, StatusCode::UNAUTHORIZED);
    let r = c.call(Method::DELETE, &format!("/v3/domains/{d}"), Some(&c.admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(c.get(&format!("/v3/users/{carol}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn project_hierarchy_and_tags() {
    let c = TestCloud::new().await;
    let parent = c.project("parent").await;
    let r =
        c.post("/v3/projects", json!({"project": {"name": "child", "parent_id": parent, "tags": ["a", "b"]}})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["project"]["parent_id"], json!(parent));
    let child = r.body["project"]["id"].as_str().unwrap().to_owned();
    assert_eq!(names(&c.get(&format!("/v3/projects?parent_id={parent}")).await.body, "projects"), vec!["child"]);
    assert_eq!(names(&c.get("/v3/projects?parent_id=default").await.body, "projects"), vec!["admin", "parent"]);
    assert_eq!(names(&c.get("/v3/projects?tags=a,b").await.body, "projects"), vec!["child"]);
    assert_eq!(names(&c.get("/v3/projects?tags-any=b,z").await.body, "projects"), vec!["child"]);
    assert_eq!(names(&c.get("/v3/projects?not-tags-any=a").await.body, "projects"), vec!["admin", "parent"]);
    assert_eq!(c.put(&format!("/v3/projects/{child}/tags/c")).await.status, StatusCode::CREATED);
    assert_eq!(c.get(&format!("/v3/projects/{child}/tags")).await.body["tags"], json!(["a", "b", "c"]));
    let r = c.post("/v3/projects", json!({"project": {"name": "bad", "tags": ["x/y"]}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = c.call(Method::DELETE, &format!("/v3/projects/{parent}"), Some(&c.admin), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("not a leaf"));
    let r = c.post("/v3/projects", json!({"project": {"name": "child", "parent_id": parent}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        c.call(Method::DELETE, &format!("/v3/projects/{child}"), Some(&c.admin), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.call(Method::DELETE, &format!("/v3/projects/{parent}"), Some(&c.admin), None).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn revoking_a_role_ends_the_tokens_that_relied_on_it() {
    let c = TestCloud::new().await;
    let pid = c.project("demo").await;
    let uid = c.user("dave", "pw").await;
    c.grant(&format!("projects/{pid}"), &format!("users/{uid}"), "member").await;
    let t = c.login("dave", "pw", json!({"project": {"id": pid}})).await;
    let member = c.role_id("member").await;
    let r =
        c.call(Method::DELETE, &format!("/v3/projects/{pid}/users/{uid}/roles/{member}"), Some(&c.admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call(Method::GET, &format!("/v3/users/{uid}"), Some(&t), None).await.status, StatusCode::UNAUTHORIZED);
    let r = c.try_login("dave", "pw", json!({"project": {"id": pid}})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Unscoped still works: the user exists and the password is right.
    assert_eq!(c.try_login("dave", "pw", Value::Null).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_keystones_dialect() {
    let c = TestCloud::new().await;
    let r = c.get("/v3/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["title"], "Not Found");
    let r = c.call(Method::PUT, "/v3/users", Some(&c.admin), None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body["error"]["code"], 405);
    let r = c.get("/v3/users/nope").await;
    assert_eq!(r.body["error"]["message"], "Could not find user: nope.");
    let r = c.post("/v3/users", json!({"user": {"name": "admin"}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c.post("/v3/users", json!({"name": "flat"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
