//! The rules of Object Storage: who may read and write an account, the
//! names and metadata Swift takes (its `/info` limits), listings, and the
//! order of each write (data stored and synced, then the index row and the
//! container's totals in one transaction, then the data it replaced
//! removed), so nothing partial is ever listed or served.

use std::collections::BTreeMap;

use axum::body::Body;
use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::backend::{ReceiveError, Received};
use crate::store::{self, AccountRow, AccountTotals, ContainerRow, Metadata, ObjectRow, Page};
use crate::ObjectStorage;

/// Swift's limits, as `/info` advertises them.
pub const MAX_FILE_SIZE: u64 = 5_368_709_122;
pub const MAX_META_NAME_LENGTH: usize = 128;
pub const MAX_META_VALUE_LENGTH: usize = 256;
pub const MAX_META_COUNT: usize = 90;
pub const MAX_META_OVERALL_SIZE: usize = 4096;
pub const MAX_OBJECT_NAME_LENGTH: usize = 1024;
pub const MAX_CONTAINER_NAME_LENGTH: usize = 256;
pub const LISTING_LIMIT: i64 = 10_000;

/// Keystone's `reseller_prefix`: a project's account is `AUTH_<id>`.
pub const RESELLER_PREFIX: &str = "AUTH_";

/// The roles that may change an account (keystoneauth's `operator_roles`),
/// the ones that may read it (`project_reader_roles`), and the one that
/// reaches every account (`reseller_admin_role`).
const OPERATOR_ROLES: &[&str] = &["admin", "member", "swiftoperator"];
const READER_ROLES: &[&str] = &["reader"];
const RESELLER_ADMIN: &str = "ResellerAdmin";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Metadata changes of a POST or PUT: items set, and items removed
/// (`X-Remove-...-Meta-*`, or set to nothing).
#[derive(Clone, Debug, Default)]
pub struct MetaChanges {
    pub set: Vec<(String, String)>,
    pub remove: Vec<String>,
}

impl MetaChanges {
    fn apply(&self, metadata: &mut Metadata) -> Result<()> {
        for (k, v) in &self.set {
            if v.is_empty() {
                metadata.remove(k);
            } else {
                metadata.insert(k.clone(), v.clone());
            }
        }
        for k in &self.remove {
            metadata.remove(k);
        }
        check_metadata(metadata)
    }
}

/// Swift's metadata limits, over all of a resource's user metadata.
fn check_metadata(metadata: &Metadata) -> Result<()> {
    let mut overall = 0;
    for (k, v) in metadata {
        if k.len() > MAX_META_NAME_LENGTH {
            return Err(Error::BadRequest(format!("Metadata name too long; max {MAX_META_NAME_LENGTH}")));
        }
        if v.len() > MAX_META_VALUE_LENGTH {
            return Err(Error::BadRequest(format!("Metadata value longer than {MAX_META_VALUE_LENGTH}")));
        }
        overall += k.len() + v.len();
    }
    if metadata.len() > MAX_META_COUNT {
        return Err(Error::BadRequest(format!("Too many metadata items; max {MAX_META_COUNT}")));
    }
    if overall > MAX_META_OVERALL_SIZE {
        return Err(Error::BadRequest(format!("Total metadata too large; max {MAX_META_OVERALL_SIZE}")));
    }
    Ok(())
}

fn forbidden() -> Error {
    Error::Forbidden("Access was denied to this resource.".into())
}

fn not_found() -> Error {
    Error::NotFound("The resource could not be found.".into())
}

/// A listing request: `prefix`, `delimiter`, `marker`, `end_marker`,
/// `limit` and `reverse`, as Swift takes them.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    pub prefix: Option<String>,
    pub delimiter: Option<char>,
    pub marker: Option<String>,
    pub end_marker: Option<String>,
    pub limit: Option<i64>,
    pub reverse: bool,
}

/// One entry of an object listing.
#[derive(Clone, Debug)]
pub enum Listed {
    Object(ObjectRow),
    /// The common prefix of names past the delimiter (`subdir`).
    Subdir(String),
}

