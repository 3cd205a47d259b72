//! Neutron's errors: `{"NeutronError": {"type", "message", "detail"}}` with
//! the type names clients match on.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use oxistack_core::error::Error;

#[derive(Debug)]
pub struct NeutronError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, NeutronError>;

impl NeutronError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        NeutronError { status, kind, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "HTTPBadRequest", message)
    }
    pub fn invalid(message: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidInput", format!("Invalid input for operation: {message}"))
    }
    pub fn not_found(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, kind, message)
    }
    pub fn conflict(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, kind, message)
    }
    pub fn policy(action: &str, attribute: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            format!("({action}_{attribute}) is disallowed by policy"),
        )
    }
}

impl From<Error> for NeutronError {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::BadRequest(_) => "HTTPBadRequest",
            Error::Unauthorized(_) => "HTTPUnauthorized",
            Error::Forbidden(_) => "PolicyNotAuthorized",
            Error::NotFound(_) => "HTTPNotFound",
            Error::Conflict(_) => "Conflict",
            Error::MethodNotAllowed(_) => "HTTPMethodNotAllowed",
            _ => "HTTPInternalServerError",
        };
        if let Error::Internal(inner) = &e {
            tracing::error!(error = %format!("{inner:#}"), "internal error");
            return NeutronError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                kind,
                "Request Failed: internal server error while processing your request.",
            );
        }
        NeutronError { status: e.status(), kind, message: e.to_string() }
    }
}

impl From<sqlx::Error> for NeutronError {
    fn from(e: sqlx::Error) -> Self {
        Error::from(e).into()
    }
}

impl IntoResponse for NeutronError {
    fn into_response(self) -> Response {
        let body = json!({"NeutronError": {"type": self.kind, "message": self.message, "detail": ""}});
        (self.status, Json(body)).into_response()
    }
}
