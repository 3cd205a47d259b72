//! Large objects, as Swift's DLO and SLO middlewares make them: a dynamic
//! one serves every object under a prefix (`X-Object-Manifest`), a static
//! one the segments its manifest lists, checked when the manifest is put.
//! Segments are read, and deleted with `multipart-manifest=delete`, with
//! the caller's own rights on their containers.

use axum::body::{Body, Bytes};
use oxistack_core::error::{Error, Result};

use super::{check_metadata, check_object_name, not_found, Listed, Listing, PutObject};
use crate::access::{Caller, Op};
use crate::api::listing_date;
use crate::backend::ReceiveError;
use crate::content::{self, large_etag, Content, Piece, StoredSegment, MAX_MANIFEST_SIZE, MAX_NESTING};
use crate::store::{self, ObjectRow};
use crate::ObjectStorage;

/// The most segments one GET of a static large object serves, its nested
/// manifests' included.
const MAX_SERVED_SEGMENTS: usize = 100_000;

fn bad_manifest(errors: &[String]) -> Error {
    Error::BadRequest(format!("Errors:\n{}", errors.join("\n")))
}

impl ObjectStorage {
    /// A dynamic large object's segments: the objects under
    /// `<container>/<prefix>` in name order, and their ETag.
    pub(super) async fn dynamic_segments(
        &self,
        caller: &Caller,
        account: &str,
        manifest: &str,
    ) -> Result<(Content, String)> {
        let (container, prefix) = manifest.split_once('/').unwrap_or((manifest, ""));
        let (container, prefix) = (content::percent_decode(container), content::percent_decode(prefix));
        let (Some(container), Some(prefix)) = (container, prefix) else { return Err(not_found()) };
        self.authorize(caller, account, Some(&container), Op::ReadContainer).await?;
        let mut content = Content::default();
        let mut etags = vec![];
        let mut q = Listing { prefix: Some(prefix), ..Default::default() };
        loop {
            let page = self.list_objects_unchecked(account, &container, &q).await?;
            let full = page.len() as i64 == super::LISTING_LIMIT;
            for entry in page {
                if let Listed::Object(o) = entry {
                    q.marker = Some(o.name.clone());
                    content.push(Piece { key: o.data_key.clone(), start: 0, len: o.size as u64 });
                    etags.push(o.etag.clone());
                }
            }
            if !full {
                break;
            }
        }
        Ok((content, large_etag(etags.iter().map(String::as_str))))
    }

