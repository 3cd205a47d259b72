//! Object Storage: a Swift-compatible API (v1, under `/object`) and S3
//! through the same store (under `/s3`), objects
//! streamed to a backend (files in the data dir by default), indexed in the
//! database so that listings are pages of the index.
//!
//! Owns the `swift_*` tables and the object files. Every object name,
//! metadata item and byte is untrusted: names are checked against Swift's
//! limits, data never sits in memory whole, and an object is listed only
//! once its data is synced under its final name.

pub mod access;
pub mod api;
pub mod archive;
pub mod backend;
pub mod content;
pub mod s3;
pub mod service;
// The one module of the crate with SQL (see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub mod store;

use std::sync::Arc;

use oxistack_core::db::{self, Migration, Migrations, Pool};

use crate::backend::SharedBackend;

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &[
        Migration { version: 1, sql: include_str!("../migrations/sqlite/0001_object.sql") },
        Migration { version: 2, sql: include_str!("../migrations/sqlite/0002_lifecycle.sql") },
        Migration { version: 3, sql: include_str!("../migrations/sqlite/0003_versions_symlinks.sql") },
        Migration { version: 4, sql: include_str!("../migrations/sqlite/0004_account_acl.sql") },
    ],
    postgres: &[
        Migration { version: 1, sql: include_str!("../migrations/postgres/0001_object.sql") },
        Migration { version: 2, sql: include_str!("../migrations/postgres/0002_lifecycle.sql") },
        Migration { version: 3, sql: include_str!("../migrations/postgres/0003_versions_symlinks.sql") },
        Migration { version: 4, sql: include_str!("../migrations/postgres/0004_account_acl.sql") },
    ],
};

#[derive(Clone, Debug)]
pub struct ObjectConfig {
    /// The largest object, in bytes (Swift's `max_file_size`).
    pub max_file_size: u64,
}

impl Default for ObjectConfig {
    fn default() -> Self {
        ObjectConfig { max_file_size: service::MAX_FILE_SIZE }
    }
}

/// The Object Storage service.
pub struct ObjectStorage {
    pub pool: Pool,
    pub backend: SharedBackend,
    pub config: ObjectConfig,
}

impl ObjectStorage {
    pub async fn open(pool: Pool, backend: SharedBackend, config: ObjectConfig) -> anyhow::Result<Arc<Self>> {
        db::migrate(&pool, "object", &MIGRATIONS).await?;
        Ok(Arc::new(ObjectStorage { pool, backend, config }))
    }
}
