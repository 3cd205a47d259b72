//! The rules of Object Storage: who may read and write an account, the
//! names and metadata Swift takes (its `/info` limits), listings, and the
//! order of each write (data stored and synced, then the index row and the
//! container's totals in one transaction, then the data it replaced
//! removed), so nothing partial is ever listed or served.

use oxistack_core::error::{Error, Result};

use crate::access::{clean_acl, AccountAcl, Caller, Op, RESELLER_ADMIN};
use crate::store::{self, AccountRow, AccountTotals, ContainerRow, Metadata, ObjectRow, Page};
use crate::ObjectStorage;

mod large;
mod objects;

pub use objects::{archived_name, ObjectUpdate, PutObject, Served};

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
    Object(Box<ObjectRow>),
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

/// An account's POST: its metadata and ACL.
#[derive(Clone, Debug, Default)]
pub struct AccountUpdate {
    pub meta: MetaChanges,
    /// `X-Account-Access-Control` (empty removes).
    pub access_control: Option<String>,
}

/// A container's PUT or POST: its metadata and ACLs.
#[derive(Clone, Debug, Default)]
pub struct ContainerUpdate {
    pub meta: MetaChanges,
    /// `X-Container-Read` and `X-Container-Write` (empty removes).
    pub read_acl: Option<String>,
    pub write_acl: Option<String>,
    pub versions: Option<VersionsChange>,
}

/// `X-Versions-Location` (mode `stack`) or `X-History-Location` (mode
/// `history`) set, or either removed.
#[derive(Clone, Debug)]
pub enum VersionsChange {
    Set { mode: &'static str, location: String },
    Remove,
}

impl ContainerUpdate {
    fn apply(&self, row: &mut ContainerRow) -> Result<()> {
        self.meta.apply(&mut row.metadata.0)?;
        if let Some(acl) = &self.read_acl {
            row.read_acl = clean_acl("X-Container-Read", acl)?;
        }
        if let Some(acl) = &self.write_acl {
            row.write_acl = clean_acl("X-Container-Write", acl)?;
        }
        match &self.versions {
            Some(VersionsChange::Set { mode, location }) => {
                check_container_name(location)?;
                row.versions_location = Some(location.clone());
                row.versions_mode = Some((*mode).to_owned());
            }
            Some(VersionsChange::Remove) => {
                row.versions_location = None;
                row.versions_mode = None;
            }
            None => {}
        }
        Ok(())
    }
}

fn quota(meta: &Metadata, key: &str) -> Option<i64> {
    meta.get(key).and_then(|v| v.trim().parse::<i64>().ok())
}

impl ObjectStorage {
    /// The account, made on first use, and its totals.
    pub async fn account(&self, caller: &Caller, account: &str) -> Result<(AccountRow, AccountTotals)> {
        self.authorize(caller, account, None, Op::ReadAccount).await?;
        store::ensure_account(&self.pool, account, now_us()).await?;
        let row = store::account(&self.pool, account).await?.ok_or_else(not_found)?;
        Ok((row, store::account_totals(&self.pool, account).await?))
    }

    pub async fn list_containers(&self, caller: &Caller, account: &str, q: &Listing) -> Result<Vec<ContainerRow>> {
        self.authorize(caller, account, None, Op::ReadAccount).await?;
        store::containers_page(&self.pool, account, &q.page(q.limit()?)).await
    }

    /// `POST` of an account: its metadata and ACL; its byte quota
    /// (`X-Account-Meta-Quota-Bytes`) by reseller admins alone, as Swift's
    /// account_quotas has it.
    pub async fn update_account(&self, caller: &Caller, account: &str, update: &AccountUpdate) -> Result<()> {
        self.authorize(caller, account, None, Op::WriteAccount).await?;
        let changes = &update.meta;
        let quota_touched =
            changes.set.iter().map(|(k, _)| k).chain(&changes.remove).any(|k| k.eq_ignore_ascii_case("quota-bytes"));
        if quota_touched && !caller.context().is_some_and(|c| c.has_role(RESELLER_ADMIN)) {
            return Err(Error::Forbidden("Access was denied to this resource.".into()));
        }
        if let Some((_, v)) = changes.set.iter().find(|(k, v)| k == "quota-bytes" && !v.is_empty()) {
            if v.trim().parse::<u64>().is_err() {
                return Err(Error::BadRequest("Invalid bytes quota.".into()));
            }
        }
        store::ensure_account(&self.pool, account, now_us()).await?;
        let mut row = store::account(&self.pool, account).await?.ok_or_else(not_found)?;
        changes.apply(&mut row.metadata.0)?;
        if let Some(acl) = &update.access_control {
            row.access_control = AccountAcl::clean(acl)?;
        }
        store::save_account(&self.pool, &row).await
    }

    /// A container's static web settings (its `web-*` metadata), for
    /// requests in web mode whoever sends them, as Swift's staticweb reads
    /// them; nothing else of the container.
    pub async fn web_settings(&self, account: &str, name: &str) -> Result<Metadata> {
        let row = store::container(&self.pool, account, name).await?;
        let mut meta = row.map(|r| r.metadata.0).unwrap_or_default();
        meta.retain(|k, _| k.starts_with("web-"));
        Ok(meta)
    }

