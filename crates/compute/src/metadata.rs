//! The instance metadata Nova gives a guest, in its OpenStack and EC2 trees:
//! one source for the config drive a driver writes and for the metadata
//! service a guest reaches at 169.254.169.254.

use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use crate::virt::InstanceSpec;
use crate::Compute;

/// The metadata versions served; clients pick the newest they know.
pub const OPENSTACK_VERSIONS: &[&str] = &["2012-08-10", "2013-10-17", "2016-06-30", "2018-08-27", "latest"];
pub const EC2_VERSIONS: &[&str] = &["1.0", "2007-01-19", "2009-04-04", "latest"];

/// `openstack/<version>/meta_data.json`.
pub fn meta_data(spec: &InstanceSpec) -> Value {
    let key_name = spec.key_name.clone().unwrap_or_else(|| "key".into());
    let (public_keys, keys) = match &spec.public_key {
        Some(k) => (json!({ key_name.clone(): k }), json!([{"name": key_name, "type": "ssh", "data": k}])),
        None => (json!({}), json!([])),
    };
    let mut meta = json!({
        "uuid": spec.id,
        "name": spec.name,
        "hostname": spec.hostname,
        "availability_zone": spec.availability_zone,
        "project_id": spec.project_id,
        "launch_index": 0,
        "meta": spec.metadata,
        "public_keys": public_keys,
        "keys": keys,
        "devices": [],
    });
    if let Some(pass) = &spec.admin_pass {
        meta["admin_pass"] = json!(pass);
    }
    meta
}

fn netmask(prefix: u8) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0))
}

/// `openstack/<version>/network_data.json`: each interface by MAC with its
/// port's fixed address, netmask and default route, as Nova writes it for a
/// statically configured subnet.
pub fn network_data(spec: &InstanceSpec) -> Value {
    let mut links = vec![];
    let mut networks = vec![];
    for (i, vif) in spec.vifs.iter().enumerate() {
        let link = format!("tap{}", vif.port_id.get(..11).unwrap_or(&vif.port_id));
        links.push(
            json!({"id": link, "vif_id": vif.port_id, "type": "phy", "ethernet_mac_address": vif.mac, "mtu": 1500}),
        );
        networks.push(json!({
            "id": format!("network{i}"),
            "type": "ipv4",
            "ip_address": vif.fixed_ip.to_string(),
            "link": link,
            "netmask": netmask(vif.prefix).to_string(),
            "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": vif.gateway.to_string()}],
            "network_id": vif.network,
            "services": [],
        }));
    }
    json!({"links": links, "networks": networks, "services": []})
}

/// An EC2-style id: the first 8 hex digits of a UUID.
fn ec2_id(uuid: &str) -> String {
    uuid.chars().filter(|c| *c != '-').take(8).collect()
}

/// `ec2/<version>/meta-data.json`, also the EC2 tree the service walks.
pub fn ec2_meta_data(spec: &InstanceSpec) -> Value {
    let vif = spec.vifs.first();
    let mut keys = json!({});
    if let Some(k) = &spec.public_key {
        keys = json!({"0": {"openssh-key": k, "_name": format!("0={}", spec.key_name.as_deref().unwrap_or("key"))}});
    }
    json!({
        "ami-id": format!("ami-{}", ec2_id(&spec.image_id)),
        "ami-launch-index": 0,
        "hostname": spec.hostname,
        "local-hostname": spec.hostname,
        "public-hostname": spec.hostname,
        "instance-id": format!("i-{}", ec2_id(&spec.id)),
        "instance-type": spec.flavor_name,
        "local-ipv4": vif.map(|v| v.fixed_ip.to_string()),
        "public-ipv4": vif.and_then(|v| v.floating_ip).map(|f| f.to_string()),
        "public-keys": keys,
        "placement": {"availability-zone": spec.availability_zone},
        "security-groups": vif.map(|v| v.security_groups.clone()).unwrap_or_default(),
    })
}

/// The user data as the guest gets it, decoded.
pub fn user_data(spec: &InstanceSpec) -> Result<Option<Vec<u8>>, String> {
    match &spec.user_data {
        Some(u) => base64::engine::general_purpose::STANDARD.decode(u).map(Some).map_err(|e| format!("user data: {e}")),
        None => Ok(None),
    }
}

