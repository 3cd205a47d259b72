//! The service (ListBuckets) and buckets: create, head, delete, the object
//! listings (v1 and v2), DeleteObjects, and the bucket settings S3 tools
//! read back, answered as S3 answers a bucket that has none of them.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{element_text, elements, iso, xml, xml_escape, Call, S3Error, S3Result, NS};
use crate::service::{ContainerUpdate, Listed, Listing};
use crate::ObjectStorage;

/// The `+segments` containers hold multipart uploads' parts: not buckets.
pub const SEGMENTS_SUFFIX: &str = "+segments";

/// S3's bucket names: 3 to 63 lowercase letters, digits, dots and hyphens,
/// starting and ending with a letter or digit.
fn check_bucket_name(name: &str) -> S3Result<()> {
    let ok = (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
        && name.as_bytes().last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(S3Error::new(400, "InvalidBucketName", "The specified bucket is not valid."))
    }
}

fn bucket_error(e: oxistack_core::error::Error) -> S3Error {
    S3Error::from_service(e, S3Error::no_such_bucket)
}

pub async fn service(storage: &ObjectStorage, call: &Call, req: Request) -> S3Result<Response> {
    if req.method() != Method::GET {
        return Err(S3Error::new(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        ));
    }
    let account = call.account()?;
    let mut q = Listing::default();
    let mut rows = vec![];
    loop {
        let page = storage.list_containers(&call.caller, account, &q).await.map_err(bucket_error)?;
        let full = page.len() as i64 == crate::service::LISTING_LIMIT;
        q.marker = page.last().map(|c| c.name.clone());
        rows.extend(page.into_iter().filter(|c| !c.name.ends_with(SEGMENTS_SUFFIX)));
        if !full {
            break;
        }
    }
    let (id, name) = call.owner();
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"{NS}\"><Owner><ID>{}</ID><DisplayName>{}</DisplayName></Owner><Buckets>",
        xml_escape(&id),
        xml_escape(&name)
    );
    for c in rows {
        body.push_str(&format!(
            "<Bucket><Name>{}</Name><CreationDate>{}</CreationDate></Bucket>",
            xml_escape(&c.name),
            iso(c.created_us)
        ));
    }
    body.push_str("</Buckets></ListAllMyBucketsResult>");
    Ok(xml(StatusCode::OK, body))
}

/// The settings S3 tools read back that a bucket here never has: the
/// answer S3 gives a bucket without them.
fn unset_setting(call: &Call) -> Option<S3Result<Response>> {
    let missing = |code: &'static str, message: &str| Some(Err(S3Error::new(404, code, message)));
    let empty = |root: &str, inner: &str| {
        let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{NS}\">{inner}</{root}>");
        Some(Ok(xml(StatusCode::OK, body)))
    };
    if call.has("tagging") {
        return missing("NoSuchTagSet", "The TagSet does not exist");
    }
    if call.has("policy") {
        return missing("NoSuchBucketPolicy", "The bucket policy does not exist");
    }
    if call.has("cors") {
        return missing("NoSuchCORSConfiguration", "The CORS configuration does not exist");
    }
    if call.has("lifecycle") {
        return missing("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist");
    }
    if call.has("website") {
        return missing("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration");
    }
    if call.has("encryption") {
        return missing(
            "ServerSideEncryptionConfigurationNotFoundError",
            "The server side encryption configuration was not found",
        );
    }
    if call.has("replication") {
        return missing("ReplicationConfigurationNotFoundError", "The replication configuration was not found");
    }
    if call.has("object-lock") {
        return missing(
            "ObjectLockConfigurationNotFoundError",
            "Object Lock configuration does not exist for this bucket",
        );
    }
    if call.has("ownershipControls") {
        return missing("OwnershipControlsNotFoundError", "The bucket ownership controls were not found");
    }
    if call.has("publicAccessBlock") {
        return missing("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found");
    }
    if call.has("versioning") {
        return empty("VersioningConfiguration", "");
    }
    if call.has("logging") {
        return empty("BucketLoggingStatus", "");
    }
    if call.has("accelerate") {
        return empty("AccelerateConfiguration", "");
    }
    if call.has("requestPayment") {
        return empty("RequestPaymentConfiguration", "<Payer>BucketOwner</Payer>");
    }
    if call.has("notification") {
        return empty("NotificationConfiguration", "");
    }
    None
}

/// The ACL S3 shows: the owner has full control, and everyone reads when
/// the container is public.
pub fn acl_body(call: &Call, public: bool) -> String {
    let (id, name) = call.owner();
    let owner = format!("<ID>{}</ID><DisplayName>{}</DisplayName>", xml_escape(&id), xml_escape(&name));
    let everyone = if public {
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>"
    } else {
        ""
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy xmlns=\"{NS}\"><Owner>{owner}</Owner><AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">{owner}</Grantee><Permission>FULL_CONTROL</Permission></Grant>{everyone}</AccessControlList></AccessControlPolicy>"
    )
}

