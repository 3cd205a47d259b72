//! The config drive, as Nova writes it: an ISO 9660 file system labelled
//! `config-2` holding the OpenStack metadata tree (`openstack/<version>/`
//! meta_data.json, user_data, network_data.json, vendor_data*.json) and the
//! EC2 one (`ec2/<version>/meta-data.json`, user-data), which cloud-init,
//! CirrOS and the test image read at boot.

use std::path::Path;

use oxistack_compute::metadata::{self, EC2_VERSIONS, OPENSTACK_VERSIONS};
use oxistack_compute::virt::InstanceSpec;

fn write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, data)
}

/// Writes the drive's tree under `tree`.
pub fn write_tree(spec: &InstanceSpec, tree: &Path) -> std::io::Result<()> {
    let user_data = metadata::user_data(spec).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let meta = serde_json::to_vec(&metadata::meta_data(spec))?;
    let network = serde_json::to_vec(&metadata::network_data(spec))?;
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
    let ec2 = serde_json::to_vec(&metadata::ec2_meta_data(spec))?;
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
    use base64::Engine;
    use serde_json::Value;

    fn spec() -> InstanceSpec {
        InstanceSpec {
            id: "6f8b2d47-6a4c-4a0e-9d1e-2c1f4b9b3d10".into(),
            name: "instance1".into(),
            hostname: "instance1".into(),
            key_name: Some("SSHKEY".into()),
            public_key: Some("ssh-ed25519 AAAA test".into()),
            user_data: Some(base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho hi\n")),
            vifs: vec![crate::test_vif()],
            admin_pass: Some("given-password".into()),
            ..Default::default()
        }
    }

    #[test]
    fn tree_holds_every_version_and_the_user_data() {
        let dir = std::env::temp_dir().join(format!("oxistack-cd-{}", std::process::id()));
        write_tree(&spec(), &dir).unwrap();
        let ud = std::fs::read_to_string(dir.join("openstack/latest/user_data")).unwrap();
        assert_eq!(ud, "#!/bin/sh\necho hi\n");
        let meta: Value =
            serde_json::from_slice(&std::fs::read(dir.join("openstack/latest/meta_data.json")).unwrap()).unwrap();
        assert_eq!(meta["admin_pass"], "given-password");
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
