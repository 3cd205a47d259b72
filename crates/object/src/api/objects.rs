//! Objects: PUT (streamed, its `ETag` checked; a static large object's
//! manifest with `multipart-manifest=put`), GET and HEAD (conditional
//! requests, one `Range` or several as `multipart/byteranges`, large
//! objects served whole), POST (metadata, expiry), DELETE (a static large
//! object's segments with `multipart-manifest=delete`), and server-side
//! copies (`COPY` with `Destination`, `PUT` with `X-Copy-From`) within the
//! account.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use oxistack_core::error::Error;

use super::{empty, http_date, meta_changes, meta_headers, set, x_timestamp, ApiResult, SwiftError};
use crate::access::Caller;
use crate::content::{self, Chunk};
use crate::service::{ObjectUpdate, PutObject, Served};
use crate::store::Metadata;
use crate::ObjectStorage;

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn named(headers: &HeaderMap, name: &'static str) -> Option<String> {
    header_text(headers, header::HeaderName::from_static(name))
}

/// The metadata a request sets wholly (PUT and POST replace it).
fn object_metadata(headers: &HeaderMap) -> Metadata {
    meta_changes(headers, "object").set.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

fn content_type(headers: &HeaderMap, name: &str) -> Option<String> {
    let detect = named(headers, "x-detect-content-type").as_deref() == Some("true");
    match header_text(headers, header::CONTENT_TYPE).filter(|t| !t.is_empty()) {
        Some(t) if !detect => Some(t),
        _ => Some(content::guess_type(name).to_owned()),
    }
}

/// `X-Delete-At` (seconds since the epoch) or `X-Delete-After` (seconds
/// from now), in microseconds; Swift's 400 for what is not a time to come.
fn delete_at(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let bad = |m: &str| SwiftError(Error::BadRequest(m.into()));
    let now = crate::service::now_us();
    if let Some(at) = named(headers, "x-delete-at") {
        let secs = at.trim().parse::<i64>().map_err(|_| bad("Non-integer X-Delete-At"))?;
        let us = secs.checked_mul(1_000_000).ok_or_else(|| bad("Non-integer X-Delete-At"))?;
        if us <= now {
            return Err(bad("X-Delete-At in past"));
        }
        return Ok(Some(us));
    }
    if let Some(after) = named(headers, "x-delete-after") {
        let secs = after.trim().parse::<i64>().map_err(|_| bad("Non-integer X-Delete-After"))?;
        if secs < 0 {
            return Err(bad("X-Delete-After in past"));
        }
        let us = secs.checked_mul(1_000_000).and_then(|us| us.checked_add(now));
        return Ok(Some(us.ok_or_else(|| bad("Non-integer X-Delete-After"))?));
    }
    Ok(None)
}

/// The headers a GET or HEAD of an object answers with.
fn object_headers(served: &Served, manifest: bool) -> HeaderMap {
    let o = &served.row;
    let mut headers = HeaderMap::new();
    set(&mut headers, "content-type", &o.content_type);
    set(&mut headers, "etag", &served.etag);
    set(&mut headers, "last-modified", http_date(o.modified_us));
    set(&mut headers, "x-timestamp", x_timestamp(o.modified_us));
    set(&mut headers, "accept-ranges", "bytes");
    meta_headers(&mut headers, "object", &o.metadata.0);
    if let Some(at) = o.delete_at_us {
        set(&mut headers, "x-delete-at", at / 1_000_000);
    }
    if let Some(d) = &o.content_disposition {
        set(&mut headers, "content-disposition", d);
    }
    if let Some(e) = &o.content_encoding {
        set(&mut headers, "content-encoding", e);
    }
    if let Some(m) = &o.object_manifest {
        set(&mut headers, "x-object-manifest", m);
    }
    if let Some(t) = &o.symlink_target {
        set(&mut headers, "x-symlink-target", crate::s3::aws_encode(t, true));
    }
    if o.slo_etag.is_some() {
        set(&mut headers, "x-static-large-object", "True");
        if manifest {
            set(&mut headers, "content-type", "application/json; charset=utf-8");
        }
    }
    headers
}

/// What the conditional headers decide: serve, 304, or 412.
pub(crate) fn precondition(headers: &HeaderMap, etag: &str, modified_us: i64) -> Option<StatusCode> {
    let etag = etag.trim_matches('"');
    let matches = |list: &str| list.split(',').map(|t| t.trim().trim_matches('"')).any(|t| t == "*" || t == etag);
    let modified_secs = (modified_us + 999_999) / 1_000_000;
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

/// The query parameters an object request may carry.
#[derive(Default)]
struct Query {
    multipart_manifest: Option<String>,
    heartbeat: bool,
    /// `symlink=get`: a symlink itself, not what it names.
    symlink: Option<String>,
    format: Option<String>,
    /// TempURL's `filename` and `inline`.
    filename: Option<String>,
    inline: bool,
}

fn query(req: &Request) -> Query {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.uri().query().unwrap_or("")).unwrap_or_default();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Query {
        multipart_manifest: get("multipart-manifest"),
        heartbeat: get("heartbeat").is_some_and(|h| h == "on"),
        symlink: get("symlink"),
        format: get("format"),
        filename: get("filename"),
        inline: get("inline").is_some(),
    }
}

/// A TempURL's `Content-Disposition`: `inline`, or an attachment named as
/// asked or after the object, as Swift's tempurl writes it.
fn temp_url_disposition(q: &Query, name: &str) -> String {
    if q.inline {
        return match &q.filename {
            Some(f) => format!("inline; filename=\"{}\"", f.replace('"', "\\\"")),
            None => "inline".into(),
        };
    }
    let file = q.filename.clone().unwrap_or_else(|| name.rsplit('/').next().unwrap_or(name).to_owned());
    let quoted: String = file
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{}\"; filename*=UTF-8''{quoted}", file.replace('"', "\\\""))
}

