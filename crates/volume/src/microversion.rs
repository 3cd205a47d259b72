//! Cinder's microversions: the version a request asks for, read once by
//! [`layer`], and the headers every answer carries. Behaviour tied to a
//! version names its constant here.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use oxistack_core::microversion::Version as ApiVersion;

use crate::api::CinderFault;

const fn v(minor: u16) -> ApiVersion {
    ApiVersion { major: 3, minor }
}

pub const MIN: ApiVersion = v(0);
pub const MAX: ApiVersion = v(71);

/// 3.1: an upload to an image may set its `visibility` and `protected`.
pub const V3_1: ApiVersion = v(1);
/// 3.13: volumes show `group_id`.
pub const V3_13: ApiVersion = v(13);
/// 3.14: snapshots show `group_snapshot_id`.
pub const V3_14: ApiVersion = v(14);
/// 3.18: admins see a backup's project.
pub const V3_18: ApiVersion = v(18);
/// 3.21: admins see a volume's `provider_id`.
pub const V3_21: ApiVersion = v(21);
/// 3.27: the attachments API.
pub const V3_27: ApiVersion = v(27);
/// 3.31: a filter a user may not list by is refused, not ignored.
pub const V3_31: ApiVersion = v(31);
/// 3.41: snapshots show `user_id`.
pub const V3_41: ApiVersion = v(41);
/// 3.42: in-use volumes may be extended.
pub const V3_42: ApiVersion = v(42);
/// 3.43: backups have metadata.
pub const V3_43: ApiVersion = v(43);
/// 3.44: attachments are completed (`os-complete`).
pub const V3_44: ApiVersion = v(44);
/// 3.45: lists count their volumes with `with_count`.
pub const V3_45: ApiVersion = v(45);
/// 3.48: `shared_targets` and `service_uuid`.
pub const V3_48: ApiVersion = v(48);
/// 3.53: unknown keys in a create body are refused.
pub const V3_53: ApiVersion = v(53);
/// 3.56: backups show `user_id`.
pub const V3_56: ApiVersion = v(56);
/// 3.55: `/volume-transfers`, with `no_snapshots`.
pub const V3_55: ApiVersion = v(55);
/// 3.57: transfers show both projects and `accepted`.
pub const V3_57: ApiVersion = v(57);
/// 3.61: admins see `cluster_name`.
pub const V3_61: ApiVersion = v(61);
/// 3.63: `volume_type_id`.
pub const V3_63: ApiVersion = v(63);
/// 3.64: backups show `encryption_key_id`.
pub const V3_64: ApiVersion = v(64);
/// 3.65: `consumes_quota`.
pub const V3_65: ApiVersion = v(65);
/// 3.68: `os-reimage`.
pub const V3_68: ApiVersion = v(68);
/// 3.69: `shared_targets` may be null.
pub const V3_69: ApiVersion = v(69);

/// Reads `OpenStack-API-Version: volume X.Y` (none means 3.0), refuses a
/// version outside 3.0–3.71, and puts the version headers on every answer.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let requested = oxistack_core::microversion::requested(req.headers(), "volume");
    let version = match requested.as_deref().map(|text| oxistack_core::microversion::parse(text, MIN, MAX)) {
        None => MIN,
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            // A 406 names the version asked for, as Cinder's does.
            let shown = requested.as_deref().unwrap_or_default().to_owned();
            let mut res = CinderFault(e).into_response();
            add_headers(&mut res, &shown);
            return res;
        }
    };
    req.extensions_mut().insert(version);
    let mut res = next.run(req).await;
    add_headers(&mut res, &version.to_string());
    res
}

fn add_headers(res: &mut Response, version: &str) {
    if let Ok(value) = HeaderValue::from_str(&format!("volume {version}")) {
        res.headers_mut().insert("openstack-api-version", value);
    }
    res.headers_mut().insert("vary", HeaderValue::from_static("OpenStack-API-Version"));
}
