//! The Identity HTTP API: Keystone v3 and the v2.0 token call. One module per
//! resource; handlers parse, ask the service or the store, and render. The policy
//! check comes first in every handler that needs a caller, named as Keystone
//! names it.

mod app_creds;
mod assignments;
mod catalog;
mod credentials;
mod domains;
mod groups;
mod projects;
mod roles;
mod tempauth;
mod tokens;
mod users;
mod v2;
mod versions;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use oxistack_core::context::{Context, SharedValidator};
use oxistack_core::error::Error;
use oxistack_core::middleware::{authenticate, Auth};

use crate::Identity;

pub type Shared = State<Arc<Identity>>;
pub type ApiResult<T> = Result<T, KeystoneError>;

/// Swift's TempAuth login, `GET /auth/v1.0`, served at the listener's root
/// where Swift clients look for it.
pub fn tempauth_router(identity: Arc<Identity>) -> Router {
    Router::new().route("/auth/v1.0", get(tempauth::login)).with_state(identity)
}

/// The routes of Identity, to be nested at `/identity`.
pub fn router(identity: Arc<Identity>) -> Router {
    let validator: SharedValidator = identity.clone();
    Router::new()
        .route("/", get(versions::root))
        .route("/v3", get(versions::v3))
        .route("/v2.0", get(versions::v2))
        .route("/v2.0/tokens", post(v2::create_token))
        .route("/v3/auth/tokens", post(tokens::create).get(tokens::show).head(tokens::check).delete(tokens::revoke))
        .route("/v3/auth/catalog", get(tokens::catalog))
        .route("/v3/auth/projects", get(tokens::projects))
        .route("/v3/auth/domains", get(tokens::domains))
        .route("/v3/auth/system", get(tokens::system))
        .route("/v3/domains", get(domains::list).post(domains::create))
        .route("/v3/domains/{id}", get(domains::show).patch(domains::update).delete(domains::delete))
        .route("/v3/projects", get(projects::list).post(projects::create))
        .route("/v3/projects/{id}", get(projects::show).patch(projects::update).delete(projects::delete))
        .route("/v3/projects/{id}/tags", get(projects::tags).put(projects::replace_tags).delete(projects::clear_tags))
        .route(
            "/v3/projects/{id}/tags/{tag}",
            get(projects::has_tag).head(projects::has_tag).put(projects::add_tag).delete(projects::remove_tag),
        )
        .route("/v3/users", get(users::list).post(users::create))
        .route("/v3/users/{id}", get(users::show).patch(users::update).delete(users::delete))
        .route("/v3/users/{id}/password", post(users::change_password))
        .route("/v3/users/{id}/projects", get(users::projects))
        .route("/v3/users/{id}/groups", get(groups::of_user))
        .route("/v3/users/{id}/application_credentials", get(app_creds::list).post(app_creds::create))
        .route("/v3/users/{id}/application_credentials/{cred}", get(app_creds::show).delete(app_creds::delete))
        .route("/v3/users/{id}/credentials/OS-EC2", get(credentials::ec2_list).post(credentials::ec2_create))
        .route("/v3/users/{id}/credentials/OS-EC2/{access}", get(credentials::ec2_show).delete(credentials::ec2_delete))
        .route("/v3/credentials", get(credentials::list).post(credentials::create))
        .route("/v3/credentials/{id}", get(credentials::show).patch(credentials::update).delete(credentials::delete))
        .route("/v3/groups", get(groups::list).post(groups::create))
        .route("/v3/groups/{id}", get(groups::show).patch(groups::update).delete(groups::delete))
        .route("/v3/groups/{id}/users", get(groups::users))
        .route(
            "/v3/groups/{id}/users/{user}",
            put(groups::add_user).head(groups::check_user).get(groups::check_user).delete(groups::remove_user),
        )
        .route("/v3/roles", get(roles::list).post(roles::create))
        .route("/v3/roles/{id}", get(roles::show).patch(roles::update).delete(roles::delete))
        .route("/v3/roles/{id}/implies", get(roles::list_implied))
        .route(
            "/v3/roles/{id}/implies/{implied}",
            put(roles::create_implied)
                .get(roles::check_implied)
                .head(roles::check_implied)
                .delete(roles::delete_implied),
        )
        .route("/v3/role_inferences", get(roles::inferences))
        .route("/v3/role_assignments", get(assignments::list))
        .route("/v3/regions", get(catalog::list_regions).post(catalog::create_region))
        .route(
            "/v3/regions/{id}",
            get(catalog::show_region).patch(catalog::update_region).delete(catalog::delete_region),
        )
        .route("/v3/services", get(catalog::list_services).post(catalog::create_service))
        .route(
            "/v3/services/{id}",
            get(catalog::show_service).patch(catalog::update_service).delete(catalog::delete_service),
        )
        .route("/v3/endpoints", get(catalog::list_endpoints).post(catalog::create_endpoint))
        .route(
            "/v3/endpoints/{id}",
            get(catalog::show_endpoint).patch(catalog::update_endpoint).delete(catalog::delete_endpoint),
        )
        .merge(assignments::grant_routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(identity.clone(), www_authenticate))
        .layer(middleware::from_fn_with_state(validator, authenticate))
        .with_state(identity)
}

