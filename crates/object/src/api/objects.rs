//! Objects: PUT (streamed, its `ETag` checked), GET and HEAD (with
//! conditional requests and a single `Range`), POST (metadata), DELETE,
//! and server-side copies (`COPY` with `Destination`, `PUT` with
//! `X-Copy-From`) within the account.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use oxistack_core::context::Context;
use oxistack_core::error::Error;

use super::{empty, http_date, meta_changes, meta_headers, set, x_timestamp, ApiResult, SwiftError};
use crate::service::PutObject;
use crate::store::{Metadata, ObjectRow};
use crate::ObjectStorage;

/// A content type from the name's extension, as Swift guesses one when
/// none is given.
fn guess_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" => "application/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "iso" => "application/x-iso9660-image",
        _ => "application/octet-stream",
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The metadata a request sets wholly (PUT and POST replace it).
fn object_metadata(headers: &HeaderMap) -> Metadata {
    meta_changes(headers, "object").set.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

fn content_type(headers: &HeaderMap, name: &str) -> Option<String> {
    let detect = headers.get("x-detect-content-type").and_then(|v| v.to_str().ok()) == Some("true");
    match header_text(headers, header::CONTENT_TYPE).filter(|t| !t.is_empty()) {
        Some(t) if !detect => Some(t),
        _ => Some(guess_type(name).to_owned()),
    }
}

/// The object's headers on GET and HEAD.
fn object_headers(o: &ObjectRow) -> HeaderMap {
    let mut headers = HeaderMap::new();
    set(&mut headers, "content-type", &o.content_type);
    set(&mut headers, "etag", &o.etag);
    set(&mut headers, "last-modified", http_date(o.modified_us));
    set(&mut headers, "x-timestamp", x_timestamp(o.modified_us));
    set(&mut headers, "accept-ranges", "bytes");
    meta_headers(&mut headers, "object", &o.metadata.0);
    headers
}

/// What the conditional headers decide: serve, 304, or 412.
fn precondition(headers: &HeaderMap, o: &ObjectRow) -> Option<StatusCode> {
    let matches = |list: &str| list.split(',').map(|t| t.trim().trim_matches('"')).any(|t| t == "*" || t == o.etag);
    let modified_secs = (o.modified_us + 999_999) / 1_000_000;
    let date = |name: header::HeaderName| {
        header_text(headers, name)
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(&d.replace("GMT", "+0000")).ok())
            .map(|d| d.timestamp())
    };
    if let Some(list) = header_text(headers, header::IF_MATCH) {
        if !matches(&list) {
            return Some(StatusCode::PRECONDITION_FAILED);
        }
    } else if let Some(since) = date(header::IF_UNMODIFIED_SINCE) {
        if modified_secs > since {
            return Some(StatusCode::PRECONDITION_FAILED);
        }
    }
    if let Some(list) = header_text(headers, header::IF_NONE_MATCH) {
        if matches(&list) {
            return Some(StatusCode::NOT_MODIFIED);
        }
    } else if let Some(since) = date(header::IF_MODIFIED_SINCE) {
        if modified_secs <= since {
            return Some(StatusCode::NOT_MODIFIED);
        }
    }
    None
}

/// A single `bytes=` range of an object of `size` bytes: `Ok(None)` to
/// serve it whole (no range, or several, which HTTP lets a server ignore),
/// `Err` when it cannot be satisfied.
fn range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header_text(headers, header::RANGE) else { return Ok(None) };
    let Some(spec) = spec.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else { return Ok(None) };
    let (first, last) = (first.trim(), last.trim());
    let (start, end) = match (first.parse::<u64>().ok(), last.parse::<u64>().ok()) {
        (Some(s), Some(e)) if s <= e => (s, e.min(size.saturating_sub(1))),
        (Some(s), None) if last.is_empty() => (s, size.saturating_sub(1)),
        (None, Some(n)) if first.is_empty() && n > 0 => (size.saturating_sub(n), size.saturating_sub(1)),
        _ => return Ok(None),
    };
    if size == 0 || start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

