//! Nova's microversions: the version a request asks for, read once from its
//! headers, and the headers every answer carries. Behaviour tied to a version
//! names its constant here, so `grep V2_47` finds all of it.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use oxistack_core::error::Error;
use oxistack_core::microversion;

use crate::api::NovaFault;

pub use oxistack_core::microversion::Version as ApiVersion;

const fn v(minor: u16) -> ApiVersion {
    ApiVersion { major: 2, minor }
}

pub const MIN: ApiVersion = v(1);
pub const MAX: ApiVersion = v(104);

/// 2.2: keypair type; create answers 201.
pub const V2_2: ApiVersion = v(2);
/// 2.3: admin-only extended server attributes (reservation id, launch index, ...).
pub const V2_3: ApiVersion = v(3);
/// 2.9: `locked` in server bodies.
pub const V2_9: ApiVersion = v(9);
/// 2.11: services show `forced_down`.
pub const V2_11: ApiVersion = v(11);
/// 2.13: server groups show `project_id` and `user_id`.
pub const V2_13: ApiVersion = v(13);
/// 2.16: `host_status` for admins.
pub const V2_16: ApiVersion = v(16);
/// 2.19: server `description`.
pub const V2_19: ApiVersion = v(19);
/// 2.21: instance actions of deleted servers can be read.
pub const V2_21: ApiVersion = v(21);
/// 2.26: server `tags`.
pub const V2_26: ApiVersion = v(26);
/// 2.36: the image, network and volume proxies are gone.
pub const V2_36: ApiVersion = v(36);
/// 2.37: `networks` is required on create ("auto", "none" or a list).
pub const V2_37: ApiVersion = v(37);
/// 2.40: simple tenant usage pages with `marker` and `limit`.
pub const V2_40: ApiVersion = v(40);
/// 2.41: aggregates show their `uuid`.
pub const V2_41: ApiVersion = v(41);
/// 2.45: createImage answers with the image id in its body, not a Location.
pub const V2_45: ApiVersion = v(45);
/// 2.47: the server embeds its flavor instead of linking it.
pub const V2_47: ApiVersion = v(47);
/// 2.51: everyone sees instance action events (admins alone see tracebacks).
pub const V2_51: ApiVersion = v(51);
/// 2.48: server diagnostics have a standard format.
pub const V2_48: ApiVersion = v(48);
/// 2.50: quota class sets show server group quotas, not network ones.
pub const V2_50: ApiVersion = v(50);
/// 2.42: block device mappings may be given a `tag` (again).
pub const V2_42: ApiVersion = v(42);
/// 2.49: a volume attachment may be given a `tag`.
pub const V2_49: ApiVersion = v(49);
/// 2.52: tags may be given on create.
pub const V2_52: ApiVersion = v(52);
/// 2.53: services and hypervisors are named by UUID.
pub const V2_53: ApiVersion = v(53);
/// 2.55: flavor `description`.
pub const V2_55: ApiVersion = v(55);
/// 2.57: personality and the injected-file quotas are gone.
pub const V2_57: ApiVersion = v(57);
/// 2.58: instance actions have `updated_at`.
pub const V2_58: ApiVersion = v(58);
/// 2.61: flavor `extra_specs` in flavor bodies.
pub const V2_61: ApiVersion = v(61);
/// 2.62: instance action events show `host` (admins) and `hostId`.
pub const V2_62: ApiVersion = v(62);
/// 2.63: `trusted_image_certificates`.
pub const V2_63: ApiVersion = v(63);
/// 2.64: server groups have one `policy` with `rules`.
pub const V2_64: ApiVersion = v(64);
/// 2.67: a block device mapping may name a `volume_type`.
pub const V2_67: ApiVersion = v(67);
/// 2.70: os-interface and volume attachments show their `tag`.
pub const V2_70: ApiVersion = v(70);
/// 2.71: `server_groups` in server show.
pub const V2_71: ApiVersion = v(71);
/// 2.73: `locked_reason`.
pub const V2_73: ApiVersion = v(73);
/// 2.74: `host` and `hypervisor_hostname` may be asked for on create.
pub const V2_74: ApiVersion = v(74);
/// 2.75: flavor `swap` is 0 rather than "" when there is none.
pub const V2_75: ApiVersion = v(75);
/// 2.79: a volume attachment's `delete_on_termination`.
pub const V2_79: ApiVersion = v(79);
/// 2.84: instance action events have `details`.
pub const V2_84: ApiVersion = v(84);
/// 2.88: hypervisors no longer show resource use; statistics are gone.
pub const V2_88: ApiVersion = v(88);
/// 2.89: volume attachments show `attachment_id` and `bdm_uuid`, not `id`.
pub const V2_89: ApiVersion = v(89);
/// 2.90: `OS-EXT-SRV-ATTR:hostname` for everyone.
pub const V2_90: ApiVersion = v(90);
/// 2.92: keypairs are imported only (no generation).
pub const V2_92: ApiVersion = v(92);
/// 2.93: a server booted from a volume may be rebuilt (its volume reimaged).
pub const V2_93: ApiVersion = v(93);
/// 2.96: `pinned_availability_zone`.
pub const V2_96: ApiVersion = v(96);
/// 2.98: the embedded image shows its properties.
pub const V2_98: ApiVersion = v(98);
/// 2.100: `scheduler_hints` in server show.
pub const V2_100: ApiVersion = v(100);