async fn not_found() -> KeystoneError {
    KeystoneError(Error::NotFound("The resource could not be found.".into()))
}

async fn method_not_allowed() -> KeystoneError {
    KeystoneError(Error::MethodNotAllowed("The method is not allowed for the requested URL.".into()))
}

/// Keystone tells a client that was refused where to authenticate.
async fn www_authenticate(State(id): Shared, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if res.status() == StatusCode::UNAUTHORIZED {
        if let Ok(v) = HeaderValue::from_str(&format!("Keystone uri=\"{}\"", id.config.identity_url())) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("X-Auth-Token"));
    res
}

/// An error in Keystone's dialect: `{"error": {"code", "title", "message"}}`.
#[derive(Debug)]
pub struct KeystoneError(pub Error);

impl From<Error> for KeystoneError {
    fn from(e: Error) -> Self {
        KeystoneError(e)
    }
}

impl From<sqlx::Error> for KeystoneError {
    fn from(e: sqlx::Error) -> Self {
        KeystoneError(e.into())
    }
}

impl From<anyhow::Error> for KeystoneError {
    fn from(e: anyhow::Error) -> Self {
        KeystoneError(Error::Internal(e))
    }
}

impl IntoResponse for KeystoneError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let body = json!({"error": {"code": status.as_u16(), "title": title, "message": self.0.public_message()}});
        if status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
            return (status, [(axum::http::header::RETRY_AFTER, "1")], Json(body)).into_response();
        }
        (status, Json(body)).into_response()
    }
}

/// The authenticated caller; 401 when the request carried no valid token.
pub struct Caller(pub Context);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = KeystoneError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller(Auth::caller(&parts.extensions)?))
    }
}

/// A JSON object body; anything else is Keystone's 400.
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = KeystoneError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| KeystoneError(Error::BadRequest(e.body_text())))?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v.is_object() => Ok(Body(v)),
            _ => Err(KeystoneError(Error::BadRequest(
                "Expecting to find valid JSON in request body - the server could not comply with the request since \
                 it is either malformed or otherwise incorrect. The client is assumed to be in error."
                    .into(),
            ))),
        }
    }
}

impl Body {
    /// The object under `key` (`{"project": {...}}`), or Keystone's 400.
    pub fn member(&self, key: &str) -> Result<&Map<String, Value>, KeystoneError> {
        self.0.get(key).and_then(Value::as_object).ok_or_else(|| invalid(&format!("'{key}' is a required property")))
    }
}

pub fn invalid(msg: &str) -> KeystoneError {
    KeystoneError(Error::BadRequest(format!("Invalid input for field/attribute: {msg}")))
}

/// A string field: `Ok(None)` when absent, 400 when not a string.
pub fn opt_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, KeystoneError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(&format!("{field}. Value: {other}. {other} is not of type 'string'"))),
    }
}

pub fn req_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a str, KeystoneError> {
    match opt_str(obj, field)? {
        Some(s) if !s.trim().is_empty() && s.len() <= 255 => Ok(s),
        Some(s) if s.len() > 255 => Err(invalid(&format!("{field}. '{s}' is too long"))),
        _ => Err(invalid(&format!("'{field}' is a required property"))),
    }
}

pub fn opt_bool(obj: &Map<String, Value>, field: &str) -> Result<Option<bool>, KeystoneError> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(invalid(&format!("{field}. Value: {other}. {other} is not of type 'boolean'"))),
    }
}

/// Query parameters of a list call.
pub type Params = axum::extract::Query<HashMap<String, String>>;

/// Keystone's reading of a boolean query parameter: present and not `0`/`false`.
pub fn query_flag(params: &HashMap<String, String>, key: &str) -> Option<bool> {
    params.get(key).map(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off"))
}

/// A list response with Keystone's `links`.
pub fn list_body(key: &str, items: Vec<Value>, self_url: String) -> Json<Value> {
    Json(json!({ key: items, "links": {"self": self_url, "previous": null, "next": null} }))
}

pub fn created(body: Value) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(body))
}

/// The URL of a resource, for `links.self`.
pub fn link(id: &Identity, path: &str) -> String {
    format!("{}/v3/{path}", id.config.identity_url())
}
