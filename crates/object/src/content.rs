//! What a GET of an object serves: stretches of stored data in order (one
//! for a plain object; a large object's segments), sliced by ranges, and
//! streamed from the backend as they are read, never whole in memory.
//! Also the static large object manifests as Swift's SLO middleware takes
//! them (`multipart-manifest=put`) and stores them.

use axum::body::{Body, Bytes};
use http_body_util::channel::Channel;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::backend::SharedBackend;

/// Swift's SLO limits, as `/info` advertises them.
pub const MAX_MANIFEST_SEGMENTS: usize = 1000;
pub const MAX_MANIFEST_SIZE: usize = 8 << 20;
/// How deep static large objects may nest.
pub const MAX_NESTING: usize = 10;

/// `len` bytes at `start` of the data stored under `key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub key: String,
    pub start: u64,
    pub len: u64,
}

/// An object's bytes as a sequence of pieces.
#[derive(Clone, Debug, Default)]
pub struct Content {
    pub pieces: Vec<Piece>,
    pub size: u64,
}

impl Content {
    pub fn whole(key: &str, size: u64) -> Content {
        Content { pieces: vec![Piece { key: key.to_owned(), start: 0, len: size }], size }
    }

    pub fn push(&mut self, piece: Piece) {
        self.size += piece.len;
        if piece.len > 0 {
            self.pieces.push(piece);
        }
    }

    /// The pieces of bytes `first..=last`.
    pub fn slice(&self, first: u64, last: u64) -> Vec<Piece> {
        let mut out = vec![];
        let mut at = 0u64;
        for p in &self.pieces {
            let (from, to) = (at, at + p.len);
            at = to;
            if to <= first || from > last {
                continue;
            }
            let start = first.max(from) - from;
            let end = (last + 1).min(to) - from;
            out.push(Piece { key: p.key.clone(), start: p.start + start, len: end - start });
        }
        out
    }
}

/// A part of a response body: literal bytes, or stored data.
#[derive(Clone, Debug)]
pub enum Chunk {
    Literal(Bytes),
    Data(Piece),
}

/// Streams chunks as a body, reading stored data as the client takes it.
/// Data that cannot be read cuts the response short, as Swift does when a
/// segment fails mid-stream.
pub fn stream(backend: SharedBackend, chunks: Vec<Chunk>) -> Body {
    let (mut tx, body) = Channel::<Bytes, std::io::Error>::new(4);
    tokio::spawn(async move {
        for chunk in chunks {
            let piece = match chunk {
                Chunk::Literal(b) => {
                    if tx.send_data(b).await.is_err() {
                        return;
                    }
                    continue;
                }
                Chunk::Data(p) => p,
            };
            if let Err(e) = send_piece(&backend, &piece, &mut tx).await {
                tracing::warn!(key = %piece.key, error = %e, "an object's data could not be served");
                tx.abort(e);
                return;
            }
        }
    });
    Body::new(body)
}

async fn send_piece(
    backend: &SharedBackend,
    piece: &Piece,
    tx: &mut http_body_util::channel::Sender<Bytes, std::io::Error>,
) -> std::io::Result<()> {
    let mut file = backend.open(&piece.key).await?;
    file.seek(std::io::SeekFrom::Start(piece.start)).await?;
    let mut left = piece.len;
    while left > 0 {
        let mut buf = vec![0u8; (left as usize).min(256 << 10)];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "stored data is shorter than its index",
            ));
        }
        buf.truncate(n);
        left -= n as u64;
        if tx.send_data(Bytes::from(buf)).await.is_err() {
            // The client went away.
            return Ok(());
        }
    }
    Ok(())
}

/// One segment of a manifest as a client puts it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutSegment {
    pub path: String,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<u64>,
    #[serde(default)]
    pub range: Option<String>,
}

/// One segment of a manifest as it is stored (and returned by
/// `multipart-manifest=get`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredSegment {
    /// `/<container>/<object>`.
    pub name: String,
    pub bytes: u64,
    pub hash: String,
    pub content_type: String,
    pub last_modified: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sub_slo: bool,
}

impl StoredSegment {
    /// The container and object it names.
    pub fn target(&self) -> Option<(&str, &str)> {
        self.name.trim_start_matches('/').split_once('/').filter(|(c, o)| !c.is_empty() && !o.is_empty())
    }
}

