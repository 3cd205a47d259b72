//! Image data: upload (`PUT .../file`), download with `Range`, staging and the
//! `glance-direct` import. Data streams through; it is never held in memory.

use std::io::SeekFrom;

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use oxistack_core::error::Error;

use super::{json_body, ApiResult, Caller, GlanceError, Shared};

pub async fn upload(image: Shared, Caller(ctx): Caller, Path(id): Path<String>, body: Body) -> ApiResult<StatusCode> {
    image.upload(&ctx, &id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn stage(image: Shared, Caller(ctx): Caller, Path(id): Path<String>, body: Body) -> ApiResult<StatusCode> {
    image.stage(&ctx, &id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn import(image: Shared, Caller(ctx): Caller, Path(id): Path<String>, body: Bytes) -> ApiResult<StatusCode> {
    let body = json_body(body).await?;
    let method = body.pointer("/method/name").and_then(Value::as_str).unwrap_or("");
    image.import(&ctx, &id, method).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` against a length.
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.checked_sub(n.min(len))?, len.checked_sub(1)?)
        }
        (s, "") => (s.parse().ok()?, len.checked_sub(1)?),
        (s, e) => (s.parse().ok()?, e.parse::<u64>().ok()?.min(len.checked_sub(1)?)),
    };
    (start <= end && start < len).then_some((start, end))
}

pub async fn download(
    image: Shared,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some((img, path)) = image.data(&ctx, &id).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut file = tokio::fs::File::open(&path).await.map_err(|e| GlanceError(Error::Internal(e.into())))?;
    let len = file.metadata().await.map_err(|e| GlanceError(Error::Internal(e.into())))?.len();
    let mut res_headers = HeaderMap::new();
    res_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    res_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, len.saturating_sub(1)),
        Some(r) => match parse_range(r, len) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => {
                return Err(GlanceError(Error::RangeNotSatisfiable(format!(
                    "Requested range {r} is not satisfiable for {len} bytes."
                ))))
            }
        },
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    if status == StatusCode::PARTIAL_CONTENT {
        res_headers.insert(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}").parse().unwrap());
    } else if let Some(md5) = &img.checksum {
        res_headers.insert(
            "content-md5",
            md5.parse().map_err(|e: header::InvalidHeaderValue| GlanceError(Error::Internal(e.into())))?,
        );
    }
    res_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    file.seek(SeekFrom::Start(start)).await.map_err(|e| GlanceError(Error::Internal(e.into())))?;
    let stream = ReaderStream::with_capacity(file.take(count), 256 * 1024);
    Ok((status, res_headers, Body::from_stream(stream)).into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
