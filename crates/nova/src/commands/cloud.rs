//! The cloud's own resources: availability zones, hypervisors, services,
//! server groups, aggregates and API versions.

use serde_json::{json, Map, Value};

use crate::find::{path_segment, query};
use crate::session::{Error, Result, Session, MAX_VERSION, MIN_VERSION};
use crate::table::{self, Table};

pub async fn availability_zones(s: &mut Session) -> Result<()> {
    let body = match s.get("/os-availability-zone/detail").await {
        Ok(b) => b,
        Err(e) if e.status == Some(403) => s.get("/os-availability-zone").await.map_err(|_| e)?,
        Err(e) => return Err(e),
    };
    let mut t = Table::new(&["Name", "Status"]);
    for zone in body["availabilityZoneInfo"].as_array().into_iter().flatten() {
        let available = zone["zoneState"]["available"].as_bool().unwrap_or(false);
        t.push(vec![
            table::cell(zone.get("zoneName")),
            if available { "available" } else { "not available" }.to_string(),
        ]);
        let mut hosts: Vec<(&String, &Value)> = zone["hosts"].as_object().into_iter().flatten().collect();
        hosts.sort_by(|a, b| a.0.cmp(b.0));
        for (host, services) in hosts {
            t.push(vec![format!("|- {host}"), String::new()]);
            for (service, state) in services.as_object().into_iter().flatten() {
                let active = if state["active"].as_bool().unwrap_or(false) { "enabled" } else { "disabled" };
                let up = if state["available"].as_bool().unwrap_or(false) { ":-)" } else { "XXX" };
                t.push(vec![
                    format!("| |- {service}"),
                    format!("{active} {up} {}", table::py_str(&state["updated_at"])),
                ]);
            }
        }
    }
    t.print();
    Ok(())
}

pub async fn hypervisor_list(
    s: &mut Session,
    matching: Option<String>,
    marker: Option<String>,
    limit: Option<u64>,
) -> Result<()> {
    let body = match matching {
        Some(m) if s.version.at_least(2, 53) => {
            s.get(&format!("/os-hypervisors{}", query(&[("hypervisor_hostname_pattern", m)]))).await?
        }
        Some(m) => s.get(&format!("/os-hypervisors/{}/search", path_segment(&m))).await?,
        None => {
            let mut q: Vec<(&str, String)> = Vec::new();
            if let Some(l) = limit {
                q.push(("limit", l.to_string()));
            }
            if let Some(m) = marker {
                q.push(("marker", m));
            }
            s.get(&format!("/os-hypervisors{}", query(&q))).await?
        }
    };
    let mut t = Table::new(&["ID", "Hypervisor hostname", "State", "Status"]);
    for h in body["hypervisors"].as_array().into_iter().flatten() {
        t.push(vec![
            table::cell(h.get("id")),
            table::cell(h.get("hypervisor_hostname")),
            table::cell(h.get("state")),
            table::cell(h.get("status")),
        ]);
    }
    t.print();
    Ok(())
}

/// `utils.flatten_dict`: nested objects become `outer_inner` keys.
fn flatten(prefix: Option<&str>, value: &Value, out: &mut Map<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = prefix.map_or(k.clone(), |p| format!("{p}_{k}"));
                match v {
                    Value::Object(inner) if !inner.is_empty() => flatten(Some(&key), v, out),
                    _ => {
                        out.insert(key, v.clone());
                    }
                }
            }
        }
        other => {
            out.insert(prefix.unwrap_or_default().to_string(), other.clone());
        }
    }
}

pub async fn hypervisor_show(s: &mut Session, key: &str, wrap: usize) -> Result<()> {
    let id = if key.chars().all(|c| c.is_ascii_digit()) || crate::find::uuid_like(key) {
        key.to_string()
    } else {
        let body =
            s.get(&format!("/os-hypervisors{}", query(&[("hypervisor_hostname_pattern", key.to_string())]))).await?;
        let found: Vec<&Value> =
            body["hypervisors"].as_array().into_iter().flatten().filter(|h| h["hypervisor_hostname"] == key).collect();
        match found.as_slice() {
            [one] => one["id"].as_str().map(str::to_string).unwrap_or_else(|| one["id"].to_string()),
            [] => return Err(Error::command(format!("No hypervisor with a name or ID of '{key}' exists."))),
            _ => {
                return Err(Error::command(format!(
                    "Multiple hypervisor matches found for '{key}', use an ID to be more specific."
                )))
            }
        }
    };
    let body = s.get(&format!("/os-hypervisors/{}", path_segment(&id))).await?;
    let mut info = body["hypervisor"].as_object().cloned().unwrap_or_default();
    if let Some(service) = info.remove("service") {
        info.insert("service_id".into(), service["id"].clone());
        info.insert("service_host".into(), service["host"].clone());
        if let Some(reason) = service.get("disabled_reason") {
            info.insert("service_disabled_reason".into(), reason.clone());
        }
    }
    // Strings that hold JSON (an old cpu_info) are decoded first.
    for value in info.values_mut() {
        if let Some(decoded) = value.as_str().and_then(|t| serde_json::from_str::<Value>(t).ok()) {
            *value = decoded;
        }
    }
    let mut flat = Map::new();
    flatten(None, &Value::Object(info), &mut flat);
    table::print_dict_wrapped(&flat, wrap);
    Ok(())
}