/// Reads `OpenStack-API-Version: compute X.Y`, else the legacy
/// `X-OpenStack-Nova-API-Version`; none means 2.1, `latest` the maximum.
pub fn from_headers(headers: &HeaderMap) -> Result<ApiVersion, Error> {
    let requested = microversion::requested(headers, "compute").or_else(|| {
        headers.get("x-openstack-nova-api-version").and_then(|v| v.to_str().ok()).map(|s| s.trim().to_owned())
    });
    match requested {
        Some(text) => microversion::parse(&text, MIN, MAX),
        None => Ok(MIN),
    }
}

/// Checks the requested version once, and puts the version headers on every
/// answer, errors included.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let version = match from_headers(req.headers()) {
        Ok(v) => v,
        Err(e) => {
            let mut res = NovaFault(e).into_response();
            add_headers(res.headers_mut(), MIN);
            return res;
        }
    };
    req.extensions_mut().insert(version);
    let mut res = next.run(req).await;
    add_headers(res.headers_mut(), version);
    res
}

fn add_headers(h: &mut HeaderMap, v: ApiVersion) {
    if let Ok(value) = HeaderValue::from_str(&format!("compute {v}")) {
        h.insert("openstack-api-version", value);
    }
    if let Ok(value) = HeaderValue::from_str(&v.to_string()) {
        h.insert("x-openstack-nova-api-version", value);
    }
    h.insert("vary", HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn versions_are_read_compared_and_bounded() {
        assert_eq!(from_headers(&headers(&[])).unwrap(), MIN);
        assert_eq!(from_headers(&headers(&[("openstack-api-version", "compute 2.47")])).unwrap(), V2_47);
        assert_eq!(from_headers(&headers(&[("openstack-api-version", "compute latest")])).unwrap(), MAX);
        assert_eq!(from_headers(&headers(&[("x-openstack-nova-api-version", "2.9")])).unwrap(), V2_9);
        assert!(v(10) > V2_9, "2.10 comes after 2.9");
        let e = from_headers(&headers(&[("openstack-api-version", "compute 2.200")])).unwrap_err();
        assert_eq!(e.to_string(), "Version 2.200 is not supported by the API. Minimum is 2.1 and maximum is 2.104.");
        assert!(matches!(
            from_headers(&headers(&[("openstack-api-version", "compute two")])),
            Err(Error::BadRequest(_))
        ));
        assert!(V2_47.require(V2_55).is_err() && V2_55.require(V2_55).is_ok());
    }
}
