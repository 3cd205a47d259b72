//! `GET /auth/v1.0`, Swift's TempAuth login (python-swiftclient's default
//! `auth_version`, `swift -A .../auth/v1.0 -U project:user -K password`):
//! a password login of a default-domain user on a default-domain project,
//! answered with a token and the project's Object Storage URL from the
//! catalog, as TempAuth answers.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use oxistack_core::error::Error;
use oxistack_core::time;

use super::Shared;
use crate::{Identity, DEFAULT_DOMAIN_ID};

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, [("content-type", "text/html; charset=UTF-8")], "<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the document you requested.</p></html>").into_response()
}

/// The public Object Storage URL of `project` in its catalog.
async fn storage_url(id: &Identity, project: &str) -> Result<Option<String>, Error> {
    let catalog = id.catalog_v3(Some(project)).await?;
    let services = catalog.as_array().cloned().unwrap_or_default();
    Ok(services.iter().filter(|s| s["type"] == "object-store").find_map(|s| {
        s["endpoints"].as_array()?.iter().find(|e| e["interface"] == "public")?["url"].as_str().map(str::to_owned)
    }))
}

pub async fn login(State(id): Shared, headers: HeaderMap) -> Response {
    let header =
        |a: &str, b: &str| headers.get(a).or_else(|| headers.get(b)).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (Some(user), Some(key)) = (header("x-auth-user", "x-storage-user"), header("x-auth-key", "x-storage-pass"))
    else {
        return unauthorized();
    };
    let Some((project, user)) = user.split_once(':') else { return unauthorized() };
    let auth = json!({
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": DEFAULT_DOMAIN_ID}, "password": key}}},
        "scope": {"project": {"name": project, "domain": {"id": DEFAULT_DOMAIN_ID}}},
    });
    let v = match id.authenticate(&auth).await {
        Ok(v) => v,
        Err(Error::Internal(e)) => return super::KeystoneError(Error::Internal(e)).into_response(),
        Err(Error::Unavailable(m)) => return super::KeystoneError(Error::Unavailable(m)).into_response(),
        Err(_) => return unauthorized(),
    };
    let Some(project_id) = v.context().project_id().map(str::to_owned) else { return unauthorized() };
    let url = match storage_url(&id, &project_id).await {
        Ok(Some(url)) => url,
        Ok(None) => {
            return super::KeystoneError(Error::NotFound("No object-store endpoint in the catalog.".into()))
                .into_response()
        }
        Err(e) => return super::KeystoneError(e).into_response(),
    };
    let expires = (v.payload.expires_at - time::micros(time::now())) / 1_000_000;
    let body: Value = json!({"storage": {"default": "local", "local": url}});
    let mut res = (StatusCode::OK, axum::Json(body)).into_response();
    let h = res.headers_mut();
    for (name, value) in [
        ("x-storage-url", url.clone()),
        ("x-auth-token", v.token.clone()),
        ("x-storage-token", v.token.clone()),
        ("x-auth-token-expires", expires.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    }
    res
}
