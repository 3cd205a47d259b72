//! The config drive, as Nova writes it: an ISO 9660 file system labelled
//! `config-2` holding the OpenStack metadata tree (`openstack/<version>/`
//! meta_data.json, user_data, network_data.json, vendor_data*.json) and the
//! EC2 one (`ec2/<version>/meta-data.json`, user-data), which cloud-init,
//! CirrOS and the test image read at boot.

use std::path::Path;

use base64::Engine;
use serde_json::{json, Value};

use oxistack_compute::virt::InstanceSpec;

/// The metadata versions written; clients pick the newest they know.
const OPENSTACK_VERSIONS: &[&str] = &["2012-08-10", "2013-10-17", "2016-06-30", "2018-08-27", "latest"];
const EC2_VERSIONS: &[&str] = &["2009-04-04", "latest"];

/// `openstack/<version>/meta_data.json`.
pub fn meta_data(spec: &InstanceSpec) -> Value {
    let key_name = spec.key_name.clone().unwrap_or_else(|| "key".into());
    let (public_keys, keys) = match &spec.public_key {
        Some(k) => (json!({ key_name.clone(): k }), json!([{"name": key_name, "type": "ssh", "data": k}])),
        None => (json!({}), json!([])),
    };
    json!({
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
    })
}

/// `openstack/<version>/network_data.json`: each interface by MAC, configured
/// by DHCP (its fixed address is what DHCP hands out).
pub fn network_data(spec: &InstanceSpec) -> Value {
    let mut links = vec![];
    let mut networks = vec![];
    for (i, vif) in spec.vifs.iter().enumerate() {
        let link = format!("tap{i}");
        links.push(json!({"id": link, "vif_id": link, "type": "phy", "ethernet_mac_address": vif.mac, "mtu": 1500}));
        networks
            .push(json!({"id": format!("network{i}"), "type": "ipv4_dhcp", "link": link, "network_id": vif.network}));
    }
    json!({"links": links, "networks": networks, "services": []})
}

/// An EC2-style id: the first 8 hex digits of a UUID.
fn ec2_id(uuid: &str) -> String {
    uuid.chars().filter(|c| *c != '-').take(8).collect()
}

/// `ec2/<version>/meta-data.json`.
fn ec2_meta_data(spec: &InstanceSpec) -> Value {
    let vif = spec.vifs.first();
    let mut keys = json!({});
    if let Some(k) = &spec.public_key {
        keys = json!({"0": {"openssh-key": k, "_name": format!("0={}", spec.key_name.as_deref().unwrap_or("key"))}});
    }
    json!({
        "ami-id": format!("ami-{}", ec2_id(&spec.image_id)),
        "hostname": spec.hostname,
        "local-hostname": spec.hostname,
        "public-hostname": spec.hostname,
        "instance-id": format!("i-{}", ec2_id(&spec.id)),
        "local-ipv4": vif.map(|v| v.fixed_ip.to_string()),
        "public-ipv4": vif.and_then(|v| v.floating_ip).map(|f| f.to_string()),
        "public-keys": keys,
        "placement": {"availability-zone": spec.availability_zone},
        "security-groups": ["default"],
    })
}

fn write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, data)
}

/// Writes the drive's tree under `tree`.
pub fn write_tree(spec: &InstanceSpec, tree: &Path) -> std::io::Result<()> {
    let user_data = match &spec.user_data {
        Some(u) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(u)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("user data: {e}")))?,
        ),
        None => None,
    };
    let meta = serde_json::to_vec(&meta_data(spec))?;
    let network = serde_json::to_vec(&network_data(spec))?;
    for version in OPENSTACK_VERSIONS {
        let dir = tree.join("openstack").join(version);
        write(&dir.join("meta_data.json"), &meta)?;
        write(&dir.join("network_data.json"), &network)?;
        write(&dir.join("vendor_data.json"), b"{}")?;
        write(&dir.join("vendor_data2.json"), b"{}")?;
        if let Some(u) = &user_data {
            write(&dir.join("user_data"), u)?;
        }
    }
    let ec2 = serde_json::to_vec(&ec2_meta_data(spec))?;
    for version in EC2_VERSIONS {
        let dir = tree.join("ec2").join(version);
        write(&dir.join("meta-data.json"), &ec2)?;
        if let Some(u) = &user_data {
            write(&dir.join("user-data"), u)?;
        }
    }
    Ok(())
}

/// Builds the ISO image at `iso` from the tree at `tree`.
pub async fn make_iso(tree: &Path, iso: &Path) -> Result<(), String> {
    let out = tokio::process::Command::new("genisoimage")
        .args(["-quiet", "-V", "config-2", "-J", "-r", "-input-charset", "utf-8", "-o"])
        .arg(iso)
        .arg(tree)
        .output()
        .await
        .map_err(|e| format!("running genisoimage: {e}"))?;
    if !out.status.success() {
        return Err(format!("genisoimage failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> InstanceSpec {
        InstanceSpec {
            id: "6f8b2d47-6a4c-4a0e-9d1e-2c1f4b9b3d10".into(),
            name: "instance1".into(),
            hostname: "instance1".into(),
            key_name: Some("SSHKEY".into()),
            public_key: Some("ssh-ed25519 AAAA test".into()),
            user_data: Some(base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho hi\n")),
            vifs: vec![crate::test_vif()],
            ..Default::default()
        }
    }

    #[test]
    fn meta_data_carries_keys_both_ways() {
        let m = meta_data(&spec());
        assert_eq!(m["public_keys"]["SSHKEY"], "ssh-ed25519 AAAA test");
        assert_eq!(m["keys"][0]["data"], "ssh-ed25519 AAAA test");
        assert_eq!(m["hostname"], "instance1");
    }

    #[test]
    fn tree_holds_every_version_and_the_user_data() {
        let dir = std::env::temp_dir().join(format!("oxistack-cd-{}", std::process::id()));
        write_tree(&spec(), &dir).unwrap();
        let ud = std::fs::read_to_string(dir.join("openstack/latest/user_data")).unwrap();
        assert_eq!(ud, "#!/bin/sh\necho hi\n");
        let net: Value =
            serde_json::from_slice(&std::fs::read(dir.join("openstack/2018-08-27/network_data.json")).unwrap())
                .unwrap();
        assert_eq!(net["links"][0]["ethernet_mac_address"], "fa:16:3e:00:00:01");
        let ec2: Value =
            serde_json::from_slice(&std::fs::read(dir.join("ec2/latest/meta-data.json")).unwrap()).unwrap();
        assert_eq!(ec2["public-ipv4"], "127.42.0.2");
        assert_eq!(ec2["instance-id"], "i-6f8b2d47");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
