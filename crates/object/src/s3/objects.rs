//! Objects over S3: PUT (streamed, `Content-MD5` checked), GET and HEAD
//! (conditional, one range), DELETE (a multipart upload's object with its
//! parts), CopyObject, and the requests of multipart uploads, which
//! `multipart.rs` serves.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use oxistack_core::error::Error;

use super::buckets::acl_body;
use super::multipart::Upload;
use super::{iso, sigv4, xml, xml_escape, Call, S3Error, S3Result, NS};
use crate::api::{http_date, set};
use crate::content::{self, Chunk};
use crate::service::PutObject;
use crate::store::Metadata;
use crate::ObjectStorage;

pub(super) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

pub(super) fn bucket_error(e: Error) -> S3Error {
    S3Error::from_service(e, S3Error::no_such_bucket)
}

/// `x-amz-meta-*` headers, as the object's metadata.
fn user_metadata(headers: &HeaderMap) -> Metadata {
    headers
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().strip_prefix("x-amz-meta-")?;
            Some((name.to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        })
        .collect()
}

/// What a PUT carries besides its data; `Content-MD5` as the ETag to
/// check.
pub(super) fn put_request(headers: &HeaderMap, call: &Call) -> S3Result<PutObject> {
    let etag = match header_text(headers, "content-md5") {
        Some(b64) => {
            use base64::Engine;
            let md5 = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .filter(|d| d.len() == 16)
                .ok_or_else(|| S3Error::new(400, "InvalidDigest", "The Content-MD5 you specified was invalid."))?;
            Some(md5.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
        None => None,
    };
    let length = if call.payload == sigv4::Payload::Chunked {
        header_text(headers, "x-amz-decoded-content-length")
    } else {
        header_text(headers, "content-length")
    };
    let encoding = header_text(headers, "content-encoding")
        .map(|e| e.split(',').map(str::trim).filter(|e| *e != "aws-chunked").collect::<Vec<_>>().join(","));
    Ok(PutObject {
        content_type: Some(header_text(headers, "content-type").unwrap_or_else(|| "binary/octet-stream".into())),
        etag,
        metadata: user_metadata(headers),
        length: length.and_then(|l| l.parse().ok()),
        content_disposition: header_text(headers, "content-disposition"),
        content_encoding: encoding.filter(|e| !e.is_empty()),
        ..Default::default()
    })
}

pub(super) fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim_matches('"'))
}