/// The first string after every string starting with `s`, in Swift's
/// (code point) order; `None` when there is none.
fn after_all_starting_with(s: &str) -> Option<String> {
    let mut chars: Vec<char> = s.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl Listing {
    fn limit(&self) -> Result<i64> {
        match self.limit {
            Some(l) if l > LISTING_LIMIT => Err(Error::PreconditionFailed(format!("Maximum limit is {LISTING_LIMIT}"))),
            Some(l) if l < 0 => Err(Error::PreconditionFailed("Value of limit must be a positive integer".into())),
            Some(l) => Ok(l),
            None => Ok(LISTING_LIMIT),
        }
    }

    fn page(&self, limit: i64) -> Page {
        let prefix = self.prefix.clone().filter(|p| !p.is_empty());
        Page {
            marker: self.marker.clone().filter(|m| !m.is_empty()),
            end_marker: self.end_marker.clone().filter(|m| !m.is_empty()),
            to: prefix.as_deref().and_then(after_all_starting_with),
            from: prefix,
            reverse: self.reverse,
            limit,
        }
    }
}

/// What an object PUT carries besides its data.
#[derive(Clone, Debug, Default)]
pub struct PutObject {
    pub content_type: Option<String>,
    /// The MD5 the client says the data has (`ETag`).
    pub etag: Option<String>,
    pub metadata: Metadata,
}

impl ObjectStorage {
    /// Whether `ctx` may `access` `account`: a project's own account for
    /// its operators (readers read it), every account for reseller admins.
    pub fn authorize(&self, ctx: &Context, account: &str, access: Access) -> Result<()> {
        if ctx.has_role(RESELLER_ADMIN) {
            return Ok(());
        }
        let own = ctx.project_id().is_some_and(|p| account.strip_prefix(RESELLER_PREFIX) == Some(p));
        if !own {
            return Err(forbidden());
        }
        let allowed = match access {
            Access::Write => OPERATOR_ROLES.iter().any(|r| ctx.has_role(r)),
            Access::Read => OPERATOR_ROLES.iter().chain(READER_ROLES).any(|r| ctx.has_role(r)),
        };
        if !allowed {
            return Err(forbidden());
        }
        Ok(())
    }

    /// The account, made on first use, and its totals.
    pub async fn account(&self, ctx: &Context, account: &str) -> Result<(AccountRow, AccountTotals)> {
        self.authorize(ctx, account, Access::Read)?;
        store::ensure_account(&self.pool, account, now_us()).await?;
        let row = store::account(&self.pool, account).await?.ok_or_else(not_found)?;
        Ok((row, store::account_totals(&self.pool, account).await?))
    }

    pub async fn list_containers(&self, ctx: &Context, account: &str, q: &Listing) -> Result<Vec<ContainerRow>> {
        self.authorize(ctx, account, Access::Read)?;
        store::containers_page(&self.pool, account, &q.page(q.limit()?)).await
    }

    pub async fn update_account(&self, ctx: &Context, account: &str, changes: &MetaChanges) -> Result<()> {
        self.authorize(ctx, account, Access::Write)?;
        store::ensure_account(&self.pool, account, now_us()).await?;
        let mut row = store::account(&self.pool, account).await?.ok_or_else(not_found)?;
        changes.apply(&mut row.metadata.0)?;
        store::save_account_metadata(&self.pool, account, &row.metadata.0).await
    }

    pub async fn container(&self, ctx: &Context, account: &str, name: &str) -> Result<ContainerRow> {
        self.authorize(ctx, account, Access::Read)?;
        store::container(&self.pool, account, name).await?.ok_or_else(not_found)
    }

    /// `PUT` of a container: made (answers true), or its metadata changed.
    pub async fn put_container(&self, ctx: &Context, account: &str, name: &str, changes: &MetaChanges) -> Result<bool> {
        self.authorize(ctx, account, Access::Write)?;
        check_container_name(name)?;
        let now = now_us();
        store::ensure_account(&self.pool, account, now).await?;
        let mut metadata = Metadata::new();
        changes.apply(&mut metadata)?;
        let row = ContainerRow {
            account: account.to_owned(),
            name: name.to_owned(),
            metadata: oxistack_core::db::JsonText(metadata),
            object_count: 0,
            bytes_used: 0,
            created_us: now,
            modified_us: now,
        };
        if store::create_container(&self.pool, &row).await? {
            return Ok(true);
        }
        self.update_container_unchecked(account, name, changes).await?;
        Ok(false)
    }

    pub async fn update_container(
        &self,
        ctx: &Context,
        account: &str,
        name: &str,
        changes: &MetaChanges,
    ) -> Result<()> {
        self.authorize(ctx, account, Access::Write)?;
        self.update_container_unchecked(account, name, changes).await
    }

    async fn update_container_unchecked(&self, account: &str, name: &str, changes: &MetaChanges) -> Result<()> {
        let mut row = store::container(&self.pool, account, name).await?.ok_or_else(not_found)?;
        changes.apply(&mut row.metadata.0)?;
        row.modified_us = now_us();
        store::save_container_metadata(&self.pool, &row).await
    }

    /// `DELETE` of a container: only an empty one (409 otherwise).
    pub async fn delete_container(&self, ctx: &Context, account: &str, name: &str) -> Result<()> {
        self.authorize(ctx, account, Access::Write)?;
        if store::delete_empty_container(&self.pool, account, name).await? {
            return Ok(());
        }
        match store::container(&self.pool, account, name).await? {
            Some(_) => Err(Error::Conflict("There was a conflict when trying to complete your request.".into())),
            None => Err(not_found()),
        }
    }

    /// A page of a container's listing. With a delimiter, the names that
    /// have it past the prefix are listed once each as their common prefix,
    /// and the listing goes on after all of them.
    pub async fn list_objects(
        &self,
        ctx: &Context,
        account: &str,
        container: &str,
        q: &Listing,
    ) -> Result<Vec<Listed>> {
        self.container(ctx, account, container).await?;
        let limit = q.limit()?;
        let mut page = q.page(limit);
        let Some(delimiter) = q.delimiter else {
            let rows = store::objects_page(&self.pool, account, container, &page).await?;
            return Ok(rows.into_iter().map(Listed::Object).collect());
        };
        let prefix = q.prefix.clone().unwrap_or_default();
        let mut out: Vec<Listed> = vec![];
        'pages: while (out.len() as i64) < limit {
            page.limit = limit - out.len() as i64;
            let rows = store::objects_page(&self.pool, account, container, &page).await?;
            let full = rows.len() as i64 == page.limit;
            for row in rows {
                let rest = &row.name[prefix.len()..];
                if let Some(at) = rest.find(delimiter) {
                    let subdir = format!("{prefix}{}", &rest[..at + delimiter.len_utf8()]);
                    // Past every name under it, then the next page.
                    if q.reverse {
                        page.marker = Some(subdir.clone());
                    } else {
                        match after_all_starting_with(&subdir) {
                            Some(next) => page.from = Some(next),
                            None => {
                                out.push(Listed::Subdir(subdir));
                                break 'pages;
                            }
                        }
                    }
                    // The marker's own pseudo-directory was the last
                    // page's: Swift lists it once.
                    if q.marker.as_deref() != Some(subdir.as_str()) {
                        out.push(Listed::Subdir(subdir));
                    }
                    continue 'pages;
                }
                page.marker = Some(row.name.clone());
                out.push(Listed::Object(row));
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    pub async fn object(&self, ctx: &Context, account: &str, container: &str, name: &str) -> Result<ObjectRow> {
        self.authorize(ctx, account, Access::Read)?;
        store::object(&self.pool, account, container, name).await?.ok_or_else(not_found)
    }

    /// An object and its data, open for reading.
    pub async fn open_object(
        &self,
        ctx: &Context,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<(ObjectRow, tokio::fs::File)> {
        let row = self.object(ctx, account, container, name).await?;
        let file = self.backend.open(&row.data_key).await.map_err(|e| {
            tracing::error!(account, container, object = name, error = %e, "an indexed object's data is missing");
            Error::Internal(e.into())
        })?;
        Ok((row, file))
    }

    /// `PUT` of an object: its data streamed to the backend and synced,
    /// checked against the ETag asked, then indexed in place of any object
    /// of that name, whose data then goes.
    pub async fn put_object(
        &self,
        ctx: &Context,
        account: &str,
        container: &str,
        name: &str,
        body: Body,
        req: PutObject,
    ) -> Result<ObjectRow> {
        self.authorize(ctx, account, Access::Write)?;
        check_object_name(name)?;
        check_metadata(&req.metadata)?;
        if store::container(&self.pool, account, container).await?.is_none() {
            return Err(not_found());
        }
        let data = match self.backend.receive(body, self.config.max_file_size).await {
            Ok(data) => data,
            Err(ReceiveError::TooLarge) => return Err(Error::PayloadTooLarge("Your request is too large.".into())),
            Err(ReceiveError::Body(e)) => {
                return Err(Error::BadRequest(format!("The object's data could not be read: {e}")))
            }
            Err(ReceiveError::Io(e)) => return Err(Error::Internal(e.into())),
        };
        if let Some(asked) = &req.etag {
            if !asked.trim_matches('"').eq_ignore_ascii_case(&data.md5) {
                self.backend.discard(data).await;
                return Err(Error::UnprocessableEntity("Unable to process the contained instructions".into()));
            }
        }
        let row = ObjectRow {
            account: account.to_owned(),
            container: container.to_owned(),
            name: name.to_owned(),
            size: data.size as i64,
            etag: data.md5.clone(),
            content_type: req.content_type.unwrap_or_else(|| "application/octet-stream".into()),
            metadata: oxistack_core::db::JsonText(req.metadata),
            modified_us: now_us(),
            data_key: data.key.clone(),
        };
        self.index(&row, data).await?;
        Ok(row)
    }

    /// A server-side copy (`COPY`, or `PUT` with `X-Copy-From`) within the
    /// account: the source's data streamed into a new object, with the
    /// source's metadata under the request's (none of it with
    /// `X-Fresh-Metadata`), and its content type unless one is given.
    #[allow(clippy::too_many_arguments)]
    pub async fn copy_object(
        &self,
        ctx: &Context,
        account: &str,
        from: (&str, &str),
        to: (&str, &str),
        mut req: PutObject,
        fresh_metadata: bool,
    ) -> Result<(ObjectRow, ObjectRow)> {
        self.authorize(ctx, account, Access::Write)?;
        let (source, file) = self.open_object(ctx, account, from.0, from.1).await?;
        if !fresh_metadata {
            let mut metadata = source.metadata.0.clone();
            metadata.extend(std::mem::take(&mut req.metadata));
            req.metadata = metadata;
        }
        req.content_type = req.content_type.or_else(|| Some(source.content_type.clone()));
        req.etag = None;
        let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
        let copied = self.put_object(ctx, account, to.0, to.1, body, req).await?;
        Ok((source, copied))
    }

    /// Makes received data object `row`'s: durable first, then indexed; the
    /// data it replaced is removed after.
    async fn index(&self, row: &ObjectRow, data: Received) -> Result<()> {
        if let Err(e) = self.backend.commit(&data).await {
            self.backend.discard(data).await;
            return Err(Error::Internal(e.into()));
        }
        let replaced = match store::put_object(&self.pool, row).await {
            Ok(replaced) => replaced,
            Err(e) => {
                let _ = self.backend.remove(&data.key).await;
                return Err(e);
            }
        };
        if let Some(old) = replaced {
            if let Err(e) = self.backend.remove(&old).await {
                tracing::warn!(key = %old, error = %e, "removing a replaced object's data failed");
            }
        }
        Ok(())
    }

    /// `POST` of an object: its metadata replaced, its content type when
    /// given.
    pub async fn update_object(
        &self,
        ctx: &Context,
        account: &str,
        container: &str,
        name: &str,
        metadata: Metadata,
        content_type: Option<String>,
    ) -> Result<()> {
        self.authorize(ctx, account, Access::Write)?;
        check_metadata(&metadata)?;
        let mut row = store::object(&self.pool, account, container, name).await?.ok_or_else(not_found)?;
        row.metadata.0 = metadata;
        if let Some(t) = content_type {
            row.content_type = t;
        }
        row.modified_us = now_us();
        store::save_object_metadata(&self.pool, &row).await
    }

    pub async fn delete_object(&self, ctx: &Context, account: &str, container: &str, name: &str) -> Result<()> {
        self.authorize(ctx, account, Access::Write)?;
        let key = store::delete_object(&self.pool, account, container, name).await?.ok_or_else(not_found)?;
        if let Err(e) = self.backend.remove(&key).await {
            tracing::warn!(key = %key, error = %e, "removing a deleted object's data failed");
        }
        Ok(())
    }
}

fn check_container_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') {
        return Err(Error::BadRequest("Container name cannot contain slashes".into()));
    }
    if name.len() > MAX_CONTAINER_NAME_LENGTH {
        return Err(Error::BadRequest(format!(
            "Container name length of {} longer than {MAX_CONTAINER_NAME_LENGTH}",
            name.len()
        )));
    }
    Ok(())
}

fn check_object_name(name: &str) -> Result<()> {
    if name.len() > MAX_OBJECT_NAME_LENGTH {
        return Err(Error::BadRequest(format!(
            "Object name length of {} longer than {MAX_OBJECT_NAME_LENGTH}",
            name.len()
        )));
    }
    Ok(())
}

/// Now, in microseconds since the epoch (Swift's timestamps).
pub fn now_us() -> i64 {
    oxistack_core::time::micros(oxistack_core::time::now())
}

/// The limits `/info` advertises.
pub fn info() -> BTreeMap<&'static str, serde_json::Value> {
    use serde_json::json;
    BTreeMap::from([
        ("max_file_size", json!(MAX_FILE_SIZE)),
        ("max_meta_name_length", json!(MAX_META_NAME_LENGTH)),
        ("max_meta_value_length", json!(MAX_META_VALUE_LENGTH)),
        ("max_meta_count", json!(MAX_META_COUNT)),
        ("max_meta_overall_size", json!(MAX_META_OVERALL_SIZE)),
        ("max_object_name_length", json!(MAX_OBJECT_NAME_LENGTH)),
        ("max_container_name_length", json!(MAX_CONTAINER_NAME_LENGTH)),
        ("max_account_name_length", json!(256)),
        ("container_listing_limit", json!(LISTING_LIMIT)),
        ("account_listing_limit", json!(LISTING_LIMIT)),
        ("max_header_size", json!(8192)),
        ("extra_header_count", json!(0)),
        ("strict_cors_mode", json!(true)),
        ("valid_api_versions", json!(["v1", "v1.0"])),
        ("policies", json!([{"name": "Policy-0", "aliases": "Policy-0", "default": true}])),
        ("version", json!("2.34.0")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_after_a_prefix_comes_after_all_names_under_it() {
        assert_eq!(after_all_starting_with("a/").as_deref(), Some("a0"));
        assert_eq!(after_all_starting_with("ab").as_deref(), Some("ac"));
        assert_eq!(after_all_starting_with("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(after_all_starting_with(&char::MAX.to_string()), None);
        assert_eq!(after_all_starting_with(&format!("a{}", char::MAX)).as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn an_account_is_its_projects_and_a_reseller_admins() {
        use oxistack_core::testing::caller;
        let dir = std::env::temp_dir().join(format!("oxistack-object-authz-{}", uuid::Uuid::new_v4()));
        let backend = std::sync::Arc::new(crate::backend::FileBackend::open(&dir).unwrap());
        let pool = oxistack_core::db::open_memory().await.unwrap();
        let s = ObjectStorage::open(pool, backend, Default::default()).await.unwrap();
        let member = caller("u", "p1", &["member", "reader"]);
        let reader = caller("r", "p1", &["reader"]);
        let admin_elsewhere = caller("a", "p2", &["admin", "member", "reader"]);
        let reseller = caller("x", "p3", &["ResellerAdmin"]);
        assert!(s.authorize(&member, "AUTH_p1", Access::Write).is_ok());
        assert!(s.authorize(&reader, "AUTH_p1", Access::Read).is_ok());
        assert!(s.authorize(&reader, "AUTH_p1", Access::Write).is_err());
        assert!(s.authorize(&admin_elsewhere, "AUTH_p1", Access::Read).is_err());
        assert!(s.authorize(&member, "p1", Access::Read).is_err(), "only the reseller prefix names an account");
        assert!(s.authorize(&reseller, "AUTH_p1", Access::Write).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn metadata_past_swifts_limits_is_refused() {
        let mut m = Metadata::new();
        m.insert("k".repeat(129), "v".into());
        assert!(check_metadata(&m).is_err());
        let m: Metadata = (0..91).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(check_metadata(&m).is_err());
        let m: Metadata = (0..20).map(|i| (format!("k{i}"), "v".repeat(250))).collect();
        assert!(check_metadata(&m).is_err());
    }
}
