//! Multipart uploads as Swift's s3api keeps them: an upload's record (its
//! content type and metadata) and its parts are objects of the bucket's
//! `+segments` container, and completing the upload makes the object a
//! static large object of the parts listed, so it is served, copied and
//! deleted as any other.

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use oxistack_core::error::Error;

use super::buckets::SEGMENTS_SUFFIX;
use super::objects::{bucket_error, put_request, quoted};
use super::{element_text, elements, iso, sigv4, xml, xml_escape, Call, S3Error, S3Result, NS};
use crate::service::{ContainerUpdate, Listed, Listing};
use crate::store::{Metadata, ObjectRow};
use crate::ObjectStorage;

/// S3's smallest part but the last.
const MIN_PART_SIZE: i64 = 5 << 20;
const MAX_PARTS: u32 = 10_000;
/// The metadata item that marks an upload's record in `+segments`.
const UPLOAD_ID: &str = "s3-upload-id";

fn segments(bucket: &str) -> String {
    format!("{bucket}{SEGMENTS_SUFFIX}")
}

fn no_such_upload() -> S3Error {
    S3Error::new(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

/// One upload of `key` in `bucket`, as the caller asks of it.
pub struct Upload<'a> {
    pub storage: &'a ObjectStorage,
    pub call: &'a Call,
    pub account: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub id: String,
}

impl Upload<'_> {
    /// CreateMultipartUpload: the upload's record in `+segments`.
    pub async fn create(
        storage: &ObjectStorage,
        call: &Call,
        account: &str,
        bucket: &str,
        key: &str,
        req: Request,
    ) -> S3Result<Response> {
        storage.container(&call.caller, account, bucket).await.map_err(bucket_error)?;
        storage.put_container(&call.caller, account, &segments(bucket), &ContainerUpdate::default()).await?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut put = put_request(req.headers(), call)?;
        put.metadata.insert(UPLOAD_ID.into(), id.clone());
        put.etag = None;
        put.length = Some(0);
        let record = format!("{key}/{id}");
        storage.put_object(&call.caller, account, &segments(bucket), &record, axum::body::Body::empty(), put).await?;
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"{NS}\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
            xml_escape(bucket),
            xml_escape(key)
        );
        Ok(xml(StatusCode::OK, body))
    }

    fn part_name(&self, n: u32) -> String {
        format!("{}/{}/{n:05}", self.key, self.id)
    }

    /// The upload's record; 404 NoSuchUpload when there is none.
    async fn record(&self) -> S3Result<ObjectRow> {
        let name = format!("{}/{}", self.key, self.id);
        match self.storage.object(&self.call.caller, self.account, &segments(self.bucket), &name).await {
            Ok(row) if row.metadata.0.get(UPLOAD_ID) == Some(&self.id) => Ok(row),
            Ok(_) | Err(Error::NotFound(_)) => Err(no_such_upload()),
            Err(e) => Err(e.into()),
        }
    }

    /// The parts uploaded so far, by number.
    async fn parts(&self) -> S3Result<Vec<(u32, ObjectRow)>> {
        self.record().await?;
        let prefix = format!("{}/{}/", self.key, self.id);
        let q = Listing { prefix: Some(prefix.clone()), ..Default::default() };
        let listed = self.storage.list_objects(&self.call.caller, self.account, &segments(self.bucket), &q).await?;
        Ok(listed
            .into_iter()
            .filter_map(|l| match l {
                Listed::Object(o) => Some(*o),
                Listed::Subdir(_) => None,
            })
            .filter_map(|o| o.name[prefix.len()..].parse::<u32>().ok().map(|n| (n, o)))
            .collect())
    }

    /// UploadPart.
    pub async fn put_part(&self, req: Request) -> S3Result<Response> {
        let n =
            self.call.param("partNumber").and_then(|n| n.parse::<u32>().ok()).filter(|n| (1..=MAX_PARTS).contains(n));
        let n = n.ok_or_else(|| {
            S3Error::new(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        })?;
        if req.headers().contains_key("x-amz-copy-source") {
            return Err(S3Error::not_implemented());
        }
        self.record().await?;
        let mut put = put_request(req.headers(), self.call)?;
        put.metadata = Metadata::new();
        put.content_type = Some("application/octet-stream".into());
        let body = sigv4::body(req.into_body(), &self.call.payload);
        let o = self
            .storage
            .put_object(&self.call.caller, self.account, &segments(self.bucket), &self.part_name(n), body, put)
            .await?;
        Ok((StatusCode::OK, [(axum::http::header::ETAG, quoted(&o.etag))]).into_response())
    }

    /// ListParts.
    pub async fn list_parts(&self) -> S3Result<Response> {
        let parts = self.parts().await?;
        let mut body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListPartsResult xmlns=\"{NS}\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId><StorageClass>STANDARD</StorageClass><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>",
            xml_escape(self.bucket),
            xml_escape(self.key),
            self.id
        );
        for (n, o) in &parts {
            body.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size></Part>",
                iso(o.modified_us),
                xml_escape(&quoted(&o.etag)),
                o.size
            ));
        }
        body.push_str("</ListPartsResult>");
        Ok(xml(StatusCode::OK, body))
    }

    /// AbortMultipartUpload: its parts and its record go.
    pub async fn abort(&self) -> S3Result<Response> {
        let parts = self.parts().await?;
        let record = format!("{}/{}", self.key, self.id);
        for name in parts.iter().map(|(_, row)| row.name.clone()).chain([record]) {
            match self.storage.delete_object(&self.call.caller, self.account, &segments(self.bucket), &name).await {
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    /// CompleteMultipartUpload: the listed parts, each as uploaded and in
    /// order, become the object (a static large object of them); parts
    /// left out and the upload's record go.
    pub async fn complete(&self, req: Request) -> S3Result<Response> {
        let record = self.record().await?;
        let body = axum::body::to_bytes(req.into_body(), 4 << 20)
            .await
            .map_err(|_| S3Error::new(400, "MalformedXML", "The XML you provided was not well-formed."))?;
        let text = String::from_utf8_lossy(&body);
        let asked: Vec<(u32, String)> = elements(&text, "Part")
            .iter()
            .filter_map(|p| Some((element_text(p, "PartNumber")?.parse().ok()?, element_text(p, "ETag")?)))
            .collect();
        if asked.is_empty() {
            return Err(S3Error::new(
                400,
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema.",
            ));
        }
        if asked.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(S3Error::new(400, "InvalidPartOrder", "The list of parts was not in ascending order."));
        }
        let uploaded = self.parts().await?;
        let invalid = || {
            S3Error::new(400, "InvalidPart", "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.")
        };
        let mut manifest = vec![];
        for (i, (n, etag)) in asked.iter().enumerate() {
            let (_, part) = uploaded.iter().find(|(m, _)| m == n).ok_or_else(invalid)?;
            if part.etag != etag.trim_matches('"') {
                return Err(invalid());
            }
            if i + 1 < asked.len() && part.size < MIN_PART_SIZE {
                return Err(S3Error::new(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed object size.",
                ));
            }
            manifest.push(serde_json::json!({
                "path": format!("/{}/{}", segments(self.bucket), part.name), "etag": part.etag, "size_bytes": part.size}));
        }
        let mut metadata = record.metadata.0.clone();
        metadata.remove(UPLOAD_ID);
        let put = crate::service::PutObject {
            content_type: Some(record.content_type.clone()),
            metadata,
            content_disposition: record.content_disposition.clone(),
            content_encoding: record.content_encoding.clone(),
            ..Default::default()
        };
        let manifest = Bytes::from(serde_json::Value::Array(manifest).to_string());
        let (caller, account, seg) = (&self.call.caller, self.account, segments(self.bucket));
        let o = self
            .storage
            .put_static_large_object(caller, account, self.bucket, self.key, manifest, put)
            .await
            .map_err(bucket_error)?;
        for (n, part) in &uploaded {
            if !asked.iter().any(|(m, _)| m == n) {
                let _ = self.storage.delete_object(caller, account, &seg, &part.name).await;
            }
        }
        let _ = self.storage.delete_object(caller, account, &seg, &record.name).await;
        let etag = quoted(o.slo_etag.as_deref().unwrap_or_default());
        let (bucket, key) = (xml_escape(self.bucket), xml_escape(self.key));
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"{NS}\"><Location>/{bucket}/{key}</Location><Bucket>{bucket}</Bucket><Key>{key}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
            xml_escape(&etag)
        );
        Ok(xml(StatusCode::OK, body))
    }
}

/// ListMultipartUploads: the records in the bucket's `+segments`.
pub async fn list_uploads(storage: &ObjectStorage, call: &Call, account: &str, bucket: &str) -> S3Result<Response> {
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultipartUploadsResult xmlns=\"{NS}\"><Bucket>{}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>",
        xml_escape(bucket)
    );
    let q = Listing { prefix: call.param("prefix").map(str::to_owned), ..Default::default() };
    let listed = match storage.list_objects(&call.caller, account, &segments(bucket), &q).await {
        Ok(listed) => listed,
        Err(Error::NotFound(_)) => vec![],
        Err(e) => return Err(e.into()),
    };
    for l in listed {
        let Listed::Object(o) = l else { continue };
        let Some(upload) = o.metadata.0.get(UPLOAD_ID) else { continue };
        let Some(key) = o.name.strip_suffix(&format!("/{upload}")) else { continue };
        body.push_str(&format!(
            "<Upload><Key>{}</Key><UploadId>{upload}</UploadId><StorageClass>STANDARD</StorageClass><Initiated>{}</Initiated></Upload>",
            xml_escape(key),
            iso(o.modified_us)
        ));
    }
    body.push_str("</ListMultipartUploadsResult>");
    Ok(xml(StatusCode::OK, body))
}
