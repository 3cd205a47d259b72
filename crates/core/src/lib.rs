//! The shared foundation of every Oxistack service: the domain error type and its
//! per-service renderers, the request context built from a token, the request-id
//! layer, the embedded store and its migrations, and time formatting.
//!
//! Nothing here knows about a particular OpenStack resource; services own those.

pub mod context;
// The query layer itself: the one user of sqlx's query functions (see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub mod db;
pub mod error;
pub mod fault;
pub mod microversion;
pub mod middleware;
pub mod policy;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;

pub use context::Context;
pub use error::{Error, Result};
