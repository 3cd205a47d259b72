//! The Compute HTTP API (Nova v2.1). One module per resource; handlers parse
//! the body for the requested microversion, call the service, and render.

mod actions;
mod aggregates;
mod block_devices;
mod diagnostics;
mod flavor_extras;
mod flavors;
mod hosts;
mod instance_actions;
mod interfaces;
mod keypairs;
mod misc;
mod policy;
mod quota_class_sets;
mod quota_sets;
mod remote_consoles;
mod security_groups;
mod server_groups;
mod server_metadata;
mod servers;
mod usage;
mod volume_attachments;

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use oxistack_core::context::{Context, SharedValidator};
use oxistack_core::error::Error;
use oxistack_core::middleware::{authenticate, Auth};

use crate::{microversion, Compute};

pub type Shared = State<Arc<Compute>>;
pub type ApiResult<T> = Result<T, NovaFault>;
pub type Params = axum::extract::Query<std::collections::HashMap<String, String>>;

/// The routes of Compute, to be nested at `/compute`, in the order of Nova's
/// `routes.py`.
pub fn router(compute: Arc<Compute>, validator: SharedValidator) -> Router {
    Router::new()
        .route("/", get(misc::versions))
        .route("/v2.1", get(misc::version))
        .route("/v2.1/flavors", get(flavors::list).post(flavors::create))
        .route("/v2.1/flavors/detail", get(flavors::detail))
        .route("/v2.1/flavors/{id}", get(flavors::show).delete(flavors::delete))
        .route("/v2.1/flavors/{id}/action", post(flavor_extras::action))
        .route("/v2.1/flavors/{id}/os-flavor-access", get(flavor_extras::access))
        .route("/v2.1/flavors/{id}/os-extra_specs", get(flavor_extras::list).post(flavor_extras::create))
        .route(
            "/v2.1/flavors/{id}/os-extra_specs/{key}",
            get(flavor_extras::show).put(flavor_extras::update).delete(flavor_extras::delete),
        )
        .route("/v2.1/images", get(misc::images))
        .route("/v2.1/images/detail", get(misc::images_detail))
        .route("/v2.1/images/{id}", get(misc::image).delete(misc::delete_image))
        .route(
            "/v2.1/images/{id}/metadata",
            get(misc::image_metadata_list).post(misc::image_metadata_merge).put(misc::image_metadata_replace),
        )
        .route(
            "/v2.1/images/{id}/metadata/{key}",
            get(misc::image_metadata_show).put(misc::image_metadata_set).delete(misc::image_metadata_delete),
        )
        .route("/v2.1/limits", get(misc::limits))
        .route("/v2.1/os-availability-zone", get(misc::availability_zones))
        .route("/v2.1/os-availability-zone/detail", get(misc::availability_zones))
        .route("/v2.1/os-aggregates", get(aggregates::list).post(aggregates::create))
        .route("/v2.1/os-aggregates/{id}", get(aggregates::show).put(aggregates::update).delete(aggregates::delete))
        .route("/v2.1/os-aggregates/{id}/action", post(aggregates::action))
        .route("/v2.1/os-hypervisors", get(hosts::list))
        .route("/v2.1/os-hypervisors/detail", get(hosts::detail))
        .route("/v2.1/os-hypervisors/statistics", get(hosts::statistics))
        .route("/v2.1/os-hypervisors/{id}", get(hosts::show))
        .route("/v2.1/os-keypairs", get(keypairs::list).post(keypairs::create))
        .route("/v2.1/os-keypairs/{name}", get(keypairs::show).delete(keypairs::delete))
        .route(
            "/v2.1/os-quota-sets/{project}",
            get(quota_sets::show).put(quota_sets::update).delete(quota_sets::delete),
        )
        .route("/v2.1/os-quota-sets/{project}/defaults", get(quota_sets::defaults))
        .route("/v2.1/os-quota-class-sets/{class}", get(quota_class_sets::show).put(quota_class_sets::update))
        .route("/v2.1/os-quota-sets/{project}/detail", get(quota_sets::detail))
        .route("/v2.1/os-security-groups", get(security_groups::list).post(security_groups::create))
        .route(
            "/v2.1/os-security-groups/{id}",
            get(security_groups::show).put(security_groups::update).delete(security_groups::delete),
        )
        .route("/v2.1/os-security-group-rules", post(security_groups::create_rule))
        .route("/v2.1/os-security-group-rules/{id}", axum::routing::delete(security_groups::delete_rule))
        .route("/v2.1/os-server-groups", get(server_groups::list).post(server_groups::create))
        .route("/v2.1/os-server-groups/{id}", get(server_groups::show).delete(server_groups::delete))
        .route("/v2.1/os-services", get(hosts::services))
        .route("/v2.1/os-simple-tenant-usage", get(usage::index))
        .route("/v2.1/os-simple-tenant-usage/{project}", get(usage::show))
        .route("/v2.1/servers", get(servers::list).post(servers::create))
        .route("/v2.1/servers/detail", get(servers::detail))
        .route("/v2.1/servers/{id}", get(servers::show).put(servers::update).delete(servers::delete))
        .route("/v2.1/servers/{id}/action", post(actions::dispatch))
        .route("/v2.1/servers/{id}/diagnostics", get(diagnostics::show))
        .route("/v2.1/servers/{id}/os-security-groups", get(security_groups::of_server))
        .route("/v2.1/servers/{id}/remote-consoles", post(remote_consoles::create))
        .route("/v2.1/servers/{id}/os-interface", get(interfaces::list).post(interfaces::create))
        .route("/v2.1/servers/{id}/os-interface/{port}", get(interfaces::show).delete(interfaces::delete))
        .route(
            "/v2.1/servers/{id}/os-volume_attachments",
            get(volume_attachments::list).post(volume_attachments::create),
        )
        .route(
            "/v2.1/servers/{id}/os-volume_attachments/{volume}",
            get(volume_attachments::show).put(volume_attachments::update).delete(volume_attachments::delete),
        )
        .route("/v2.1/servers/{id}/os-instance-actions", get(instance_actions::list))
        .route("/v2.1/servers/{id}/os-instance-actions/{request_id}", get(instance_actions::show))
        .route(
            "/v2.1/servers/{id}/metadata",
            get(server_metadata::list).post(server_metadata::merge).put(server_metadata::replace),
        )
        .route(
            "/v2.1/servers/{id}/metadata/{key}",
            get(server_metadata::show).put(server_metadata::set).delete(server_metadata::delete),
        )
        .route(
            "/v2.1/servers/{id}/tags",
            get(server_metadata::tags).put(server_metadata::replace_tags).delete(server_metadata::clear_tags),
        )
        .route(
            "/v2.1/servers/{id}/tags/{tag}",
            get(server_metadata::has_tag).put(server_metadata::add_tag).delete(server_metadata::remove_tag),
        )
        .route_layer(middleware::from_fn(policy::enforce_route))
        .fallback(|| async { NovaFault(Error::NotFound("The resource could not be found.".into())) })
        .method_not_allowed_fallback(|| async {
            NovaFault(Error::MethodNotAllowed("The method is not allowed for the requested URL.".into()))
        })
        .layer(middleware::from_fn_with_state(validator, authenticate))
        .layer(middleware::from_fn(microversion::layer))
        .layer(middleware::from_fn(compute_request_id))
        .with_state(compute)
}

