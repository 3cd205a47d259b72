//! Object Storage's index: accounts, containers and objects. A container's
//! object count and bytes change in the transaction that writes or removes
//! an object's row, so they always match what is stored. No rules here.

use std::collections::BTreeMap;

use oxistack_core::db::{self, JsonText, Param, Pool};
use oxistack_core::error::{Error, Result};
use sqlx::FromRow;

pub type Metadata = BTreeMap<String, String>;

#[derive(Clone, Debug, FromRow)]
pub struct AccountRow {
    pub account: String,
    pub metadata: JsonText<Metadata>,
    pub created_us: i64,
    /// `X-Account-Access-Control`, as cleaned (empty: none).
    pub access_control: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct ContainerRow {
    pub account: String,
    pub name: String,
    pub metadata: JsonText<Metadata>,
    pub object_count: i64,
    pub bytes_used: i64,
    pub created_us: i64,
    pub modified_us: i64,
    /// `X-Container-Read` and `X-Container-Write`, as set.
    pub read_acl: String,
    pub write_acl: String,
    /// Where older versions of its objects go, and how (`stack` or
    /// `history`).
    pub versions_location: Option<String>,
    pub versions_mode: Option<String>,
}

#[derive(Clone, Debug, FromRow)]
pub struct ObjectRow {
    pub account: String,
    pub container: String,
    pub name: String,
    pub size: i64,
    pub etag: String,
    pub content_type: String,
    pub metadata: JsonText<Metadata>,
    pub modified_us: i64,
    /// The backend's key of the data.
    pub data_key: String,
    /// When the object expires (`X-Delete-At`).
    pub delete_at_us: Option<i64>,
    /// A dynamic large object's `<container>/<prefix>`.
    pub object_manifest: Option<String>,
    /// A static large object's size and ETag; its data is its manifest.
    pub slo_size: Option<i64>,
    pub slo_etag: Option<String>,
    /// The `Content-Disposition` and `Content-Encoding` it was put with.
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    /// A symlink's `<container>/<object>`.
    pub symlink_target: Option<String>,
}

/// The account's containers, objects and bytes.
#[derive(Clone, Copy, Debug, Default, FromRow)]
pub struct AccountTotals {
    pub containers: i64,
    pub objects: i64,
    pub bytes: i64,
}

/// A page of a listing, in name order: names after `marker` and before
/// `end_marker`, from `from` (inclusive) and before `to`.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub marker: Option<String>,
    pub end_marker: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub reverse: bool,
    pub limit: i64,
}

impl Page {
    /// The conditions on `name` and their values.
    fn conditions(&self) -> (String, Vec<Param>) {
        let mut sql = String::new();
        let mut params = vec![];
        let (after, before) = if self.reverse { ("<", ">") } else { (">", "<") };
        for (value, op) in [(&self.marker, after), (&self.end_marker, before)] {
            if let Some(v) = value {
                sql.push_str(&format!(" AND name {op} ?"));
                params.push(Param::Text(v.clone()));
            }
        }
        if let Some(v) = &self.from {
            sql.push_str(" AND name >= ?");
            params.push(Param::Text(v.clone()));
        }
        if let Some(v) = &self.to {
            sql.push_str(" AND name < ?");
            params.push(Param::Text(v.clone()));
        }
        let order = if self.reverse { "DESC" } else { "ASC" };
        sql.push_str(&format!(" ORDER BY name {order} LIMIT {}", self.limit.max(0)));
        (sql, params)
    }
}

pub fn container_not_found() -> Error {
    Error::NotFound("The resource could not be found.".into())
}

// Accounts.

pub async fn account(pool: &Pool, account: &str) -> Result<Option<AccountRow>> {
    Ok(db::query_as("SELECT * FROM swift_accounts WHERE account = ?").bind(account).fetch_optional(pool).await?)
}

