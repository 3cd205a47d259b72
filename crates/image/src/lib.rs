//! Image: a Glance v2-compatible API over a filesystem store in the data dir.
//!
//! Owns the images and image_members tables and the image files. Image data is
//! untrusted: every upload, stage and import passes the format inspector
//! (`format_inspector`), and is refused when its real format is not its
//! `disk_format` or when it names any other file.

pub mod api;
pub mod backend;
pub mod quota;
pub mod service;
// The one module of the crate with SQL (see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

use oxistack_core::db::{self, Migration, Migrations, Pool};

use crate::backend::FileStore;

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &[
        Migration { version: 1, sql: include_str!("../migrations/sqlite/0001_image.sql") },
        Migration { version: 2, sql: include_str!("../migrations/sqlite/0002_image_listing.sql") },
    ],
    postgres: &[
        Migration { version: 1, sql: include_str!("../migrations/postgres/0001_image.sql") },
        Migration { version: 2, sql: include_str!("../migrations/postgres/0002_image_listing.sql") },
    ],
};

#[derive(Clone, Debug)]
pub struct ImageConfig {
    /// Where image files are kept.
    pub store_dir: PathBuf,
    /// The most image data one project may store, in bytes; `None` for no limit.
    pub quota_bytes: Option<u64>,
}

/// The Image service.
pub struct Image {
    pub pool: Pool,
    pub config: ImageConfig,
    pub files: FileStore,
    /// Data arriving now, counted against the quota beside what is stored.
    pub arrivals: Arc<quota::Arrivals>,
}

impl Image {
    /// Opens the service and reconciles uploads a previous run left unfinished:
    /// their partial files go, and their images return to `queued`.
    pub async fn open(pool: Pool, config: ImageConfig) -> anyhow::Result<Arc<Self>> {
        db::migrate(&pool, "image", &MIGRATIONS).await?;
        let files = FileStore::open(&config.store_dir)?;
        files.remove_partial_uploads()?;
        let reset = store::reset_interrupted(&pool).await?;
        if reset > 0 {
            tracing::warn!(
                images = reset,
                "uploads interrupted by the last stop were discarded; the images are queued again"
            );
        }
        Ok(Arc::new(Image { pool, config, files, arrivals: Default::default() }))
    }
}