    pub async fn container(&self, caller: &Caller, account: &str, name: &str) -> Result<ContainerRow> {
        self.authorize(caller, account, Some(name), Op::ReadContainer).await?;
        store::container(&self.pool, account, name).await?.ok_or_else(not_found)
    }

    /// `PUT` of a container: made (answers true), or its metadata changed.
    pub async fn put_container(
        &self,
        caller: &Caller,
        account: &str,
        name: &str,
        update: &ContainerUpdate,
    ) -> Result<bool> {
        self.authorize(caller, account, Some(name), Op::WriteContainer).await?;
        self.check_privileged(caller, account, update).await?;
        check_container_name(name)?;
        check_quotas(&update.meta)?;
        let now = now_us();
        store::ensure_account(&self.pool, account, now).await?;
        let mut row = ContainerRow {
            account: account.to_owned(),
            name: name.to_owned(),
            metadata: oxistack_core::db::JsonText(Metadata::new()),
            object_count: 0,
            bytes_used: 0,
            created_us: now,
            modified_us: now,
            read_acl: String::new(),
            write_acl: String::new(),
            versions_location: None,
            versions_mode: None,
        };
        update.apply(&mut row)?;
        if store::create_container(&self.pool, &row).await? {
            return Ok(true);
        }
        self.update_container_unchecked(account, name, update).await?;
        Ok(false)
    }

    pub async fn update_container(
        &self,
        caller: &Caller,
        account: &str,
        name: &str,
        update: &ContainerUpdate,
    ) -> Result<()> {
        self.authorize(caller, account, Some(name), Op::WriteContainer).await?;
        self.check_privileged(caller, account, update).await?;
        check_quotas(&update.meta)?;
        self.update_container_unchecked(account, name, update).await
    }

    /// A container's ACLs and TempURL keys are the owner's to change, not
    /// a read-write grantee's of the account's ACL.
    async fn check_privileged(&self, caller: &Caller, account: &str, update: &ContainerUpdate) -> Result<()> {
        let keys =
            update.meta.set.iter().map(|(k, _)| k).chain(&update.meta.remove).any(|k| k.starts_with("temp-url-key"));
        let privileged = update.read_acl.is_some() || update.write_acl.is_some() || keys;
        if privileged && !self.is_owner(caller, account).await? {
            return Err(Error::Forbidden("Access was denied to this resource.".into()));
        }
        Ok(())
    }

    async fn update_container_unchecked(&self, account: &str, name: &str, update: &ContainerUpdate) -> Result<()> {
        let mut row = store::container(&self.pool, account, name).await?.ok_or_else(not_found)?;
        update.apply(&mut row)?;
        row.modified_us = now_us();
        store::save_container_metadata(&self.pool, &row).await
    }

    /// `DELETE` of a container: only an empty one (409 otherwise).
    pub async fn delete_container(&self, caller: &Caller, account: &str, name: &str) -> Result<()> {
        self.authorize(caller, account, Some(name), Op::WriteContainer).await?;
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
        caller: &Caller,
        account: &str,
        container: &str,
        q: &Listing,
    ) -> Result<Vec<Listed>> {
        self.container(caller, account, container).await?;
        self.list_objects_unchecked(account, container, q).await
    }