/// Nova also answers with `x-compute-request-id`, the same id.
async fn compute_request_id(req: Request, next: middleware::Next) -> Response {
    let id = req.extensions().get::<oxistack_core::middleware::RequestId>().map(|r| r.0.clone());
    let mut res = next.run(req).await;
    if let Some(v) = id.and_then(|id| id.parse().ok()) {
        res.headers_mut().insert("x-compute-request-id", v);
    }
    res
}

/// An error as Nova renders it: `{"itemNotFound": {"code": 404, "message": ..}}`.
#[derive(Debug)]
pub struct NovaFault(pub Error);

impl From<Error> for NovaFault {
    fn from(e: Error) -> Self {
        NovaFault(e)
    }
}

impl From<sqlx::Error> for NovaFault {
    fn from(e: sqlx::Error) -> Self {
        NovaFault(e.into())
    }
}

impl IntoResponse for NovaFault {
    fn into_response(self) -> Response {
        let status = self.0.status();
        (status, Json(oxistack_core::fault::body(oxistack_core::fault::Dialect::Nova, status, self.0.public_message())))
            .into_response()
    }
}

pub struct Caller(pub Context);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = NovaFault;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller(Auth::caller(&parts.extensions)?))
    }
}

/// A JSON body; anything else is Nova's "Malformed request body".
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = NovaFault;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| NovaFault(Error::BadRequest(e.body_text())))?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v.is_object() => Ok(Body(v)),
            _ => Err(NovaFault(Error::BadRequest("Malformed request body".into()))),
        }
    }
}

pub fn bad(msg: impl Into<String>) -> NovaFault {
    NovaFault(Error::BadRequest(msg.into()))
}

/// The base of this service's links: `<compute url>/v2.1`.
pub fn base(compute: &Compute) -> String {
    format!("{}/v2.1", compute.config.url.trim_end_matches('/'))
}

/// A collection's `<name>_links`: the next page of `path`, the request's
/// parameters kept in their order but for its marker.
pub fn next_link(compute: &Compute, path: &str, params: Vec<(String, String)>, marker: String) -> Value {
    let mut params: Vec<(String, String)> = params.into_iter().filter(|(k, _)| k != "marker").collect();
    params.push(("marker".into(), marker));
    let q = serde_urlencoded::to_string(&params).unwrap_or_default();
    json!([{"rel": "next", "href": format!("{}/{path}?{q}", base(compute))}])
}

/// The password of a server created, rebuilt or rescued without one: 12
/// random characters, answered once and never stored.
pub fn generated_password() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
