//! The Block Storage HTTP API (Cinder v3). One module per resource;
//! handlers read the request for the asked microversion, call the service
//! and render. Every resource is served both under `/v3/{project_id}` and,
//! as from 3.67, under `/v3`.

mod attachments;
mod backups;
mod metadata;
mod misc;
mod quotas;
mod snapshots;
mod transfers;
mod types;
mod volumes;

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use oxistack_core::context::{Context, SharedValidator};
use oxistack_core::error::Error;
use oxistack_core::middleware::{authenticate, Auth};

use crate::views::Base;
use crate::{microversion, Volume};

pub type Shared = State<Arc<Volume>>;
pub type ApiResult<T> = Result<T, CinderFault>;

/// The routes of Block Storage, to be nested at `/volume`.
pub fn router(volume: Arc<Volume>, validator: SharedValidator) -> Router {
    let resources = Router::new()
        .route("/volumes", get(volumes::list).post(volumes::create))
        .route("/volumes/detail", get(volumes::detail))
        .route("/volumes/{id}", get(volumes::show).put(volumes::update).delete(volumes::delete))
        .route("/volumes/{id}/action", post(volumes::action))
        .route(
            "/volumes/{id}/metadata",
            get(metadata::index::<false>).post(metadata::merge::<false>).put(metadata::replace::<false>),
        )
        .route(
            "/volumes/{id}/metadata/{key}",
            get(metadata::item::<false>).put(metadata::set_item::<false>).delete(metadata::delete_item::<false>),
        )
        .route("/attachments", get(attachments::list).post(attachments::create))
        .route("/attachments/detail", get(attachments::detail))
        .route("/attachments/{id}", get(attachments::show).put(attachments::update).delete(attachments::delete))
        .route("/attachments/{id}/action", post(attachments::action))
        .route("/backups", get(backups::list).post(backups::create))
        .route("/backups/detail", get(backups::detail))
        .route("/backups/{id}", get(backups::show).delete(backups::delete))
        .route("/backups/{id}/restore", post(backups::restore))
        .route("/backups/{id}/action", post(backups::action))
        .route("/snapshots", get(snapshots::list).post(snapshots::create))
        .route("/snapshots/detail", get(snapshots::detail))
        .route("/snapshots/{id}", get(snapshots::show).put(snapshots::update).delete(snapshots::delete))
        .route("/snapshots/{id}/action", post(snapshots::action))
        .route(
            "/snapshots/{id}/metadata",
            get(metadata::index::<true>).post(metadata::merge::<true>).put(metadata::replace::<true>),
        )
        .route(
            "/snapshots/{id}/metadata/{key}",
            get(metadata::item::<true>).put(metadata::set_item::<true>).delete(metadata::delete_item::<true>),
        )
        .route("/types", get(types::list).post(types::create))
        .route("/types/{id}", get(types::show).put(types::update).delete(types::delete))
        .route("/types/{id}/action", post(types::action))
        .route("/types/{id}/os-volume-type-access", get(types::access))
        .route("/types/{id}/extra_specs", get(types::extra_specs).post(types::set_extra_specs))
        .route(
            "/types/{id}/extra_specs/{key}",
            get(types::extra_spec).put(types::set_extra_spec).delete(types::delete_extra_spec),
        )
        .route("/os-volume-transfer", get(transfers::list::<false>).post(transfers::create::<false>))
        .route("/os-volume-transfer/detail", get(transfers::detail::<false>))
        .route("/os-volume-transfer/{id}", get(transfers::show::<false>).delete(transfers::delete::<false>))
        .route("/os-volume-transfer/{id}/accept", post(transfers::accept::<false>))
        .route("/volume-transfers", get(transfers::list::<true>).post(transfers::create::<true>))
        .route("/volume-transfers/detail", get(transfers::detail::<true>))
        .route("/volume-transfers/{id}", get(transfers::show::<true>).delete(transfers::delete::<true>))
        .route("/volume-transfers/{id}/accept", post(transfers::accept::<true>))
        .route("/os-quota-sets/{project}", get(quotas::show).put(quotas::update).delete(quotas::delete))
        .route("/os-quota-sets/{project}/defaults", get(quotas::defaults))
        .route("/os-quota-class-sets/{class}", get(quotas::show_class).put(quotas::update_class))
        .route("/limits", get(quotas::limits))
        .route("/os-availability-zone", get(misc::availability_zones))
        .route("/os-services", get(misc::services));
    Router::new()
        .route("/", get(|s: Shared| async move { (StatusCode::MULTIPLE_CHOICES, versions(&s)) }))
        .route("/v3", get(|s: Shared| async move { versions(&s) }))
        .nest("/v3/{project_id}", resources.clone().layer(middleware::from_fn(own_project)))
        .nest("/v3", resources)
        .fallback(|| async { CinderFault(Error::NotFound("The resource could not be found.".into())) })
        .method_not_allowed_fallback(|| async {
            CinderFault(Error::MethodNotAllowed("The method is not allowed for the requested URL.".into()))
        })
        .layer(middleware::from_fn_with_state(validator, authenticate))
        .layer(middleware::from_fn(microversion::layer))
        .with_state(volume)
}

