//! `OS_CLOUD`: a named cloud from `clouds.yaml`, merged with `secure.yaml`,
//! found where openstacksdk looks for them. Values there fill in whatever the
//! flags and `OS_*` variables left unset.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::cli::Global;
use crate::session::{Error, Result};

/// The files openstacksdk reads, first found wins: the variable's file, the
/// current directory, the user's config dir, then `/etc/openstack`.
fn candidates(variable: &str, name: &str) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Ok(p) = std::env::var(variable) {
        paths.push(PathBuf::from(p));
    }
    paths.push(PathBuf::from(name));
    let config = std::env::var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Ok(dir) = config {
        paths.push(dir.join("openstack").join(name));
    }
    paths.push(PathBuf::from("/etc/openstack").join(name));
    paths
}

fn load(variable: &str, name: &str) -> Result<Option<Value>> {
    for path in candidates(variable, name) {
        if let Ok(text) = std::fs::read_to_string(&path) {
            return parse(&text)
                .map(Some)
                .map_err(|e| Error::command(format!("Could not read {}: {e}", path.display())));
        }
    }
    Ok(None)
}

/// Deep merge of `secure.yaml` into `clouds.yaml`, as openstacksdk does.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Fills `g` from the cloud it names, if any.
pub fn apply(g: &mut Global) -> Result<()> {
    let Some(name) = g.cloud.clone().filter(|c| !c.is_empty()) else {
        return Ok(());
    };
    let mut clouds = load("OS_CLIENT_CONFIG_FILE", "clouds.yaml")?.unwrap_or(Value::Null);
    if let Some(secure) = load("OS_CLIENT_SECURE_FILE", "secure.yaml")? {
        merge(&mut clouds, &secure);
    }
    let cloud = clouds["clouds"][&name].as_object().cloned().ok_or_else(|| Error {
        class: "OpenStackConfigException".into(),
        message: format!("Cloud {name} was not found."),
        status: None,
    })?;
    let auth = cloud.get("auth").and_then(Value::as_object).cloned().unwrap_or_default();
    let text = |map: &Map<String, Value>, key: &str| -> Option<String> {
        match map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    let fill = |slot: &mut Option<String>, value: Option<String>| {
        if slot.is_none() {
            *slot = value;
        }
    };
    fill(&mut g.auth_url, text(&auth, "auth_url"));
    fill(&mut g.username, text(&auth, "username"));
    fill(&mut g.user_id, text(&auth, "user_id"));
    fill(&mut g.password, text(&auth, "password"));
    fill(&mut g.project_name, text(&auth, "project_name").or(text(&auth, "tenant_name")));
    fill(&mut g.project_id, text(&auth, "project_id").or(text(&auth, "tenant_id")));
    fill(&mut g.user_domain_name, text(&auth, "user_domain_name"));
    fill(&mut g.user_domain_id, text(&auth, "user_domain_id"));
    fill(&mut g.project_domain_name, text(&auth, "project_domain_name"));
    fill(&mut g.project_domain_id, text(&auth, "project_domain_id"));
    fill(&mut g.default_domain_id, text(&auth, "domain_id"));
    fill(&mut g.default_domain_name, text(&auth, "domain_name"));
    fill(&mut g.token, text(&auth, "token"));
    fill(&mut g.application_credential_id, text(&auth, "application_credential_id"));
    fill(&mut g.application_credential_name, text(&auth, "application_credential_name"));
    fill(&mut g.application_credential_secret, text(&auth, "application_credential_secret"));
    fill(&mut g.region_name, text(&cloud, "region_name"));
    fill(&mut g.interface, text(&cloud, "interface"));
    fill(&mut g.auth_type, text(&cloud, "auth_type"));
    fill(&mut g.compute_api_version, text(&cloud, "compute_api_version"));
    fill(&mut g.cacert, text(&cloud, "cacert"));
    if cloud.get("verify") == Some(&Value::Bool(false)) {
        g.insecure = true;
    }
    Ok(())
}

/// The part of YAML that `clouds.yaml` files use: nested mappings by
/// indentation, plain or quoted scalars, comments. Lists are skipped.
pub fn parse(text: &str) -> std::result::Result<Value, String> {
    let mut root = Map::new();
    // The open mappings, innermost last, each with its key's indentation.
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        if line.trim().is_empty() || line.trim() == "---" {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let content = line.trim();
        if content.starts_with("- ") || content == "-" {
            continue;
        }
        let (key, value) = content.split_once(':').ok_or_else(|| format!("line {}: expected `key: value`", n + 1))?;
        let key = unquote(key.trim());
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let mut target = &mut root;
        for (_, k) in &stack {
            target = match target.entry(k.clone()).or_insert_with(|| Value::Object(Map::new())) {
                Value::Object(m) => m,
                _ => return Err(format!("line {}: `{k}` is not a mapping", n + 1)),
            };
        }
        let value = value.trim();
        if value.is_empty() {
            target.insert(key.clone(), Value::Object(Map::new()));
            stack.push((indent, key));
        } else {
            target.insert(key, scalar(value));
        }
    }
    Ok(Value::Object(root))
}

fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i == 0 || line[..i].ends_with(' ') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(s: &str) -> String {
    if s.len() >= 2 && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\''))) {
        let inner = &s[1..s.len() - 1];
        if s.starts_with('"') {
            return inner.replace("\\\"", "\"").replace("\\\\", "\\");
        }
        return inner.replace("''", "'");
    }
    s.to_string()
}

fn scalar(s: &str) -> Value {
    if s.starts_with('"') || s.starts_with('\'') {
        return Value::String(unquote(s));
    }
    match s {
        "true" | "True" | "yes" => Value::Bool(true),
        "false" | "False" | "no" => Value::Bool(false),
        "null" | "~" => Value::Null,
        _ => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_clouds_file() {
        let text = "# generated\nclouds:\n  oxistack:\n    auth:\n      auth_url: \"http://127.0.0.1:5000/identity/v3\"\n      username: 'admin'\n      password: p#ss # comment\n    region_name: RegionOne\n    verify: false\n    identity_api_version: 3\n  other:\n    auth: {}\n";
        let v = parse(text).unwrap();
        assert_eq!(v["clouds"]["oxistack"]["auth"]["auth_url"], "http://127.0.0.1:5000/identity/v3");
        assert_eq!(v["clouds"]["oxistack"]["auth"]["username"], "admin");
        assert_eq!(v["clouds"]["oxistack"]["auth"]["password"], "p#ss");
        assert_eq!(v["clouds"]["oxistack"]["region_name"], "RegionOne");
        assert_eq!(v["clouds"]["oxistack"]["verify"], json!(false));
        assert_eq!(v["clouds"]["oxistack"]["identity_api_version"], json!(3));
        assert!(v["clouds"]["other"].is_object());
    }

    #[test]
    fn secure_values_merge_in() {
        let mut clouds = json!({"clouds": {"c": {"auth": {"username": "u"}}}});
        merge(&mut clouds, &json!({"clouds": {"c": {"auth": {"password": "secret"}}}}));
        assert_eq!(clouds, json!({"clouds": {"c": {"auth": {"username": "u", "password": "secret"}}}}));
    }
}
