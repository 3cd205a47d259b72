//! Reading request bodies as Neutron validates them: unknown attributes
//! refused, each value of its type, messages as Neutron words them.

use serde_json::{Map, Value};

use crate::{NeutronError, Result};

pub type Body = Map<String, Value>;

/// Refuses attributes outside `allowed`.
pub fn only(body: &Body, allowed: &[&str]) -> Result<()> {
    let unknown: Vec<&str> = body.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(NeutronError::bad_request(format!("Unrecognized attribute(s) '{}'", unknown.join(", "))))
}

pub fn string(body: &Body, key: &str) -> Result<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= 255 => Ok(Some(s.clone())),
        Some(other) => {
            Err(NeutronError::bad_request(format!("Invalid input for {key}. Reason: '{other}' is not a valid string.")))
        }
    }
}

pub fn boolean(body: &Body, key: &str) -> Result<Option<bool>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if matches!(s.to_ascii_lowercase().as_str(), "true" | "1") => Ok(Some(true)),
        Some(Value::String(s)) if matches!(s.to_ascii_lowercase().as_str(), "false" | "0") => Ok(Some(false)),
        Some(other) => Err(NeutronError::bad_request(format!(
            "Invalid input for {key}. Reason: '{other}' cannot be converted to boolean."
        ))),
    }
}

pub fn integer(body: &Body, key: &str) -> Result<Option<i64>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
        Some(Value::String(s)) if s.parse::<i64>().is_ok() => Ok(s.parse().ok()),
        Some(other) => {
            Err(NeutronError::bad_request(format!("Invalid input for {key}. Reason: '{other}' is not an integer.")))
        }
    }
}

pub fn list(body: &Body, key: &str) -> Result<Option<Vec<Value>>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a.clone())),
        Some(other) => {
            Err(NeutronError::bad_request(format!("Invalid input for {key}. Reason: '{other}' is not a list.")))
        }
    }
}

pub fn strings(body: &Body, key: &str) -> Result<Option<Vec<String>>> {
    match list(body, key)? {
        None => Ok(None),
        Some(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(NeutronError::bad_request(format!(
                    "Invalid input for {key}. Reason: '{other}' is not a valid string."
                ))),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
    }
}

/// Attributes only an admin may set.
pub fn admin_only(ctx: &oxistack_core::Context, body: &Body, action: &str, keys: &[&str]) -> Result<()> {
    if ctx.is_admin() {
        return Ok(());
    }
    match keys.iter().find(|k| body.contains_key(**k)) {
        Some(k) => Err(NeutronError::policy(action, k)),
        None => Ok(()),
    }
}
