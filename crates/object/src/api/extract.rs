//! `PUT ...?extract-archive=tar|tar.gz`, as Swift's bulk middleware: each
//! regular file of the archive, read as it arrives, becomes an object
//! (under the URL's container and prefix, or, at the account, in the
//! container its path starts with, made when missing), each put as the
//! caller would put it alone; the answer lists what failed.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use http_body_util::channel::Channel;
use http_body_util::BodyExt;
use serde_json::json;

use oxistack_core::error::Error;

use super::{heartbeat, status_line, wants_json, ApiResult, SwiftError};
use crate::access::{Caller, Op};
use crate::archive::{Event, TarReader};
use crate::service::{ContainerUpdate, PutObject, MAX_CONTAINERS_PER_EXTRACTION, MAX_FAILED_EXTRACTIONS};
use crate::ObjectStorage;

/// What an extraction did, as Swift's bulk middleware reports it.
#[derive(Default)]
struct Extracted {
    created: usize,
    /// The request's own failure (`Response Status`, `Response Body`).
    failure: Option<(StatusCode, String)>,
    errors: Vec<(String, StatusCode)>,
}

impl Extracted {
    fn render(&self, json: bool) -> String {
        let (status, body) = match &self.failure {
            Some((s, body)) => (*s, body.clone()),
            None if self.errors.iter().any(|(_, s)| s.is_server_error()) => (StatusCode::BAD_GATEWAY, String::new()),
            None if !self.errors.is_empty() => (StatusCode::BAD_REQUEST, String::new()),
            None if self.created == 0 => (StatusCode::BAD_REQUEST, "Invalid Tar File: No Valid Files".into()),
            None => (StatusCode::CREATED, String::new()),
        };
        let errors: Vec<(String, String)> = self.errors.iter().map(|(n, s)| (n.clone(), status_line(*s))).collect();
        if json {
            return json!({"Number Files Created": self.created, "Response Body": body,
                "Response Status": status_line(status), "Errors": errors})
            .to_string();
        }
        let mut text = format!(
            "Number Files Created: {}\nResponse Body: {body}\nResponse Status: {}\nErrors:\n",
            self.created,
            status_line(status)
        );
        for (name, e) in errors {
            text.push_str(&format!("{name}, {e}\n"));
        }
        text
    }
}

/// The archive's format from the query, or None when it asks for none.
pub fn asked(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == "extract-archive").map(|(_, v)| v.to_ascii_lowercase())
}

pub async fn put(
    storage: &Arc<ObjectStorage>,
    caller: &Caller,
    account: &str,
    container: Option<&str>,
    prefix: &str,
    format: &str,
    req: Request,
) -> ApiResult<Response> {
    let gzip = match format.trim_start_matches('.') {
        "tar" => false,
        "tar.gz" | "tgz" => true,
        _ => return Err(SwiftError(Error::BadRequest("Unsupported archive format".into()))),
    };
    // One who may write nothing here is refused before the upload is read.
    match container {
        Some(c) => storage.authorize(caller, account, Some(c), Op::WriteObject).await?,
        None => storage.authorize(caller, account, None, Op::WriteContainer).await?,
    }
    let json = wants_json(req.headers());
    let base = match container {
        Some(c) if prefix.is_empty() => c.to_owned(),
        Some(c) => format!("{c}/{}", prefix.trim_end_matches('/')),
        None => String::new(),
    };
    let (storage, caller, account) = (storage.clone(), caller.clone(), account.to_owned());
    let body = req.into_body();
    let content_type = if json { "application/json; charset=utf-8" } else { "text/plain; charset=utf-8" };
    Ok(heartbeat(StatusCode::OK, content_type, async move {
        extract(&storage, &caller, &account, &base, gzip, body).await.render(json)
    }))
}

/// The upload read as it comes, a file at a time.
struct Upload {
    body: Body,
    reader: TarReader,
    events: std::collections::VecDeque<Event>,
    done: bool,
}

impl Upload {
    async fn next(&mut self) -> Result<Option<Event>, String> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(Some(e));
            }
            if self.done {
                return Ok(None);
            }
            let mut out = vec![];
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.reader.push(&data, &mut out)?;
                    }
                }
                Some(Err(e)) => return Err(format!("the upload could not be read: {e}")),
                None => {
                    self.done = true;
                    self.reader.finish(&mut out)?;
                }
            }
            self.events.extend(out);
        }
    }
}

