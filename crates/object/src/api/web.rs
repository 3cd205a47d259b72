//! Swift's staticweb: a container whose metadata names a `web-index`, a
//! `web-error` page or `web-listings` serves itself as a web site to
//! requests in web mode (those without a token, or with `X-Web-Mode:
//! true`): the index of a directory, an HTML listing of it, a redirect to a
//! directory's trailing slash, and the error page of a missing object.
//! Each object or listing is read with the caller's own rights (the ACLs
//! still decide who sees what).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use oxistack_core::error::Error;

use super::{listings, objects, ApiResult, SwiftError};
use crate::access::Caller;
use crate::service::{Listed, Listing};
use crate::ObjectStorage;

/// Whether a request is in web mode.
pub fn web_mode(caller: &Caller, req: &Request) -> bool {
    let asked =
        req.headers().get("x-web-mode").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    matches!(caller, Caller::Anonymous { .. }) || asked
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn redirect(to: String) -> Response {
    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)], Body::empty()).into_response()
}

/// A web-mode GET or HEAD of a directory of `container` (`dir` is empty or
/// ends in `/`), or of an object there that is missing: the site's answer,
/// or `None` when the container is no site (the request is then served as
/// any other).
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    storage: &Arc<ObjectStorage>,
    caller: &Caller,
    account: &str,
    container: &str,
    object: &str,
    path: &str,
    req: Request,
) -> ApiResult<Option<Response>> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return Ok(None);
    }
    let site = storage.web_settings(account, container).await?;
    let (index, error, listings_on) = (site.get("web-index"), site.get("web-error"), site.get("web-listings"));
    let listings_on =
        listings_on.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1"));
    if index.is_none() && error.is_none() && !listings_on {
        return Ok(None);
    }
    let is_dir = object.is_empty() || object.ends_with('/');
    if is_dir && !path.ends_with('/') {
        return Ok(Some(redirect(format!("{path}/"))));
    }
    if !is_dir {
        // A plain object: itself, else a directory of that name, else the
        // error page.
        match storage.object(caller, account, container, object).await {
            Err(Error::NotFound(_)) => {}
            _ => return Ok(None),
        }
        let dir = format!("{object}/");
        let has_dir = !storage
            .list_objects(
                caller,
                account,
                container,
                &Listing { prefix: Some(dir), limit: Some(1), ..Default::default() },
            )
            .await
            .map(|l| l.is_empty())
            .unwrap_or(true);
        if has_dir && (index.is_some() || listings_on) {
            return Ok(Some(redirect(format!("{path}/"))));
        }
        return error_page(storage, caller, account, container, error, req).await.map(Some);
    }
    if let Some(index) = index {
        let name = format!("{object}{index}");
        if storage.object(caller, account, container, &name).await.is_ok() {
            return objects::object(storage, caller, &req.method().clone(), account, container, &name, req)
                .await
                .map(Some);
        }
    }
    if listings_on {
        let q = Listing {
            prefix: Some(object.to_owned()).filter(|p| !p.is_empty()),
            delimiter: Some('/'),
            ..Default::default()
        };
        let listed = storage.list_objects(caller, account, container, &q).await?;
        let mut rows = String::new();
        if !object.is_empty() {
            rows.push_str("<tr><td class=\"colname\"><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
        }
        for l in &listed {
            let (full, size, modified) = match l {
                Listed::Subdir(s) => (s.as_str(), String::new(), String::new()),
                Listed::Object(o) => (o.name.as_str(), o.size.to_string(), listings::listing_date_of(o.modified_us)),
            };
            let short = &full[object.len()..];
            rows.push_str(&format!(
                "<tr><td class=\"colname\"><a href=\"{}\">{}</a></td><td class=\"colsize\">{size}</td><td class=\"coldate\">{modified}</td></tr>\n",
                crate::s3::aws_encode(short, true),
                html_escape(short)
            ));
        }
        let title = html_escape(&format!("Listing of /v1/{account}/{container}/{object}"));
        let page = format!(
            "<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1 id=\"title\">{title}</h1>\n<table id=\"listing\"><tr id=\"heading\"><th class=\"colname\">Name</th><th class=\"colsize\">Size</th><th class=\"coldate\">Date</th></tr>\n{rows}</table></body></html>\n"
        );
        return Ok(Some((StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=UTF-8")], page).into_response()));
    }
    error_page(storage, caller, account, container, error, req).await.map(Some)
}

/// The site's `404<web-error>` page with a 404, or Swift's plain 404.
async fn error_page(
    storage: &Arc<ObjectStorage>,
    caller: &Caller,
    account: &str,
    container: &str,
    error: Option<&String>,
    req: Request,
) -> ApiResult<Response> {
    let not_found = || SwiftError(Error::NotFound("The resource could not be found.".into()));
    let Some(error) = error else { return Err(not_found()) };
    let name = format!("404{error}");
    if storage.object(caller, account, container, &name).await.is_err() {
        return Err(not_found());
    }
    let mut res = objects::object(storage, caller, &req.method().clone(), account, container, &name, req).await?;
    *res.status_mut() = StatusCode::NOT_FOUND;
    Ok(res)
}
