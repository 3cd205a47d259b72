//! Flavor commands.

use serde_json::{json, Map, Value};

use crate::find::{self, query};
use crate::session::{Error, Result, Session};
use crate::table::{self, Table};

/// `_print_flavor_list`, columns as python-novaclient names them.
pub fn print_list(s: &Session, flavors: &[Value], extra_specs: bool) {
    let mut columns =
        vec!["ID", "Name", "Memory_MiB", "Disk", "Ephemeral", "Swap", "VCPUs", "RXTX_Factor", "Is_Public"];
    if extra_specs {
        columns.push("extra_specs");
    }
    if s.version.at_least(2, 55) {
        columns.push("Description");
    }
    let mut t = Table::new(&columns);
    for f in flavors {
        let na = json!("N/A");
        t.push(
            columns
                .iter()
                .map(|c| {
                    let v = match *c {
                        "Memory_MiB" => f.get("ram"),
                        "Ephemeral" => Some(f.get("OS-FLV-EXT-DATA:ephemeral").unwrap_or(&na)),
                        "Is_Public" => Some(f.get("os-flavor-access:is_public").unwrap_or(&na)),
                        other => f.get(other.to_lowercase()),
                    };
                    table::cell(Some(v.unwrap_or(&json!(""))))
                })
                .collect(),
        );
    }
    t.print();
}

pub async fn list(
    s: &mut Session,
    extra_specs: bool,
    all: bool,
    paging: (Option<String>, Option<u64>),
    minimums: (Option<u64>, Option<u64>),
    sort: (Option<String>, Option<String>),
) -> Result<()> {
    let mut q: Vec<(&str, String)> = Vec::new();
    if all {
        q.push(("is_public", "None".into()));
    } else {
        if let Some(m) = paging.0 {
            q.push(("marker", m));
        }
        if let Some(l) = paging.1 {
            q.push(("limit", l.to_string()));
        }
    }
    if let Some(d) = minimums.0 {
        q.push(("minDisk", d.to_string()));
    }
    if let Some(r) = minimums.1 {
        q.push(("minRam", r.to_string()));
    }
    if let Some(k) = sort.0 {
        q.push(("sort_key", k));
    }
    if let Some(d) = sort.1 {
        q.push(("sort_dir", d));
    }
    let body = s.get(&format!("/flavors/detail{}", query(&q))).await?;
    let mut flavors = body["flavors"].as_array().cloned().unwrap_or_default();
    if extra_specs && !s.version.at_least(2, 61) {
        for f in &mut flavors {
            let id = find::path_segment(f["id"].as_str().unwrap_or_default());
            f["extra_specs"] = s.get(&format!("/flavors/{id}/os-extra_specs")).await?["extra_specs"].clone();
        }
    }
    print_list(s, &flavors, extra_specs);
    Ok(())
}

pub async fn show(s: &mut Session, key: &str) -> Result<()> {
    let flavor = find::flavor(s, key).await?;
    let mut info = flavor.as_object().cloned().unwrap_or_default();
    info.remove("links");
    if !info.contains_key("extra_specs") {
        let id = find::path_segment(flavor["id"].as_str().unwrap_or_default());
        let specs = match s.get(&format!("/flavors/{id}/os-extra_specs")).await {
            Ok(body) => body["extra_specs"].clone(),
            Err(e) if e.is_not_found() => json!("N/A"),
            Err(e) => return Err(e),
        };
        info.insert("extra_specs".into(), specs);
    }
    table::print_dict(&info);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn create(
    s: &mut Session,
    name: &str,
    id: &str,
    size: (u64, u64, u64),
    ephemeral: u64,
    swap: u64,
    rxtx: f64,
    is_public: &str,
    description: Option<&str>,
) -> Result<()> {
    let public = match is_public.to_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "y" | "t" => true,
        "false" | "0" | "no" | "off" | "n" | "f" => false,
        other => return Err(Error::command(format!("Unrecognized value '{other}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"))),
    };
    let (ram, disk, vcpus) = size;
    let mut flavor = json!({
        "name": name, "ram": ram, "vcpus": vcpus, "disk": disk,
        "id": if id == "auto" { Value::Null } else { json!(id) },
        "swap": swap, "OS-FLV-EXT-DATA:ephemeral": ephemeral, "rxtx_factor": rxtx,
        "os-flavor-access:is_public": public,
    });
    if let Some(d) = description {
        flavor["description"] = json!(d);
    }
    let created = s.post("/flavors", &json!({"flavor": flavor})).await?;
    print_list(s, &[created["flavor"].clone()], false);
    Ok(())
}

pub async fn delete(s: &mut Session, key: &str) -> Result<()> {
    let flavor = find::flavor(s, key).await?;
    let id = find::path_segment(flavor["id"].as_str().unwrap_or_default());
    s.delete(&format!("/flavors/{id}")).await?;
    print_list(s, &[flavor], false);
    Ok(())
}

pub async fn key(s: &mut Session, key: &str, action: &str, items: &[String]) -> Result<()> {
    let flavor = find::flavor(s, key).await?;
    let id = find::path_segment(flavor["id"].as_str().unwrap_or_default());
    match action {
        "set" => {
            let mut specs = Map::new();
            for item in items {
                let (k, v) =
                    item.split_once('=').ok_or_else(|| Error::command(format!("Invalid key-value '{item}'")))?;
                specs.insert(k.into(), json!(v));
            }
            s.post(&format!("/flavors/{id}/os-extra_specs"), &json!({"extra_specs": specs})).await?;
        }
        "unset" => {
            for item in items {
                s.delete(&format!("/flavors/{id}/os-extra_specs/{}", find::path_segment(item))).await?;
            }
        }
        other => {
            return Err(Error::command(format!(
                "argument <action>: invalid choice: '{other}' (choose from 'set', 'unset')"
            )))
        }
    }
    Ok(())
}

fn print_access(access: &Value) {
    let mut t = Table::new(&["Flavor_ID", "Tenant_ID"]);
    for a in access["flavor_access"].as_array().into_iter().flatten() {
        t.push(vec![table::cell(a.get("flavor_id")), table::cell(a.get("tenant_id"))]);
    }
    t.print();
}

pub async fn access(s: &mut Session, key: &str, change: Option<(&str, &str)>) -> Result<()> {
    let flavor = find::flavor(s, key).await?;
    let id = find::path_segment(flavor["id"].as_str().unwrap_or_default());
    let answer = match change {
        Some((verb, tenant)) => s.post(&format!("/flavors/{id}/action"), &json!({verb: {"tenant": tenant}})).await?,
        None => s.get(&format!("/flavors/{id}/os-flavor-access")).await?,
    };
    print_access(&answer);
    Ok(())
}
