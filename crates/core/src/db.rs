//! The embedded store: one SQLite database in the data dir, opened in WAL mode,
//! and a migration runner in which each service owns its own numbered scripts.
//!
//! Services write their SQL against this pool in their own `store` modules, so
//! that another engine can be added behind those modules without touching the
//! rules above them.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub type Pool = SqlitePool;

/// One migration: a version unique within its service and the SQL to apply.
pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

/// Opens (creating if needed) the database file at `path`.
pub async fn open(path: &Path) -> anyhow::Result<Pool> {
    keep_private(path)?;
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged change survives a power loss, not only a crash.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(opts).await?;
    keep_private(path)?;
    Ok(pool)
}

/// The database holds password hashes and the token-signing key: it and its
/// WAL files are 0600 whatever the umask and the directory's mode.
fn keep_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// An in-memory database, for tests.
pub async fn open_memory() -> anyhow::Result<Pool> {
    let opts = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
    // One connection: each in-memory connection would be its own database.
    Ok(SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?)
}

/// Applies the migrations of `service` that this database has not seen yet, each in
/// its own transaction together with its bookkeeping row.
pub async fn migrate(pool: &Pool, service: &str, migrations: &[Migration]) -> anyhow::Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            service TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL,
            PRIMARY KEY (service, version))",
    )
    .execute(pool)
    .await?;
    for m in migrations {
        let seen: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE service = ? AND version = ?")
                .bind(service)
                .bind(m.version)
                .fetch_optional(pool)
                .await?;
        if seen.is_some() {
            continue;
        }
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (service, version, applied_at) VALUES (?, ?, ?)")
            .bind(service)
            .bind(m.version)
            .bind(crate::time::keystone(crate::time::now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(service, version = m.version, "applied schema migration");
    }
    Ok(())
}

/// Settings that must be shared by every server on this database (signing keys,
/// the URL the catalog was written for).
pub async fn get_setting(pool: &Pool, key: &str) -> anyhow::Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(pool).await?)
}

pub async fn set_setting(pool: &Pool, key: &str, value: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(pool)
    .await?;
    Ok(())
}

/// The core's own schema.
pub const CORE_MIGRATIONS: &[Migration] =
    &[Migration { version: 1, sql: "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);" }];