    async fn list_objects_unchecked(&self, account: &str, container: &str, q: &Listing) -> Result<Vec<Listed>> {
        let limit = q.limit()?;
        let mut page = q.page(limit);
        let Some(delimiter) = q.delimiter else {
            let rows = store::objects_page(&self.pool, account, container, &page).await?;
            return Ok(rows.into_iter().map(|r| Listed::Object(Box::new(r))).collect());
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
                out.push(Listed::Object(Box::new(row)));
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// Whether one more object of `bytes` bytes fits the container's and
    /// the account's quotas (413 when not), as Swift's container_quotas and
    /// account_quotas check before and after the data.
    async fn check_room(&self, account: &str, container: &ContainerRow, bytes: u64) -> Result<()> {
        let over = || Error::PayloadTooLarge("Upload exceeds quota.".into());
        let meta = &container.metadata.0;
        if quota(meta, "quota-count").is_some_and(|q| container.object_count + 1 > q) {
            return Err(over());
        }
        if quota(meta, "quota-bytes").is_some_and(|q| container.bytes_used + bytes as i64 > q) {
            return Err(over());
        }
        if let Some(row) = store::account(&self.pool, account).await? {
            if let Some(q) = quota(&row.metadata.0, "quota-bytes") {
                let totals = store::account_totals(&self.pool, account).await?;
                if totals.bytes + bytes as i64 > q {
                    return Err(over());
                }
            }
        }
        Ok(())
    }
}

/// Swift's bulk middleware's `max_containers_per_extraction` and
/// `max_failed_extractions`.
pub const MAX_CONTAINERS_PER_EXTRACTION: usize = 10_000;
pub const MAX_FAILED_EXTRACTIONS: usize = 1_000;
/// Swift's bulk middleware: the most names one bulk delete takes.
pub const MAX_BULK_DELETES: usize = 10_000;

/// What a bulk delete did: how many went, how many were not there, and
/// the names that could not go with why.
#[derive(Debug, Default)]
pub struct BulkDeleted {
    pub deleted: usize,
    pub not_found: usize,
    pub errors: Vec<(String, Error)>,
}

impl ObjectStorage {
    /// `?bulk-delete`: each `/<container>[/<object>]` (percent-encoded) of
    /// `names` deleted as the caller would delete it alone, objects before
    /// the containers that held them.
    pub async fn bulk_delete(&self, caller: &Caller, account: &str, names: &[String]) -> Result<BulkDeleted> {
        if names.len() > MAX_BULK_DELETES {
            return Err(Error::PayloadTooLarge(format!(
                "Max delete failures exceeded: more than {MAX_BULK_DELETES} names"
            )));
        }
        let mut out = BulkDeleted::default();
        let mut containers = vec![];
        for raw in names {
            let Some(path) = crate::content::percent_decode(raw.trim()) else {
                out.errors.push((raw.clone(), Error::PreconditionFailed("Invalid UTF8 or contains NULL".into())));
                continue;
            };
            let path = path.trim_start_matches('/').to_owned();
            match path.split_once('/') {
                Some((c, o)) if !o.is_empty() => match self.delete_object(caller, account, c, o).await {
                    Ok(()) => out.deleted += 1,
                    Err(Error::NotFound(_)) => out.not_found += 1,
                    Err(Error::Internal(e)) => return Err(Error::Internal(e)),
                    Err(e) => out.errors.push((format!("/{path}"), e)),
                },
                _ if !path.is_empty() => containers.push(path.trim_end_matches('/').to_owned()),
                _ => {}
            }
        }
        for c in containers {
            match self.delete_container(caller, account, &c).await {
                Ok(()) => out.deleted += 1,
                Err(Error::NotFound(_)) => out.not_found += 1,
                Err(Error::Internal(e)) => return Err(Error::Internal(e)),
                Err(e) => out.errors.push((format!("/{c}"), e)),
            }
        }
        Ok(out)
    }
}

/// Container quotas are whole numbers (Swift's 400 otherwise).
fn check_quotas(changes: &MetaChanges) -> Result<()> {
    for (k, v) in &changes.set {
        if (k == "quota-bytes" || k == "quota-count") && !v.is_empty() && v.trim().parse::<u64>().is_err() {
            let what = if k == "quota-bytes" { "bytes" } else { "count" };
            return Err(Error::BadRequest(format!("Invalid {what} quota.")));
        }
    }
    Ok(())
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

/// What `/info` advertises: Swift's limits, and the middlewares served
/// with theirs.
pub fn info() -> serde_json::Value {
    use serde_json::json;
    json!({
        "swift": {
            "max_file_size": MAX_FILE_SIZE,
            "max_meta_name_length": MAX_META_NAME_LENGTH,
            "max_meta_value_length": MAX_META_VALUE_LENGTH,
            "max_meta_count": MAX_META_COUNT,
            "max_meta_overall_size": MAX_META_OVERALL_SIZE,
            "max_object_name_length": MAX_OBJECT_NAME_LENGTH,
            "max_container_name_length": MAX_CONTAINER_NAME_LENGTH,
            "max_account_name_length": 256,
            "container_listing_limit": LISTING_LIMIT,
            "account_listing_limit": LISTING_LIMIT,
            "max_header_size": 8192,
            "extra_header_count": 0,
            "strict_cors_mode": true,
            "valid_api_versions": ["v1", "v1.0"],
            "policies": [{"name": "Policy-0", "aliases": "Policy-0", "default": true}],
            "version": "2.34.0",
        },
        "slo": {
            "max_manifest_segments": crate::content::MAX_MANIFEST_SEGMENTS,
            "max_manifest_size": crate::content::MAX_MANIFEST_SIZE,
            "min_segment_size": 1,
            "yield_frequency": 10,
            "allow_async_delete": false,
        },
        "dlo": {"max_get_time": 86400},
        "bulk_delete": {"max_deletes_per_request": MAX_BULK_DELETES, "max_failed_deletes": 1000},
        "bulk_upload": {
            "max_containers_per_extraction": MAX_CONTAINERS_PER_EXTRACTION,
            "max_failed_extractions": MAX_FAILED_EXTRACTIONS,
        },
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
        "symlink": {"symloop_max": 2, "static_links": false},
        "staticweb": {},
        "formpost": {},
        "tempauth": {"account_acls": true},
        "tempurl": {
            "methods": ["GET", "HEAD", "PUT", "POST", "DELETE"],
            "allowed_digests": ["sha1", "sha256", "sha512"],
            "incoming_remove_headers": ["x-timestamp"],
            "incoming_allow_headers": [],
            "outgoing_remove_headers": ["x-object-meta-*"],
            "outgoing_allow_headers": ["x-object-meta-public-*"],
        },
        "container_quotas": {},
        "account_quotas": {},
        "keystoneauth": {},
    })
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
