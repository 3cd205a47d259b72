//! Objects: what a GET serves (a plain object's data, a large object's
//! segments), PUT (streamed, checked against its ETag and the quotas),
//! server-side copies, POST and DELETE, and the order of each write: data
//! stored and synced, then the index row and the container's totals in one
//! transaction, then the data it replaced removed, so nothing partial is
//! ever listed or served.

use axum::body::Body;
use oxistack_core::error::{Error, Result};

use super::{check_metadata, check_object_name, not_found, now_us};
use crate::access::{Caller, Op};
use crate::backend::{ReceiveError, Received};
use crate::content::{self, Chunk, Content};
use crate::store::{self, Metadata, ObjectRow};
use crate::ObjectStorage;

/// What an object PUT carries besides its data.
#[derive(Clone, Debug, Default)]
pub struct PutObject {
    pub content_type: Option<String>,
    /// The MD5 the client says the data has (`ETag`).
    pub etag: Option<String>,
    pub metadata: Metadata,
    /// The `Content-Length` the client announced, if any.
    pub length: Option<u64>,
    /// When it expires (`X-Delete-At`, or `X-Delete-After` from now).
    pub delete_at_us: Option<i64>,
    /// A dynamic large object's `<container>/<prefix>`.
    pub object_manifest: Option<String>,
    /// The `Content-Disposition` and `Content-Encoding` to serve it with.
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    /// A symlink's `<container>/<object>` (`X-Symlink-Target`).
    pub symlink_target: Option<String>,
}

/// How many symlinks a GET follows (Swift's `symloop_max`).
const MAX_SYMLINK_HOPS: usize = 2;

/// What a `POST` of an object sets: all of it replaces what was.
#[derive(Clone, Debug, Default)]
pub struct ObjectUpdate {
    pub metadata: Metadata,
    /// Kept when not given.
    pub content_type: Option<String>,
    pub delete_at_us: Option<i64>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
}

/// What a GET or HEAD of an object serves.
#[derive(Clone, Debug)]
pub struct Served {
    pub row: ObjectRow,
    pub content: Content,
    /// The `ETag` it is served with: the data's MD5, or a large object's
    /// quoted ETag of its segments.
    pub etag: String,
}

impl ObjectStorage {
    /// An object that has not expired.
    pub async fn object(&self, caller: &Caller, account: &str, container: &str, name: &str) -> Result<ObjectRow> {
        self.authorize(caller, account, Some(container), Op::ReadObject).await?;
        self.live_object(account, container, name).await
    }

    pub(super) async fn live_object(&self, account: &str, container: &str, name: &str) -> Result<ObjectRow> {
        let row = store::object(&self.pool, account, container, name).await?.ok_or_else(not_found)?;
        if row.delete_at_us.is_some_and(|at| at <= now_us()) {
            return Err(not_found());
        }
        Ok(row)
    }

