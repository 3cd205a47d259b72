//! The error body of the services built on OpenStack's `wsgi.Fault` (Nova,
//! Cinder): `{"itemNotFound": {"code": 404, "message": "..."}}`, the name
//! chosen by the status as their `Fault._fault_names` choose it.

use axum::http::StatusCode;
use serde_json::{json, Value};

/// The fault's name for a status; `computeFault` for any other.
pub fn name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

pub fn body(status: StatusCode, message: String) -> Value {
    json!({ name(status): {"code": status.as_u16(), "message": message} })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_named_by_status() {
        assert_eq!(
            body(StatusCode::NOT_FOUND, "gone".into()),
            json!({"itemNotFound": {"code": 404, "message": "gone"}})
        );
        assert_eq!(name(StatusCode::NOT_ACCEPTABLE), "computeFault");
        assert_eq!(name(StatusCode::PAYLOAD_TOO_LARGE), "overLimit");
    }
}