/// One answer of the metadata service: a path under `/` for `spec`, or
/// `None` for a 404.
pub fn lookup(spec: &InstanceSpec, path: &str) -> Option<(&'static str, Vec<u8>)> {
    let text = |s: String| Some(("text/plain; charset=UTF-8", s.into_bytes()));
    let user_data = user_data(spec).ok().flatten();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => text(EC2_VERSIONS.join("\n")),
        ["openstack"] => text(OPENSTACK_VERSIONS.join("\n")),
        ["openstack", version] if OPENSTACK_VERSIONS.contains(version) => {
            let mut files =
                vec!["meta_data.json", "password", "vendor_data.json", "network_data.json", "vendor_data2.json"];
            if user_data.is_some() {
                files.push("user_data");
            }
            text(files.join("\n"))
        }
        ["openstack", version, file] if OPENSTACK_VERSIONS.contains(version) => {
            let json = |v: Value| Some(("application/json", v.to_string().into_bytes()));
            match *file {
                "meta_data.json" => json(meta_data(spec)),
                "network_data.json" => json(network_data(spec)),
                "vendor_data.json" | "vendor_data2.json" => json(json!({})),
                "password" => text(String::new()),
                "user_data" => user_data.map(|u| ("application/octet-stream", u)),
                _ => None,
            }
        }
        [version] if EC2_VERSIONS.contains(version) => {
            text(if user_data.is_some() { "meta-data/\nuser-data" } else { "meta-data/" }.to_string())
        }
        [version, "user-data"] if EC2_VERSIONS.contains(version) => user_data.map(|u| ("application/octet-stream", u)),
        [version, "meta-data", rest @ ..] if EC2_VERSIONS.contains(version) => {
            ec2_node(&ec2_meta_data(spec), rest).and_then(text)
        }
        _ => None,
    }
}

/// A node of the EC2 tree: a directory lists its entries (subdirectories
/// with a `/`, public keys as `0=name`), a leaf is its value.
fn ec2_node(tree: &Value, path: &[&str]) -> Option<String> {
    let mut node = tree;
    for part in path {
        node = node.as_object()?.get(*part)?;
    }
    match node {
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| match v {
                    Value::Object(inner) => match inner.get("_name").and_then(Value::as_str) {
                        Some(name) => name.to_string(),
                        None => format!("{k}/"),
                    },
                    _ => k.clone(),
                })
                .collect();
            Some(entries.join("\n"))
        }
        Value::Array(items) => Some(items.iter().map(leaf).collect::<Vec<_>>().join("\n")),
        Value::Null => None,
        other => Some(leaf(other)),
    }
}

fn leaf(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The instance a metadata connection speaks for, named by the relay QEMU
/// runs for that instance's forwarded port, never by the guest.
#[derive(Clone, Debug)]
pub struct Caller(pub String);

/// How a guest reaches the service: QEMU forwards each of its connections to
/// 169.254.169.254:80 to a new `oxistack metadata-relay <socket> <instance>`,
/// which connects to this Unix socket (the owner's alone), sends the
/// instance's id on one line, then relays the guest's bytes both ways.
pub struct RelayListener {
    listener: tokio::net::UnixListener,
}

impl RelayListener {
    pub fn bind(path: &std::path::Path) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(RelayListener { listener })
    }
}

/// The first line of a relayed connection: the instance's id, read a byte at
/// a time so that nothing of the guest's request is consumed with it.
async fn read_caller(stream: &mut tokio::net::UnixStream) -> Option<Caller> {
    use tokio::io::AsyncReadExt;
    let mut line = Vec::new();
    loop {
        let byte = stream.read_u8().await.ok()?;
        if byte == b'\n' {
            break;
        }
        line.push(byte);
        if line.len() > 64 {
            return None;
        }
    }
    let id = String::from_utf8(line).ok()?;
    id.chars().all(|c| c.is_ascii_hexdigit() || c == '-').then_some(Caller(id))
}

