//! Version discovery, in the shape keystoneauth parses: `GET /` lists the
//! versions with 300 Multiple Choices, `GET /v3` and `GET /v2.0` describe one.

use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::Shared;

/// The newest v3 minor version Keystone announces, and when it changed.
const V3_ID: &str = "v3.14";
const V3_UPDATED: &str = "2020-04-07T00:00:00Z";

fn v3_entry(base: &str) -> Value {
    json!({
        "id": V3_ID,
        "status": "stable",
        "updated": V3_UPDATED,
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

fn v2_entry(base: &str) -> Value {
    json!({
        "id": "v2.0",
        "status": "deprecated",
        "updated": "2016-08-04T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/v2.0/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v2.0+json"}],
    })
}

pub async fn root(id: Shared) -> (StatusCode, Json<Value>) {
    let base = id.config.identity_url();
    (StatusCode::MULTIPLE_CHOICES, Json(json!({"versions": {"values": [v3_entry(&base), v2_entry(&base)]}})))
}

pub async fn v3(id: Shared) -> Json<Value> {
    Json(json!({"version": v3_entry(&id.config.identity_url())}))
}

pub async fn v2(id: Shared) -> Json<Value> {
    Json(json!({"version": v2_entry(&id.config.identity_url())}))
}