/// A manifest's segments as a client sent them, with Swift's refusals.
pub fn parse_manifest(body: &[u8]) -> Result<Vec<PutSegment>, String> {
    if body.len() > MAX_MANIFEST_SIZE {
        return Err(format!("Manifest File > {MAX_MANIFEST_SIZE} bytes"));
    }
    let segments: Vec<PutSegment> =
        serde_json::from_slice(body).map_err(|_| "Manifest must be valid JSON.".to_owned())?;
    if segments.is_empty() {
        return Err("Manifest must have at least one segment.".into());
    }
    if segments.len() > MAX_MANIFEST_SEGMENTS {
        return Err(format!("Too many segments in manifest; max {MAX_MANIFEST_SEGMENTS}"));
    }
    for s in &segments {
        if s.range.is_some() {
            return Err(format!("Index {}: segment ranges are not supported", s.path));
        }
    }
    Ok(segments)
}

/// Percent-decodes a path or header value, as Swift's `unquote`; `None`
/// when the result is not UTF-8 or holds NUL.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok().filter(|s| !s.contains('\0'))
}

/// A large object's ETag: the MD5 of its segments' ETags, end to end.
pub fn large_etag<'a>(etags: impl IntoIterator<Item = &'a str>) -> String {
    use md5::{Digest, Md5};
    let mut md5 = Md5::new();
    for e in etags {
        md5.update(e.trim_matches('"').as_bytes());
    }
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `bytes=` ranges of a `Range` header over `size` bytes, as inclusive
/// (first, last) pairs: `None` to serve the whole (no header, or one that
/// is not a byte range), an empty list when none can be satisfied.
pub fn ranges(spec: &str, size: u64) -> Option<Vec<(u64, u64)>> {
    let spec = spec.trim().strip_prefix("bytes=")?;
    let mut out = vec![];
    for part in spec.split(',').map(str::trim) {
        let (first, last) = part.split_once('-')?;
        let (first, last) = (first.trim(), last.trim());
        let range = match (first.parse::<u64>().ok(), last.parse::<u64>().ok()) {
            (Some(s), Some(e)) if s <= e => Some((s, e.min(size.saturating_sub(1)))),
            (Some(_), Some(_)) => return None,
            (Some(s), None) if last.is_empty() => Some((s, size.saturating_sub(1))),
            (None, Some(n)) if first.is_empty() => (n > 0).then(|| (size.saturating_sub(n), size.saturating_sub(1))),
            _ => return None,
        };
        if let Some((s, e)) = range.filter(|&(s, _)| s < size) {
            out.push((s, e));
        }
    }
    // Swift serves the whole object past this many ranges.
    if out.len() > 50 {
        return None;
    }
    Some(out)
}

/// A content type from the name's extension, as Swift guesses one when
/// none is given.
pub fn guess_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" => "application/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "iso" => "application/x-iso9660-image",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cross_pieces() {
        let mut c = Content::default();
        c.push(Piece { key: "a".into(), start: 0, len: 10 });
        c.push(Piece { key: "b".into(), start: 0, len: 10 });
        assert_eq!(c.size, 20);
        assert_eq!(
            c.slice(8, 11),
            vec![Piece { key: "a".into(), start: 8, len: 2 }, Piece { key: "b".into(), start: 0, len: 2 }]
        );
        assert_eq!(c.slice(10, 19), vec![Piece { key: "b".into(), start: 0, len: 10 }]);
    }

    #[test]
    fn ranges_are_read_as_http_says() {
        assert_eq!(ranges("bytes=0-9", 100), Some(vec![(0, 9)]));
        assert_eq!(ranges("bytes=90-", 100), Some(vec![(90, 99)]));
        assert_eq!(ranges("bytes=-10", 100), Some(vec![(90, 99)]));
        assert_eq!(ranges("bytes=95-200", 100), Some(vec![(95, 99)]));
        assert_eq!(ranges("bytes=100-", 100), Some(vec![]));
        assert_eq!(ranges("bytes=0-1,5-6", 100), Some(vec![(0, 1), (5, 6)]));
        assert_eq!(ranges("bytes=0-1,200-", 100), Some(vec![(0, 1)]));
        assert_eq!(ranges("lines=1-2", 100), None);
        assert_eq!(ranges("bytes=5-1", 100), None);
    }

    #[test]
    fn manifests_are_refused_as_swift_does() {
        assert!(parse_manifest(b"nope").is_err());
        assert!(parse_manifest(b"[]").is_err());
        assert!(parse_manifest(br#"[{"path": "/c/o", "etag": null, "size_bytes": 1, "extra": 1}]"#).is_err());
        assert_eq!(parse_manifest(br#"[{"path": "/c/o", "etag": null, "size_bytes": null}]"#).unwrap().len(), 1);
        assert_eq!(large_etag(["\"a\"", "b"]), large_etag(["ab"]));
    }
}
