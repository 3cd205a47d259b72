//! The error body of the services built on OpenStack's `wsgi.Fault` (Nova,
//! Cinder): `{"itemNotFound": {"code": 404, "message": "..."}}`, the name
//! chosen by the status as their `Fault._fault_names` choose it. The two
//! tables differ in one status: Nova names a 406 `notAcceptable`, Cinder
//! has no name for it and says `computeFault`.

use axum::http::StatusCode;
use serde_json::{json, Value};

/// Whose table of names a fault is named from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Nova,
    Cinder,
}

/// The fault's name for a status; `computeFault` for any other.
pub fn name(dialect: Dialect, status: StatusCode) -> &'static str {
    match status.as_u16() {
        406 if dialect == Dialect::Nova => "notAcceptable",
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

pub fn body(dialect: Dialect, status: StatusCode, message: String) -> Value {
    json!({ name(dialect, status): {"code": status.as_u16(), "message": message} })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_named_by_status_in_each_dialect() {
        let gone = body(Dialect::Cinder, StatusCode::NOT_FOUND, "gone".into());
        assert_eq!(gone, json!({"itemNotFound": {"code": 404, "message": "gone"}}));
        assert_eq!(name(Dialect::Cinder, StatusCode::NOT_ACCEPTABLE), "computeFault");
        assert_eq!(name(Dialect::Nova, StatusCode::NOT_ACCEPTABLE), "notAcceptable");
        assert_eq!(name(Dialect::Nova, StatusCode::PAYLOAD_TOO_LARGE), "overLimit");
    }
}
