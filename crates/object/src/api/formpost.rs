//! Swift's FormPost: a browser form (`multipart/form-data`) POSTed without
//! a token to `/v1/<account>/<container>[/<prefix>]`, signed with a
//! TempURL key over its path, `redirect`, `max_file_size`,
//! `max_file_count` and `expires`; each file field becomes the object
//! `<prefix><filename>`. The body is read as it comes: fields first (small,
//! bounded), files streamed into Object Storage as any PUT.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::channel::Channel;
use http_body_util::BodyExt;

use oxistack_core::error::Error;

use super::{ApiResult, SwiftError};
use crate::access::FormPost;
use crate::service::PutObject;
use crate::ObjectStorage;

/// The largest form field that is not a file.
const MAX_FIELD: usize = 8192;

fn bad(m: &str) -> SwiftError {
    SwiftError(Error::BadRequest(format!("FormPost: {m}")))
}

/// A `multipart/form-data` body, read part by part.
struct Multipart {
    body: Body,
    buf: Vec<u8>,
    /// `\r\n--<boundary>`.
    delimiter: Vec<u8>,
    ended: bool,
}

/// One part's headers.
#[derive(Default)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
}

/// A parameter of a `Content-Disposition` line (`name="x"`).
fn parameter(line: &str, key: &str) -> Option<String> {
    line.split(';').map(str::trim).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_owned())
    })
}

