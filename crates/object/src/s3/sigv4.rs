//! AWS Signature Version 4, as S3 checks it: the `Authorization` header or
//! a presigned URL's query names an EC2 access key Identity knows, and the
//! signature over the canonical request must be the one its secret makes.
//! A signed payload hash is checked against the body as it streams in; an
//! `aws-chunked` body is unwrapped on the way.

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use http_body_util::channel::Channel;
use http_body_util::BodyExt;
use ring::{digest, hmac};

use oxistack_core::context::{Context, SharedValidator};

use super::S3Error;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's time may be from the server's (S3's 15 minutes).
const MAX_SKEW_SECS: i64 = 15 * 60;

/// What a request's signature covers of its body.
#[derive(Debug, PartialEq, Eq)]
pub enum Payload {
    Unsigned,
    /// The hex SHA-256 the body must have.
    Sha256(String),
    /// `aws-chunked` framing around the data (its chunk signatures are not
    /// checked: the seed signature covers the request's headers).
    Chunked,
}

/// The parts of a signature, from the header or the query.
#[derive(Debug)]
struct Signed {
    access: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
    amz_date: String,
    presigned_expires: Option<i64>,
    payload_hash: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// AWS's URI encoding: every byte but the unreserved ones as `%XX`.
pub fn aws_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| crate::content::percent_decode(s).unwrap_or_else(|| s.to_owned());
            (decode(k), decode(v))
        })
        .collect()
}

fn parse_header(auth: &str, parts: &Parts) -> Result<Signed, S3Error> {
    let rest = auth
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| S3Error::new(400, "InvalidArgument", "Unsupported Authorization Type"))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for item in rest.split(',') {
        let (k, v) = item.trim().split_once('=').unwrap_or(("", ""));
        match k {
            "Credential" => credential = Some(v.to_owned()),
            "SignedHeaders" => signed_headers = Some(v.to_owned()),
            "Signature" => signature = Some(v.to_owned()),
            _ => {}
        }
    }
    let malformed = || S3Error::new(400, "AuthorizationHeaderMalformed", "The authorization header is malformed.");
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(malformed());
    };
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let amz_date = header("x-amz-date")
        .ok_or_else(|| S3Error::access_denied("AWS authentication requires a valid Date or x-amz-date header"))?;
    let payload_hash = header("x-amz-content-sha256").unwrap_or_else(|| "UNSIGNED-PAYLOAD".into());
    signed(&credential, &signed_headers, signature, amz_date, None, payload_hash).ok_or_else(malformed)
}

fn parse_query(pairs: &[(String, String)]) -> Result<Signed, S3Error> {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let malformed = || S3Error::new(400, "AuthorizationQueryParametersError", "The presigned URL is malformed.");
    if get("X-Amz-Algorithm").as_deref() != Some(ALGORITHM) {
        return Err(malformed());
    }
    let (Some(credential), Some(headers), Some(signature), Some(amz_date), Some(expires)) = (
        get("X-Amz-Credential"),
        get("X-Amz-SignedHeaders"),
        get("X-Amz-Signature"),
        get("X-Amz-Date"),
        get("X-Amz-Expires").and_then(|e| e.parse::<i64>().ok()),
    ) else {
        return Err(malformed());
    };
    if !(1..=604_800).contains(&expires) {
        return Err(malformed());
    }
    let payload = get("X-Amz-Content-Sha256").unwrap_or_else(|| "UNSIGNED-PAYLOAD".into());
    signed(&credential, &headers, signature, amz_date, Some(expires), payload).ok_or_else(malformed)
}

fn signed(
    credential: &str,
    signed_headers: &str,
    signature: String,
    amz_date: String,
    presigned_expires: Option<i64>,
    payload_hash: String,
) -> Option<Signed> {
    let mut scope = credential.split('/');
    let (access, date, region, service, terminal) =
        (scope.next()?, scope.next()?, scope.next()?, scope.next()?, scope.next()?);
    if terminal != "aws4_request" || scope.next().is_some() {
        return None;
    }
    Some(Signed {
        access: access.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: signed_headers.split(';').map(|h| h.trim().to_ascii_lowercase()).collect(),
        signature,
        amz_date,
        presigned_expires,
        payload_hash,
    })
}

/// The canonical request SigV4 signs.
fn canonical_request(parts: &Parts, raw_path: &str, raw_query: &str, s: &Signed) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(raw_query)
        .into_iter()
        .filter(|(k, _)| !(s.presigned_expires.is_some() && k == "X-Amz-Signature"))
        .map(|(k, v)| (aws_encode(&k, false), aws_encode(&v, false)))
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers = String::new();
    for name in &s.signed_headers {
        let values: Vec<String> = parts
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!(
        "{}\n{raw_path}\n{}\n{headers}\n{}\n{}",
        parts.method,
        query.join("&"),
        s.signed_headers.join(";"),
        s.payload_hash
    )
}

