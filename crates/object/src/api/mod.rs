//! The Swift v1 API, nested at `/object`: `/v1/<account>[/<container>
//! [/<object>]]` with GET, HEAD, PUT, POST and DELETE, `/healthcheck`, and
//! `/info` (served at the root as well, where python-swiftclient asks).
//! The path is read here, percent-decoded as Swift does; headers and bodies
//! are Swift's (metadata as `X-<Kind>-Meta-*` headers, listings as plain
//! text, JSON or XML, errors as Swift's short pages).

mod extract;
mod formpost;
mod listings;
mod objects;
mod web;

pub(crate) use objects::precondition;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};

use oxistack_core::context::SharedValidator;
use oxistack_core::error::Error;
use oxistack_core::middleware::{authenticate, Auth};

use crate::access::{Caller, TempUrl};
use crate::service::MetaChanges;
use crate::ObjectStorage;

pub type Shared = State<Arc<ObjectStorage>>;
pub type ApiResult<T> = Result<T, SwiftError>;

/// The routes of Object Storage, to be nested at `/object`.
pub fn router(storage: Arc<ObjectStorage>, validator: SharedValidator) -> Router {
    Router::new()
        .route("/info", get(info))
        .route("/healthcheck", get(|| async { "OK" }))
        .route("/v1", any(dispatch))
        // `any` also takes Swift's COPY.
        .route("/v1/{*path}", any(dispatch).fallback(dispatch))
        .fallback(|| async { SwiftError(Error::NotFound("The resource could not be found.".into())) })
        .layer(middleware::from_fn_with_state(validator, authenticate))
        .with_state(storage)
}

/// `GET /info`: what this cluster serves and its limits.
pub async fn info() -> Json<serde_json::Value> {
    Json(crate::service::info())
}

/// An error as Swift writes it: a short HTML page for the statuses it has
/// pages for, the message as text for the rest.
#[derive(Debug)]
pub struct SwiftError(pub Error);

impl From<Error> for SwiftError {
    fn from(e: Error) -> Self {
        SwiftError(e)
    }
}

impl IntoResponse for SwiftError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let message = self.0.public_message();
        let body = match status.as_u16() {
            401 => "<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the document you requested.</p></html>".to_owned(),
            403 | 404 | 409 | 422 => {
                format!("<html><h1>{}</h1><p>{message}</p></html>", status.canonical_reason().unwrap_or(""))
            }
            _ => message,
        };
        let mut res = (status, [(header::CONTENT_TYPE, "text/html; charset=UTF-8")], body).into_response();
        trans_id(res.headers_mut());
        res
    }
}

/// Swift's `X-Trans-Id` (`tx<21 hex>-<hex time>`), on every answer.
fn trans_id(headers: &mut HeaderMap) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let t = format!("tx{}-{:010x}", &id[..21], chrono::Utc::now().timestamp());
    if let Ok(v) = HeaderValue::from_str(&t) {
        headers.insert(HeaderName::from_static("x-trans-id"), v.clone());
    }
}

/// What a request's path names.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Account(String),
    Container(String, String),
    Object(String, String, String),
}

/// Percent-decodes one path, as Swift's `unquote`; names that are not
/// UTF-8 or hold NUL are refused (Swift's 412).
pub(crate) fn decode(path: &str) -> ApiResult<String> {
    crate::content::percent_decode(path)
        .ok_or_else(|| SwiftError(Error::PreconditionFailed("Invalid UTF8 or contains NULL".into())))
}

/// Reads `/v1/<account>[/<container>[/<object>]]` (the part after `/v1`).
fn target(rest: &str) -> ApiResult<Target> {
    let path = decode(rest.trim_start_matches('/'))?;
    let mut parts = path.splitn(3, '/');
    let account = parts.next().unwrap_or_default().to_owned();
    if account.is_empty() {
        return Err(SwiftError(Error::PreconditionFailed("Invalid path".into())));
    }
    let container = parts.next().unwrap_or_default().to_owned();
    let object = parts.next().unwrap_or_default().to_owned();
    Ok(match (container.is_empty(), object.is_empty()) {
        (true, _) => Target::Account(account),
        (false, true) => Target::Container(account, container),
        (false, false) => Target::Object(account, container, object),
    })
}