#[allow(clippy::too_many_arguments)]
pub async fn object(
    storage: &Arc<ObjectStorage>,
    caller: &Caller,
    method: &Method,
    account: &str,
    container: &str,
    name: &str,
    req: Request,
) -> ApiResult<Response> {
    let q = query(&req);
    let temp_url = matches!(caller, Caller::TempUrl { .. });
    let manifest_asked = q.multipart_manifest.as_deref();
    match *method {
        Method::HEAD | Method::GET => {
            let manifest = manifest_asked == Some("get") || q.symlink.as_deref() == Some("get");
            if manifest && q.format.as_deref() == Some("raw") && *method == Method::GET {
                if let Some(segments) = storage.static_manifest(caller, account, container, name).await? {
                    let raw: Vec<_> = segments
                        .iter()
                        .map(|s| json!({"path": s.name, "etag": s.hash, "size_bytes": s.bytes}))
                        .collect();
                    let mut res = Json(raw).into_response();
                    set(res.headers_mut(), "x-static-large-object", "True");
                    return Ok(res);
                }
            }
            let served = storage.served(caller, account, container, name, manifest).await?;
            let mut headers = object_headers(&served, manifest);
            if (served.row.container.as_str(), served.row.name.as_str()) != (container, name) {
                let location = format!("/v1/{account}/{}/{}", served.row.container, served.row.name);
                set(&mut headers, "content-location", crate::s3::aws_encode(&location, true));
            }
            if temp_url && *method == Method::GET {
                set(&mut headers, "content-disposition", temp_url_disposition(&q, name));
            }
            if let Some(status) = precondition(req.headers(), &served.etag, served.row.modified_us) {
                return Ok((status, headers).into_response());
            }
            let size = served.content.size;
            if *method == Method::HEAD {
                headers.insert(header::CONTENT_LENGTH, size.into());
                return Ok((StatusCode::OK, headers).into_response());
            }
            let asked = header_text(req.headers(), header::RANGE).and_then(|r| content::ranges(&r, size));
            match asked.as_deref() {
                None => {
                    headers.insert(header::CONTENT_LENGTH, size.into());
                    let body = storage.stream(served.content.pieces.into_iter().map(Chunk::Data).collect());
                    Ok((StatusCode::OK, headers, body).into_response())
                }
                Some([]) => {
                    set(&mut headers, "content-range", format!("bytes */{size}"));
                    let e = SwiftError(Error::RangeNotSatisfiable("Requested Range Not Satisfiable".into()));
                    let mut res = e.into_response();
                    res.headers_mut().extend(headers);
                    Ok(res)
                }
                Some([(first, last)]) => {
                    set(&mut headers, "content-range", format!("bytes {first}-{last}/{size}"));
                    headers.insert(header::CONTENT_LENGTH, (last - first + 1).into());
                    let pieces = served.content.slice(*first, *last);
                    let body = storage.stream(pieces.into_iter().map(Chunk::Data).collect());
                    Ok((StatusCode::PARTIAL_CONTENT, headers, body).into_response())
                }
                Some(ranges) => {
                    let boundary = uuid::Uuid::new_v4().simple().to_string();
                    let content_type = served.row.content_type.clone();
                    let mut chunks = vec![];
                    let mut length = 0u64;
                    let mut literal = |chunks: &mut Vec<Chunk>, s: String| {
                        length += s.len() as u64;
                        chunks.push(Chunk::Literal(s.into()));
                    };
                    for (first, last) in ranges {
                        literal(
                            &mut chunks,
                            format!(
                                "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {first}-{last}/{size}\r\n\r\n"
                            ),
                        );
                        chunks.extend(served.content.slice(*first, *last).into_iter().map(Chunk::Data));
                        literal(&mut chunks, "\r\n".into());
                    }
                    literal(&mut chunks, format!("--{boundary}--"));
                    length += ranges.iter().map(|(f, l)| l - f + 1).sum::<u64>();
                    set(&mut headers, "content-type", format!("multipart/byteranges;boundary={boundary}"));
                    headers.insert(header::CONTENT_LENGTH, length.into());
                    Ok((StatusCode::PARTIAL_CONTENT, headers, storage.stream(chunks)).into_response())
                }
            }
        }
        Method::PUT if req.headers().contains_key("x-copy-from") => {
            if temp_url {
                return Err(SwiftError(Error::BadRequest("A TempURL does not copy objects".into())));
            }
            let from = named(req.headers(), "x-copy-from").unwrap_or_default();
            let length = header_text(req.headers(), header::CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok());
            if length.is_some_and(|l| l > 0) {
                return Err(SwiftError(Error::BadRequest("Copy requests require a zero byte body".into())));
            }
            let (from_container, from_name) = container_and_object(&from, "X-Copy-From")?;
            let from_account = match named(req.headers(), "x-copy-from-account") {
                Some(a) => super::decode(&a)?,
                None => account.to_owned(),
            };
            let from = (from_account.as_str(), from_container.as_str(), from_name.as_str());
            copy(storage, caller, from, (account, container, name), req.headers()).await
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
            let object_manifest = named(&headers, "x-object-manifest");
            let symlink_target = match named(&headers, "x-symlink-target") {
                Some(t) => Some(super::decode(&t)?),
                None => None,
            };
            if named(&headers, "x-symlink-target-account").is_some_and(|a| a != account) {
                return Err(SwiftError(Error::BadRequest("Symlinks to another account are not supported".into())));
            }
            if temp_url && (object_manifest.is_some() || manifest_asked.is_some()) {
                return Err(SwiftError(Error::BadRequest("X-Object-Manifest headers are not allowed".into())));
            }
            let put = PutObject {
                content_type: content_type(&headers, name),
                etag: header_text(&headers, header::ETAG),
                metadata: object_metadata(&headers),
                length,
                delete_at_us: delete_at(&headers)?,
                object_manifest,
                content_disposition: named(&headers, "content-disposition"),
                content_encoding: named(&headers, "content-encoding"),
                symlink_target,
            };
            if manifest_asked == Some("put") {
                let req_headers = &headers;
                let limit = content::MAX_MANIFEST_SIZE;
                let body = axum::body::to_bytes(req.into_body(), limit + 1)
                    .await
                    .map_err(|_| SwiftError(Error::PayloadTooLarge(format!("Manifest File > {limit} bytes"))))?;
                if q.heartbeat {
                    let json = super::wants_json(req_headers);
                    let content_type =
                        if json { "application/json; charset=utf-8" } else { "text/plain; charset=utf-8" };
                    let (storage, caller) = (storage.clone(), caller.clone());
                    let (account, container, name) = (account.to_owned(), container.to_owned(), name.to_owned());
                    return Ok(super::heartbeat(StatusCode::ACCEPTED, content_type, async move {
                        let made =
                            storage.put_static_large_object(&caller, &account, &container, &name, body, put).await;
                        manifest_put_result(made, json)
                    }));
                }
                let o = storage.put_static_large_object(caller, account, container, name, body, put).await?;
                let mut res = empty(StatusCode::CREATED);
                set(res.headers_mut(), "etag", format!("\"{}\"", o.slo_etag.unwrap_or_default()));
                set(res.headers_mut(), "last-modified", http_date(o.modified_us));
                return Ok(res);
            }
            let body = req.into_body();
            let o = storage.put_object(caller, account, container, name, body, put).await?;
            let mut res = empty(StatusCode::CREATED);
            set(res.headers_mut(), "etag", &o.etag);
            set(res.headers_mut(), "last-modified", http_date(o.modified_us));
            Ok(res)
        }
        Method::POST => {
            let headers = req.headers();
            let update = ObjectUpdate {
                metadata: object_metadata(headers),
                content_type: header_text(headers, header::CONTENT_TYPE).filter(|t| !t.is_empty()),
                delete_at_us: delete_at(headers)?,
                content_disposition: named(headers, "content-disposition"),
                content_encoding: named(headers, "content-encoding"),
            };
            storage.update_object(caller, account, container, name, update).await?;
            Ok(empty(StatusCode::ACCEPTED))
        }
        Method::DELETE if manifest_asked == Some("delete") => {
            let (deleted, missing) = storage.delete_static_large_object(caller, account, container, name).await?;
            let json = header_text(req.headers(), header::ACCEPT).is_some_and(|a| a.contains("application/json"));
            if json {
                let body = json!({"Number Deleted": deleted, "Number Not Found": missing, "Response Body": "",
                    "Response Status": "200 OK", "Errors": []});
                return Ok(Json(body).into_response());
            }
            let body = format!(
                "Number Deleted: {deleted}\nNumber Not Found: {missing}\nResponse Body: \nResponse Status: 200 OK\nErrors: \n"
            );
            Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response())
        }
        Method::DELETE => {
            storage.delete_object(caller, account, container, name).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ if method.as_str() == "COPY" && !temp_url => {
            let to = named(req.headers(), "destination")
                .ok_or_else(|| SwiftError(Error::PreconditionFailed("Destination header required".into())))?;
            let (to_container, to_name) = container_and_object(&to, "Destination")?;
            let to_account = match named(req.headers(), "destination-account") {
                Some(a) => super::decode(&a)?,
                None => account.to_owned(),
            };
            let to = (to_account.as_str(), to_container.as_str(), to_name.as_str());
            copy(storage, caller, (account, container, name), to, req.headers()).await
        }
        _ => Err(super::method_not_allowed(method)),
    }
}

