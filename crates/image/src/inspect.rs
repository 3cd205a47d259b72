//! What image data really is, read from its first bytes, and whether it may be
//! stored under the `disk_format` its owner declared. QEMU later opens these
//! files on the host, so a qcow2 that names a backing file or an external data
//! file is refused outright (such a file can make QEMU read any host file).

/// How many leading bytes the checks need (an ISO's descriptor is at 32 KiB).
pub const HEAD_LEN: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Detected {
    Qcow2 {
        virtual_size: u64,
        backing_file: bool,
        external_data_file: bool,
    },
    Vmdk,
    Vhdx,
    Vhd,
    Vdi,
    Iso,
    /// Nothing recognised: raw data (a disk image or anything else).
    Raw,
}

fn be32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4).map(|s| u32::from_be_bytes(s.try_into().unwrap()) as u64).unwrap_or(0)
}

fn be64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map(|s| u64::from_be_bytes(s.try_into().unwrap())).unwrap_or(0)
}

pub fn detect(head: &[u8]) -> Detected {
    if head.starts_with(b"QFI\xfb") {
        let version = be32(head, 4);
        // Incompatible feature bit 2: the guest data lives in another file.
        let incompatible = if version >= 3 { be64(head, 72) } else { 0 };
        return Detected::Qcow2 {
            virtual_size: be64(head, 24),
            backing_file: be64(head, 8) != 0,
            external_data_file: incompatible & 0b100 != 0,
        };
    }
    if head.starts_with(b"KDMV") || head.starts_with(b"# Disk DescriptorFile") {
        return Detected::Vmdk;
    }
    if head.starts_with(b"vhdxfile") {
        return Detected::Vhdx;
    }
    if head.starts_with(b"conectix") {
        return Detected::Vhd;
    }
    if head.get(0x40..0x44) == Some(&[0x7f, 0x10, 0xda, 0xbe]) {
        return Detected::Vdi;
    }
    if head.get(0x8001..0x8006) == Some(b"CD001") {
        return Detected::Iso;
    }
    Detected::Raw
}

/// Checks data against its declared format. `Ok(virtual_size)` when it may be
/// stored, else the reason it may not.
pub fn check(disk_format: Option<&str>, head: &[u8], size: u64) -> Result<Option<u64>, String> {
    let detected = detect(head);
    let mismatch = |what: &str| {
        Err(format!("Image data is {what}, which does not match its disk_format {}.", disk_format.unwrap_or("")))
    };
    match (disk_format, &detected) {
        (_, Detected::Qcow2 { backing_file: true, .. }) => Err("A qcow2 image may not name a backing file.".into()),
        (_, Detected::Qcow2 { external_data_file: true, .. }) => {
            Err("A qcow2 image may not use an external data file.".into())
        }
        (Some("qcow2"), Detected::Qcow2 { virtual_size, .. }) => Ok(Some(*virtual_size)),
        (Some("qcow2"), _) => mismatch("not qcow2"),
        (Some("raw"), Detected::Raw | Detected::Iso) => Ok(Some(size)),
        (Some("raw"), other) => mismatch(&format!("{other:?}").to_lowercase()),
        (Some("iso"), Detected::Iso) => Ok(Some(size)),
        (Some("iso"), _) => mismatch("not an ISO 9660 image"),
        (Some("vmdk"), Detected::Vmdk) | (Some("vhdx"), Detected::Vhdx) | (Some("vdi"), Detected::Vdi) => Ok(None),
        // A fixed VHD has its footer at the end only.
        (Some("vhd"), Detected::Vhd | Detected::Raw) => Ok(None),
        (Some(f @ ("vmdk" | "vhdx" | "vdi" | "vhd")), other) => {
            mismatch(&format!("{other:?} rather than {f}").to_lowercase())
        }
        (_, Detected::Qcow2 { .. }) => mismatch("qcow2"),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qcow2(backing: u64, incompatible: u64) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..4].copy_from_slice(b"QFI\xfb");
        h[4..8].copy_from_slice(&3u32.to_be_bytes());
        h[8..16].copy_from_slice(&backing.to_be_bytes());
        h[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
        h[72..80].copy_from_slice(&incompatible.to_be_bytes());
        h
    }

    #[test]
    fn qcow2_is_accepted_only_as_qcow2_and_only_self_contained() {
        assert_eq!(check(Some("qcow2"), &qcow2(0, 0), 512), Ok(Some(1 << 30)));
        assert!(check(Some("raw"), &qcow2(0, 0), 512).is_err());
        assert!(check(Some("qcow2"), &qcow2(0x200, 0), 512).unwrap_err().contains("backing file"));
        assert!(check(Some("qcow2"), &qcow2(0, 0b100), 512).unwrap_err().contains("external data file"));
        assert!(check(Some("qcow2"), &[0u8; 4096], 4096).is_err());
    }

    #[test]
    fn raw_and_iso() {
        assert_eq!(check(Some("raw"), &[0u8; 4096], 4096), Ok(Some(4096)));
        let mut iso = vec![0u8; 0x9000];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(detect(&iso), Detected::Iso);
        assert_eq!(check(Some("iso"), &iso, 0x9000), Ok(Some(0x9000)));
        assert!(check(Some("iso"), &[0u8; 10], 10).is_err());
        assert!(check(Some("vmdk"), &[0u8; 10], 10).is_err());
        assert_eq!(check(Some("vmdk"), b"KDMV....", 8), Ok(None));
    }
}