    /// What a GET of the object serves: its own data (with `manifest`, a
    /// large object's manifest or a symlink itself), the object a symlink
    /// names, or its segments, each read with the caller's rights, as
    /// Swift's symlink and large-object middlewares read them.
    pub async fn served(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
        name: &str,
        manifest: bool,
    ) -> Result<Served> {
        let mut row = self.object(caller, account, container, name).await?;
        let mut hops = 0;
        while let (Some(target), false) = (row.symlink_target.clone(), manifest) {
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err(Error::Conflict("Too many levels of symbolic links".into()));
            }
            let (c, o) = target.split_once('/').ok_or_else(not_found)?;
            row = self.object(caller, account, c, o).await?;
        }
        if manifest {
            let content = Content::whole(&row.data_key, row.size as u64);
            return Ok(Served { etag: row.etag.clone(), row, content });
        }
        if let Some(m) = row.object_manifest.clone() {
            let (content, etag) = self.dynamic_segments(caller, account, &m).await?;
            return Ok(Served { row, content, etag: format!("\"{etag}\"") });
        }
        if let Some(etag) = row.slo_etag.clone() {
            let mut content = Content::default();
            self.static_segments(caller, account, &row, &mut content, 0).await?;
            return Ok(Served { row, content, etag: format!("\"{etag}\"") });
        }
        let content = Content::whole(&row.data_key, row.size as u64);
        Ok(Served { etag: row.etag.clone(), row, content })
    }

    /// The body of `pieces` of what is served.
    pub fn stream(&self, chunks: Vec<Chunk>) -> Body {
        content::stream(self.backend.clone(), chunks)
    }

    /// `PUT` of an object: its data streamed to the backend and synced,
    /// checked against the ETag asked and the quotas, then indexed in place
    /// of any object of that name, whose data then goes.
    pub async fn put_object(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
        name: &str,
        body: Body,
        req: PutObject,
    ) -> Result<ObjectRow> {
        self.authorize(caller, account, Some(container), Op::WriteObject).await?;
        check_object_name(name)?;
        check_metadata(&req.metadata)?;
        if let Some(m) = &req.object_manifest {
            check_manifest_header(m)?;
        }
        if let Some(t) = &req.symlink_target {
            if !t.split_once('/').is_some_and(|(c, o)| !c.is_empty() && !o.is_empty()) {
                return Err(Error::PreconditionFailed(
                    "X-Symlink-Target header must be of the form <container name>/<object name>".into(),
                ));
            }
            if req.length.is_some_and(|l| l > 0) {
                return Err(Error::BadRequest("Symlink requests require a zero byte body".into()));
            }
        }
        let target = store::container(&self.pool, account, container).await?.ok_or_else(not_found)?;
        let archive = self.archive_of(caller, account, &target).await?;
        self.check_room(account, &target, req.length.unwrap_or(0)).await?;
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
        if req.symlink_target.is_some() && data.size > 0 {
            self.backend.discard(data).await;
            return Err(Error::BadRequest("Symlink requests require a zero byte body".into()));
        }
        if req.length.is_none() {
            if let Err(e) = self.check_room(account, &target, data.size).await {
                self.backend.discard(data).await;
                return Err(e);
            }
        }
        let row = new_row((account, container, name), &data, req);
        self.index(&row, data, archive.as_deref()).await?;
        Ok(row)
    }

    /// A server-side copy (`COPY`, or `PUT` with `X-Copy-From`), from
    /// `(account, container, object)` to another, in the same account or
    /// another the caller may write: what the source serves (a large object's segments end to
    /// end) streamed into a new object, with the source's metadata under
    /// the request's (none of it with `X-Fresh-Metadata`), and its content
    /// type unless one is given.
    pub async fn copy_object(
        &self,
        caller: &Caller,
        from: (&str, &str, &str),
        to: (&str, &str, &str),
        mut req: PutObject,
        fresh_metadata: bool,
    ) -> Result<(ObjectRow, ObjectRow)> {
        self.authorize(caller, to.0, Some(to.1), Op::WriteObject).await?;
        let source = self.served(caller, from.0, from.1, from.2, false).await?;
        if source.content.size > self.config.max_file_size {
            return Err(Error::PayloadTooLarge("Your request is too large.".into()));
        }
        if !fresh_metadata {
            let mut metadata = source.row.metadata.0.clone();
            metadata.extend(std::mem::take(&mut req.metadata));
            req.metadata = metadata;
        }
        req.content_type = req.content_type.or_else(|| Some(source.row.content_type.clone()));
        req.etag = None;
        req.length = Some(source.content.size);
        let body = self.stream(source.content.pieces.into_iter().map(Chunk::Data).collect());
        let copied = self.put_object(caller, to.0, to.1, to.2, body, req).await?;
        Ok((source.row, copied))
    }

    /// The versions container of `target`, when it has one: the caller
    /// must be able to write there (Swift's 412 when it is gone).
    pub(super) async fn archive_of(
        &self,
        caller: &Caller,
        account: &str,
        target: &store::ContainerRow,
    ) -> Result<Option<String>> {
        let Some(location) = &target.versions_location else { return Ok(None) };
        self.authorize(caller, account, Some(location), Op::WriteObject).await?;
        if store::container(&self.pool, account, location).await?.is_none() {
            return Err(Error::PreconditionFailed(format!("The versions container {location} does not exist")));
        }
        Ok(Some(location.clone()))
    }

    /// Makes received data object `row`'s: durable first, then indexed; the
    /// data it replaced is removed after, unless it was kept in `archive`
    /// (the container's versions container).
    pub(super) async fn index(&self, row: &ObjectRow, data: Received, archive: Option<&str>) -> Result<()> {
        if let Err(e) = self.backend.commit(&data).await {
            self.backend.discard(data).await;
            return Err(Error::Internal(e.into()));
        }
        let archive = archive.map(|container| store::Archive { container, name: archived_name });
        let replaced = match store::put_object(&self.pool, row, archive).await {
            Ok(replaced) => replaced,
            Err(e) => {
                let _ = self.backend.remove(&data.key).await;
                return Err(e);
            }
        };
        if let Some(old) = replaced {
            self.remove_data(&old).await;
        }
        Ok(())
    }

    pub(super) async fn remove_data(&self, key: &str) {
        if let Err(e) = self.backend.remove(key).await {
            tracing::warn!(key = %key, error = %e, "removing an object's data failed");
        }
    }

    /// `POST` of an object: its metadata, expiry and served headers
    /// replaced, its content type when given.
    pub async fn update_object(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
        name: &str,
        update: ObjectUpdate,
    ) -> Result<()> {
        self.authorize(caller, account, Some(container), Op::WriteObject).await?;
        check_metadata(&update.metadata)?;
        let mut row = self.live_object(account, container, name).await?;
        row.metadata.0 = update.metadata;
        if let Some(t) = update.content_type {
            row.content_type = t;
        }
        row.delete_at_us = update.delete_at_us;
        row.content_disposition = update.content_disposition;
        row.content_encoding = update.content_encoding;
        row.modified_us = now_us();
        store::save_object_metadata(&self.pool, &row).await
    }

    /// `DELETE` of an object. In a container with versions, `stack` mode
    /// brings the last archived version back in its place, `history` mode
    /// archives the object itself, each as one step.
    pub async fn delete_object(&self, caller: &Caller, account: &str, container: &str, name: &str) -> Result<()> {
        self.authorize(caller, account, Some(container), Op::WriteObject).await?;
        let target = store::container(&self.pool, account, container).await?.ok_or_else(not_found)?;
        if let Some(archive) = self.archive_of(caller, account, &target).await? {
            let current = self.live_object(account, container, name).await?;
            let replaced = if target.versions_mode.as_deref() == Some("history") {
                store::move_object(&self.pool, account, (container, name), (&archive, &archived_name(&current))).await?
            } else {
                let prefix = format!("{:03x}{name}/", name.len());
                let page = store::Page {
                    to: super::after_all_starting_with(&prefix),
                    from: Some(prefix),
                    reverse: true,
                    limit: 1,
                    ..Default::default()
                };
                match store::objects_page(&self.pool, account, &archive, &page).await?.pop() {
                    Some(last) => {
                        store::move_object(&self.pool, account, (&archive, &last.name), (container, name)).await?
                    }
                    None => store::delete_object(&self.pool, account, container, name).await?,
                }
            };
            if let Some(key) = replaced {
                self.remove_data(&key).await;
            }
            return Ok(());
        }
        let key = store::delete_object(&self.pool, account, container, name).await?.ok_or_else(not_found)?;
        self.remove_data(&key).await;
        Ok(())
    }

    /// Removes objects that expired, a batch at a time (Swift's
    /// object-expirer); how many went.
    pub async fn expire(&self) -> Result<usize> {
        let now = now_us();
        let mut gone = 0;
        loop {
            let batch = store::expired_objects(&self.pool, now, 500).await?;
            let full = batch.len() == 500;
            for o in batch {
                if let Some(key) =
                    store::delete_expired_object(&self.pool, &o.account, &o.container, &o.name, now).await?
                {
                    self.remove_data(&key).await;
                    gone += 1;
                }
            }
            if !full {
                return Ok(gone);
            }
        }
    }

    /// Removes stored data written before `before` that no object's row
    /// names: what a crash left between storing an object's data and
    /// indexing it, or between unindexing data and removing it. Only data
    /// older than this process is looked at, so nothing an upload is about
    /// to index is taken. How much went.
    pub async fn sweep_unindexed_data(&self, before: std::time::SystemTime) -> Result<usize> {
        let keys = self.backend.keys_before(before).await.map_err(|e| Error::Internal(e.into()))?;
        let used = store::data_keys_in_use(&self.pool, &keys).await?;
        let mut gone = 0;
        for key in keys.iter().filter(|k| !used.contains(*k)) {
            self.remove_data(key).await;
            gone += 1;
        }
        Ok(gone)
    }

    /// Runs [`Self::expire`] every `every`, for as long as the process runs,
    /// after a sweep of the data an earlier process left unindexed.
    pub fn spawn_expirer(self: std::sync::Arc<Self>, every: std::time::Duration) {
        let started = std::time::SystemTime::now();
        tokio::spawn(async move {
            match self.sweep_unindexed_data(started).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "data no object names removed"),
                Err(e) => tracing::warn!(error = %e, "sweeping unindexed object data failed"),
            }
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.expire().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(objects = n, "expired objects removed"),
                    Err(e) => tracing::warn!(error = %e, "removing expired objects failed"),
                }
            }
        });
    }
}

