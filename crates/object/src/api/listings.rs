//! Accounts and containers: HEAD (their totals and metadata), GET (the
//! listing, as plain text, JSON or XML), PUT (a container), POST
//! (metadata) and DELETE (an empty container).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use oxistack_core::error::Error;

use super::{empty, http_date, listing_date, meta_changes, meta_headers, set, x_timestamp, ApiResult, SwiftError};
use crate::access::Caller;
use crate::service::{AccountUpdate, ContainerUpdate, Listed, Listing, VersionsChange};
use crate::ObjectStorage;

/// How a listing is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Plain,
    Json,
    Xml,
}

/// The `format` query parameter, else the `Accept` header, as Swift picks.
fn format(params: &[(String, String)], headers: &HeaderMap) -> Format {
    let asked = params.iter().find(|(k, _)| k == "format").map(|(_, v)| v.to_ascii_lowercase());
    match asked.as_deref() {
        Some("json") => return Format::Json,
        Some("xml") => return Format::Xml,
        Some(_) => return Format::Plain,
        None => {}
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.contains("application/json") {
        Format::Json
    } else if accept.contains("application/xml") || accept.contains("text/xml") {
        Format::Xml
    } else {
        Format::Plain
    }
}

fn params(req: &Request) -> ApiResult<Vec<(String, String)>> {
    serde_urlencoded::from_str(req.uri().query().unwrap_or(""))
        .map_err(|e| SwiftError(Error::BadRequest(format!("Invalid query: {e}"))))
}

fn listing(params: &[(String, String)]) -> ApiResult<Listing> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let limit =
        match get("limit") {
            Some(l) => Some(l.parse::<i64>().map_err(|_| {
                SwiftError(Error::PreconditionFailed("Value of limit must be a positive integer".into()))
            })?),
            None => None,
        };
    let delimiter = match get("delimiter") {
        Some(d) if d.chars().count() == 1 => d.chars().next(),
        Some(d) if d.is_empty() => None,
        Some(_) => return Err(SwiftError(Error::PreconditionFailed("Bad delimiter".into()))),
        None => None,
    };
    let reverse =
        get("reverse").is_some_and(|r| matches!(r.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"));
    Ok(Listing {
        prefix: get("prefix"),
        delimiter,
        marker: get("marker"),
        end_marker: get("end_marker"),
        limit,
        reverse,
    })
}

/// The listing a GET asks for; `None` for a HEAD, which has the headers
/// alone.
fn listing_asked(method: &Method, headers: &mut HeaderMap, req: &Request) -> ApiResult<Option<(Format, Listing)>> {
    if *method == Method::HEAD {
        set(headers, "content-type", "text/plain; charset=utf-8");
        return Ok(None);
    }
    let params = params(req)?;
    Ok(Some((format(&params, req.headers()), listing(&params)?)))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A listing's body: 204 when a plain listing is empty, as Swift answers.
fn listing_response(mut headers: HeaderMap, format: Format, body: String, empty_listing: bool) -> Response {
    let (status, content_type) = match format {
        Format::Plain if empty_listing => (StatusCode::NO_CONTENT, "text/plain; charset=utf-8"),
        Format::Plain => (StatusCode::OK, "text/plain; charset=utf-8"),
        Format::Json => (StatusCode::OK, "application/json; charset=utf-8"),
        Format::Xml => (StatusCode::OK, "application/xml; charset=utf-8"),
    };
    set(&mut headers, "content-type", content_type);
    let body = if status == StatusCode::NO_CONTENT { String::new() } else { body };
    (status, headers, Body::from(body)).into_response()
}

pub async fn account(
    storage: &ObjectStorage,
    caller: &Caller,
    method: &Method,
    account: &str,
    req: Request,
) -> ApiResult<Response> {
    match *method {
        Method::GET | Method::HEAD => {
            let (row, totals) = storage.account(caller, account).await?;
            let mut headers = HeaderMap::new();
            set(&mut headers, "x-account-container-count", totals.containers);
            set(&mut headers, "x-account-object-count", totals.objects);
            set(&mut headers, "x-account-bytes-used", totals.bytes);
            set(&mut headers, "x-account-storage-policy-policy-0-container-count", totals.containers);
            set(&mut headers, "x-account-storage-policy-policy-0-object-count", totals.objects);
            set(&mut headers, "x-account-storage-policy-policy-0-bytes-used", totals.bytes);
            set(&mut headers, "x-timestamp", x_timestamp(row.created_us));
            // The ACL and TempURL keys are shown to owners alone.
            let mut metadata = row.metadata.0.clone();
            if !storage.is_owner(caller, account).await? {
                metadata.retain(|k, _| !k.starts_with("temp-url-key"));
            } else if !row.access_control.is_empty() {
                set(&mut headers, "x-account-access-control", &row.access_control);
            }
            meta_headers(&mut headers, "account", &metadata);
            let Some((format, q)) = listing_asked(method, &mut headers, &req)? else {
                return Ok((StatusCode::NO_CONTENT, headers).into_response());
            };
            let rows = storage.list_containers(caller, account, &q).await?;
            let body = match format {
                Format::Plain => rows.iter().map(|c| format!("{}\n", c.name)).collect(),
                Format::Json => json!(rows
                    .iter()
                    .map(|c| json!({"name": c.name, "count": c.object_count, "bytes": c.bytes_used,
                        "last_modified": listing_date(c.modified_us)}))
                    .collect::<Vec<_>>())
                .to_string(),
                Format::Xml => {
                    let mut x = format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"{}\">",
                        xml_escape(account)
                    );
                    for c in &rows {
                        x.push_str(&format!(
                            "<container><name>{}</name><count>{}</count><bytes>{}</bytes><last_modified>{}</last_modified></container>",
                            xml_escape(&c.name),
                            c.object_count,
                            c.bytes_used,
                            listing_date(c.modified_us)
                        ));
                    }
                    x.push_str("</account>");
                    x
                }
            };
            Ok(listing_response(headers, format, body, rows.is_empty()))
        }
        Method::POST | Method::DELETE if params(&req)?.iter().any(|(k, _)| k == "bulk-delete") => {
            bulk_delete(storage, caller, account, req).await
        }
        Method::POST => {
            let headers = req.headers();
            let access_control = if headers.contains_key("x-remove-account-access-control") {
                Some(String::new())
            } else {
                headers.get("x-account-access-control").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            };
            let update = AccountUpdate { meta: meta_changes(headers, "account"), access_control };
            storage.update_account(caller, account, &update).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        // Accounts are made on first use and are Identity's to end.
        _ => Err(super::method_not_allowed(method)),
    }
}

pub async fn container(
    storage: &ObjectStorage,
    caller: &Caller,
    method: &Method,
    account: &str,
    name: &str,
    req: Request,
) -> ApiResult<Response> {
    match *method {
        Method::GET | Method::HEAD => {
            let row = storage.container(caller, account, name).await?;
            let mut headers = HeaderMap::new();
            set(&mut headers, "x-container-object-count", row.object_count);
            set(&mut headers, "x-container-bytes-used", row.bytes_used);
            set(&mut headers, "x-timestamp", x_timestamp(row.created_us));
            set(&mut headers, "x-storage-policy", "Policy-0");
            set(&mut headers, "last-modified", http_date(row.modified_us));
            if let Some(location) = &row.versions_location {
                let name = if row.versions_mode.as_deref() == Some("history") {
                    "x-history-location"
                } else {
                    "x-versions-location"
                };
                set(&mut headers, name, location);
            }
            // ACLs and TempURL keys are shown to those who may change them.
            let mut metadata = row.metadata.0.clone();
            if storage.is_owner(caller, account).await? {
                set(&mut headers, "x-container-read", &row.read_acl);
                set(&mut headers, "x-container-write", &row.write_acl);
            } else {
                metadata.retain(|k, _| !k.starts_with("temp-url-key"));
            }
            meta_headers(&mut headers, "container", &metadata);
            let Some((format, q)) = listing_asked(method, &mut headers, &req)? else {
                return Ok((StatusCode::NO_CONTENT, headers).into_response());
            };
            let listed = storage.list_objects(caller, account, name, &q).await?;
            let body = match format {
                Format::Plain => listed
                    .iter()
                    .map(|l| match l {
                        Listed::Object(o) => format!("{}\n", o.name),
                        Listed::Subdir(s) => format!("{s}\n"),
                    })
                    .collect(),
                Format::Json => json!(listed
                    .iter()
                    .map(|l| match l {
                        Listed::Object(o) => {
                            let mut entry = json!({"name": o.name, "hash": o.etag, "bytes": o.size,
                                "content_type": o.content_type, "last_modified": listing_date(o.modified_us)});
                            if let Some(etag) = &o.slo_etag {
                                entry["slo_etag"] = json!(format!("\"{etag}\""));
                            }
                            if let Some(t) = &o.symlink_target {
                                entry["symlink_path"] = json!(format!("/v1/{account}/{t}"));
                            }
                            entry
                        }
                        Listed::Subdir(s) => json!({ "subdir": s }),
                    })
                    .collect::<Vec<_>>())
                .to_string(),
                Format::Xml => {
                    let mut x = format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<container name=\"{}\">",
                        xml_escape(name)
                    );
                    for l in &listed {
                        match l {
                            Listed::Object(o) => x.push_str(&format!(
                                "<object><name>{}</name><hash>{}</hash><bytes>{}</bytes><content_type>{}</content_type><last_modified>{}</last_modified></object>",
                                xml_escape(&o.name),
                                o.etag,
                                o.size,
                                xml_escape(&o.content_type),
                                listing_date(o.modified_us)
                            )),
                            Listed::Subdir(s) => {
                                let s = xml_escape(s);
                                x.push_str(&format!("<subdir name=\"{s}\"><name>{s}</name></subdir>"))
                            }
                        }
                    }
                    x.push_str("</container>");
                    x
                }
            };
            Ok(listing_response(headers, format, body, listed.is_empty()))
        }
        Method::PUT => {
            let created = storage.put_container(caller, account, name, &container_update(req.headers())?).await?;
            Ok(empty(if created { StatusCode::CREATED } else { StatusCode::ACCEPTED }))
        }
        Method::POST => {
            storage.update_container(caller, account, name, &container_update(req.headers())?).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Method::DELETE => {
            storage.delete_container(caller, account, name).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ => Err(super::method_not_allowed(method)),
    }
}

/// A container's PUT or POST: metadata, the ACLs (`X-Container-Read`/
/// `-Write`, `X-Remove-Container-Read`/`-Write`), and where older versions
/// go (`X-Versions-Location` or `X-History-Location`, one of them).
fn container_update(headers: &HeaderMap) -> ApiResult<ContainerUpdate> {
    let acl = |name: &str| {
        if headers.contains_key(format!("x-remove-container-{name}").as_str()) {
            return Some(String::new());
        }
        headers.get(format!("x-container-{name}").as_str()).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let text = |name: &str| headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let removed =
        headers.contains_key("x-remove-versions-location") || headers.contains_key("x-remove-history-location");
    let versions = match (text("x-versions-location"), text("x-history-location")) {
        (Some(_), Some(_)) => {
            return Err(SwiftError(Error::BadRequest(
                "Only one of X-Versions-Location or X-History-Location may be provided".into(),
            )))
        }
        (Some(l), None) | (None, Some(l)) if l.is_empty() => Some(VersionsChange::Remove),
        (Some(l), None) => Some(VersionsChange::Set { mode: "stack", location: super::decode(&l)? }),
        (None, Some(l)) => Some(VersionsChange::Set { mode: "history", location: super::decode(&l)? }),
        (None, None) if removed => Some(VersionsChange::Remove),
        (None, None) => None,
    };
    Ok(ContainerUpdate {
        meta: meta_changes(headers, "container"),
        read_acl: acl("read"),
        write_acl: acl("write"),
        versions,
    })
}

/// `?bulk-delete`: a body of `/<container>[/<object>]` lines; the result as
/// Swift's bulk middleware writes it (JSON when asked, else text).
async fn bulk_delete(storage: &ObjectStorage, caller: &Caller, account: &str, req: Request) -> ApiResult<Response> {
    let json = super::wants_json(req.headers());
    let limit = crate::service::MAX_BULK_DELETES * (crate::service::MAX_OBJECT_NAME_LENGTH * 3 + 1024);
    let body = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| SwiftError(Error::PayloadTooLarge("Your request is too large.".into())))?;
    let names: Vec<String> =
        String::from_utf8_lossy(&body).lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
    let done = storage.bulk_delete(caller, account, &names).await?;
    let status = if done.errors.is_empty() { "200 OK" } else { "400 Bad Request" };
    let errors: Vec<(String, String)> =
        done.errors.iter().map(|(name, e)| (name.clone(), super::status_line(e.status()))).collect();
    if json {
        let body = json!({"Number Deleted": done.deleted, "Number Not Found": done.not_found,
            "Response Body": "", "Response Status": status, "Errors": errors});
        return Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string())
            .into_response());
    }
    let mut text = format!(
        "Number Deleted: {}\nNumber Not Found: {}\nResponse Body: \nResponse Status: {status}\nErrors: \n",
        done.deleted, done.not_found
    );
    for (name, e) in errors {
        text.push_str(&format!("{name}, {e}\n"));
    }
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// A listing's date, for the static web's pages.
pub fn listing_date_of(us: i64) -> String {
    listing_date(us)
}