#[allow(clippy::too_many_arguments)]
pub async fn object(
    storage: &ObjectStorage,
    ctx: &Context,
    method: &Method,
    account: &str,
    container: &str,
    name: &str,
    req: Request,
) -> ApiResult<Response> {
    match *method {
        Method::HEAD => {
            let o = storage.object(ctx, account, container, name).await?;
            if let Some(status) = precondition(req.headers(), &o) {
                return Ok((status, object_headers(&o)).into_response());
            }
            let mut headers = object_headers(&o);
            headers.insert(header::CONTENT_LENGTH, o.size.into());
            Ok((StatusCode::OK, headers).into_response())
        }
        Method::GET => {
            let (o, mut file) = storage.open_object(ctx, account, container, name).await?;
            if let Some(status) = precondition(req.headers(), &o) {
                return Ok((status, object_headers(&o)).into_response());
            }
            let size = o.size as u64;
            let mut headers = object_headers(&o);
            match range(req.headers(), size) {
                Err(()) => {
                    set(&mut headers, "content-range", format!("bytes */{size}"));
                    let e = SwiftError(Error::RangeNotSatisfiable("Requested Range Not Satisfiable".into()));
                    let mut res = e.into_response();
                    res.headers_mut().extend(headers);
                    Ok(res)
                }
                Ok(Some((start, end))) => {
                    file.seek(std::io::SeekFrom::Start(start))
                        .await
                        .map_err(|e| SwiftError(Error::Internal(e.into())))?;
                    let len = end - start + 1;
                    set(&mut headers, "content-range", format!("bytes {start}-{end}/{size}"));
                    headers.insert(header::CONTENT_LENGTH, len.into());
                    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(len)));
                    Ok((StatusCode::PARTIAL_CONTENT, headers, body).into_response())
                }
                Ok(None) => {
                    headers.insert(header::CONTENT_LENGTH, size.into());
                    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
                    Ok((StatusCode::OK, headers, body).into_response())
                }
            }
        }
        Method::PUT if req.headers().contains_key("x-copy-from") => {
            let from = header_text(req.headers(), header::HeaderName::from_static("x-copy-from")).unwrap_or_default();
            let length = header_text(req.headers(), header::CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok());
            if length.is_some_and(|l| l > 0) {
                return Err(SwiftError(Error::BadRequest("Copy requests require a zero byte body".into())));
            }
            let from = container_and_object(&from, "X-Copy-From")?;
            copy(storage, ctx, account, from, (container, name), req.headers()).await
        }
        Method::PUT => {
            let headers = req.headers().clone();
            let length = header_text(&headers, header::CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok());
            let chunked = header_text(&headers, header::TRANSFER_ENCODING).is_some_and(|t| t.contains("chunked"));
            if length.is_none() && !chunked {
                return Ok(empty(StatusCode::LENGTH_REQUIRED));
            }
            if length.is_some_and(|l| l > storage.config.max_file_size) {
                return Err(SwiftError(Error::PayloadTooLarge("Your request is too large.".into())));
            }
            let put = PutObject {
                content_type: content_type(&headers, name),
                etag: header_text(&headers, header::ETAG),
                metadata: object_metadata(&headers),
            };
            let body = req.into_body();
            let o = storage.put_object(ctx, account, container, name, body, put).await?;
            let mut res = empty(StatusCode::CREATED);
            set(res.headers_mut(), "etag", &o.etag);
            set(res.headers_mut(), "last-modified", http_date(o.modified_us));
            Ok(res)
        }
        Method::POST => {
            let headers = req.headers();
            let content_type = header_text(headers, header::CONTENT_TYPE).filter(|t| !t.is_empty());
            storage.update_object(ctx, account, container, name, object_metadata(headers), content_type).await?;
            Ok(empty(StatusCode::ACCEPTED))
        }
        Method::DELETE => {
            storage.delete_object(ctx, account, container, name).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ if method.as_str() == "COPY" => {
            let to = header_text(req.headers(), header::HeaderName::from_static("destination"))
                .ok_or_else(|| SwiftError(Error::PreconditionFailed("Destination header required".into())))?;
            let (to_container, to_name) = container_and_object(&to, "Destination")?;
            let from = (container.to_owned(), name.to_owned());
            copy(storage, ctx, account, from, (&to_container, &to_name), req.headers()).await
        }
        _ => Err(super::method_not_allowed(method)),
    }
}

/// The `/<container>/<object>` a copy header names (percent-encoded).
fn container_and_object(path: &str, header: &str) -> ApiResult<(String, String)> {
    let path = super::decode(path)?;
    path.trim_start_matches('/')
        .split_once('/')
        .filter(|(c, o)| !c.is_empty() && !o.is_empty())
        .map(|(c, o)| (c.to_owned(), o.to_owned()))
        .ok_or_else(|| {
            SwiftError(Error::PreconditionFailed(format!(
                "{header} header must be of the form <container name>/<object name>"
            )))
        })
}

/// A copy from `from` to `to`, as the request's headers ask.
async fn copy(
    storage: &ObjectStorage,
    ctx: &Context,
    account: &str,
    from: (String, String),
    to: (&str, &str),
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let (from_container, from_name) = (from.0.as_str(), from.1.as_str());
    let fresh = header_text(headers, header::HeaderName::from_static("x-fresh-metadata"))
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"));
    let put = PutObject {
        content_type: header_text(headers, header::CONTENT_TYPE).filter(|t| !t.is_empty()),
        etag: None,
        metadata: object_metadata(headers),
    };
    let (source, copied) = storage.copy_object(ctx, account, (from_container, from_name), to, put, fresh).await?;
    let mut res = empty(StatusCode::CREATED);
    set(res.headers_mut(), "etag", &copied.etag);
    set(res.headers_mut(), "last-modified", http_date(copied.modified_us));
    set(res.headers_mut(), "x-copied-from", format!("{from_container}/{from_name}"));
    set(res.headers_mut(), "x-copied-from-last-modified", http_date(source.modified_us));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    #[test]
    fn ranges_are_read_as_http_says() {
        let r = |v: &str| range(&with(header::RANGE, v), 100);
        assert_eq!(r("bytes=0-9"), Ok(Some((0, 9))));
        assert_eq!(r("bytes=90-"), Ok(Some((90, 99))));
        assert_eq!(r("bytes=-10"), Ok(Some((90, 99))));
        assert_eq!(r("bytes=95-200"), Ok(Some((95, 99))));
        assert_eq!(r("bytes=100-"), Err(()));
        assert_eq!(r("bytes=0-1,5-6"), Ok(None));
        assert_eq!(r("lines=1-2"), Ok(None));
    }

    #[test]
    fn content_types_are_guessed_from_names() {
        assert_eq!(guess_type("a/b.TXT"), "text/plain");
        assert_eq!(guess_type("noext"), "application/octet-stream");
    }
}