/// The name an older version of an object has in the versions container,
/// as Swift names it: the name's length in three hex digits, the name, and
/// the version's time.
pub fn archived_name(o: &ObjectRow) -> String {
    format!("{:03x}{}/{}", o.name.len(), o.name, crate::api::x_timestamp(o.modified_us))
}

/// The row of an object `received` makes, as a PUT asked for it.
pub(super) fn new_row(at: (&str, &str, &str), received: &Received, req: PutObject) -> ObjectRow {
    ObjectRow {
        account: at.0.to_owned(),
        container: at.1.to_owned(),
        name: at.2.to_owned(),
        size: received.size as i64,
        etag: received.md5.clone(),
        content_type: req.content_type.unwrap_or_else(|| "application/octet-stream".into()),
        metadata: oxistack_core::db::JsonText(req.metadata),
        modified_us: now_us(),
        data_key: received.key.clone(),
        delete_at_us: req.delete_at_us,
        object_manifest: req.object_manifest,
        slo_size: None,
        slo_etag: None,
        content_disposition: req.content_disposition,
        content_encoding: req.content_encoding,
        symlink_target: req.symlink_target,
    }
}

/// `X-Object-Manifest` is `<container>/<prefix>` (Swift's 400 otherwise).
fn check_manifest_header(m: &str) -> Result<()> {
    let ok = m.split_once('/').is_some_and(|(c, _)| !c.is_empty()) && !m.contains('?') && !m.contains('#');
    if ok {
        Ok(())
    } else {
        Err(Error::BadRequest("X-Object-Manifest must be in the format container/prefix".into()))
    }
}
