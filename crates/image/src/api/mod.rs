//! The Image HTTP API (Glance v2). Handlers parse and render; the rules are in
//! [`crate::service`].

mod data;
mod images;
mod members;

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use oxistack_core::context::{Context, SharedValidator};
use oxistack_core::error::Error;
use oxistack_core::middleware::{authenticate, Auth};

use crate::Image;

pub type Shared = State<Arc<Image>>;
pub type ApiResult<T> = Result<T, GlanceError>;

/// The routes of the Image service, to be nested at `/image`.
pub fn router(image: Arc<Image>, validator: SharedValidator, base_url: String) -> Router {
    Router::new()
        .route(
            "/",
            get({
                let base = base_url.clone();
                move || async move { (StatusCode::MULTIPLE_CHOICES, versions(&base)) }
            }),
        )
        // python-glanceclient asks here first.
        .route("/versions", get(move || async move { versions(&base_url) }))
        .route("/v2/schemas/image", get(|| schema(include_str!("../../schemas/image.json"))))
        .route("/v2/schemas/images", get(|| schema(include_str!("../../schemas/images.json"))))
        .route("/v2/schemas/member", get(|| schema(include_str!("../../schemas/member.json"))))
        .route("/v2/schemas/members", get(|| schema(include_str!("../../schemas/members.json"))))
        .route("/v2/info/import", get(info_import))
        .route("/v2/info/stores", get(info_stores))
        .route("/v2/images", get(images::list).post(images::create))
        .route("/v2/images/{id}", get(images::show).patch(images::update).delete(images::delete))
        .route("/v2/images/{id}/actions/deactivate", post(images::deactivate))
        .route("/v2/images/{id}/actions/reactivate", post(images::reactivate))
        .route("/v2/images/{id}/tags/{tag}", put(images::add_tag).delete(images::remove_tag))
        .route("/v2/images/{id}/file", get(data::download).put(data::upload))
        .route("/v2/images/{id}/stage", put(data::stage))
        .route("/v2/images/{id}/import", post(data::import))
        .route("/v2/images/{id}/members", get(members::list).post(members::create))
        .route("/v2/images/{id}/members/{member}", get(members::show).put(members::update).delete(members::delete))
        .fallback(|| async { GlanceError(Error::NotFound("The resource could not be found.".into())) })
        .method_not_allowed_fallback(|| async {
            GlanceError(Error::MethodNotAllowed("The method is not allowed for this resource.".into()))
        })
        .layer(middleware::from_fn_with_state(validator, authenticate))
        .with_state(image)
}

/// Glance's versions document (300 Multiple Choices at the root, 200 at `/versions`).
fn versions(base: &str) -> Json<Value> {
    let href = format!("{base}/v2/");
    let entry = |id: &str, status: &str| json!({"id": id, "status": status, "links": [{"rel": "self", "href": href}]});
    let mut values = vec![entry("v2.17", "CURRENT")];
    for minor in (0..17).rev() {
        values.push(entry(&format!("v2.{minor}"), "SUPPORTED"));
    }
    Json(json!({ "versions": values }))
}

async fn schema(text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// Only the import methods served are listed: clients pick from this list.
async fn info_import(Caller(_): Caller) -> Json<Value> {
    Json(
        json!({"import-methods": {"description": "Import methods available.", "type": "array", "value": ["glance-direct"]}}),
    )
}

async fn info_stores(Caller(_): Caller) -> Json<Value> {
    Json(json!({"stores": [{"id": "file", "description": "Files in the data dir of this cloud", "default": true}]}))
}

/// An error as Glance (webob) writes it: a plain-text page naming the status.
#[derive(Debug)]
pub struct GlanceError(pub Error);

impl From<Error> for GlanceError {
    fn from(e: Error) -> Self {
        GlanceError(e)
    }
}

impl IntoResponse for GlanceError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let line = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
        let body = format!("{line}\n\n{}\n\n   ", self.0.public_message());
        (status, [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], body).into_response()
    }
}

pub struct Caller(pub Context);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = GlanceError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller(Auth::caller(&parts.extensions)?))
    }
}

/// A JSON body; anything else is a 400.
pub async fn json_body(body: axum::body::Bytes) -> ApiResult<Value> {
    serde_json::from_slice(&body)
        .map_err(|e| GlanceError(Error::BadRequest(format!("Malformed JSON in request body: {e}"))))
}
