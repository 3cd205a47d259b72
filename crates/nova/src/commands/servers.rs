//! Server commands: list, show, boot, delete and the actions, printed as
//! python-novaclient's `v2/shell.py` prints them.

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::cli::{BootArgs, ListArgs, SshArgs};
use crate::find::{self, query};
use crate::session::{Error, Result, Session};
use crate::table::{self, Table};

const POWER_STATES: [&str; 8] = ["NOSTATE", "Running", "", "Paused", "Shutdown", "", "Crashed", "Suspended"];

/// The `Networks` column: `label=addr, addr; label2=addr`, labels sorted.
fn networks_of(server: &Value) -> Vec<(String, Vec<String>)> {
    let mut labels: Vec<(String, Vec<String>)> = server["addresses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(label, addrs)| {
            let addrs = addrs.as_array().into_iter().flatten().filter_map(|a| a["addr"].as_str()).map(str::to_string);
            (label.clone(), addrs.collect())
        })
        .collect();
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    labels
}

fn networks_cell(server: &Value) -> String {
    networks_of(server)
        .into_iter()
        .filter(|(_, addrs)| !addrs.is_empty())
        .map(|(label, addrs)| format!("{label}={}", addrs.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A server's attributes as python-novaclient's list sees them: the
/// extended-status keys translated and the flavor expanded to `flavor:*`.
fn list_attributes(server: &Value, expand_flavor: bool) -> Map<String, Value> {
    let mut attrs = server.as_object().cloned().unwrap_or_default();
    for (from, to) in [
        ("OS-EXT-SRV-ATTR:host", "host"),
        ("OS-EXT-STS:task_state", "task_state"),
        ("OS-EXT-SRV-ATTR:instance_name", "instance_name"),
        ("OS-EXT-STS:power_state", "power_state"),
        ("hostId", "host_id"),
    ] {
        if let (Some(v), false) = (attrs.get(from).cloned(), attrs.contains_key(to)) {
            attrs.insert(to.to_string(), v);
        }
    }
    let power = match attrs.get("power_state").and_then(Value::as_u64) {
        Some(n) => POWER_STATES.get(n as usize).copied().unwrap_or("").to_string(),
        None => "N/A".to_string(),
    };
    attrs.insert("power_state".into(), json!(power));
    attrs.entry("task_state").or_insert(json!("N/A"));
    if expand_flavor {
        if let Some(Value::Object(flavor)) = attrs.remove("flavor") {
            for (k, v) in flavor {
                attrs.insert(format!("flavor:{k}"), v);
            }
        }
    }
    attrs
}

/// `utils._format_field_name`: `OS-EXT-STS:vm_state` → `OS-EXT-STS: Vm State`.
fn field_title(attr: &str) -> String {
    let (prefix, name) = match attr.rsplit_once(':') {
        Some((p, n)) => (Some(p), n),
        None => (None, attr),
    };
    let mut name = name.replace('_', " ");
    let letters: String = name.chars().filter(|c| c.is_alphabetic()).collect();
    if letters == letters.to_uppercase() || letters == letters.to_lowercase() {
        name = title_case(&name);
    }
    match prefix {
        Some(p) => format!("{p}: {name}"),
        None => name,
    }
}

/// Python's `str.title()`.
fn title_case(s: &str) -> String {
    let mut out = String::new();
    let mut previous_letter = false;
    for c in s.chars() {
        if c.is_alphabetic() {
            if previous_letter {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            previous_letter = true;
        } else {
            out.push(c);
            previous_letter = false;
        }
    }
    out
}

/// How a column of `nova list` renders one server: from its translated
/// attributes, or (for Networks) from the server itself.
type Render = Box<dyn Fn(&Map<String, Value>, &Value) -> String>;

pub async fn list(s: &mut Session, a: &ListArgs) -> Result<()> {
    let mut q: Vec<(&str, String)> = Vec::new();
    let mut all_tenants = a.all_tenants.unwrap_or(0) != 0;
    if let Some(t) = &a.tenant {
        all_tenants = true;
        q.push(("tenant_id", t.clone()));
    }
    if all_tenants {
        q.push(("all_tenants", "1".into()));
    }
    if let Some(image) = &a.image {
        q.push(("image", find::image(s, image).await?["id"].as_str().unwrap_or_default().to_string()));
    }
    if let Some(flavor) = &a.flavor {
        q.push(("flavor", find::flavor(s, flavor).await?["id"].as_str().unwrap_or_default().to_string()));
    }
    for (key, value) in [
        ("user_id", &a.user),
        ("name", &a.name),
        ("status", &a.status),
        ("host", &a.host),
        ("changes-since", &a.changes_since),
        ("tags", &a.tags),
        ("key_name", &a.key_name),
        ("marker", &a.marker),
    ] {
        if let Some(v) = value {
            q.push((key, v.clone()));
        }
    }
    if let Some(limit) = a.limit {
        q.push(("limit", limit.to_string()));
    }
    if let Some(sort) = &a.sort {
        for part in sort.split(',') {
            let (key, dir) = part.split_once(':').unwrap_or((part, "desc"));
            if dir != "asc" && dir != "desc" {
                return Err(Error::command(format!("Unknown sort direction: {dir}")));
            }
            q.push(("sort_key", key.to_string()));
            q.push(("sort_dir", dir.to_string()));
        }
    }
    let detailed = !a.minimal;
    let path = if detailed { "/servers/detail" } else { "/servers" };
    let body = s.get(&format!("{path}{}", query(&q))).await?;
    let servers: Vec<Value> = body["servers"].as_array().cloned().unwrap_or_default();
    let embedded_flavor = s.version.at_least(2, 47);
    let rows: Vec<Map<String, Value>> =
        servers.iter().map(|srv| list_attributes(srv, detailed && embedded_flavor)).collect();

    let mut columns: Vec<(String, Render)> = Vec::new();
    let plain = |attr: &'static str| -> Render {
        Box::new(move |row, _| table::cell(Some(row.get(attr).unwrap_or(&Value::String(String::new())))))
    };
    columns.push(("ID".into(), plain("id")));
    if a.minimal {
        columns.push(("Name".into(), plain("name")));
    } else if let (Some(fields), Some(first)) = (&a.fields, rows.first()) {
        let mut missing = Vec::new();
        let mut seen = vec!["id".to_string()];
        for field in fields.split(',') {
            if field != "networks" && !first.contains_key(field) {
                missing.push(format!("'{field}'"));
                continue;
            }
            if seen.iter().any(|f| f == field) {
                continue;
            }
            seen.push(field.to_string());
            let title = field_title(field);
            let attr = field.to_string();
            let render: Render = if title == "Networks" {
                Box::new(|_, server| networks_cell(server))
            } else if field == "security_groups" {
                Box::new(move |row, _| match row.get(&attr) {
                    Some(Value::Array(groups)) if !groups.is_empty() => {
                        groups.iter().filter_map(|g| g["name"].as_str()).collect::<Vec<_>>().join(", ")
                    }
                    other => table::cell(Some(other.unwrap_or(&Value::String(String::new())))),
                })
            } else if field == "flavor" && !embedded_flavor {
                Box::new(move |row, _| table::cell(row.get(&attr).map(|f| &f["id"])))
            } else {
                Box::new(move |row, _| table::cell(Some(row.get(&attr).unwrap_or(&Value::String(String::new())))))
            };
            columns.push((title, render));
        }
        if !missing.is_empty() {
            return Err(Error::command(format!("Non-existent fields are specified: [{}]", missing.join(", "))));
        }
    } else {
        columns.push(("Name".into(), plain("name")));
        if all_tenants {
            columns.push(("Tenant ID".into(), plain("tenant_id")));
        }
        columns.push(("Status".into(), plain("status")));
        columns.push(("Task State".into(), plain("task_state")));
        columns.push(("Power State".into(), plain("power_state")));
        columns.push(("Networks".into(), Box::new(|_, server| networks_cell(server))));
        if a.changes_since.is_some() {
            columns.push(("Updated".into(), plain("updated")));
        }
    }
    let titles: Vec<&str> = columns.iter().map(|(t, _)| t.as_str()).collect();
    let mut t = Table::new(&titles);
    for (row, server) in rows.iter().zip(&servers) {
        t.push(columns.iter().map(|(_, render)| render(row, server)).collect());
    }
    if a.sort.is_none() {
        t.sort_by_column(1);
    }
    t.print();
    Ok(())
}

/// `_print_server`: the server's attributes with the flavor expanded, the
/// image named, one `<label> network` row per network.
pub async fn print_server(s: &mut Session, server: &Value, minimal: bool, wrap: usize) -> Result<()> {
    let mut info = server.as_object().cloned().unwrap_or_default();
    for (label, addrs) in networks_of(server) {
        info.insert(format!("{label} network"), json!(addrs.join(", ")));
    }
    let flavor = info.get("flavor").cloned().unwrap_or(json!({}));
    if s.version.at_least(2, 47) {
        if minimal {
            info.insert("flavor".into(), flavor["original_name"].clone());
        } else if let Some(Value::Object(f)) = info.remove("flavor") {
            for (k, v) in f {
                info.insert(format!("flavor:{k}"), v);
            }
        }
    } else {
        let id = flavor["id"].as_str().unwrap_or_default().to_string();
        let shown = if minimal {
            id
        } else {
            match find::flavor(s, &id).await {
                Ok(f) => format!("{} ({id})", f["name"].as_str().unwrap_or_default()),
                Err(_) => format!("Flavor not found ({id})"),
            }
        };
        info.insert("flavor".into(), json!(shown));
    }
    if let Some(groups) = info.get("security_groups").and_then(Value::as_array) {
        let mut names: Vec<&str> = groups.iter().filter_map(|g| g["name"].as_str()).collect();
        names.sort();
        names.dedup();
        info.insert("security_groups".into(), json!(names.join(", ")));
    }
    let image_id = match info.get("image") {
        Some(Value::Object(image)) if !image.is_empty() => image.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let shown = match image_id {
        Some(id) if minimal => id,
        Some(id) => match find::image(s, &id).await {
            Ok(image) => format!("{} ({id})", image["name"].as_str().unwrap_or_default()),
            Err(_) => format!("Image not found ({id})"),
        },
        None => "Attempt to boot from volume - no image supplied".to_string(),
    };
    info.insert("image".into(), json!(shown));
    for key in ["links", "addresses", "OS-EXT-SRV-ATTR:user_data"] {
        info.remove(key);
    }
    table::print_dict_wrapped(&info, wrap);
    Ok(())
}

pub async fn show(s: &mut Session, key: &str, minimal: bool, wrap: usize) -> Result<()> {
    let server = find::server(s, key).await?;
    print_server(s, &server, minimal, wrap).await
}

fn key_values(items: &[String], what: &str) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for item in items {
        let (k, v) = item.split_once('=').ok_or_else(|| Error::command(format!("Invalid {what} argument '{item}'")))?;
        map.insert(k.to_string(), json!(v));
    }
    Ok(map)
}

fn nics(specs: &[String], version_auto: bool) -> Result<Value> {
    let err = |nic: &str| {
        Error::command(format!(
            "Invalid nic argument '{nic}'. Nic arguments must be of the form --nic <auto,none,net-id=net-uuid,\
             net-name=network-name,v4-fixed-ip=ip-addr,v6-fixed-ip=ip-addr,port-id=port-uuid,tag=tag>, with only one \
             of net-id, net-name or port-id specified. Specifying a --nic of auto or none cannot be used with any \
             other --nic value."
        ))
    };
    if specs.is_empty() {
        return Ok(if version_auto { json!("auto") } else { Value::Null });
    }
    let mut list = Vec::new();
    for spec in specs {
        if spec == "auto" || spec == "none" {
            if specs.len() > 1 {
                return Err(Error::command("'auto' or 'none' cannot be used with any other nic arguments"));
            }
            return Ok(json!(spec));
        }
        let mut nic = Map::new();
        for kv in spec.split(',') {
            let (k, v) = kv.split_once('=').ok_or_else(|| err(spec))?;
            let key = match k {
                "net-id" => "uuid",
                "net-name" => "net-name",
                "port-id" => "port",
                "v4-fixed-ip" | "v6-fixed-ip" => "fixed_ip",
                "tag" => "tag",
                _ => return Err(err(spec)),
            };
            if nic.insert(key.to_string(), json!(v)).is_some() {
                return Err(err(spec));
            }
        }
        list.push(Value::Object(nic));
    }
    Ok(Value::Array(list))
}

/// `_find_network_id`: a network's id by exact name, from the Network service.
async fn network_id(s: &mut Session, name: &str) -> Result<String> {
    let body = s.service_get("network", &format!("/v2.0/networks{}", query(&[("name", name.to_string())]))).await?;
    let ids: Vec<&str> = body["networks"].as_array().into_iter().flatten().filter_map(|n| n["id"].as_str()).collect();
    match ids.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(Error::command(format!("No Network matching {name}. (HTTP 404)"))),
        _ => {
            Err(Error::command(format!("Multiple network matches found for '{name}', use an ID to be more specific.")))
        }
    }
}

pub async fn boot(s: &mut Session, a: &BootArgs) -> Result<()> {
    let flavor = a.flavor.as_deref().ok_or_else(|| Error::command("you need to specify a Flavor ID."))?;
    let flavor = find::flavor(s, flavor).await?;
    let mut server = Map::new();
    server.insert("name".into(), json!(a.name));
    if let Some(image) = &a.image {
        server.insert("imageRef".into(), find::image(s, image).await?["id"].clone());
    } else if a.block_device.is_empty() {
        return Err(Error::command("you need to specify at least one source ID (Image, Snapshot, or Volume), a block device mapping or provide a set of properties to match against an image"));
    }
    server.insert("flavorRef".into(), flavor["id"].clone());
    let min = a.min_count.unwrap_or(1);
    let max = a.max_count.unwrap_or(min.max(1));
    if min < 1 || max < min {
        return Err(Error::command(
            "min_count should be at least 1, and max_count should not be smaller than min_count",
        ));
    }
    server.insert("min_count".into(), json!(min));
    server.insert("max_count".into(), json!(max));
    if !a.meta.is_empty() {
        server.insert("metadata".into(), Value::Object(key_values(&a.meta, "meta")?));
    }
    if let Some(k) = &a.key_name {
        server.insert("key_name".into(), json!(k));
    }
    if let Some(path) = &a.user_data {
        let data = std::fs::read(path).map_err(|e| Error::command(format!("Can't open '{path}': {e}")))?;
        server.insert("user_data".into(), json!(base64::engine::general_purpose::STANDARD.encode(data)));
    }
    if let Some(az) = &a.availability_zone {
        server.insert("availability_zone".into(), json!(az));
    }
    if let Some(groups) = &a.security_groups {
        let groups: Vec<Value> = groups.split(',').map(|g| json!({"name": g.trim()})).collect();
        server.insert("security_groups".into(), Value::Array(groups));
    }
    let mut networks = nics(&a.nics, s.version.at_least(2, 37))?;
    for nic in networks.as_array_mut().into_iter().flatten() {
        if let Some(Value::String(name)) = nic.as_object_mut().and_then(|n| n.remove("net-name")) {
            nic["uuid"] = json!(network_id(s, &name).await?);
        }
    }
    if !networks.is_null() {
        server.insert("networks".into(), networks);
    }
    if let Some(cd) = &a.config_drive {
        let on = !matches!(cd.to_lowercase().as_str(), "false" | "0" | "no" | "off");
        server.insert("config_drive".into(), json!(on));
    }
    if let Some(p) = &a.admin_pass {
        server.insert("adminPass".into(), json!(p));
    }
    if let Some(d) = &a.description {
        server.insert("description".into(), json!(d));
    }
    if let Some(t) = &a.tags {
        server.insert("tags".into(), json!(t.split(',').collect::<Vec<_>>()));
    }
    if let Some(h) = &a.hostname {
        server.insert("hostname".into(), json!(h));
    }
    if a.return_reservation_id {
        server.insert("return_reservation_id".into(), json!(true));
    }
    if !a.block_device.is_empty() {
        let mut mappings = Vec::new();
        for spec in &a.block_device {
            let mut bdm = Map::new();
            for kv in spec.split(',') {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| Error::command(format!("Invalid block device argument '{spec}'")))?;
                let key = match k {
                    "id" => "uuid",
                    "source" => "source_type",
                    "dest" => "destination_type",
                    "bus" => "disk_bus",
                    "device" => "device_name",
                    "size" => "volume_size",
                    "format" => "guest_format",
                    "bootindex" => "boot_index",
                    "type" => "device_type",
                    "shutdown" => "delete_on_termination",
                    other => other,
                };
                let value = match key {
                    "volume_size" | "boot_index" => v.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(v)),
                    "delete_on_termination" => json!(v == "remove" || v == "true"),
                    _ => json!(v),
                };
                bdm.insert(key.to_string(), value);
            }
            mappings.push(Value::Object(bdm));
        }
        server.insert("block_device_mapping_v2".into(), Value::Array(mappings));
    }
    let mut body = json!({"server": server});
    if !a.hint.is_empty() {
        body["os:scheduler_hints"] = Value::Object(key_values(&a.hint, "hint")?);
    }
    let created = s.post("/servers", &body).await?;
    if a.return_reservation_id {
        let id = created["reservation_id"].clone();
        table::print_dict([(&"reservation_id".to_string(), &id)]);
        return Ok(());
    }
    let id = created["server"]["id"].as_str().unwrap_or_default().to_string();
    let mut shown = s.get(&format!("/servers/{id}")).await?["server"].clone();
    if let Some(pass) = created["server"].get("adminPass") {
        shown["adminPass"] = pass.clone();
    }
    print_server(s, &shown, false, 0).await?;
    if a.poll {
        poll(s, &id, "building", &["active"], true).await?;
    }
    Ok(())
}