/// A canned ACL (`x-amz-acl`) as the container's read ACL.
pub fn canned_acl(req: &Request) -> S3Result<Option<String>> {
    match req.headers().get("x-amz-acl").and_then(|v| v.to_str().ok()) {
        None | Some("private") => Ok(req.headers().get("x-amz-acl").map(|_| String::new())),
        Some("public-read") => Ok(Some(".r:*,.rlistings".into())),
        Some(other) => Err(S3Error::new(400, "InvalidArgument", &format!("The canned ACL {other} is not supported."))),
    }
}

pub async fn bucket(storage: &ObjectStorage, call: &Call, name: &str, req: Request) -> S3Result<Response> {
    let account = call.account()?.to_owned();
    let caller = &call.caller;
    match *req.method() {
        Method::PUT => {
            if call.has("acl") {
                let update = ContainerUpdate { read_acl: canned_acl(&req)?, ..Default::default() };
                storage.update_container(caller, &account, name, &update).await.map_err(bucket_error)?;
                return Ok(StatusCode::OK.into_response());
            }
            if !call.query.is_empty() {
                return Err(S3Error::not_implemented());
            }
            check_bucket_name(name)?;
            let update = ContainerUpdate { read_acl: canned_acl(&req)?, ..Default::default() };
            let made = storage.put_container(caller, &account, name, &update).await.map_err(bucket_error)?;
            if !made {
                return Err(S3Error::new(
                    409,
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                ));
            }
            Ok((StatusCode::OK, [("location", format!("/{name}"))]).into_response())
        }
        Method::HEAD => {
            storage.container(caller, &account, name).await.map_err(bucket_error)?;
            Ok((StatusCode::OK, [("x-amz-bucket-region", "us-east-1")]).into_response())
        }
        Method::DELETE => {
            if !call.query.is_empty() {
                // Removing a setting a bucket here never has.
                storage.container(caller, &account, name).await.map_err(bucket_error)?;
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            storage.delete_container(caller, &account, name).await.map_err(bucket_error)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Method::POST if call.has("delete") => delete_objects(storage, call, &account, name, req).await,
        Method::GET => {
            let container = storage.container(caller, &account, name).await.map_err(bucket_error)?;
            if call.has("location") {
                let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{NS}\"/>");
                return Ok(xml(StatusCode::OK, body));
            }
            if call.has("acl") {
                return Ok(xml(StatusCode::OK, acl_body(call, container.read_acl.contains(".r:*"))));
            }
            if call.has("uploads") {
                return super::multipart::list_uploads(storage, call, &account, name).await;
            }
            if let Some(answer) = unset_setting(call) {
                return answer;
            }
            list_objects(storage, call, &account, name).await
        }
        _ => Err(S3Error::new(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")),
    }
}

/// ListObjects (v1) and ListObjectsV2 (`list-type=2`).
async fn list_objects(storage: &ObjectStorage, call: &Call, account: &str, name: &str) -> S3Result<Response> {
    let v2 = call.param("list-type") == Some("2");
    let max_keys = match call.param("max-keys") {
        Some(m) => m
            .parse::<i64>()
            .map_err(|_| {
                S3Error::new(400, "InvalidArgument", "Provided max-keys not an integer or within integer range")
            })?
            .clamp(0, 1000),
        None => 1000,
    };
    let delimiter = match call.param("delimiter") {
        Some("") | None => None,
        Some(d) if d.chars().count() == 1 => d.chars().next(),
        Some(_) => return Err(S3Error::new(400, "InvalidArgument", "Only one-character delimiters are supported")),
    };
    let prefix = call.param("prefix").unwrap_or("").to_owned();
    let marker = if v2 {
        match call.param("continuation-token") {
            Some(t) => Some(decode_token(t)?),
            None => call.param("start-after").map(str::to_owned),
        }
    } else {
        call.param("marker").map(str::to_owned)
    };
    let url_encoded = call.param("encoding-type") == Some("url");
    let q = Listing {
        prefix: Some(prefix.clone()).filter(|p| !p.is_empty()),
        delimiter,
        marker: marker.clone(),
        end_marker: None,
        limit: Some(max_keys + 1),
        reverse: false,
    };
    let mut listed = storage.list_objects(&call.caller, account, name, &q).await.map_err(bucket_error)?;
    let truncated = listed.len() as i64 > max_keys;
    listed.truncate(max_keys as usize);
    let last = listed.last().map(|l| match l {
        Listed::Object(o) => o.name.clone(),
        Listed::Subdir(s) => s.clone(),
    });
    let text = |s: &str| if url_encoded { super::aws_encode(s, true) } else { xml_escape(s) };
    let (owner_id, owner_name) = call.owner();
    let fetch_owner = !v2 || call.param("fetch-owner") == Some("true");
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"{NS}\"><Name>{}</Name><Prefix>{}</Prefix><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        xml_escape(name),
        text(&prefix)
    );
    if let Some(d) = delimiter {
        body.push_str(&format!("<Delimiter>{}</Delimiter>", text(&d.to_string())));
    }
    if url_encoded {
        body.push_str("<EncodingType>url</EncodingType>");
    }
    if v2 {
        body.push_str(&format!("<KeyCount>{}</KeyCount>", listed.len()));
        if let Some(t) = call.param("continuation-token") {
            body.push_str(&format!("<ContinuationToken>{}</ContinuationToken>", xml_escape(t)));
        }
        if let Some(s) = call.param("start-after") {
            body.push_str(&format!("<StartAfter>{}</StartAfter>", text(s)));
        }
        if let (true, Some(last)) = (truncated, &last) {
            body.push_str(&format!("<NextContinuationToken>{}</NextContinuationToken>", encode_token(last)));
        }
    } else {
        body.push_str(&format!("<Marker>{}</Marker>", text(marker.as_deref().unwrap_or(""))));
        if let (true, Some(last), Some(_)) = (truncated, &last, delimiter) {
            body.push_str(&format!("<NextMarker>{}</NextMarker>", text(last)));
        }
    }
    for l in &listed {
        match l {
            Listed::Object(o) => {
                let etag = match &o.slo_etag {
                    Some(e) => format!("\"{e}\""),
                    None => format!("\"{}\"", o.etag),
                };
                body.push_str(&format!(
                    "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass>",
                    text(&o.name),
                    iso(o.modified_us),
                    xml_escape(&etag),
                    o.slo_size.unwrap_or(o.size)
                ));
                if fetch_owner {
                    body.push_str(&format!(
                        "<Owner><ID>{}</ID><DisplayName>{}</DisplayName></Owner>",
                        xml_escape(&owner_id),
                        xml_escape(&owner_name)
                    ));
                }
                body.push_str("</Contents>");
            }
            Listed::Subdir(s) => {
                body.push_str(&format!("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>", text(s)))
            }
        }
    }
    body.push_str("</ListBucketResult>");
    Ok(xml(StatusCode::OK, body))
}

fn encode_token(last: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(last.as_bytes())
}

fn decode_token(token: &str) -> S3Result<String> {
    use base64::Engine;
    let bad = || S3Error::new(400, "InvalidArgument", "The continuation token provided is incorrect");
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// DeleteObjects: `<Delete><Object><Key>..</Key></Object>...</Delete>`, at
/// most 1,000 keys; each missing key counts as deleted, as S3 has it.
async fn delete_objects(
    storage: &ObjectStorage,
    call: &Call,
    account: &str,
    name: &str,
    req: Request,
) -> S3Result<Response> {
    let body = axum::body::to_bytes(req.into_body(), 2 << 20)
        .await
        .map_err(|_| S3Error::new(400, "MalformedXML", "The XML you provided was not well-formed."))?;
    let text = String::from_utf8_lossy(&body);
    let quiet = element_text(&text, "Quiet").is_some_and(|q| q.eq_ignore_ascii_case("true"));
    let keys: Vec<String> = elements(&text, "Object").iter().filter_map(|o| element_text(o, "Key")).collect();
    if keys.is_empty() || keys.len() > 1000 {
        return Err(S3Error::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        ));
    }
    storage.container(&call.caller, account, name).await.map_err(bucket_error)?;
    let mut out = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"{NS}\">");
    for key in keys {
        match super::objects::delete_key(storage, call, account, name, &key).await {
            Ok(()) => {
                if !quiet {
                    out.push_str(&format!("<Deleted><Key>{}</Key></Deleted>", xml_escape(&key)));
                }
            }
            Err(e) => out.push_str(&format!(
                "<Error><Key>{}</Key><Code>{}</Code><Message>{}</Message></Error>",
                xml_escape(&key),
                e.code,
                xml_escape(&e.message)
            )),
        }
    }
    out.push_str("</DeleteResult>");
    Ok(xml(StatusCode::OK, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_s3s() {
        assert!(check_bucket_name("my-bucket.1").is_ok());
        for bad in ["ab", "Upper", "-start", "end-", "a..b", "under_score", &"a".repeat(64)] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
        assert_eq!(decode_token(&encode_token("k/é")).unwrap(), "k/é");
    }
}