async fn extract(
    storage: &ObjectStorage,
    caller: &Caller,
    account: &str,
    base: &str,
    gzip: bool,
    body: Body,
) -> Extracted {
    let mut out = Extracted::default();
    let mut upload = Upload { body, reader: TarReader::new(gzip), events: Default::default(), done: false };
    let mut containers: HashSet<String> = HashSet::new();
    let invalid = |e: String| Some((StatusCode::BAD_REQUEST, format!("Invalid Tar File: {e}")));
    loop {
        let (path, size) = match upload.next().await {
            Ok(None) => break,
            Ok(Some(Event::File { path, size })) => (path, size),
            Ok(Some(_)) => continue,
            Err(e) => {
                out.failure = invalid(e);
                break;
            }
        };
        let name = path.strip_prefix("./").unwrap_or(&path).trim_start_matches('/');
        let full = if base.is_empty() { name.to_owned() } else { format!("{base}/{name}") };
        let target = full.split_once('/').filter(|(c, o)| !c.is_empty() && !o.is_empty());
        let refused = match target {
            None => Some(StatusCode::BAD_REQUEST),
            Some((c, _)) if !containers.contains(c) => match make_container(storage, caller, account, c).await {
                Ok(()) if containers.len() < MAX_CONTAINERS_PER_EXTRACTION => {
                    containers.insert(c.to_owned());
                    None
                }
                Ok(()) => {
                    out.failure = Some((
                        StatusCode::BAD_REQUEST,
                        format!("More than {MAX_CONTAINERS_PER_EXTRACTION} containers to create from tar."),
                    ));
                    break;
                }
                Err(e) => Some(e.status()),
            },
            Some(_) => None,
        };
        let quoted = crate::s3::aws_encode(&full, true);
        // The file's data goes to its object as it is read; a refused one is
        // read past.
        let (mut tx, object_body) = Channel::<Bytes, std::io::Error>::new(4);
        let pump = async {
            loop {
                match upload.next().await {
                    Ok(Some(Event::Data(d))) => {
                        let _ = tx.send_data(d).await;
                    }
                    Ok(Some(_)) | Ok(None) => return Ok(()),
                    Err(e) => {
                        tx.abort(std::io::Error::other("the archive could not be read"));
                        return Err(e);
                    }
                }
            }
        };
        let store = async {
            let (c, o) = target?;
            if refused.is_some() {
                return None;
            }
            let put = PutObject {
                content_type: Some(crate::content::guess_type(o).to_owned()),
                length: Some(size),
                ..Default::default()
            };
            Some(storage.put_object(caller, account, c, o, Body::new(object_body), put).await)
        };
        let (pumped, stored) = tokio::join!(pump, store);
        if let Err(e) = pumped {
            out.failure = invalid(e);
            break;
        }
        match (refused, stored) {
            (Some(status), _) => out.errors.push((quoted, status)),
            (None, Some(Ok(_))) => out.created += 1,
            (None, Some(Err(e))) => {
                if e.status() == StatusCode::UNAUTHORIZED {
                    out.failure = Some((StatusCode::UNAUTHORIZED, String::new()));
                    break;
                }
                out.errors.push((quoted, e.status()));
            }
            (None, None) => out.errors.push((quoted, StatusCode::BAD_REQUEST)),
        }
        if out.errors.len() >= MAX_FAILED_EXTRACTIONS {
            out.failure = Some((StatusCode::BAD_REQUEST, "Max number of failed extractions exceeded".into()));
            break;
        }
    }
    out
}

/// The container a file goes to, made when it is missing. One the caller
/// may not read is left to the object's PUT to allow (a write ACL) or not.
async fn make_container(storage: &ObjectStorage, caller: &Caller, account: &str, name: &str) -> Result<(), Error> {
    match storage.container(caller, account, name).await {
        Ok(_) | Err(Error::Forbidden(_)) => Ok(()),
        Err(Error::NotFound(_)) => {
            storage.put_container(caller, account, name, &ContainerUpdate::default()).await.map(|_| ())
        }
        Err(e) => Err(e),
    }
}