pub async fn hypervisor_stats(s: &mut Session) -> Result<()> {
    if s.version.at_least(2, 88) {
        return Err(Error::command("The hypervisor-stats command is not supported in API version 2.88 or later."));
    }
    let body = s.get("/os-hypervisors/statistics").await?;
    let stats = body["hypervisor_statistics"].as_object().cloned().unwrap_or_default();
    table::print_dict(&stats);
    Ok(())
}

pub async fn services(s: &mut Session, host: Option<String>, binary: Option<String>) -> Result<()> {
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(h) = host {
        q.push(("host", h));
    }
    if let Some(b) = binary {
        q.push(("binary", b));
    }
    let body = s.get(&format!("/os-services{}", query(&q))).await?;
    let mut columns = vec!["Id", "Binary", "Host", "Zone", "Status", "State", "Updated_at", "Disabled Reason"];
    if s.version.at_least(2, 11) {
        columns.push("Forced down");
    }
    let mut t = Table::new(&columns);
    for svc in body["services"].as_array().into_iter().flatten() {
        t.push(columns.iter().map(|c| table::field(svc, c)).collect());
    }
    t.print();
    Ok(())
}

fn server_group_columns(s: &Session) -> Vec<&'static str> {
    if s.version.at_least(2, 64) {
        vec!["Id", "Name", "Project Id", "User Id", "Policy", "Rules", "Members"]
    } else if s.version.at_least(2, 13) {
        vec!["Id", "Name", "Project Id", "User Id", "Policies", "Members", "Metadata"]
    } else {
        vec!["Id", "Name", "Policies", "Members", "Metadata"]
    }
}

fn print_server_groups(s: &Session, groups: &[Value]) {
    let columns = server_group_columns(s);
    let mut t = Table::new(&columns);
    for g in groups {
        t.push(columns.iter().map(|c| table::field(g, c)).collect());
    }
    t.print();
}

pub async fn server_group_create(s: &mut Session, name: &str, policy: &str, rules: &[String]) -> Result<()> {
    let mut group = json!({"name": name});
    if s.version.at_least(2, 64) {
        group["policy"] = json!(policy);
        let mut r = Map::new();
        for rule in rules {
            let (k, v) = rule.split_once('=').ok_or_else(|| Error::command(format!("Invalid rule '{rule}'")))?;
            r.insert(k.into(), v.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(v)));
        }
        if !r.is_empty() {
            group["rules"] = Value::Object(r);
        }
    } else {
        group["policies"] = json!([policy]);
    }
    let body = s.post("/os-server-groups", &json!({"server_group": group})).await?;
    print_server_groups(s, &[body["server_group"].clone()]);
    Ok(())
}

pub async fn server_group_list(s: &mut Session, all: bool, limit: Option<u64>, offset: Option<u64>) -> Result<()> {
    let mut q: Vec<(&str, String)> = Vec::new();
    if all {
        q.push(("all_projects", "True".into()));
    }
    if let Some(l) = limit {
        q.push(("limit", l.to_string()));
    }
    if let Some(o) = offset {
        q.push(("offset", o.to_string()));
    }
    let body = s.get(&format!("/os-server-groups{}", query(&q))).await?;
    print_server_groups(s, body["server_groups"].as_array().map(Vec::as_slice).unwrap_or_default());
    Ok(())
}

pub async fn server_group_get(s: &mut Session, id: &str) -> Result<()> {
    let body = s.get(&format!("/os-server-groups/{}", path_segment(id))).await?;
    print_server_groups(s, &[body["server_group"].clone()]);
    Ok(())
}

