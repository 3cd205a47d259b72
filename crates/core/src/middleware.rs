//! Layers every service's router is wrapped in: the request id, access logging,
//! and the token middleware that turns `X-Auth-Token` into a [`Context`].

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::context::{Context, SharedValidator};

pub static X_OPENSTACK_REQUEST_ID: HeaderName = HeaderName::from_static("x-openstack-request-id");
pub static X_AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");

/// The id of one request, `req-<uuid>`, as every OpenStack service sends it back.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// What the token middleware found: no token, a caller, or the reason a token
/// was refused (kept so that endpoints needing a caller answer 401 with it).
#[derive(Clone, Debug)]
pub enum Auth {
    Anonymous,
    Caller(Box<Context>),
    Refused(String),
}

/// Gives each request an id, logs it once when answered (method, path, status,
/// time: never headers or bodies, which carry secrets), and returns the id in
/// `x-openstack-request-id`.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = format!("req-{}", uuid::Uuid::new_v4());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let mut res = next.run(req).await;
    tracing::info!(
        request_id = %id,
        %method,
        path,
        status = res.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_OPENSTACK_REQUEST_ID.clone(), v);
    }
    res
}

/// Validates `X-Auth-Token` when present and records the outcome as [`Auth`].
pub async fn authenticate(State(validator): State<SharedValidator>, mut req: Request, next: Next) -> Response {
    let auth = match req.headers().get(&X_AUTH_TOKEN).map(|v| v.to_str().unwrap_or("")) {
        None => Auth::Anonymous,
        Some(token) => match validator.validate(token).await {
            Ok(mut ctx) => {
                if let Some(RequestId(id)) = req.extensions().get::<RequestId>() {
                    ctx.request_id = id.clone();
                }
                Auth::Caller(Box::new(ctx))
            }
            Err(e) => Auth::Refused(e.public_message()),
        },
    };
    req.extensions_mut().insert(auth);
    next.run(req).await
}

/// Drops a trailing slash before routing (`/identity/v3/` is `/identity/v3`), as
/// OpenStack services accept both. Wraps the whole router, since layers added
/// to a router run after its routing.
pub async fn trim_trailing_slash(mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // Glance routes exactly below its version: `/v2/images/` names an image
    // whose id is empty (404), not the collection. Swift's object names may
    // end in a slash (a pseudo-directory's marker): the path is the name;
    // so may S3's keys, and an S3 request's path is what it signed.
    let exact = path.strip_prefix("/image/v2/").is_some_and(|rest| !rest.is_empty())
        || path.strip_prefix("/object/v1/").is_some_and(|rest| rest.trim_end_matches('/').contains('/'))
        || path.starts_with("/s3/");
    if path.len() > 1 && path.ends_with('/') && !exact {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
    }
    next.run(req).await
}

impl Auth {
    /// The caller recorded on a request, or the 401 every service answers when
    /// an endpoint that needs one got none (each renders it in its dialect).
    pub fn caller(extensions: &axum::http::Extensions) -> crate::Result<Context> {
        match extensions.get::<Auth>() {
            Some(Auth::Caller(ctx)) => Ok((**ctx).clone()),
            _ => Err(crate::Error::Unauthorized("The request you have made requires authentication.".into())),
        }
    }
}