pub async fn object(storage: &ObjectStorage, call: &Call, bucket: &str, key: &str, req: Request) -> S3Result<Response> {
    let account = call.account()?.to_owned();
    let method = req.method().clone();
    let upload = call.param("uploadId").map(str::to_owned);
    match (method, upload) {
        (method, Some(id)) => {
            let upload = Upload { storage, call, account: &account, bucket, key, id };
            match method {
                Method::PUT => upload.put_part(req).await,
                Method::GET => upload.list_parts().await,
                Method::POST => upload.complete(req).await,
                Method::DELETE => upload.abort().await,
                _ => Err(S3Error::new(
                    405,
                    "MethodNotAllowed",
                    "The specified method is not allowed against this resource.",
                )),
            }
        }
        (Method::POST, None) if call.has("uploads") => Upload::create(storage, call, &account, bucket, key, req).await,
        (Method::PUT, None) if call.has("tagging") => Err(S3Error::not_implemented()),
        (Method::PUT, None) if call.has("acl") => {
            storage.object(&call.caller, &account, bucket, key).await?;
            Ok(StatusCode::OK.into_response())
        }
        (Method::PUT, None) if req.headers().contains_key("x-amz-copy-source") => {
            copy(storage, call, &account, bucket, key, req.headers()).await
        }
        (Method::PUT, None) => {
            let put = put_request(req.headers(), call)?;
            let body = sigv4::body(req.into_body(), &call.payload);
            let o = storage.put_object(&call.caller, &account, bucket, key, body, put).await.map_err(bucket_error)?;
            Ok((StatusCode::OK, [(header::ETAG, quoted(&o.etag))]).into_response())
        }
        (Method::GET, None) if call.has("acl") => {
            storage.object(&call.caller, &account, bucket, key).await?;
            Ok(xml(StatusCode::OK, acl_body(call, false)))
        }
        (Method::GET, None) if call.has("tagging") => {
            storage.object(&call.caller, &account, bucket, key).await?;
            let body =
                format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Tagging xmlns=\"{NS}\"><TagSet/></Tagging>");
            Ok(xml(StatusCode::OK, body))
        }
        (m @ (Method::GET | Method::HEAD), None) => {
            get(storage, call, &account, bucket, key, req.headers(), m == Method::HEAD).await
        }
        (Method::DELETE, None) => {
            delete_key(storage, call, &account, bucket, key).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(S3Error::new(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")),
    }
}

#[allow(clippy::too_many_arguments)]
async fn get(
    storage: &ObjectStorage,
    call: &Call,
    account: &str,
    bucket: &str,
    key: &str,
    asked: &HeaderMap,
    head: bool,
) -> S3Result<Response> {
    let served = storage.served(&call.caller, account, bucket, key, false).await?;
    let o = &served.row;
    let mut headers = HeaderMap::new();
    set(&mut headers, "content-type", &o.content_type);
    set(&mut headers, "etag", quoted(&served.etag));
    set(&mut headers, "last-modified", http_date(o.modified_us));
    set(&mut headers, "accept-ranges", "bytes");
    for (k, v) in &o.metadata.0 {
        if let (Ok(name), Ok(value)) =
            (header::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()), header::HeaderValue::from_str(v))
        {
            headers.insert(name, value);
        }
    }
    if let Some(d) = &o.content_disposition {
        set(&mut headers, "content-disposition", d);
    }
    if let Some(e) = &o.content_encoding {
        set(&mut headers, "content-encoding", e);
    }
    if let Some(status) = crate::api::precondition(asked, &served.etag, o.modified_us) {
        if status == StatusCode::PRECONDITION_FAILED {
            return Err(S3Error::from(Error::PreconditionFailed(String::new())));
        }
        return Ok((status, headers).into_response());
    }
    let size = served.content.size;
    let range = header_text(asked, "range").and_then(|r| content::ranges(&r, size));
    let (status, pieces) = match range.as_deref() {
        Some([]) => return Err(Error::RangeNotSatisfiable(String::new()).into()),
        Some([(first, last)]) => {
            set(&mut headers, "content-range", format!("bytes {first}-{last}/{size}"));
            headers.insert(header::CONTENT_LENGTH, (last - first + 1).into());
            (StatusCode::PARTIAL_CONTENT, served.content.slice(*first, *last))
        }
        _ => {
            headers.insert(header::CONTENT_LENGTH, size.into());
            (StatusCode::OK, served.content.pieces.clone())
        }
    };
    if head {
        return Ok((status, headers).into_response());
    }
    let body = storage.stream(pieces.into_iter().map(Chunk::Data).collect());
    Ok((status, headers, body).into_response())
}

/// DeleteObject: a multipart upload's object with its parts; a key that
/// is not there is deleted all the same, as S3 answers.
pub async fn delete_key(storage: &ObjectStorage, call: &Call, account: &str, bucket: &str, key: &str) -> S3Result<()> {
    let deleted = match storage.object(&call.caller, account, bucket, key).await {
        Ok(row) if row.slo_etag.is_some() => {
            storage.delete_static_large_object(&call.caller, account, bucket, key).await.map(|_| ())
        }
        Ok(_) => storage.delete_object(&call.caller, account, bucket, key).await,
        Err(e) => Err(e),
    };
    match deleted {
        Ok(()) | Err(Error::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// CopyObject within the account: `x-amz-copy-source` names
/// `/<bucket>/<key>`; `x-amz-metadata-directive: REPLACE` takes the
/// request's metadata instead of the source's.
async fn copy(
    storage: &ObjectStorage,
    call: &Call,
    account: &str,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
) -> S3Result<Response> {
    let source = header_text(headers, "x-amz-copy-source").unwrap_or_default();
    let source = source.split('?').next().unwrap_or_default();
    let source = content::percent_decode(source.trim_start_matches('/')).unwrap_or_default();
    let (from_bucket, from_key) =
        source.split_once('/').filter(|(b, k)| !b.is_empty() && !k.is_empty()).ok_or_else(|| {
            S3Error::new(
                400,
                "InvalidArgument",
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            )
        })?;
    let replace = header_text(headers, "x-amz-metadata-directive").is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
    if !replace && from_bucket == bucket && from_key == key {
        return Err(S3Error::new(400, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata."));
    }
    let put = PutObject {
        content_type: if replace { header_text(headers, "content-type") } else { None },
        metadata: if replace { user_metadata(headers) } else { Metadata::new() },
        ..Default::default()
    };
    let (_, copied) = storage
        .copy_object(&call.caller, (account, from_bucket, from_key), (account, bucket, key), put, replace)
        .await?;
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyObjectResult xmlns=\"{NS}\"><LastModified>{}</LastModified><ETag>{}</ETag></CopyObjectResult>",
        iso(copied.modified_us),
        xml_escape(&quoted(&copied.etag))
    );
    Ok(xml(StatusCode::OK, body))
}