/// What a manifest's PUT with `heartbeat=on` ends its answer with, as
/// Swift's SLO writes it (text keys sorted, as Swift sorts them).
fn manifest_put_result(made: oxistack_core::error::Result<crate::store::ObjectRow>, json: bool) -> String {
    let (status, body, etag, modified) = match made {
        Ok(o) => (
            super::status_line(StatusCode::CREATED),
            String::new(),
            format!("\"{}\"", o.slo_etag.unwrap_or_default()),
            http_date(o.modified_us),
        ),
        Err(e) => (super::status_line(e.status()), e.public_message(), String::new(), String::new()),
    };
    if json {
        let mut out = json!({"Response Status": status, "Response Body": body, "Errors": []});
        if !etag.is_empty() {
            out["Etag"] = json!(etag);
            out["Last Modified"] = json!(modified);
        }
        return out.to_string();
    }
    let mut text = String::new();
    if !etag.is_empty() {
        text.push_str(&format!("Etag: {etag}\nLast Modified: {modified}\n"));
    }
    text.push_str(&format!("Response Body: {body}\nResponse Status: {status}\nErrors:\n"));
    text
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

/// A copy from `from` to `to` (each account, container, object), as the
/// request's headers ask.
async fn copy(
    storage: &ObjectStorage,
    caller: &Caller,
    from: (&str, &str, &str),
    to: (&str, &str, &str),
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let (from_account, from_container, from_name) = from;
    let fresh = named(headers, "x-fresh-metadata")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"));
    let put = PutObject {
        content_type: header_text(headers, header::CONTENT_TYPE).filter(|t| !t.is_empty()),
        metadata: object_metadata(headers),
        delete_at_us: delete_at(headers)?,
        content_disposition: named(headers, "content-disposition"),
        content_encoding: named(headers, "content-encoding"),
        ..Default::default()
    };
    let (source, copied) = storage.copy_object(caller, from, to, put, fresh).await?;
    let mut res = empty(StatusCode::CREATED);
    if from_account != to.0 {
        set(res.headers_mut(), "x-copied-from-account", from_account);
    }
    set(res.headers_mut(), "etag", &copied.etag);
    set(res.headers_mut(), "last-modified", http_date(copied.modified_us));
    set(res.headers_mut(), "x-copied-from", format!("{from_container}/{from_name}"));
    set(res.headers_mut(), "x-copied-from-last-modified", http_date(source.modified_us));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_guessed_from_names() {
        assert_eq!(content::guess_type("a/b.TXT"), "text/plain");
        assert_eq!(content::guess_type("noext"), "application/octet-stream");
    }
}