fn signing_key(secret: &str, s: &Signed) -> hmac::Key {
    let step = |key: &[u8], data: &str| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes());
    let k = step(format!("AWS4{secret}").as_bytes(), &s.date);
    let k = step(k.as_ref(), &s.region);
    let k = step(k.as_ref(), &s.service);
    let k = step(k.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, k.as_ref())
}

/// `20240102T030405Z` as seconds since the epoch.
fn amz_time(s: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").ok().map(|t| t.and_utc().timestamp())
}

/// Who signed the request: `None` for a request with no signature (an
/// anonymous one); the user and project of the key when the signature is
/// right; S3's 403 (or 400 for a malformed one) otherwise.
pub async fn authenticate(
    validator: &SharedValidator,
    parts: &Parts,
    raw_path: &str,
    raw_query: &str,
) -> Result<Option<(Context, Payload)>, S3Error> {
    let pairs = query_pairs(raw_query);
    let s = match parts.headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(auth) if auth.starts_with("AWS ") => {
            return Err(S3Error::new(
                400,
                "InvalidRequest",
                "Signature Version 2 is not supported; sign requests with AWS4-HMAC-SHA256.",
            ))
        }
        Some(auth) => parse_header(auth, parts)?,
        None if pairs.iter().any(|(k, _)| k == "X-Amz-Algorithm") => parse_query(&pairs)?,
        None => return Ok(None),
    };
    let now = chrono::Utc::now().timestamp();
    let at = amz_time(&s.amz_date).ok_or_else(|| S3Error::access_denied("Invalid date format header"))?;
    if !s.amz_date.starts_with(&s.date) || s.service != "s3" {
        return Err(S3Error::new(
            400,
            "AuthorizationHeaderMalformed",
            "The credential scope does not match the request.",
        ));
    }
    match s.presigned_expires {
        Some(expires) if now > at + expires => return Err(S3Error::access_denied("Request has expired")),
        Some(_) if at > now + MAX_SKEW_SECS => return Err(S3Error::access_denied("Request is not valid yet")),
        None if (now - at).abs() > MAX_SKEW_SECS => {
            return Err(S3Error::new(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            ))
        }
        _ => {}
    }
    if !s.signed_headers.iter().any(|h| h == "host") {
        return Err(S3Error::access_denied("The host header must be signed."));
    }
    let (secret, ctx) = validator.ec2_credential(&s.access).await.map_err(S3Error::from)?.ok_or_else(|| {
        S3Error::new(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    })?;
    let canonical = canonical_request(parts, raw_path, raw_query, &s);
    let to_sign = format!(
        "{ALGORITHM}\n{}\n{}/{}/{}/aws4_request\n{}",
        s.amz_date,
        s.date,
        s.region,
        s.service,
        sha256_hex(canonical.as_bytes())
    );
    let given: Option<Vec<u8>> = (0..s.signature.len())
        .step_by(2)
        .map(|i| s.signature.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    let valid = given.is_some_and(|sig| hmac::verify(&signing_key(&secret, &s), to_sign.as_bytes(), &sig).is_ok());
    if !valid {
        tracing::debug!(canonical = %canonical, "S3 signature mismatch");
        return Err(S3Error::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ));
    }
    let payload = match s.payload_hash.as_str() {
        "UNSIGNED-PAYLOAD" => Payload::Unsigned,
        h if h.starts_with("STREAMING-") => Payload::Chunked,
        h if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Payload::Sha256(h.to_ascii_lowercase()),
        _ => {
            return Err(S3Error::new(
                400,
                "InvalidArgument",
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a SHA-256",
            ))
        }
    };
    Ok(Some((ctx, payload)))
}

