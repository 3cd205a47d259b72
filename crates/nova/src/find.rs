//! Names or ids, resolved as python-novaclient's `utils.find_resource` does:
//! an id first, then an exact name, with its messages for no match and for
//! several.

use serde_json::Value;

use crate::session::{Error, Result, Session};

/// `uuidutils.is_uuid_like`: 32 hex digits, with or without the dashes.
pub fn uuid_like(s: &str) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) && (s.len() == 32 || s.len() == 36)
}

pub fn query(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    format!("?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
}

fn no_match(kind: &str, key: &str) -> Error {
    Error::command(format!("No {kind} with a name or ID of '{key}' exists."))
}

fn several(kind: &str, key: &str) -> Error {
    Error::command(format!("Multiple {kind} matches found for '{key}', use an ID to be more specific."))
}

/// A server (the full `server` object) by id or exact name.
pub async fn server(s: &mut Session, key: &str) -> Result<Value> {
    if uuid_like(key) {
        match s.get(&format!("/servers/{key}")).await {
            Ok(body) => return Ok(body["server"].clone()),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    let body = s.get(&format!("/servers{}", query(&[("name", key.to_string())]))).await?;
    let matches: Vec<&Value> = body["servers"].as_array().into_iter().flatten().filter(|v| v["name"] == key).collect();
    match matches.as_slice() {
        [one] => {
            let id = one["id"].as_str().unwrap_or_default().to_string();
            Ok(s.get(&format!("/servers/{id}")).await?["server"].clone())
        }
        [] => Err(no_match("server", key)),
        _ => Err(several("server", key)),
    }
}

/// A flavor by id (ids need not be UUIDs), then by exact name.
pub async fn flavor(s: &mut Session, key: &str) -> Result<Value> {
    match s.get(&format!("/flavors/{}", path_segment(key))).await {
        Ok(body) => return Ok(body["flavor"].clone()),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    let body = s.get("/flavors/detail?is_public=None").await?;
    let matches: Vec<&Value> = body["flavors"].as_array().into_iter().flatten().filter(|v| v["name"] == key).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(no_match("flavor", key)),
        _ => Err(several("flavor", key)),
    }
}

/// An image from the Image service by id, or by exact name.
pub async fn image(s: &mut Session, key: &str) -> Result<Value> {
    if uuid_like(key) {
        return s.service_get("image", &format!("/v2/images/{key}")).await.map_err(|e| Error::command(e.message));
    }
    let body = s.service_get("image", &format!("/v2/images{}", query(&[("name", key.to_string())]))).await?;
    let matches: Vec<&Value> = body["images"].as_array().into_iter().flatten().collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::command(format!("No Image matching {key}. (HTTP 404)"))),
        _ => Err(Error::command(format!("Multiple Image matches found for '{key}', use an ID to be more specific."))),
    }
}

/// A name or id made safe to stand in a URL path.
pub fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_with_and_without_dashes() {
        assert!(uuid_like("095c621a-6382-44b4-aebe-6225ac60a2e0"));
        assert!(uuid_like("095c621a638244b4aebe6225ac60a2e0"));
        assert!(!uuid_like("instance1"));
        assert!(!uuid_like("095c621a-6382-44b4-aebe-6225ac60a2e"));
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("m1.tiny"), "m1.tiny");
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
    }
}