pub async fn server_group_delete(s: &mut Session, ids: &[String]) -> Result<()> {
    let mut failed = false;
    for id in ids {
        match s.delete(&format!("/os-server-groups/{}", path_segment(id))).await {
            Ok(_) => println!("Server group {id} has been successfully deleted."),
            Err(e) => {
                failed = true;
                println!("Delete for server group {id} failed: {}", e.message);
            }
        }
    }
    if failed {
        return Err(Error::command("Unable to delete any of the specified server groups."));
    }
    Ok(())
}

fn print_aggregates(s: &Session, aggregates: &[Value], details: bool) {
    let mut columns = vec!["Id", "Name", "Availability Zone"];
    if details {
        columns.extend(["Hosts", "Metadata"]);
    }
    if s.version.at_least(2, 41) {
        columns.push("UUID");
    }
    let mut t = Table::new(&columns);
    for a in aggregates {
        t.push(
            columns
                .iter()
                .map(|c| match *c {
                    "Hosts" => {
                        a["hosts"].as_array().into_iter().flatten().map(table::py_str).collect::<Vec<_>>().join(", ")
                    }
                    "Metadata" => {
                        let mut pairs: Vec<String> = a["metadata"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(k, v)| format!("{k}={}", table::py_str(v)))
                            .collect();
                        pairs.sort();
                        pairs.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", ")
                    }
                    other => table::field(a, other),
                })
                .collect(),
        );
    }
    t.print();
}

pub async fn aggregate_list(s: &mut Session) -> Result<()> {
    let body = s.get("/os-aggregates").await?;
    print_aggregates(s, body["aggregates"].as_array().map(Vec::as_slice).unwrap_or_default(), false);
    Ok(())
}

pub async fn aggregate_create(s: &mut Session, name: &str, zone: Option<&str>) -> Result<()> {
    let body = s.post("/os-aggregates", &json!({"aggregate": {"name": name, "availability_zone": zone}})).await?;
    print_aggregates(s, &[body["aggregate"].clone()], true);
    Ok(())
}

pub async fn aggregate_show(s: &mut Session, key: &str) -> Result<()> {
    let all = s.get("/os-aggregates").await?;
    let found = all["aggregates"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == key || table::py_str(&a["id"]) == key || a["uuid"] == key)
        .cloned()
        .ok_or_else(|| Error::command(format!("No aggregate with a name or ID of '{key}' exists.")))?;
    print_aggregates(s, &[found], true);
    Ok(())
}

/// Where python-novaclient lists versions: the compute endpoint cut before
/// its `/v2` or `/v2.1` part (the service's root), else the endpoint itself.
fn versions_url(endpoint: &str) -> String {
    let (scheme_host, path) = match endpoint.find("://").and_then(|i| endpoint[i + 3..].find('/').map(|j| i + 3 + j)) {
        Some(at) => endpoint.split_at(at),
        None => (endpoint, ""),
    };
    let versioned = path.ends_with("v2") || path.contains("/v2/") || path.ends_with("v2.1") || path.contains("/v2.1/");
    match path.rfind("/v2") {
        Some(at) if versioned => format!("{scheme_host}{}", &path[..at]),
        _ => endpoint.to_owned(),
    }
}

pub async fn version_list(s: &mut Session) -> Result<()> {
    let url = versions_url(&s.endpoint("compute")?);
    let body = s.get_url(&url).await.map_err(|_| Error::command(format!("Cannot list versions from {url}")))?;
    let versions: Vec<Value> = match body.get("version") {
        Some(v) => vec![v.clone()],
        None => body["versions"].as_array().cloned().unwrap_or_default(),
    };
    println!("Client supported API versions:");
    println!("Minimum version {}.{}", MIN_VERSION.0, MIN_VERSION.1);
    println!("Maximum version {}.{}", MAX_VERSION.0, MAX_VERSION.1);
    println!("\nServer supported API versions:");
    let with_min = versions.first().is_some_and(|v| v.get("min_version").is_some());
    let columns: &[&str] =
        if with_min { &["Id", "Status", "Updated", "Min Version", "Version"] } else { &["Id", "Status", "Updated"] };
    let mut t = Table::new(columns);
    for v in &versions {
        t.push(columns.iter().map(|c| table::field(v, c)).collect());
    }
    t.print();
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_are_listed_at_the_services_root() {
        assert_eq!(super::versions_url("http://h:5000/compute/v2.1"), "http://h:5000/compute");
        assert_eq!(super::versions_url("http://h/v2.1/abc"), "http://h");
        assert_eq!(super::versions_url("https://compute.example.com/"), "https://compute.example.com/");
    }
}
