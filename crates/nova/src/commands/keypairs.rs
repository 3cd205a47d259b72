//! Keypair commands.

use serde_json::{json, Value};

use crate::find::{path_segment, query};
use crate::session::{Error, Result, Session};
use crate::table::{self, Table};

pub async fn add(s: &mut Session, name: &str, pub_key: Option<&str>, key_type: &str, user: Option<&str>) -> Result<()> {
    let public_key = match pub_key {
        Some("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| Error::command(format!("Can't read the public key from stdin: {e}")))?;
            Some(text)
        }
        Some(path) => {
            let expanded = match path.strip_prefix("~/") {
                Some(rest) => format!("{}/{rest}", std::env::var("HOME").unwrap_or_default()),
                None => path.to_string(),
            };
            Some(std::fs::read_to_string(&expanded).map_err(|e| {
                Error::command(format!(
                    "Can't open or read '{path}': [Errno {}] {}: '{path}'",
                    e.raw_os_error().unwrap_or(0),
                    io_message(&e)
                ))
            })?)
        }
        None => None,
    };
    let mut keypair = json!({"name": name});
    if let Some(k) = &public_key {
        keypair["public_key"] = json!(k);
    }
    if s.version.at_least(2, 2) {
        keypair["type"] = json!(key_type);
    }
    if let Some(u) = user {
        keypair["user_id"] = json!(u);
    }
    let created = s.post("/os-keypairs", &json!({"keypair": keypair})).await?;
    if public_key.is_none() {
        println!("{}", created["keypair"]["private_key"].as_str().unwrap_or_default());
    }
    Ok(())
}

/// Python's wording of an I/O error (`No such file or directory`).
fn io_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_string()
}

pub async fn list(s: &mut Session, user: Option<String>, marker: Option<String>, limit: Option<u64>) -> Result<()> {
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(u) = user {
        q.push(("user_id", u));
    }
    if let Some(m) = marker {
        q.push(("marker", m));
    }
    if let Some(l) = limit {
        q.push(("limit", l.to_string()));
    }
    let body = s.get(&format!("/os-keypairs{}", query(&q))).await?;
    let columns: &[&str] =
        if s.version.at_least(2, 2) { &["Name", "Type", "Fingerprint"] } else { &["Name", "Fingerprint"] };
    let mut t = Table::new(columns);
    for k in body["keypairs"].as_array().into_iter().flatten() {
        let k = &k["keypair"];
        t.push(columns.iter().map(|c| table::field(k, c)).collect());
    }
    t.print();
    Ok(())
}

pub async fn show(s: &mut Session, name: &str, user: Option<&str>) -> Result<()> {
    let q = user.map(|u| query(&[("user_id", u.to_string())])).unwrap_or_default();
    let body = s.get(&format!("/os-keypairs/{}{q}", path_segment(name))).await?;
    let mut kp = body["keypair"].as_object().cloned().unwrap_or_default();
    let public_key = kp.remove("public_key").unwrap_or(Value::Null);
    table::print_dict(&kp);
    println!("Public key: {}", table::py_str(&public_key));
    Ok(())
}

pub async fn delete(s: &mut Session, name: &str, user: Option<&str>) -> Result<()> {
    let q = user.map(|u| query(&[("user_id", u.to_string())])).unwrap_or_default();
    s.delete(&format!("/os-keypairs/{}{q}", path_segment(name))).await?;
    Ok(())
}