    /// A static large object's manifest as stored (`multipart-manifest=get`
    /// with `format=raw` writes it as it was put); `None` for another
    /// object.
    pub async fn static_manifest(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<Vec<StoredSegment>>> {
        let row = self.object(caller, account, container, name).await?;
        if row.slo_etag.is_none() {
            return Ok(None);
        }
        Ok(Some(self.manifest(&row).await?))
    }

    /// The stored manifest of a static large object.
    async fn manifest(&self, row: &ObjectRow) -> Result<Vec<StoredSegment>> {
        use tokio::io::AsyncReadExt;
        let mut file = self.backend.open(&row.data_key).await.map_err(|e| Error::Internal(e.into()))?;
        let mut data = Vec::with_capacity(row.size as usize);
        file.read_to_end(&mut data).await.map_err(|e| Error::Internal(e.into()))?;
        serde_json::from_slice(&data)
            .map_err(|e| Error::Internal(anyhow::anyhow!("a stored manifest is not JSON: {e}")))
    }

    /// Adds a static large object's segments to `content`, nested ones
    /// opened in turn. A segment changed since the manifest was put is a
    /// conflict, as Swift answers it.
    pub(super) fn static_segments<'a>(
        &'a self,
        caller: &'a Caller,
        account: &'a str,
        row: &'a ObjectRow,
        content: &'a mut Content,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            if depth >= MAX_NESTING {
                return Err(Error::Conflict("Max recursion depth exceeded on a nested manifest".into()));
            }
            for seg in self.manifest(row).await? {
                let (c, o) = seg.target().ok_or_else(not_found)?;
                let segment = self.object(caller, account, c, o).await?;
                let changed = || Error::Conflict(format!("Object segment no longer valid: {}", seg.name));
                if seg.sub_slo {
                    if segment.slo_etag.as_deref() != Some(seg.hash.as_str()) {
                        return Err(changed());
                    }
                    self.static_segments(caller, account, &segment, content, depth + 1).await?;
                } else {
                    if segment.etag != seg.hash || segment.size as u64 != seg.bytes {
                        return Err(changed());
                    }
                    content.push(Piece { key: segment.data_key, start: 0, len: seg.bytes });
                }
                // Nested manifests may name one segment many times over.
                if content.pieces.len() > MAX_SERVED_SEGMENTS {
                    return Err(Error::Conflict("Too many segments in a nested manifest".into()));
                }
            }
            Ok(())
        })
    }

    /// `PUT ?multipart-manifest=put`: a static large object of the
    /// segments the manifest lists, each one checked (it exists, the caller
    /// may read it, its ETag and size are the ones given); 400 listing what
    /// is wrong otherwise.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_static_large_object(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
        name: &str,
        manifest: Bytes,
        req: PutObject,
    ) -> Result<ObjectRow> {
        self.authorize(caller, account, Some(container), Op::WriteObject).await?;
        check_object_name(name)?;
        check_metadata(&req.metadata)?;
        let segments = content::parse_manifest(&manifest).map_err(|e| bad_manifest(&[e]))?;
        let mut stored = vec![];
        let mut errors = vec![];
        for (i, s) in segments.iter().enumerate() {
            let path = s.path.trim_start_matches('/');
            let Some((c, o)) = path.split_once('/').filter(|(c, o)| !c.is_empty() && !o.is_empty()) else {
                errors.push(format!(
                    "Index {i}: path does not refer to an object. Path must be of the form /container/object."
                ));
                continue;
            };
            let segment = match self.object(caller, account, c, o).await {
                Ok(segment) => segment,
                Err(Error::NotFound(_)) => {
                    errors.push(format!("/{path}, 404 Not Found"));
                    continue;
                }
                Err(Error::Forbidden(_)) | Err(Error::Unauthorized(_)) => {
                    errors.push(format!("/{path}, 403 Forbidden"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (bytes, hash, sub_slo) = match (&segment.slo_size, &segment.slo_etag) {
                (Some(size), Some(etag)) => (*size as u64, etag.clone(), true),
                _ => (segment.size as u64, segment.etag.clone(), false),
            };
            if s.etag.as_deref().is_some_and(|e| !e.trim_matches('"').eq_ignore_ascii_case(&hash)) {
                errors.push(format!("/{path}, Etag Mismatch"));
            }
            if s.size_bytes.is_some_and(|b| b != bytes) {
                errors.push(format!("/{path}, Size Mismatch"));
            }
            if bytes == 0 && segments.len() > 1 {
                errors.push(format!("/{path}, Too small; each segment must be at least 1 byte."));
            }
            stored.push(StoredSegment {
                name: format!("/{path}"),
                bytes,
                hash,
                content_type: segment.content_type.clone(),
                last_modified: listing_date(segment.modified_us),
                sub_slo,
            });
        }
        if !errors.is_empty() {
            return Err(bad_manifest(&errors));
        }
        let slo_etag = large_etag(stored.iter().map(|s| s.hash.as_str()));
        if req.etag.as_deref().is_some_and(|e| !e.trim_matches('"').eq_ignore_ascii_case(&slo_etag)) {
            return Err(Error::UnprocessableEntity("Unable to process the contained instructions".into()));
        }
        let slo_size: u64 = stored.iter().map(|s| s.bytes).sum();
        let body = serde_json::to_vec(&stored).map_err(|e| Error::Internal(e.into()))?;
        let target = store::container(&self.pool, account, container).await?.ok_or_else(not_found)?;
        let archive = self.archive_of(caller, account, &target).await?;
        self.check_room(account, &target, body.len() as u64).await?;
        let data = match self.backend.receive(Body::from(body), MAX_MANIFEST_SIZE as u64 * 4).await {
            Ok(data) => data,
            Err(ReceiveError::Io(e)) => return Err(Error::Internal(e.into())),
            Err(_) => return Err(bad_manifest(&["Manifest File too large".into()])),
        };
        // A static large object's data is its manifest; no dynamic one's.
        let req = PutObject { object_manifest: None, ..req };
        let row = ObjectRow {
            slo_size: Some(slo_size as i64),
            slo_etag: Some(slo_etag),
            ..super::objects::new_row((account, container, name), &data, req)
        };
        self.index(&row, data, archive.as_deref()).await?;
        Ok(row)
    }

    /// `DELETE ?multipart-manifest=delete`: a static large object's
    /// segments (nested ones' too), then its manifest; a plain object is
    /// deleted alone. How many were deleted and how many were already gone.
    pub async fn delete_static_large_object(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<(usize, usize)> {
        self.authorize(caller, account, Some(container), Op::WriteObject).await?;
        let row = self.live_object(account, container, name).await?;
        let mut counts = (0, 0);
        if row.slo_etag.is_some() {
            // Each nested manifest is read before it is deleted.
            let mut pending = vec![self.manifest(&row).await?];
            let mut opened = 1;
            while let Some(segments) = pending.pop() {
                for seg in segments {
                    let Some((c, o)) = seg.target() else { continue };
                    // Manifests may name each other: no more are opened
                    // than a whole nesting could hold.
                    if seg.sub_slo && opened < MAX_NESTING * content::MAX_MANIFEST_SEGMENTS {
                        if let Ok(nested) = self.object(caller, account, c, o).await {
                            if nested.slo_etag.is_some() {
                                pending.push(self.manifest(&nested).await?);
                                opened += 1;
                            }
                        }
                    }
                    match self.delete_object(caller, account, c, o).await {
                        Ok(()) => counts.0 += 1,
                        Err(Error::NotFound(_)) => counts.1 += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        // A manifest among its own segments is gone already.
        match self.delete_object(caller, account, container, name).await {
            Ok(()) => counts.0 += 1,
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(counts)
    }
}