/// The body as the object's data: checked against its signed hash (a
/// mismatch ends it in an error, so nothing is stored), or unwrapped from
/// `aws-chunked` framing.
pub fn body(body: Body, payload: &Payload) -> Body {
    match payload {
        Payload::Unsigned => body,
        Payload::Sha256(expected) if expected == EMPTY_SHA256 => body,
        Payload::Sha256(expected) => {
            let expected = expected.clone();
            let (mut tx, out) = Channel::<Bytes, std::io::Error>::new(4);
            tokio::spawn(async move {
                let mut body = body;
                let mut hash = digest::Context::new(&digest::SHA256);
                while let Some(frame) = body.frame().await {
                    let Ok(frame) = frame else { return };
                    if let Ok(data) = frame.into_data() {
                        hash.update(&data);
                        if tx.send_data(data).await.is_err() {
                            return;
                        }
                    }
                }
                if hex(hash.finish().as_ref()) != expected {
                    tx.abort(std::io::Error::other(CONTENT_SHA256_MISMATCH));
                }
            });
            Body::new(out)
        }
        Payload::Chunked => {
            let (mut tx, out) = Channel::<Bytes, std::io::Error>::new(4);
            tokio::spawn(async move {
                let mut body = body;
                let mut decoder = ChunkedDecoder::default();
                while let Some(frame) = body.frame().await {
                    let Ok(frame) = frame else { return };
                    let Ok(data) = frame.into_data() else { continue };
                    match decoder.feed(&data) {
                        Ok(chunks) => {
                            for c in chunks {
                                if tx.send_data(c).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            tx.abort(std::io::Error::other(e));
                            return;
                        }
                    }
                }
                if !decoder.done {
                    tx.abort(std::io::Error::other("the aws-chunked body ended before its last chunk"));
                }
            });
            Body::new(out)
        }
    }
}

pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
pub const CONTENT_SHA256_MISMATCH: &str =
    "The provided 'x-amz-content-sha256' header does not match what was computed.";

/// Unwraps `aws-chunked` framing: `<hex size>[;ext]\r\n<data>\r\n`,
/// ending with a chunk of size 0 (and trailers, which are dropped).
#[derive(Default)]
struct ChunkedDecoder {
    buf: Vec<u8>,
    /// Bytes of the current chunk's data still to come, then its CRLF.
    left: Option<usize>,
    done: bool,
}

impl ChunkedDecoder {
    fn feed(&mut self, data: &[u8]) -> Result<Vec<Bytes>, String> {
        let mut out = vec![];
        if self.done {
            return Ok(out);
        }
        self.buf.extend_from_slice(data);
        let mut at = 0;
        loop {
            match self.left {
                Some(n) => {
                    if self.buf.len() - at < n + 2 {
                        // Pass on what data there is; keep the rest.
                        let take = (self.buf.len() - at).min(n);
                        if take > 0 {
                            out.push(Bytes::copy_from_slice(&self.buf[at..at + take]));
                            at += take;
                            self.left = Some(n - take);
                        }
                        break;
                    }
                    out.push(Bytes::copy_from_slice(&self.buf[at..at + n]));
                    if &self.buf[at + n..at + n + 2] != b"\r\n" {
                        return Err("a chunk of the aws-chunked body does not end in CRLF".into());
                    }
                    at += n + 2;
                    self.left = None;
                }
                None => {
                    let Some(end) = self.buf[at..].windows(2).position(|w| w == b"\r\n") else {
                        if self.buf.len() - at > 4096 {
                            return Err("an aws-chunked header is too long".into());
                        }
                        break;
                    };
                    let line = String::from_utf8_lossy(&self.buf[at..at + end]).into_owned();
                    let size = line.split(';').next().unwrap_or_default().trim();
                    let size =
                        usize::from_str_radix(size, 16).map_err(|_| format!("a bad aws-chunked size {size:?}"))?;
                    at += end + 2;
                    if size == 0 {
                        self.done = true;
                        break;
                    }
                    self.left = Some(size);
                }
            }
        }
        self.buf.drain(..at);
        Ok(out.into_iter().filter(|b| !b.is_empty()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_bodies_are_unwrapped_across_reads() {
        let framed = b"5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n0;chunk-signature=x\r\nx-amz-checksum-crc32:AAAA\r\n\r\n";
        for split in [1, 3, 7, framed.len()] {
            let mut d = ChunkedDecoder::default();
            let mut got = vec![];
            for piece in framed.chunks(split) {
                for b in d.feed(piece).unwrap() {
                    got.extend_from_slice(&b);
                }
            }
            assert_eq!(got, b"hello world", "reads of {split}");
            assert!(d.done);
        }
        assert!(ChunkedDecoder::default().feed(b"zz\r\n").is_err());
    }

    #[test]
    fn the_signing_key_is_awss_example() {
        // The example of AWS's SigV4 documentation.
        let s = signed(
            "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request",
            "host;x-amz-date",
            String::new(),
            "20150830T123600Z".into(),
            None,
            String::new(),
        )
        .unwrap();
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &s);
        let sig = hmac::sign(&key, b"AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\nf536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
        assert_eq!(hex(sig.as_ref()), "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
        assert_eq!(aws_encode("a b/c~", false), "a%20b%2Fc~");
    }
}
