//! The store every service shares: SQLite in the data dir by default, or a
//! PostgreSQL database that several servers share, and a migration runner in
//! which each service owns its own numbered scripts per engine.
//!
//! Services write their SQL against [`Pool`] in their own `store` modules,
//! through [`query`], [`query_as`] and [`query_scalar`], which run the same
//! text on either engine; the few places where the engines' SQL differs ask
//! [`Pool::engine`].

mod column;
mod query;
mod select;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use column::{JsonText, TextColumn};
pub use query::{
    query, query_as, query_scalar, Bind, Done, Executor, Param, ParamType, Query, QueryAs, QueryScalar, Record,
};
pub use select::{like_escaped, Select};
/// For [`text_column!`](crate::text_column), in crates that name no sqlx of their own.
#[doc(hidden)]
pub use sqlx;

/// Which database engine a pool talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The database pool of one server, on either engine.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// A lock held across every server on the database (see [`Pool::lock`]).
pub struct Claim {
    held: Held,
}

enum Held {
    /// SQLite's database has one server (the data dir's lock sees to it), so
    /// a lock of the process is one of the database.
    Local(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>),
    /// PostgreSQL's session-level advisory lock, on a connection taken from
    /// the pool for as long as it is held, taken under the process's own
    /// lock: one connection per process waits for it, not one per waiter,
    /// which would leave the holder none to work with.
    Postgres(Option<sqlx::pool::PoolConnection<Postgres>>, i64, #[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>),
}

impl Claim {
    /// Gives the lock back (and, on PostgreSQL, its connection to the pool).
    pub async fn release(mut self) {
        if let Held::Postgres(conn, key, _) = &mut self.held {
            if let Some(mut c) = conn.take() {
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(*key).execute(&mut *c).await;
                if unlocked.is_err() {
                    // Closing the session frees whatever it held.
                    drop(c.detach());
                }
            }
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Dropped unreleased (an early return): the connection is closed, not
        // returned with the lock still held, and its session's end frees it.
        if let Held::Postgres(conn, _, _) = &mut self.held {
            if let Some(c) = conn.take() {
                drop(c.detach());
            }
        }
    }
}

/// The process's locks by name, for SQLite.
fn local_lock(name: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    static LOCKS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    > = std::sync::OnceLock::new();
    let mut all = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    all.entry(name.to_owned()).or_default().clone()
}

/// A lock name as PostgreSQL's 64-bit advisory key (FNV-1a: stable across
/// processes and builds, unlike std's hasher).
fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// An open transaction: queries run on it with `.execute(&mut tx)`.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Pool {
    pub fn engine(&self) -> Engine {
        match self {
            Pool::Sqlite(_) => Engine::Sqlite,
            Pool::Postgres(_) => Engine::Postgres,
        }
    }

    /// The column that orders a table's rows as they were inserted, for the
    /// tables that list in that order: SQLite's `rowid`, or the `seq` identity
    /// column those tables carry on PostgreSQL.
    pub fn inserted(&self) -> &'static str {
        match self {
            Pool::Sqlite(_) => "rowid",
            Pool::Postgres(_) => "seq",
        }
    }

    /// Waits for the connections in use to be returned, then closes them all.
    pub async fn close(&self) {
        match self {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// Waits for the lock `name`, held by at most one holder among all the
    /// servers on this database, until the claim is released or dropped.
    /// What is written under it is committed before it is released, so the
    /// next holder reads it (a check and the write it allows, such as a
    /// quota and the rows it counts, are one step across servers).
    pub async fn lock(&self, name: &str) -> Result<Claim, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(_) => Claim { held: Held::Local(local_lock(name).lock_owned().await) },
            Pool::Postgres(p) => {
                let local = local_lock(name).lock_owned().await;
                let key = lock_key(name);
                let mut conn = p.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1)").bind(key).execute(&mut *conn).await?;
                Claim { held: Held::Postgres(Some(conn), key, local) }
            }
        })
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A transaction that reads and then writes: on SQLite it takes the write
    /// lock at its start (waiting for it as any write does), where a plain
    /// `BEGIN` would read a snapshot that a writer in between makes too old
    /// to write from (an error, not a wait).
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    /// Runs a script of several statements (a migration).
    async fn script(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => sqlx::raw_sql(sql).execute(&mut **t).await.map(drop),
            Tx::Postgres(t) => sqlx::raw_sql(sql).execute(&mut **t).await.map(drop),
        }
    }
}

/// One migration: a version unique within its service and engine, and the SQL to apply.
pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