impl Multipart {
    async fn fill(&mut self) -> ApiResult<bool> {
        match self.body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    self.buf.extend_from_slice(&data);
                }
                Ok(true)
            }
            Some(Err(e)) => Err(bad(&format!("the form could not be read: {e}"))),
            None => Ok(false),
        }
    }

    fn find(&self, needle: &[u8]) -> Option<usize> {
        self.buf.windows(needle.len()).position(|w| w == needle)
    }

    /// Skips to the first part (the preamble and the first boundary).
    async fn start(&mut self) -> ApiResult<()> {
        // The first boundary has no CRLF before it.
        let first = self.delimiter[2..].to_vec();
        loop {
            if let Some(at) = self.find(&first) {
                self.buf.drain(..at + first.len());
                return Ok(());
            }
            if self.buf.len() > MAX_FIELD || !self.fill().await? {
                return Err(bad("the form has no boundary"));
            }
        }
    }

    /// The next part's headers; `None` after the last part.
    async fn next_part(&mut self) -> ApiResult<Option<Part>> {
        loop {
            if self.ended {
                return Ok(None);
            }
            if self.buf.len() >= 2 && &self.buf[..2] == b"--" {
                self.ended = true;
                return Ok(None);
            }
            if let Some(at) = self.find(b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                self.buf.drain(..at + 4);
                let mut part = Part::default();
                for line in head.split("\r\n") {
                    let Some((k, v)) = line.split_once(':') else { continue };
                    if k.trim().eq_ignore_ascii_case("content-disposition") {
                        part.name = parameter(v, "name").unwrap_or_default();
                        part.filename = parameter(v, "filename");
                    } else if k.trim().eq_ignore_ascii_case("content-type") {
                        part.content_type = Some(v.trim().to_owned());
                    }
                }
                return Ok(Some(part));
            }
            if self.buf.len() > MAX_FIELD || !self.fill().await? {
                return Err(bad("a part of the form has no end to its headers"));
            }
        }
    }

    /// The next piece of the current part's data; `None` at its end.
    async fn chunk(&mut self) -> ApiResult<Option<Bytes>> {
        loop {
            if let Some(at) = self.find(&self.delimiter.clone()) {
                if at > 0 {
                    let data: Vec<u8> = self.buf.drain(..at).collect();
                    return Ok(Some(data.into()));
                }
                self.buf.drain(..self.delimiter.len());
                // What follows the boundary: CRLF before another part, `--` at the end.
                while self.buf.len() < 2 {
                    if !self.fill().await? {
                        return Err(bad("the form ends in a boundary"));
                    }
                }
                if &self.buf[..2] == b"\r\n" {
                    self.buf.drain(..2);
                }
                return Ok(None);
            }
            // All but what could be the start of the delimiter is data.
            let keep = self.delimiter.len() - 1;
            if self.buf.len() > keep + (64 << 10) {
                let data: Vec<u8> = self.buf.drain(..self.buf.len() - keep).collect();
                return Ok(Some(data.into()));
            }
            if !self.fill().await? {
                return Err(bad("the form ends in the middle of a part"));
            }
        }
    }

    async fn text(&mut self) -> ApiResult<String> {
        let mut out = vec![];
        while let Some(c) = self.chunk().await? {
            out.extend_from_slice(&c);
            if out.len() > MAX_FIELD {
                return Err(bad("a form field is too long"));
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// The fields a form signs, as given.
#[derive(Default)]
struct Fields {
    redirect: String,
    max_file_size: String,
    max_file_count: String,
    expires: String,
    signature: String,
}

fn answer(redirect: &str, status: u16, message: &str) -> Response {
    if !redirect.is_empty() {
        let sep = if redirect.contains('?') { '&' } else { '?' };
        let to = format!("{redirect}{sep}status={status}&message={}", crate::s3::aws_encode(message, false));
        return (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body =
        format!("<html><h1>{} {}</h1><p>FormPost: {message}</p></html>", status, code.canonical_reason().unwrap_or(""));
    (code, [(header::CONTENT_TYPE, "text/html; charset=UTF-8")], body).into_response()
}

pub async fn post(
    storage: &ObjectStorage,
    account: &str,
    container: &str,
    prefix: &str,
    req: Request,
) -> ApiResult<Response> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let boundary = parameter(content_type, "boundary").filter(|b| !b.is_empty()).ok_or_else(|| bad("no boundary"))?;
    let mut form = Multipart {
        body: req.into_body(),
        buf: vec![],
        delimiter: format!("\r\n--{boundary}").into_bytes(),
        ended: false,
    };
    form.start().await?;
    let mut fields = Fields::default();
    let mut caller = None;
    let mut files = 0u64;
    while let Some(part) = form.next_part().await? {
        let Some(filename) = part.filename.clone() else {
            let value = form.text().await?;
            match part.name.as_str() {
                "redirect" => fields.redirect = value,
                "max_file_size" => fields.max_file_size = value,
                "max_file_count" => fields.max_file_count = value,
                "expires" => fields.expires = value,
                "signature" => fields.signature = value,
                _ => {}
            }
            continue;
        };
        // The first file: the form's signature decides.
        if caller.is_none() {
            let signed = FormPost {
                account,
                container,
                prefix,
                redirect: &fields.redirect,
                max_file_size: &fields.max_file_size,
                max_file_count: &fields.max_file_count,
                expires: &fields.expires,
                signature: &fields.signature,
            };
            match storage.form_post_caller(&signed, chrono::Utc::now().timestamp()).await {
                Ok(c) => caller = Some(c),
                Err(Error::Unauthorized(m)) => {
                    let m = m.trim_start_matches("FormPost: ").to_owned();
                    return Ok(answer("", 401, &m));
                }
                Err(e) => return Err(SwiftError(e)),
            }
        }
        let Some(caller) = caller.as_ref() else { continue };
        let max_size = fields.max_file_size.parse::<u64>().map_err(|_| bad("max_file_size must be a number"))?;
        let max_count = fields.max_file_count.parse::<u64>().map_err(|_| bad("max_file_count must be a number"))?;
        if filename.is_empty() {
            while form.chunk().await?.is_some() {}
            continue;
        }
        files += 1;
        if files > max_count {
            return Ok(answer(&fields.redirect, 400, "max_file_count exceeded"));
        }
        let name = format!("{prefix}{}", filename.rsplit(['/', '\\']).next().unwrap_or(&filename));
        let (mut tx, body) = Channel::<Bytes, std::io::Error>::new(4);
        let put = PutObject {
            content_type: part.content_type.clone().or_else(|| Some("application/octet-stream".into())),
            ..Default::default()
        };
        let pump = async {
            let mut sent = 0u64;
            loop {
                match form.chunk().await {
                    Ok(Some(c)) => {
                        sent += c.len() as u64;
                        if sent > max_size {
                            tx.abort(std::io::Error::other("max_file_size exceeded"));
                            return Ok(false);
                        }
                        if tx.send_data(c).await.is_err() {
                            return Ok(true);
                        }
                    }
                    Ok(None) => return Ok(true),
                    Err(e) => {
                        tx.abort(std::io::Error::other("the form could not be read"));
                        return Err(e);
                    }
                }
            }
        };
        let (pumped, stored) =
            tokio::join!(pump, storage.put_object(caller, account, container, &name, Body::new(body), put));
        if !pumped? {
            return Ok(answer(&fields.redirect, 400, "max_file_size exceeded"));
        }
        if let Err(e) = stored {
            let status = e.status().as_u16();
            return Ok(answer(&fields.redirect, status, &e.public_message()));
        }
    }
    if caller.is_none() {
        return Ok(answer(&fields.redirect, 400, "no files to process"));
    }
    Ok(answer(&fields.redirect, 201, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn forms_are_read_part_by_part_across_reads() {
        let body = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"expires\"\r\n\r\n1234\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file1\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nline one\r\n--Xy not yet\r\n--XyZ--\r\n";
        // Read five bytes at a time: every boundary falls across reads.
        let reads = tokio_util::io::ReaderStream::with_capacity(std::io::Cursor::new(body.as_bytes().to_vec()), 5);
        let mut form =
            Multipart { body: Body::from_stream(reads), buf: vec![], delimiter: b"\r\n--XyZ".to_vec(), ended: false };
        form.start().await.unwrap();
        let p = form.next_part().await.unwrap().unwrap();
        assert_eq!((p.name.as_str(), p.filename.as_deref()), ("expires", None));
        assert_eq!(form.text().await.unwrap(), "1234");
        let p = form.next_part().await.unwrap().unwrap();
        assert_eq!((p.filename.as_deref(), p.content_type.as_deref()), (Some("a.txt"), Some("text/plain")));
        assert_eq!(form.text().await.unwrap(), "line one\r\n--Xy not yet");
        assert!(form.next_part().await.unwrap().is_none());
    }
}