/// Cinder's version document: one version, v3.0, with its microversions.
fn versions(volume: &Volume) -> Json<Value> {
    let href = format!("{}/v3/", volume.config.url.trim_end_matches('/'));
    Json(json!({"versions": [{
        "id": "v3.0",
        "status": "CURRENT",
        "version": microversion::MAX.to_string(),
        "min_version": microversion::MIN.to_string(),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": href},
        ],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}],
    }]}))
}

/// A URL naming a project names the caller's own, as Cinder checks it.
async fn own_project(req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map(|u| u.0.path().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let named = path.split('/').skip_while(|s| *s != "v3").nth(1).unwrap_or_default().to_owned();
    let caller = Auth::caller(req.extensions()).ok();
    match caller {
        Some(ctx) if ctx.project_id() != Some(named.as_str()) => {
            CinderFault(Error::BadRequest("Malformed request url".into())).into_response()
        }
        _ => next.run(req).await,
    }
}

/// An error as Cinder renders it: `{"itemNotFound": {"code": 404, "message": ..}}`;
/// a quota's 413 says when to retry, as Cinder's `QuotaError` does.
#[derive(Debug)]
pub struct CinderFault(pub Error);

impl From<Error> for CinderFault {
    fn from(e: Error) -> Self {
        CinderFault(e)
    }
}

impl IntoResponse for CinderFault {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let mut body =
            oxistack_core::fault::body(oxistack_core::fault::Dialect::Cinder, status, self.0.public_message());
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            body["overLimit"]["retryAfter"] = json!("0");
            let mut res = (status, Json(body)).into_response();
            res.headers_mut().insert("retry-after", HeaderValue::from_static("0"));
            return res;
        }
        (status, Json(body)).into_response()
    }
}

pub struct Caller(pub Context);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = CinderFault;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller(Auth::caller(&parts.extensions)?))
    }
}

/// A JSON object body; anything else is Cinder's "Malformed request body".
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = CinderFault;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| CinderFault(Error::BadRequest(e.body_text())))?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v.is_object() => Ok(Body(v)),
            _ => Err(CinderFault(Error::BadRequest("Malformed request body".into()))),
        }
    }
}

pub fn bad(msg: impl Into<String>) -> CinderFault {
    CinderFault(Error::BadRequest(msg.into()))
}

/// The link bases for the caller's project.
pub fn base(volume: &Volume, ctx: &Context) -> Base {
    Base::new(&volume.config.url, ctx.project_id().unwrap_or_default())
}

/// A boolean as oslo's `bool_from_string` reads one (query strings and
/// bodies alike); `None` for anything else.
pub fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_lowercase().as_str() {
            "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
            "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// An optional string field: absent or null is `None`.
pub fn text(body: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, CinderFault> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= 255 => Ok(Some(s.clone())),
        Some(v) => Err(bad(format!(
            "Invalid input for field/attribute {key}. Value: {v}. {v} is not valid under any of the given schemas"
        ))),
    }
}

/// A metadata object of strings; absent or null is empty.
pub fn string_map(body: &serde_json::Map<String, Value>, key: &str) -> Result<crate::store::Metadata, CinderFault> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Default::default()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(bad(format!(
                    "Invalid input for field/attribute {k}. Value: {other}. {other} is not of type 'string'"
                ))),
            })
            .collect(),
        Some(v) => {
            Err(bad(format!("Invalid input for field/attribute {key}. Value: {v}. {v} is not of type 'object'")))
        }
    }
}

/// A whole number or its digits as text, as Cinder's schemas take sizes.
pub fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A list's `limit`: a whole number, not negative.
pub fn limit(text: &str) -> ApiResult<usize> {
    let n: i64 = text.parse().map_err(|_| bad("limit param must be an integer"))?;
    if n < 0 {
        return Err(bad("limit param must be positive"));
    }
    Ok(n as usize)
}

/// A metadata filter as clients send it: a Python dict literal
/// (`{'k': 'v'}`), or JSON.
pub fn python_dict(text: &str) -> ApiResult<crate::store::Metadata> {
    serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&text.replace('\'', "\"")))
        .map_err(|_| bad(format!("Invalid input received: Invalid metadata filter {text}")))
}

/// A page of `key` (`volumes`, `snapshots`) with its next link
/// (`<key>_links`) when there may be more, and its count when asked.
#[allow(clippy::too_many_arguments)]
pub fn page_body(
    c: &Volume,
    ctx: &Context,
    key: &str,
    path: &str,
    items: Vec<Value>,
    next: Option<String>,
    params: Vec<(String, String)>,
    count: Option<usize>,
) -> Value {
    let mut body = json!({ key: items });
    if let Some(marker) = next {
        let mut params: Vec<(String, String)> = params.into_iter().filter(|(k, _)| k != "marker").collect();
        params.push(("marker".into(), marker));
        let q = serde_urlencoded::to_string(&params).unwrap_or_default();
        body[format!("{key}_links")] = json!([{"rel": "next", "href": format!("{}/{path}?{q}", base(c, ctx).v3)}]);
    }
    if let Some(n) = count {
        body["count"] = json!(n);
    }
    body
}

pub fn metadata_body(body: &Value, key: &str) -> ApiResult<crate::store::Metadata> {
    let map = body.as_object().cloned().unwrap_or_default();
    if !map.contains_key(key) {
        return Err(bad(format!("'{key}' is a required property")));
    }
    string_map(&map, key)
}