/// Who sent the request: a TempURL's signature when it has one (checked
/// here), else the token's user (401 for a token Identity refused), else
/// no one.
async fn caller(storage: &ObjectStorage, target: &Target, req: &axum::http::request::Parts) -> ApiResult<Caller> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.uri.query().unwrap_or("")).unwrap_or_default();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Some(sig) = get("temp_url_sig") {
        let Target::Object(account, container, object) = target else {
            return Err(SwiftError(Error::Unauthorized("Temp URL invalid".into())));
        };
        let url = TempUrl {
            method: req.method.as_str(),
            account,
            container,
            object,
            sig,
            expires: get("temp_url_expires").unwrap_or_default(),
            prefix: get("temp_url_prefix"),
            ip_range: get("temp_url_ip_range"),
            client: req.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
        };
        return Ok(storage.temp_url_caller(&url, chrono::Utc::now().timestamp()).await?);
    }
    match req.extensions.get::<Auth>() {
        Some(Auth::Caller(ctx)) => Ok(Caller::User(ctx.clone())),
        Some(Auth::Refused(_)) => {
            Err(SwiftError(Error::Unauthorized("The request you have made requires authentication.".into())))
        }
        _ => {
            let referer = req.headers.get(header::REFERER).and_then(|v| v.to_str().ok()).map(str::to_owned);
            Ok(Caller::Anonymous { referer })
        }
    }
}

async fn dispatch(State(storage): Shared, req: Request) -> Response {
    let rest = req.uri().path().strip_prefix("/v1").unwrap_or_default().to_owned();
    let answer = async {
        let target = target(&rest)?;
        let (parts, body) = req.into_parts();
        let caller = caller(&storage, &target, &parts).await?;
        let req = Request::from_parts(parts, body);
        let method = req.method().clone();
        let form = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if let (true, true, Caller::Anonymous { .. }, Target::Container(a, c) | Target::Object(a, c, _)) =
            (method == Method::POST, form.starts_with("multipart/form-data"), &caller, &target)
        {
            let prefix = if let Target::Object(_, _, o) = &target { o.as_str() } else { "" };
            return formpost::post(&storage, a, c, prefix, req).await;
        }
        let mut req = req;
        if let (true, Target::Container(a, c) | Target::Object(a, c, _)) = (web::web_mode(&caller, &req), &target) {
            let o = if let Target::Object(_, _, o) = &target { o.as_str() } else { "" };
            let path = format!("/object{}", req.uri().path());
            // The site answers, or the request goes on as any other.
            let (parts, body) = req.into_parts();
            let probe = Request::from_parts(parts.clone(), Body::empty());
            if let Some(res) = web::serve(&storage, &caller, a, c, o, &path, probe).await? {
                return Ok(res);
            }
            req = Request::from_parts(parts, body);
        }
        if let (true, Some(format)) = (method == Method::PUT, extract::asked(req.uri().query())) {
            let (a, c, prefix) = match &target {
                Target::Account(a) => (a.as_str(), None, ""),
                Target::Container(a, c) => (a.as_str(), Some(c.as_str()), ""),
                Target::Object(a, c, o) => (a.as_str(), Some(c.as_str()), o.as_str()),
            };
            return extract::put(&storage, &caller, a, c, prefix, &format, req).await;
        }
        match target {
            Target::Account(a) => listings::account(&storage, &caller, &method, &a, req).await,
            Target::Container(a, c) => listings::container(&storage, &caller, &method, &a, &c, req).await,
            Target::Object(a, c, o) => objects::object(&storage, &caller, &method, &a, &c, &o, req).await,
        }
    };
    let mut res = answer.await.unwrap_or_else(IntoResponse::into_response);
    trans_id(res.headers_mut());
    res
}

/// A status as Swift's bulk and SLO middlewares write it in their answers'
/// bodies (`201 Created`).
pub(crate) fn status_line(s: StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
}

/// Whether the client's `Accept` asks those answers for JSON.
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("json"))
}