/// `_poll_for_status`: a progress line rewritten in place until the server
/// reaches one of the wanted statuses.
pub async fn poll(s: &mut Session, id: &str, action: &str, done: &[&str], progress: bool) -> Result<()> {
    use std::io::Write;
    println!();
    let say = |pct: u64| {
        if progress {
            print!("\rServer {action}... {pct}% complete");
        } else {
            print!("\rServer {action}...");
        }
        let _ = std::io::stdout().flush();
    };
    loop {
        let server = s.get(&format!("/servers/{id}")).await?["server"].clone();
        let status = server["status"].as_str().unwrap_or_default().to_lowercase();
        if done.contains(&status.as_str()) {
            say(100);
            println!("\nFinished");
            return Ok(());
        }
        if status == "error" {
            println!("\nError {action} server");
            let fault = server["fault"]["message"].as_str().unwrap_or("").to_string();
            return Err(Error { class: "ResourceInErrorState".into(), message: fault, status: None });
        }
        if status == "deleted" {
            println!("\nDeleted {action} server");
            return Err(Error {
                class: "InstanceInDeletedState".into(),
                message: server["fault"]["message"].as_str().unwrap_or("").to_string(),
                status: None,
            });
        }
        say(server["progress"].as_u64().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `strutils.to_slug`, python-novaclient's `human_id` of a server.
fn human_id(name: &str) -> String {
    let kept: String =
        name.chars().filter(|c| c.is_alphanumeric() || *c == '_' || c.is_whitespace() || *c == '-').collect();
    let lower = kept.trim().to_lowercase();
    let mut out = String::new();
    let mut in_run = false;
    for c in lower.chars() {
        if c == '-' || c.is_whitespace() {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

async fn act(s: &mut Session, id: &str, action: Value) -> Result<Value> {
    s.post(&format!("/servers/{id}/action"), &action).await
}

/// `utils.do_action_on_many`: each server in turn, a line for each, and a
/// CommandError at the end when any failed.
async fn on_many(
    s: &mut Session,
    servers: &[String],
    verb: &str,
    action: impl Fn(&str) -> Option<Value>,
) -> Result<()> {
    let mut failed = false;
    for key in servers {
        let outcome = match find::server(s, key).await {
            Ok(server) => {
                let id = server["id"].as_str().unwrap_or_default().to_string();
                match action(&id) {
                    Some(body) => act(s, &id, body).await.map(|_| ()),
                    None => s.delete(&format!("/servers/{id}")).await.map(|_| ()),
                }
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => println!("Request to {verb} server {key} has been accepted."),
            Err(e) => {
                failed = true;
                println!("{}", e.message);
            }
        }
    }
    if failed {
        return Err(Error::command(format!("Unable to {verb} the specified server(s).")));
    }
    Ok(())
}

pub async fn delete(s: &mut Session, servers: &[String]) -> Result<()> {
    on_many(s, servers, "delete", |_| None).await
}

pub async fn stop(s: &mut Session, servers: &[String]) -> Result<()> {
    on_many(s, servers, "stop", |_| Some(json!({"os-stop": null}))).await
}

pub async fn start(s: &mut Session, servers: &[String]) -> Result<()> {
    on_many(s, servers, "start", |_| Some(json!({"os-start": null}))).await
}

pub async fn reboot(s: &mut Session, keys: &[String], hard: bool, wait: bool) -> Result<()> {
    let mut servers = Vec::new();
    for key in keys {
        servers.push(find::server(s, key).await?);
    }
    let kind = if hard { "HARD" } else { "SOFT" };
    let mut failed = false;
    for server in &servers {
        let id = server["id"].as_str().unwrap_or_default();
        match act(s, id, json!({"reboot": {"type": kind}})).await {
            Ok(_) => println!(
                "Request to reboot server {} ({id}) has been accepted.",
                human_id(server["name"].as_str().unwrap_or_default())
            ),
            Err(e) => {
                failed = true;
                println!("{}", e.message);
            }
        }
    }
    if failed {
        return Err(Error::command("Unable to reboot the specified server(s)."));
    }
    if wait {
        for server in &servers {
            let id = server["id"].as_str().unwrap_or_default().to_string();
            poll(s, &id, "rebooting", &["active"], false).await?;
            println!("Wait for server {} ({id}) reboot.", human_id(server["name"].as_str().unwrap_or_default()));
        }
    }
    Ok(())
}

/// A single server action whose answer prints nothing (pause, lock, …).
pub async fn action(s: &mut Session, key: &str, body: Value) -> Result<Value> {
    let server = find::server(s, key).await?;
    act(s, server["id"].as_str().unwrap_or_default(), body).await
}

pub async fn resize(s: &mut Session, key: &str, flavor: &str, wait: bool) -> Result<()> {
    let server = find::server(s, key).await?;
    let flavor = find::flavor(s, flavor).await?;
    let id = server["id"].as_str().unwrap_or_default().to_string();
    act(s, &id, json!({"resize": {"flavorRef": flavor["id"]}})).await?;
    if wait {
        poll(s, &id, "resizing", &["active", "verify_resize"], true).await?;
    }
    Ok(())
}

pub async fn rebuild(s: &mut Session, key: &str, image: &str, name: Option<&str>, wait: bool) -> Result<()> {
    let server = find::server(s, key).await?;
    let image = find::image(s, image).await?;
    let id = server["id"].as_str().unwrap_or_default().to_string();
    let mut rebuild = json!({"imageRef": image["id"]});
    if let Some(n) = name {
        rebuild["name"] = json!(n);
    }
    let answer = act(s, &id, json!({"rebuild": rebuild})).await?;
    let mut shown = s.get(&format!("/servers/{id}")).await?["server"].clone();
    if let Some(pass) = answer["server"].get("adminPass") {
        shown["adminPass"] = pass.clone();
    }
    print_server(s, &shown, false, 0).await?;
    if wait {
        poll(s, &id, "rebuilding", &["active"], true).await?;
    }
    Ok(())
}

pub async fn update(s: &mut Session, key: &str, name: Option<&str>, description: Option<&str>) -> Result<()> {
    let server = find::server(s, key).await?;
    let mut changes = Map::new();
    if let Some(n) = name {
        changes.insert("name".into(), json!(n));
    }
    if let Some(d) = description {
        changes.insert("description".into(), if d.is_empty() { Value::Null } else { json!(d) });
    }
    let id = server["id"].as_str().unwrap_or_default();
    s.put(&format!("/servers/{id}"), &json!({"server": changes})).await?;
    Ok(())
}

pub async fn image_create(
    s: &mut Session,
    key: &str,
    name: &str,
    metadata: &[String],
    show: bool,
    wait: bool,
) -> Result<()> {
    let server = find::server(s, key).await?;
    let id = server["id"].as_str().unwrap_or_default().to_string();
    let meta = key_values(metadata, "metadata")?;
    let answer = act(s, &id, json!({"createImage": {"name": name, "metadata": meta}})).await?;
    let image_id = answer["image_id"].as_str().unwrap_or_default().to_string();
    if wait {
        use std::io::Write;
        println!();
        loop {
            let image = s.service_get("image", &format!("/v2/images/{image_id}")).await?;
            let status = image["status"].as_str().unwrap_or_default().to_string();
            if status == "active" {
                print!("\rServer snapshotting... 100% complete");
                println!("\nFinished");
                break;
            }
            if status == "killed" || status == "deleted" {
                println!("\nError snapshotting server");
                return Err(Error::command(format!("Image {image_id} is {status}")));
            }
            print!("\rServer snapshotting... 0% complete");
            let _ = std::io::stdout().flush();
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    if show {
        let image = s.service_get("image", &format!("/v2/images/{image_id}")).await?;
        crate::commands::images::print_image(&image);
    }
    Ok(())
}

pub async fn console_log(s: &mut Session, key: &str, length: Option<i64>) -> Result<()> {
    let mut args = json!({});
    if let Some(n) = length {
        args["length"] = json!(n);
    }
    let answer = action(s, key, json!({"os-getConsoleOutput": args})).await?;
    print!("{}", answer["output"].as_str().unwrap_or_default());
    Ok(())
}

pub async fn remote_console(s: &mut Session, key: &str, protocol: &str, kind: &str) -> Result<()> {
    let server = find::server(s, key).await?;
    let id = server["id"].as_str().unwrap_or_default();
    let answer = s
        .post(
            &format!("/servers/{id}/remote-consoles"),
            &json!({"remote_console": {"protocol": protocol, "type": kind}}),
        )
        .await?;
    let console = &answer["remote_console"];
    let mut t = Table::new(&["Type", "Url"]);
    t.push(vec![table::cell(console.get("type")), table::cell(console.get("url"))]);
    t.print();
    Ok(())
}

pub async fn meta(s: &mut Session, key: &str, op: &str, items: &[String]) -> Result<()> {
    let server = find::server(s, key).await?;
    let id = server["id"].as_str().unwrap_or_default();
    match op {
        "set" => {
            s.post(&format!("/servers/{id}/metadata"), &json!({"metadata": key_values(items, "metadata")?})).await?;
        }
        "delete" => {
            for item in items {
                let k = item.split_once('=').map_or(item.as_str(), |(k, _)| k);
                s.delete(&format!("/servers/{id}/metadata/{}", find::path_segment(k))).await?;
            }
        }
        other => return Err(Error::command(format!("argument <action>: invalid choice: '{other}'"))),
    }
    Ok(())
}

pub async fn tags(s: &mut Session, key: &str, add: Option<&[String]>, remove: Option<&[String]>) -> Result<()> {
    let server = find::server(s, key).await?;
    let id = server["id"].as_str().unwrap_or_default().to_string();
    for tag in add.unwrap_or_default() {
        s.put(&format!("/servers/{id}/tags/{}", find::path_segment(tag)), &Value::Null).await?;
        println!("Request to add tag {tag} to specified server has been accepted.");
    }
    for tag in remove.unwrap_or_default() {
        s.delete(&format!("/servers/{id}/tags/{}", find::path_segment(tag))).await?;
        println!("Request to delete tag {tag} from specified server has been accepted.");
    }
    if add.is_none() && remove.is_none() {
        let answer = s.get(&format!("/servers/{id}/tags")).await?;
        let mut t = Table::new(&["Tag"]);
        for tag in answer["tags"].as_array().into_iter().flatten() {
            t.push(vec![table::cell(Some(tag))]);
        }
        t.print();
    }
    Ok(())
}

pub async fn instance_actions(s: &mut Session, key: &str, request_id: Option<&str>) -> Result<()> {
    let server = find::server(s, key).await?;
    let id = server["id"].as_str().unwrap_or_default();
    if let Some(request) = request_id {
        let answer = s.get(&format!("/servers/{id}/os-instance-actions/{request}")).await?;
        let mut action = answer["instanceAction"].as_object().cloned().unwrap_or_default();
        if let Some(events) = action.get("events").map(table::pformat) {
            action.insert("events".into(), json!(events));
        }
        table::print_dict(&action);
        return Ok(());
    }
    let answer = s.get(&format!("/servers/{id}/os-instance-actions")).await?;
    let mut columns = vec!["Action", "Request_ID", "Message", "Start_Time"];
    if s.version.at_least(2, 58) {
        columns.push("Updated_At");
    }
    let mut t = Table::new(&columns);
    for a in answer["instanceActions"].as_array().into_iter().flatten() {
        t.push(columns.iter().map(|c| table::field(a, c)).collect());
    }
    t.sort_by_column(3);
    t.print();
    Ok(())
}

pub async fn interface_list(s: &mut Session, key: &str) -> Result<()> {
    let server = find::server(s, key).await?;
    let id = server["id"].as_str().unwrap_or_default();
    let answer = s.get(&format!("/servers/{id}/os-interface")).await?;
    let mut columns = vec!["Port State", "Port ID", "Net ID", "IP addresses", "MAC Addr"];
    if s.version.at_least(2, 70) {
        columns.push("Tag");
    }
    let mut t = Table::new(&columns);
    for a in answer["interfaceAttachments"].as_array().into_iter().flatten() {
        let ips: Vec<&str> =
            a["fixed_ips"].as_array().into_iter().flatten().filter_map(|ip| ip["ip_address"].as_str()).collect();
        let mut row = vec![
            table::cell(a.get("port_state")),
            table::cell(a.get("port_id")),
            table::cell(a.get("net_id")),
            ips.join(","),
            table::cell(a.get("mac_addr")),
        ];
        if s.version.at_least(2, 70) {
            row.push(table::cell(a.get("tag")));
        }
        t.push(row);
    }
    t.print();
    Ok(())
}

/// `nova volume-attach`: the attachment's fields as a Property/Value table;
/// `--tag` from 2.49 and `--delete-on-termination` from 2.79, as
/// python-novaclient offers them.
pub async fn volume_attach(
    s: &mut Session,
    key: &str,
    volume: &str,
    device: Option<&str>,
    tag: Option<&str>,
    delete_on_termination: bool,
) -> Result<()> {
    let server = find::server(s, key).await?;
    let id = server["id"].as_str().unwrap_or_default().to_owned();
    let mut attachment = json!({"volumeId": volume});
    if let Some(d) = device.filter(|d| *d != "auto") {
        attachment["device"] = json!(d);
    }
    if let Some(t) = tag {
        if !s.version.at_least(2, 49) {
            return Err(Error::command("--tag needs microversion 2.49 or later"));
        }
        attachment["tag"] = json!(t);
    }
    if delete_on_termination {
        if !s.version.at_least(2, 79) {
            return Err(Error::command("--delete-on-termination needs microversion 2.79 or later"));
        }
        attachment["delete_on_termination"] = json!(true);
    }
    let answer =
        s.post(&format!("/servers/{id}/os-volume_attachments"), &json!({"volumeAttachment": attachment})).await?;
    let empty = serde_json::Map::new();
    table::print_dict(answer["volumeAttachment"].as_object().unwrap_or(&empty));
    Ok(())
}

/// `nova volume-detach`: prints nothing.
pub async fn volume_detach(s: &mut Session, key: &str, volume: &str) -> Result<()> {
    let server = find::server(s, key).await?;
    let id = server["id"].as_str().unwrap_or_default().to_owned();
    s.delete(&format!("/servers/{id}/os-volume_attachments/{volume}")).await?;
    Ok(())
}

/// `nova volume-attachments`: python-novaclient's columns for the session's
/// microversion.
pub async fn volume_attachments(s: &mut Session, key: &str) -> Result<()> {
    let server = find::server(s, key).await?;
    let id = server["id"].as_str().unwrap_or_default().to_owned();
    let answer = s.get(&format!("/servers/{id}/os-volume_attachments")).await?;
    let mut columns: Vec<(&str, &str)> =
        vec![("ID", "id"), ("DEVICE", "device"), ("SERVER ID", "serverId"), ("VOLUME ID", "volumeId")];
    if s.version.at_least(2, 89) {
        columns.remove(0);
        columns.push(("ATTACHMENT ID", "attachment_id"));
        columns.push(("BDM UUID", "bdm_uuid"));
    }
    if s.version.at_least(2, 70) {
        columns.push(("TAG", "tag"));
    }
    if s.version.at_least(2, 79) {
        columns.push(("DELETE ON TERMINATION", "delete_on_termination"));
    }
    let mut t = Table::new(&columns.iter().map(|(h, _)| *h).collect::<Vec<_>>());
    for a in answer["volumeAttachments"].as_array().into_iter().flatten() {
        t.push(columns.iter().map(|(_, k)| table::cell(a.get(*k))).collect());
    }
    t.print();
    Ok(())
}

/// `nova ssh`, as python-novaclient had it: the server's one network (or
/// `--network`), its floating address (or `--address-type fixed`,
/// `--private`) of the IP version asked, then `ssh` with the extra options.
pub async fn ssh(s: &mut Session, a: &SshArgs) -> Result<()> {
    let server = find::server(s, &a.server).await?;
    let addresses = server["addresses"].as_object().cloned().unwrap_or_default();
    let on_network = match &a.network {
        Some(net) => addresses
            .get(net)
            .cloned()
            .ok_or_else(|| Error::command(format!("Server '{}' is not attached to network '{net}'", a.server)))?,
        None => match addresses.len() {
            0 => return Err(Error::command(format!("Server '{}' is not attached to any network.", a.server))),
            1 => addresses.values().next().cloned().unwrap_or_default(),
            _ => {
                return Err(Error::command(format!(
                    "Server '{}' is attached to more than one network. Please pick the network to use.",
                    a.server
                )))
            }
        },
    };
    let version = if a.ipv6 { 6 } else { 4 };
    let kind = if a.private { "fixed" } else { a.address_type.as_str() };
    let matching: Vec<&str> = on_network
        .as_array()
        .into_iter()
        .flatten()
        .filter(|addr| addr["version"] == version && addr["OS-EXT-IPS:type"].as_str().unwrap_or("floating") == kind)
        .filter_map(|addr| addr["addr"].as_str())
        .collect();
    let address = match matching.as_slice() {
        [one] => one.to_string(),
        [] => {
            return Err(Error::command(format!(
                "No address that would match network '{}' and type '{kind}' of version IPv{version} has been found for server '{}'.",
                a.network.as_deref().unwrap_or("None"),
                a.server
            )))
        }
        _ => return Err(Error::command(format!("More than one IPv{version} {kind} address found."))),
    };
    let mut cmd = std::process::Command::new("ssh");
    cmd.arg(format!("-{version}")).arg(format!("-p{}", a.port));
    if let Some(i) = &a.identity {
        cmd.arg("-i").arg(i);
    }
    cmd.arg(format!("{}@{address}", a.login));
    cmd.args(a.extra_opts.as_deref().unwrap_or_default().split_whitespace());
    let status = cmd.status().map_err(|e| Error::command(format!("Cannot run ssh: {e}")))?;
    if !status.success() {
        std::process::exit(status.code().unwrap_or(255));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_titles_as_novaclient() {
        assert_eq!(field_title("OS-EXT-STS:vm_state"), "OS-EXT-STS: Vm State");
        assert_eq!(field_title("networks"), "Networks");
        assert_eq!(field_title("hostId"), "hostId");
    }

    #[test]
    fn networks_column_sorted_by_label() {
        let server = json!({"addresses": {"b": [{"addr": "10.0.0.2"}], "a": [{"addr": "1"}, {"addr": "2"}], "c": []}});
        assert_eq!(networks_cell(&server), "a=1, 2; b=10.0.0.2");
    }

    #[test]
    fn human_ids_are_slugs() {
        assert_eq!(human_id("My  Server!"), "my-server");
        assert_eq!(human_id("instance1"), "instance1");
    }

    #[test]
    fn nic_specs() {
        assert_eq!(nics(&[], true).unwrap(), json!("auto"));
        assert_eq!(nics(&["none".into()], true).unwrap(), json!("none"));
        assert_eq!(
            nics(&["net-id=abc,v4-fixed-ip=10.0.0.9".into()], true).unwrap(),
            json!([{"uuid": "abc", "fixed_ip": "10.0.0.9"}])
        );
        assert!(nics(&["bogus".into()], true).is_err());
        assert!(nics(&["auto".into(), "none".into()], true).is_err());
    }
}