/// A service's migrations, one list per engine. The lists are numbered on
/// their own: PostgreSQL's starts from the schema SQLite's had reached.
pub struct Migrations {
    pub sqlite: &'static [Migration],
    pub postgres: &'static [Migration],
}

/// Opens the database a `--database` value names: a `postgres://` URL, or
/// else (empty) the SQLite file `oxistack.db` in `data_dir`.
pub async fn connect(database: Option<&str>, data_dir: &Path) -> anyhow::Result<Pool> {
    match database.filter(|d| !d.is_empty()) {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => open_postgres(url).await,
        Some(other) => anyhow::bail!("unsupported database {other:?}: give a postgres:// URL, or none for SQLite"),
        None => open(&data_dir.join("oxistack.db")).await,
    }
}

/// Connects to a PostgreSQL database (which must exist).
pub async fn open_postgres(url: &str) -> anyhow::Result<Pool> {
    let pool = PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(30)).connect(url).await?;
    // Listings sort by text columns; SQLite compares bytes, and so does a
    // database made with the C collation. Another collation still works,
    // but names then sort by its rules.
    let collation: Option<String> =
        sqlx::query_scalar("SELECT datcollate FROM pg_database WHERE datname = current_database()")
            .fetch_optional(&pool)
            .await?;
    if let Some(c) = collation.filter(|c| c != "C" && c != "POSIX") {
        tracing::warn!(collation = %c, "the database's collation is not C: listings sort names by it");
    }
    Ok(Pool::Postgres(pool))
}

/// Opens (creating if needed) the SQLite database file at `path`.
pub async fn open(path: &Path) -> anyhow::Result<Pool> {
    keep_private(path)?;
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged change survives a power loss, not only a crash.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // Rows cross from SQLite's thread to the caller through a channel of
        // this size: a page of 1,000 servers crosses without the threads
        // waking each other every 50 rows.
        .row_buffer_size(1024);
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(opts).await?;
    keep_private(path)?;
    Ok(Pool::Sqlite(pool))
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

/// An in-memory SQLite database, for tests.
pub async fn open_memory() -> anyhow::Result<Pool> {
    let opts = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
    // One connection: each in-memory connection would be its own database.
    Ok(Pool::Sqlite(SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?))
}

/// Applies the migrations of `service` for this pool's engine that the
/// database has not seen yet, each in its own transaction together with its
/// bookkeeping row. On PostgreSQL an advisory lock makes servers starting at
/// once apply each migration once.
pub async fn migrate(pool: &Pool, service: &str, migrations: &Migrations) -> anyhow::Result<()> {
    let list = match pool.engine() {
        Engine::Sqlite => migrations.sqlite,
        Engine::Postgres => migrations.postgres,
    };
    let mut tx = pool.begin().await?;
    lock_migrations(&mut tx).await?;
    query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            service TEXT NOT NULL, version BIGINT NOT NULL, applied_at TEXT NOT NULL,
            PRIMARY KEY (service, version))",
    )
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    for m in list {
        let mut tx = pool.begin().await?;
        lock_migrations(&mut tx).await?;
        let seen: Option<i64> = query_scalar("SELECT version FROM schema_migrations WHERE service = ? AND version = ?")
            .bind(service)
            .bind(m.version)
            .fetch_optional(&mut tx)
            .await?;
        if seen.is_some() {
            continue;
        }
        tx.script(m.sql).await?;
        query("INSERT INTO schema_migrations (service, version, applied_at) VALUES (?, ?, ?)")
            .bind(service)
            .bind(m.version)
            .bind(crate::time::keystone(crate::time::now()))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        tracing::info!(service, version = m.version, "applied schema migration");
    }
    Ok(())
}

/// Holds PostgreSQL's migration lock until the transaction ends (SQLite's
/// writers are one at a time already).
async fn lock_migrations(tx: &mut Tx) -> Result<(), sqlx::Error> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock(7146001)").execute(&mut **t).await?;
    }
    Ok(())
}

/// Settings that must be shared by every server on this database (signing keys,
/// the URL the catalog was written for).
pub async fn get_setting(pool: &Pool, key: &str) -> anyhow::Result<Option<String>> {
    Ok(query_scalar("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(pool).await?)
}

pub async fn set_setting(pool: &Pool, key: &str, value: &str) -> anyhow::Result<()> {
    query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(pool)
        .await?;
    Ok(())
}

/// The core's own schema.
pub const CORE_MIGRATIONS: Migrations = Migrations {
    sqlite: &[Migration { version: 1, sql: "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);" }],
    postgres: &[Migration { version: 1, sql: "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);" }],
};