/// Makes the account on first use (Swift's `account_autocreate`).
pub async fn ensure_account(pool: &Pool, account: &str, now_us: i64) -> Result<()> {
    db::query(
        "INSERT INTO swift_accounts (account, metadata, created_us) VALUES (?, ?, ?) ON CONFLICT (account) DO NOTHING",
    )
    .bind(account)
    .bind(JsonText(Metadata::new()))
    .bind(now_us)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn save_account(pool: &Pool, row: &AccountRow) -> Result<()> {
    db::query("UPDATE swift_accounts SET metadata = ?, access_control = ? WHERE account = ?")
        .bind(JsonText(row.metadata.0.clone()))
        .bind(&row.access_control)
        .bind(&row.account)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn account_totals(pool: &Pool, account: &str) -> Result<AccountTotals> {
    Ok(db::query_as(
        // PostgreSQL sums BIGINTs as NUMERIC: cast back.
        "SELECT COUNT(*) AS containers, CAST(COALESCE(SUM(object_count), 0) AS BIGINT) AS objects,
            CAST(COALESCE(SUM(bytes_used), 0) AS BIGINT) AS bytes FROM swift_containers WHERE account = ?",
    )
    .bind(account)
    .fetch_one(pool)
    .await?)
}

pub async fn containers_page(pool: &Pool, account: &str, page: &Page) -> Result<Vec<ContainerRow>> {
    let (conditions, params) = page.conditions();
    let sql = format!("SELECT * FROM swift_containers WHERE account = ?{conditions}");
    Ok(db::query_as(&sql).bind(account).bind_all(params).fetch_all(pool).await?)
}

// Containers.

pub async fn container(pool: &Pool, account: &str, name: &str) -> Result<Option<ContainerRow>> {
    Ok(db::query_as("SELECT * FROM swift_containers WHERE account = ? AND name = ?")
        .bind(account)
        .bind(name)
        .fetch_optional(pool)
        .await?)
}

/// Makes a container; whether it is new.
pub async fn create_container(pool: &Pool, c: &ContainerRow) -> Result<bool> {
    let done = db::query(
        "INSERT INTO swift_containers
            (account, name, metadata, object_count, bytes_used, created_us, modified_us, read_acl, write_acl,
             versions_location, versions_mode)
         VALUES (?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, name) DO NOTHING",
    )
    .bind(&c.account)
    .bind(&c.name)
    .bind(&c.metadata)
    .bind(c.created_us)
    .bind(c.modified_us)
    .bind(&c.read_acl)
    .bind(&c.write_acl)
    .bind(&c.versions_location)
    .bind(&c.versions_mode)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn save_container_metadata(pool: &Pool, c: &ContainerRow) -> Result<()> {
    db::query(
        "UPDATE swift_containers SET metadata = ?, modified_us = ?, read_acl = ?, write_acl = ?,
            versions_location = ?, versions_mode = ?
         WHERE account = ? AND name = ?",
    )
    .bind(&c.metadata)
    .bind(c.modified_us)
    .bind(&c.read_acl)
    .bind(&c.write_acl)
    .bind(&c.versions_location)
    .bind(&c.versions_mode)
    .bind(&c.account)
    .bind(&c.name)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes an empty container: whether it was (a container that holds
/// objects stays).
pub async fn delete_empty_container(pool: &Pool, account: &str, name: &str) -> Result<bool> {
    let done = db::query("DELETE FROM swift_containers WHERE account = ? AND name = ? AND object_count = 0")
        .bind(account)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn objects_page(pool: &Pool, account: &str, container: &str, page: &Page) -> Result<Vec<ObjectRow>> {
    let (conditions, params) = page.conditions();
    let sql = format!("SELECT * FROM swift_objects WHERE account = ? AND container = ?{conditions}");
    Ok(db::query_as(&sql).bind(account).bind(container).bind_all(params).fetch_all(pool).await?)
}

// Objects.

pub async fn object(pool: &Pool, account: &str, container: &str, name: &str) -> Result<Option<ObjectRow>> {
    object_on(pool, account, container, name).await
}

/// An object's row, read in a transaction or outside one.
async fn object_on<'c>(
    on: impl db::Executor<'c>,
    account: &str,
    container: &str,
    name: &str,
) -> Result<Option<ObjectRow>> {
    Ok(db::query_as("SELECT * FROM swift_objects WHERE account = ? AND container = ? AND name = ?")
        .bind(account)
        .bind(container)
        .bind(name)
        .fetch_optional(on)
        .await?)
}

/// Counts `count` objects of `bytes` bytes into a container (out, when
/// negative); not found when the container is gone.
async fn count_in(tx: &mut db::Tx, account: &str, container: &str, count: i64, bytes: i64) -> Result<()> {
    let counted = db::query(
        "UPDATE swift_containers SET object_count = object_count + ?, bytes_used = bytes_used + ?
         WHERE account = ? AND name = ?",
    )
    .bind(count)
    .bind(bytes)
    .bind(account)
    .bind(container)
    .execute(&mut *tx)
    .await?;
    if counted.rows_affected() != 1 {
        return Err(container_not_found());
    }
    Ok(())
}

/// Writes a row in place of any of its name, counted in its container;
/// the row it replaced.
async fn upsert_row(tx: &mut db::Tx, o: &ObjectRow) -> Result<Option<ObjectRow>> {
    let old = object_on(&mut *tx, &o.account, &o.container, &o.name).await?;
    let (count, bytes) = match &old {
        Some(old) => (0, o.size - old.size),
        None => (1, o.size),
    };
    count_in(tx, &o.account, &o.container, count, bytes).await?;
    db::query(
        "INSERT INTO swift_objects (account, container, name, size, etag, content_type, metadata, modified_us,
            data_key, delete_at_us, object_manifest, slo_size, slo_etag, content_disposition, content_encoding,
            symlink_target)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (account, container, name) DO UPDATE SET size = excluded.size, etag = excluded.etag,
            content_type = excluded.content_type, metadata = excluded.metadata,
            modified_us = excluded.modified_us, data_key = excluded.data_key,
            delete_at_us = excluded.delete_at_us, object_manifest = excluded.object_manifest,
            slo_size = excluded.slo_size, slo_etag = excluded.slo_etag,
            content_disposition = excluded.content_disposition, content_encoding = excluded.content_encoding,
            symlink_target = excluded.symlink_target",
    )
    .bind(&o.account)
    .bind(&o.container)
    .bind(&o.name)
    .bind(o.size)
    .bind(&o.etag)
    .bind(&o.content_type)
    .bind(&o.metadata)
    .bind(o.modified_us)
    .bind(&o.data_key)
    .bind(o.delete_at_us)
    .bind(&o.object_manifest)
    .bind(o.slo_size)
    .bind(&o.slo_etag)
    .bind(&o.content_disposition)
    .bind(&o.content_encoding)
    .bind(&o.symlink_target)
    .execute(&mut *tx)
    .await?;
    Ok(old)
}

/// Removes a row, counted out of its container; the row it was.
async fn remove_row(tx: &mut db::Tx, account: &str, container: &str, name: &str) -> Result<Option<ObjectRow>> {
    let Some(old) = object_on(&mut *tx, account, container, name).await? else { return Ok(None) };
    db::query("DELETE FROM swift_objects WHERE account = ? AND container = ? AND name = ?")
        .bind(account)
        .bind(container)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    count_in(tx, account, container, -1, -old.size).await?;
    Ok(Some(old))
}

/// Where the row an object write replaces goes instead of away: a
/// container, and the name it gets there.
pub struct Archive<'a> {
    pub container: &'a str,
    pub name: fn(&ObjectRow) -> String,
}

/// Writes an object's row (new, or in place of the one of that name) and
/// its container's count and bytes, as one step; the data key the row held
/// before, now no object's. With `archive`, the row replaced is kept there
/// instead, in the same step (its data is then still an object's). A
/// container gone meanwhile is not found.
pub async fn put_object(pool: &Pool, o: &ObjectRow, archive: Option<Archive<'_>>) -> Result<Option<String>> {
    let mut tx = pool.begin_write().await?;
    let old = upsert_row(&mut tx, o).await?;
    let replaced = match (old, archive) {
        (Some(old), Some(archive)) => {
            let kept = ObjectRow { container: archive.container.to_owned(), name: (archive.name)(&old), ..old };
            upsert_row(&mut tx, &kept).await?.map(|r| r.data_key)
        }
        (old, _) => old.map(|o| o.data_key),
    };
    tx.commit().await?;
    Ok(replaced)
}

/// Moves an object to another name (in the account), as one step: gone
/// from `from`, in place of any object at `to`; the data key of the one it
/// replaced. Not found when `from` is not there.
pub async fn move_object(pool: &Pool, account: &str, from: (&str, &str), to: (&str, &str)) -> Result<Option<String>> {
    let mut tx = pool.begin_write().await?;
    let row = remove_row(&mut tx, account, from.0, from.1).await?.ok_or_else(container_not_found)?;
    let moved = ObjectRow { container: to.0.to_owned(), name: to.1.to_owned(), ..row };
    let replaced = upsert_row(&mut tx, &moved).await?;
    tx.commit().await?;
    Ok(replaced.map(|r| r.data_key))
}

/// Removes an object's row and counts it out of its container, as one
/// step; the data key it held, if there was one.
pub async fn delete_object(pool: &Pool, account: &str, container: &str, name: &str) -> Result<Option<String>> {
    delete_object_if(pool, account, container, name, None).await
}

/// Removes an object that expired by `now_us` (one a write since has made
/// anew stays); the data key it held.
pub async fn delete_expired_object(
    pool: &Pool,
    account: &str,
    container: &str,
    name: &str,
    now_us: i64,
) -> Result<Option<String>> {
    delete_object_if(pool, account, container, name, Some(now_us)).await
}

async fn delete_object_if(
    pool: &Pool,
    account: &str,
    container: &str,
    name: &str,
    expired_by: Option<i64>,
) -> Result<Option<String>> {
    let mut tx = pool.begin_write().await?;
    let Some(old) = object_on(&mut tx, account, container, name).await? else { return Ok(None) };
    if expired_by.is_some_and(|now| old.delete_at_us.is_none_or(|at| at > now)) {
        return Ok(None);
    }
    remove_row(&mut tx, account, container, name).await?;
    tx.commit().await?;
    Ok(Some(old.data_key))
}

/// Objects that expired by `now_us`, the earliest first.
/// Which of `keys` some object's row names.
pub async fn data_keys_in_use(pool: &Pool, keys: &[String]) -> Result<std::collections::HashSet<String>> {
    let mut used = std::collections::HashSet::new();
    for batch in keys.chunks(500) {
        let marks = vec!["?"; batch.len()].join(", ");
        let sql = format!("SELECT data_key FROM swift_objects WHERE data_key IN ({marks})");
        let mut q = db::query_scalar::<String>(&sql);
        for k in batch {
            q = q.bind(k);
        }
        used.extend(q.fetch_all(pool).await?);
    }
    Ok(used)
}

pub async fn expired_objects(pool: &Pool, now_us: i64, limit: i64) -> Result<Vec<ObjectRow>> {
    Ok(db::query_as(
        "SELECT * FROM swift_objects WHERE delete_at_us IS NOT NULL AND delete_at_us <= ?
         ORDER BY delete_at_us LIMIT ?",
    )
    .bind(now_us)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// What a `POST` changes of an object: its metadata, content type,
/// expiry and the headers it is served with.
pub async fn save_object_metadata(pool: &Pool, o: &ObjectRow) -> Result<()> {
    db::query(
        "UPDATE swift_objects SET metadata = ?, content_type = ?, modified_us = ?, delete_at_us = ?,
            content_disposition = ?, content_encoding = ?
         WHERE account = ? AND container = ? AND name = ?",
    )
    .bind(&o.metadata)
    .bind(&o.content_type)
    .bind(o.modified_us)
    .bind(o.delete_at_us)
    .bind(&o.content_disposition)
    .bind(&o.content_encoding)
    .bind(&o.account)
    .bind(&o.container)
    .bind(&o.name)
    .execute(pool)
    .await?;
    Ok(())
}