/// How often a long request that answered at once writes a space to keep
/// its client waiting (Swift's `yield_frequency`).
const HEARTBEAT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// An answer sent at once, a space every `HEARTBEAT_INTERVAL` while `work`
/// runs, then the text it gives, as Swift's bulk and SLO middlewares answer
/// long requests, so that no client's read timeout cuts them. The work goes
/// on to its end if the client leaves.
pub(crate) fn heartbeat<F>(status: StatusCode, content_type: &'static str, work: F) -> Response
where
    F: std::future::Future<Output = String> + Send + 'static,
{
    let (mut tx, body) = http_body_util::channel::Channel::<axum::body::Bytes, std::convert::Infallible>::new(2);
    tokio::spawn(async move {
        let mut work = std::pin::pin!(work);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
        loop {
            tokio::select! {
                text = &mut work => {
                    let _ = tx.send_data(text.into()).await;
                    return;
                }
                _ = tick.tick() => {
                    let _ = tx.send_data(axum::body::Bytes::from_static(b" ")).await;
                }
            }
        }
    });
    (status, [(header::CONTENT_TYPE, content_type)], Body::new(body)).into_response()
}

/// The metadata changes a request's headers ask of a resource of `kind`
/// (`account`, `container` or `object`): `X-<Kind>-Meta-<name>` sets (an
/// empty value removes), `X-Remove-<Kind>-Meta-<name>` removes.
pub fn meta_changes(headers: &HeaderMap, kind: &str) -> MetaChanges {
    let set_prefix = format!("x-{kind}-meta-");
    let remove_prefix = format!("x-remove-{kind}-meta-");
    let mut changes = MetaChanges::default();
    for (name, value) in headers {
        let name = name.as_str();
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if let Some(k) = name.strip_prefix(&remove_prefix) {
            changes.remove.push(k.to_owned());
        } else if let Some(k) = name.strip_prefix(&set_prefix) {
            changes.set.push((k.to_owned(), value));
        }
    }
    changes
}

/// Writes metadata as `X-<Kind>-Meta-<name>` headers.
pub fn meta_headers(headers: &mut HeaderMap, kind: &str, metadata: &crate::store::Metadata) {
    for (k, v) in metadata {
        let name = HeaderName::from_bytes(format!("x-{kind}-meta-{k}").as_bytes());
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(v)) {
            headers.insert(name, value);
        }
    }
}

/// `X-Timestamp`: seconds since the epoch with five decimals.
pub fn x_timestamp(us: i64) -> String {
    format!("{}.{:05}", us / 1_000_000, (us % 1_000_000) / 10)
}

/// `Last-Modified`, an HTTP date, rounded up to the second as Swift does.
pub fn http_date(us: i64) -> String {
    let secs = (us + 999_999) / 1_000_000;
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A listing's `last_modified`: ISO 8601 with microseconds, no zone.
pub fn listing_date(us: i64) -> String {
    let t = chrono::DateTime::from_timestamp(us.div_euclid(1_000_000), (us.rem_euclid(1_000_000) * 1000) as u32)
        .unwrap_or_default();
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

pub fn set(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// A response of `status` and no body.
pub fn empty(status: StatusCode) -> Response {
    let mut res = (status, Body::empty()).into_response();
    set(res.headers_mut(), "content-type", "text/html; charset=UTF-8");
    res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    res
}

pub fn method_not_allowed(_method: &Method) -> SwiftError {
    SwiftError(Error::MethodNotAllowed("The method is not allowed for this resource.".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_accounts_containers_and_objects() {
        assert_eq!(target("/AUTH_p").unwrap(), Target::Account("AUTH_p".into()));
        assert_eq!(target("/AUTH_p/").unwrap(), Target::Account("AUTH_p".into()));
        assert_eq!(target("/AUTH_p/c/").unwrap(), Target::Container("AUTH_p".into(), "c".into()));
        assert_eq!(
            target("/AUTH_p/c/a%20b//d/").unwrap(),
            Target::Object("AUTH_p".into(), "c".into(), "a b//d/".into())
        );
        assert!(target("/AUTH_p/c/%FF").is_err());
        assert!(target("/AUTH_p/c/a%00").is_err());
        assert_eq!(decode("100%").unwrap(), "100%");
    }

    #[test]
    fn timestamps_are_swifts() {
        assert_eq!(x_timestamp(1_700_000_000_123_456), "1700000000.12345");
        assert_eq!(listing_date(1_700_000_000_123_456), "2023-11-14T22:13:20.123456");
        assert_eq!(http_date(1_700_000_000_123_456), "Tue, 14 Nov 2023 22:13:21 GMT");
    }
}
