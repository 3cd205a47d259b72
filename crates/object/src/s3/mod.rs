//! S3 through the same store, as Swift's s3api serves it: path-style
//! buckets (a project's containers) and objects at `/s3`, requests signed
//! with SigV4 by an EC2 credential of Identity's (acting as its user on its
//! project, with the Swift rules of that project's account), unsigned ones
//! as anonymous (what container ACLs open), answers and errors as S3's XML.

mod buckets;
mod multipart;
mod objects;
mod sigv4;

use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use oxistack_core::context::SharedValidator;
use oxistack_core::error::Error;

use crate::access::Caller;
use crate::service::RESELLER_PREFIX;
use crate::ObjectStorage;

pub use sigv4::aws_encode;

#[derive(Clone)]
pub struct S3 {
    storage: Arc<ObjectStorage>,
    validator: SharedValidator,
}

/// The routes of S3, to be nested at `/s3`.
pub fn router(storage: Arc<ObjectStorage>, validator: SharedValidator) -> Router {
    Router::new().route("/", any(dispatch)).route("/{*path}", any(dispatch)).with_state(S3 { storage, validator })
}

/// An error as S3 writes it: `<Error><Code>...`.
#[derive(Debug)]
pub struct S3Error {
    status: u16,
    code: &'static str,
    message: String,
}

impl S3Error {
    pub fn new(status: u16, code: &'static str, message: &str) -> S3Error {
        S3Error { status, code, message: message.to_owned() }
    }

    pub fn access_denied(message: &str) -> S3Error {
        S3Error::new(403, "AccessDenied", message)
    }

    fn no_such_bucket() -> S3Error {
        S3Error::new(404, "NoSuchBucket", "The specified bucket does not exist.")
    }

    fn no_such_key() -> S3Error {
        S3Error::new(404, "NoSuchKey", "The specified key does not exist.")
    }

    fn not_implemented() -> S3Error {
        S3Error::new(
            501,
            "NotImplemented",
            "A header or query you provided implies functionality that is not implemented.",
        )
    }

    /// An error of the Swift service, in S3's words; `missing` names what a
    /// 404 was about.
    fn from_service(e: Error, missing: fn() -> S3Error) -> S3Error {
        match e {
            Error::NotFound(_) => missing(),
            Error::Forbidden(_) | Error::Unauthorized(_) => S3Error::access_denied("Access Denied."),
            Error::Conflict(m) => S3Error::new(409, "BucketNotEmpty", &m),
            Error::PayloadTooLarge(m) if m.contains("quota") => S3Error::new(403, "QuotaExceeded", &m),
            Error::PayloadTooLarge(_) => {
                S3Error::new(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
            }
            Error::UnprocessableEntity(_) => {
                S3Error::new(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
            }
            Error::BadRequest(m) if m.contains(sigv4::CONTENT_SHA256_MISMATCH) => {
                S3Error::new(400, "XAmzContentSHA256Mismatch", sigv4::CONTENT_SHA256_MISMATCH)
            }
            Error::BadRequest(m) => S3Error::new(400, "InvalidArgument", &m),
            Error::PreconditionFailed(_) => {
                S3Error::new(412, "PreconditionFailed", "At least one of the preconditions you specified did not hold.")
            }
            Error::RangeNotSatisfiable(_) => {
                S3Error::new(416, "InvalidRange", "The requested range is not satisfiable.")
            }
            Error::NotImplemented(_) => S3Error::not_implemented(),
            other => {
                let message = other.public_message();
                S3Error::new(500, "InternalError", &message)
            }
        }
    }
}

impl From<Error> for S3Error {
    fn from(e: Error) -> Self {
        S3Error::from_service(e, S3Error::no_such_key)
    }
}

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
            self.code,
            xml_escape(&self.message),
            request_id()
        );
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
    }
}

pub type S3Result<T> = Result<T, S3Error>;

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_ascii_uppercase()
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// The inner text of each `<name>` element of `xml`, in order (enough of
/// XML for the request bodies S3 clients send: no attributes are read).
pub fn elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = vec![];
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

fn element_text(xml: &str, name: &str) -> Option<String> {
    elements(xml, name).first().map(|t| xml_unescape(t.trim()))
}

/// An XML answer.
fn xml(status: StatusCode, body: String) -> Response {
    let mut res = (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response();
    ids(res.headers_mut());
    res
}

fn ids(headers: &mut HeaderMap) {
    let id = request_id();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert("x-amz-request-id", v.clone());
        headers.insert("x-amz-id-2", v);
    }
}

const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// S3's times: ISO 8601 with milliseconds.
fn iso(us: i64) -> String {
    chrono::DateTime::from_timestamp(us.div_euclid(1_000_000), 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string()
}

/// One request: who sent it, to which account, and what it names.
pub struct Call {
    pub caller: Caller,
    /// The caller's project's account (anonymous callers have none).
    pub account: Option<String>,
    pub payload: sigv4::Payload,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
}

impl Call {
    fn param(&self, k: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    fn has(&self, k: &str) -> bool {
        self.query.iter().any(|(n, _)| n == k)
    }

    fn account(&self) -> S3Result<&str> {
        self.account.as_deref().ok_or_else(|| S3Error::access_denied("Anonymous users cannot list buckets."))
    }

    fn owner(&self) -> (String, String) {
        match self.caller.context() {
            Some(ctx) => {
                let id = ctx.project_id().unwrap_or_default().to_owned();
                let name = match &ctx.scope {
                    oxistack_core::context::Scope::Project { name, .. } => name.clone(),
                    _ => id.clone(),
                };
                (id, name)
            }
            None => (String::new(), String::new()),
        }
    }
}

/// Which account an anonymous request's bucket is in: an anonymous S3
/// request names no account, so it reaches none (S3 public reads need a
/// signed request here). Signed requests are their project's.
async fn dispatch(State(s3): State<S3>, OriginalUri(original): OriginalUri, req: Request) -> Response {
    let answer = async {
        let (parts, body) = req.into_parts();
        let raw_query = original.query().unwrap_or("").to_owned();
        let signed = sigv4::authenticate(&s3.validator, &parts, original.path(), &raw_query).await?;
        let (caller, payload) = match signed {
            Some((ctx, payload)) => (Caller::User(Box::new(ctx)), payload),
            None => (Caller::Anonymous { referer: None }, sigv4::Payload::Unsigned),
        };
        let account = caller.context().and_then(|c| c.project_id()).map(|p| format!("{RESELLER_PREFIX}{p}"));
        let query = serde_urlencoded::from_str::<Vec<(String, String)>>(&raw_query).unwrap_or_default();
        let call = Call { caller, account, payload, query };
        let path = parts.uri.path().trim_start_matches('/').to_owned();
        let path = crate::content::percent_decode(&path)
            .ok_or_else(|| S3Error::new(400, "InvalidURI", "Couldn't parse the specified URI."))?;
        let (bucket, key) = match path.split_once('/') {
            Some((b, k)) => (b.to_owned(), k.to_owned()),
            None => (path.clone(), String::new()),
        };
        let req = Request::from_parts(parts, body);
        if bucket.is_empty() {
            return buckets::service(&s3.storage, &call, req).await;
        }
        if key.is_empty() {
            return buckets::bucket(&s3.storage, &call, &bucket, req).await;
        }
        objects::object(&s3.storage, &call, &bucket, &key, req).await
    };
    let mut res = answer.await.unwrap_or_else(IntoResponse::into_response);
    ids(res.headers_mut());
    res
}