impl axum::serve::Listener for RelayListener {
    type Io = tokio::net::UnixStream;
    type Addr = Caller;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let mut stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "metadata relay accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let wait = std::time::Duration::from_secs(2);
            if let Ok(Some(caller)) = tokio::time::timeout(wait, read_caller(&mut stream)).await {
                return (stream, caller);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(Caller(String::new()))
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, RelayListener>> for Caller {
    fn connect_info(stream: axum::serve::IncomingStream<'_, RelayListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// Serves the metadata service on `listener` until the process ends.
pub async fn serve_relayed(compute: Arc<Compute>, listener: RelayListener) -> std::io::Result<()> {
    let app = router(compute).into_make_service_with_connect_info::<Caller>();
    axum::serve(listener, app).await
}

/// The relay's side: one guest connection on stdin/stdout, joined to the
/// service's socket for `instance`.
pub fn relay(socket: &std::path::Path, instance: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut upstream = std::os::unix::net::UnixStream::connect(socket)?;
    upstream.write_all(format!("{instance}\n").as_bytes())?;
    let mut to_service = upstream.try_clone()?;
    let requests = std::thread::spawn(move || {
        let copied = std::io::copy(&mut std::io::stdin().lock(), &mut to_service);
        let _ = to_service.shutdown(std::net::Shutdown::Write);
        copied
    });
    std::io::copy(&mut upstream, &mut std::io::stdout().lock())?;
    drop(requests);
    Ok(())
}

/// The metadata service: every path answered for the calling instance.
pub fn router(compute: Arc<Compute>) -> Router {
    Router::new().fallback(serve).with_state(compute)
}

async fn serve(State(compute): State<Arc<Compute>>, ConnectInfo(caller): ConnectInfo<Caller>, uri: Uri) -> Response {
    let spec = match compute.metadata_spec(&caller.0).await {
        Ok(Some(spec)) => spec,
        Ok(None) => return (StatusCode::NOT_FOUND, "Instance not found").into_response(),
        Err(e) => {
            tracing::warn!(instance = %caller.0, error = %e, "metadata request failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "An unknown error has occurred.").into_response();
        }
    };
    match lookup(&spec, uri.path()) {
        Some((content_type, body)) => ([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response(),
        None => (StatusCode::NOT_FOUND, "The resource could not be found.").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Vif;
    use serde_json::Map;

    fn spec() -> InstanceSpec {
        InstanceSpec {
            id: "0b7c5b0e-1111-2222-3333-444455556666".into(),
            name: "vm".into(),
            hostname: "vm".into(),
            project_id: "p".into(),
            availability_zone: "nova".into(),
            flavor_name: "m1.tiny".into(),
            vcpus: 1,
            ram_mb: 512,
            disk_gb: 1,
            ephemeral_gb: 0,
            swap_mb: 0,
            image_id: "abcdef12-0000-0000-0000-000000000000".into(),
            image: None,
            root_volume: None,
            key_name: Some("SSHKEY".into()),
            public_key: Some("ssh-ed25519 AAAA test".into()),
            user_data: Some(base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho hi\n")),
            metadata: Map::new(),
            config_drive: true,
            admin_pass: None,
            vifs: vec![Vif {
                port_id: "5e0b4c3a-aaaa-bbbb-cccc-dddddddddddd".into(),
                network: "net".into(),
                mac: "fa:16:3e:00:00:01".into(),
                fixed_ip: "10.0.0.5".parse().unwrap(),
                fixed_ips_v6: vec![],
                prefix: 24,
                gateway: "10.0.0.1".parse().unwrap(),
                floating_ip: Some("127.42.0.9".parse().unwrap()),
                tcp_ports: vec![22],
                security_groups: vec!["default".into()],
                preserve: false,
            }],
            volumes: vec![],
            launched_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn body(path: &str) -> Option<String> {
        lookup(&spec(), path).map(|(_, b)| String::from_utf8(b).unwrap())
    }

    #[test]
    fn openstack_tree() {
        assert!(body("/openstack").unwrap().ends_with("2018-08-27\nlatest"));
        assert!(body("/openstack/latest").unwrap().contains("user_data"));
        let meta: Value = serde_json::from_str(&body("/openstack/2018-08-27/meta_data.json").unwrap()).unwrap();
        assert_eq!(meta["public_keys"]["SSHKEY"], "ssh-ed25519 AAAA test");
        assert_eq!(body("/openstack/latest/user_data").unwrap(), "#!/bin/sh\necho hi\n");
        let net: Value = serde_json::from_str(&body("/openstack/latest/network_data.json").unwrap()).unwrap();
        assert_eq!(net["networks"][0]["ip_address"], "10.0.0.5");
        assert_eq!(net["networks"][0]["netmask"], "255.255.255.0");
        assert_eq!(body("/openstack/1999-01-01/meta_data.json"), None);
        // The password is the create request's, for the config drive only.
        assert!(meta.get("admin_pass").is_none());
        let on_drive = meta_data(&InstanceSpec { admin_pass: Some("s3cret".into()), ..spec() });
        assert_eq!(on_drive["admin_pass"], "s3cret");
    }

    #[test]
    fn ec2_tree() {
        assert!(body("/").unwrap().ends_with("latest"));
        let dir = body("/latest/meta-data/").unwrap();
        assert!(dir.contains("instance-id\n") && dir.contains("placement/") && dir.contains("public-keys/"));
        assert_eq!(body("/latest/meta-data/instance-id").unwrap(), "i-0b7c5b0e");
        assert_eq!(body("/latest/meta-data/local-ipv4").unwrap(), "10.0.0.5");
        assert_eq!(body("/latest/meta-data/placement/availability-zone").unwrap(), "nova");
        assert_eq!(body("/latest/meta-data/public-keys/").unwrap(), "0=SSHKEY");
        assert_eq!(body("/latest/meta-data/public-keys/0/").unwrap(), "openssh-key");
        assert_eq!(body("/latest/meta-data/public-keys/0/openssh-key").unwrap(), "ssh-ed25519 AAAA test");
        assert_eq!(body("/2009-04-04/user-data").unwrap(), "#!/bin/sh\necho hi\n");
        assert_eq!(body("/latest/meta-data/nothing"), None);
    }
}
