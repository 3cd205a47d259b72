//! Identity's API tests: the real router in-process on an in-memory store,
//! driven over HTTP semantics (method, path, headers, JSON body).

mod rules;
mod samples;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use oxistack_core::db;
use oxistack_identity::catalog::CatalogEntry;
use oxistack_identity::{api, Identity, IdentityConfig};

pub const ADMIN_PASSWORD: &str = "admin-secret";
pub const BASE: &str = "http://cloud.test";

/// A freshly bootstrapped Identity and an admin token for it.
pub struct TestCloud {
    pub app: Router,
    pub identity: Arc<Identity>,
    pub admin: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestCloud {
    pub async fn new() -> TestCloud {
        let pool = oxistack_core::testing::database().await;
        db::migrate(&pool, "core", &db::CORE_MIGRATIONS).await.unwrap();
        let identity = Identity::open(
            pool,
            IdentityConfig { token_ttl_secs: 3600, public_url: BASE.into(), security_compliance: Default::default() },
        )
        .await
        .unwrap();
        let services = vec![CatalogEntry {
            service_type: "identity".into(),
            name: "keystone".into(),
            url: identity.config.identity_url(),
        }];
        identity.bootstrap(Some(ADMIN_PASSWORD), &services).await.unwrap();
        let app = api::router(identity.clone());
        let mut cloud = TestCloud { app, identity, admin: String::new() };
        cloud.admin = cloud
            .login("admin", ADMIN_PASSWORD, json!({"project": {"name": "admin", "domain": {"id": "default"}}}))
            .await;
        cloud
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        }
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24).await.unwrap();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, Some(&self.admin), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&self.admin), Some(body)).await
    }

    pub async fn put(&self, path: &str) -> Reply {
        self.call(Method::PUT, path, Some(&self.admin), None).await
    }

    /// Authenticates by password (user name in the default domain) with `scope`.
    pub async fn try_login(&self, user: &str, password: &str, scope: Value) -> Reply {
        let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}}});
        if !scope.is_null() {
            auth["scope"] = scope;
        }
        self.call(Method::POST, "/v3/auth/tokens", None, Some(json!({"auth": auth}))).await
    }

    pub async fn login(&self, user: &str, password: &str, scope: Value) -> String {
        let r = self.try_login(user, password, scope).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.headers["x-subject-token"].to_str().unwrap().to_owned()
    }

    /// Creates a project and returns its id.
    pub async fn project(&self, name: &str) -> String {
        let r = self.post("/v3/projects", json!({"project": {"name": name}})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["project"]["id"].as_str().unwrap().to_owned()
    }

    /// Creates a user with a password and returns its id.
    pub async fn user(&self, name: &str, password: &str) -> String {
        let r = self.post("/v3/users", json!({"user": {"name": name, "password": password}})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["user"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn role_id(&self, name: &str) -> String {
        let r = self.get(&format!("/v3/roles?name={name}")).await;
        r.body["roles"][0]["id"].as_str().unwrap().to_owned()
    }

    pub async fn grant(&self, target: &str, actor: &str, role: &str) {
        let rid = self.role_id(role).await;
        let r = self.put(&format!("/v3/{target}/{actor}/roles/{rid}")).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }
}
