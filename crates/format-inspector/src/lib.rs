//! The one gate every image passes before it becomes a disk, in the spirit of
//! Glance's and Nova's `format_inspector`: the Image service runs it on every
//! upload, stage and import, and Compute runs it again on the stored file
//! before any `qemu-img` or QEMU opens it.
//!
//! An image is untrusted input that QEMU later opens on the host. Formats that
//! can name other files (a qcow2 backing file or external data file, a VMDK
//! descriptor's extents or parent, a differencing VHD) would let a tenant make
//! QEMU read host files into its disk, so the inspector parses each header
//! itself and accepts an image only when it proves self-contained. It never
//! runs `qemu-img` and reads only the bytes it needs, so it is safe on any
//! input: the corpus of hostile images beside this crate and a property test
//! that mutates them hold it to that.
//!
//! What it must not do: trust `disk_format`, follow any name found in the data,
//! or answer "fine" for a format it does not parse.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// The `disk_format`s whose data this inspector parses: the only ones the
/// Image service accepts and Compute boots. `ami`, `ari` and `aki` are raw
/// data to QEMU and are inspected as raw.
pub const INSPECTED_FORMATS: &[&str] = &["raw", "qcow2", "vmdk", "vhd", "vdi", "iso", "ami", "ari", "aki"];

/// The largest virtual size accepted (1 PiB): far above any real disk, far
/// below the sizes at which QEMU's own arithmetic overflows.
pub const MAX_VIRTUAL_SIZE: u64 = 1 << 50;

/// How much of the start of an image is read to tell its format (an ISO's
/// primary volume descriptor is at 32 KiB).
const HEAD_LEN: usize = 64 * 1024;

/// What the data really is, as its header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Raw,
    Qcow2,
    Qed,
    /// A VMDK with a binary sparse header (`KDMV`).
    VmdkSparse,
    /// VMware's older sparse format (`COWD`).
    VmdkCowd,
    /// A VMDK text descriptor: nothing but names of other files.
    VmdkDescriptor,
    Vhd,
    Vhdx,
    Vdi,
    Iso,
    Luks,
    Parallels,
    Bochs,
    Cloop,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Qed => "qed",
            Format::VmdkSparse => "vmdk",
            Format::VmdkCowd => "vmdk (COWD)",
            Format::VmdkDescriptor => "a vmdk descriptor file",
            Format::Vhd => "vhd",
            Format::Vhdx => "vhdx",
            Format::Vdi => "vdi",
            Format::Iso => "iso",
            Format::Luks => "luks",
            Format::Parallels => "parallels",
            Format::Bochs => "bochs",
            Format::Cloop => "cloop",
        }
    }
}

/// An image the inspector accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inspected {
    pub format: Format,
    /// The size of the disk the guest sees, in bytes.
    pub virtual_size: u64,
}

/// Why an image is refused: `rule` is a stable name for logs, faults and
/// tests; `message` says it to a user and never quotes a name from the data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub rule: &'static str,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (rule {})", self.message, self.rule)
    }
}

fn refuse<T>(rule: &'static str, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal { rule, message: message.into() })
}

/// Whether images of `disk_format` may be stored at all.
pub fn is_inspected(disk_format: &str) -> bool {
    INSPECTED_FORMATS.contains(&disk_format)
}

/// Inspects the file at `path` as `disk_format`. The outer error is an I/O
/// failure reading it; the inner one a refusal of its content.
pub fn inspect_file(path: &Path, disk_format: &str) -> io::Result<Result<Inspected, Refusal>> {
    let mut file = std::fs::File::open(path)?;
    inspect(&mut file, disk_format)
}

/// Inspects `data` as `disk_format`: `Ok` only when the data is of that
/// format and self-contained.
pub fn inspect<R: Read + Seek>(data: &mut R, disk_format: &str) -> io::Result<Result<Inspected, Refusal>> {
    let len = data.seek(SeekFrom::End(0))?;
    let head = read_at(data, 0, HEAD_LEN)?;
    let detected = detect(&head);
    let mut image = Image { data, len, head };
    Ok(image.check(disk_format, detected))
}

/// Tells the format from the first bytes of the data (at least the first
/// 64 KiB, or all of it when shorter).
pub fn detect(head: &[u8]) -> Format {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"QFI\xfb") {
        Format::Qcow2
    } else if at(0, b"QED\0") {
        Format::Qed
    } else if at(0, b"KDMV") {
        Format::VmdkSparse
    } else if at(0, b"COWD") {
        Format::VmdkCowd
    } else if at(0, b"conectix") {
        Format::Vhd
    } else if at(0, b"vhdxfile") {
        Format::Vhdx
    } else if at(0x40, &[0x7f, 0x10, 0xda, 0xbe]) {
        Format::Vdi
    } else if at(0, b"LUKS\xba\xbe") {
        Format::Luks
    } else if at(0, b"WithoutFreeSpace") || at(0, b"WithouFreSpacExt") {
        Format::Parallels
    } else if at(0, b"Bochs Virtual HD Image") {
        Format::Bochs
    } else if at(0, b"#!/bin/sh\n#V2.0 Format\n") {
        Format::Cloop
    } else if is_vmdk_descriptor(head) {
        Format::VmdkDescriptor
    } else if at(0x8001, b"CD001") {
        Format::Iso
    } else {
        Format::Raw
    }
}

/// QEMU's own test for a VMDK text descriptor (`vmdk_probe`): comment and
/// blank lines, then `version=1`, `2` or `3`. QEMU would take such a file for
/// a VMDK if ever it were opened without a format, so it is never raw here.
fn is_vmdk_descriptor(head: &[u8]) -> bool {
    for line in head.split(|b| *b == b'\n').map(<[u8]>::trim_ascii) {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        return line.len() == 9 && line.starts_with(b"version=") && matches!(line[8], b'1' | b'2' | b'3');
    }
    false
}

fn read_at<R: Read + Seek>(data: &mut R, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    data.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len.min(1 << 20));
    data.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

fn be32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4).map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64)
}

fn be64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| u64::from_be_bytes(s.try_into().unwrap_or([0; 8])))
}

fn le32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4).map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as u64)
}

fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
}

fn truncated<T>(what: &str) -> Result<T, Refusal> {
    refuse("truncated", format!("The {what} header is truncated."))
}

fn sane_size(virtual_size: u64) -> Result<u64, Refusal> {
    if virtual_size > MAX_VIRTUAL_SIZE {
        return refuse("virtual-size", "The image's virtual size is larger than 1 PiB.");
    }
    Ok(virtual_size)
}

struct Image<'a, R> {
    data: &'a mut R,
    len: u64,
    head: Vec<u8>,
}

impl<R: Read + Seek> Image<'_, R> {
    fn check(&mut self, disk_format: &str, detected: Format) -> Result<Inspected, Refusal> {
        let expected = match disk_format {
            "raw" | "ami" | "ari" | "aki" => Format::Raw,
            "qcow2" => Format::Qcow2,
            "vmdk" => Format::VmdkSparse,
            "vhd" => Format::Vhd,
            "vdi" => Format::Vdi,
            "iso" => Format::Iso,
            other => {
                return refuse(
                    "format-not-inspected",
                    format!("Images of disk_format {other} are not accepted: their contents cannot be inspected."),
                )
            }
        };
        let virtual_size = match (expected, detected) {
            // An ISO is raw data to QEMU.
            (Format::Raw, Format::Raw | Format::Iso) => self.len,
            (Format::Iso, Format::Iso) => self.len,
            (Format::Qcow2, Format::Qcow2) => self.qcow2()?,
            (Format::VmdkSparse, Format::VmdkSparse) => self.vmdk()?,
            // A fixed VHD has its footer at its end only.
            (Format::Vhd, Format::Vhd | Format::Raw) => self.vhd(detected == Format::Vhd)?,
            (Format::Vdi, Format::Vdi) => self.vdi()?,
            (Format::VmdkSparse, Format::VmdkDescriptor | Format::VmdkCowd) => {
                return refuse(
                    "vmdk-subformat",
                    "Only monolithicSparse and streamOptimized VMDK images are accepted: \
                     a VMDK descriptor file names other files.",
                )
            }
            _ => {
                return refuse(
                    "format-mismatch",
                    format!("Image data is {}, not {disk_format} as its disk_format says.", detected.name()),
                )
            }
        };
        Ok(Inspected { format: expected, virtual_size: sane_size(virtual_size)? })
    }

    /// qcow2 (versions 2 and 3): no backing file, no external data file, no
    /// encryption, no feature this inspector does not know, and a header
    /// whose tables lie inside the file.
    fn qcow2(&mut self) -> Result<u64, Refusal> {
        let h = &self.head;
        if h.len() < 72 {
            return truncated("qcow2");
        }
        let version = be32(h, 4);
        if !(2..=3).contains(&version) {
            return refuse("qcow2-version", format!("qcow2 version {version} is not accepted."));
        }
        if be64(h, 8) != 0 || be32(h, 16) != 0 {
            return refuse("qcow2-backing-file", "A qcow2 image may not name a backing file.");
        }
        let cluster_bits = be32(h, 20);
        if !(9..=21).contains(&cluster_bits) {
            return refuse("qcow2-cluster-size", "The qcow2 cluster size is out of range.");
        }
        let cluster_size = 1u64 << cluster_bits;
        let virtual_size = be64(h, 24);
        if be32(h, 32) != 0 {
            return refuse("qcow2-encrypted", "Encrypted qcow2 images are not accepted.");
        }
        let header_length = if version == 3 {
            if h.len() < 104 {
                return truncated("qcow2");
            }
            // Incompatible features: 0 dirty, 1 corrupt, 2 external data
            // file, 3 compression type, 4 extended L2 entries.
            let incompatible = be64(h, 72);
            if incompatible & 0b100 != 0 || be64(h, 88) & 0b10 != 0 {
                return refuse("qcow2-data-file", "A qcow2 image may not use an external data file.");
            }
            if incompatible & 0b10 != 0 {
                return refuse("qcow2-corrupt", "The qcow2 image is marked corrupt.");
            }
            if incompatible & !0b11011 != 0 {
                return refuse("qcow2-features", "The qcow2 image uses features that cannot be inspected.");
            }
            if be32(h, 96) > 6 {
                return refuse("qcow2-header", "The qcow2 refcount order is out of range.");
            }
            be32(h, 100)
        } else {
            72
        };
        if header_length < 72
            || header_length > cluster_size.min(HEAD_LEN as u64)
            || (version == 3 && header_length < 104)
        {
            return refuse("qcow2-header", "The qcow2 header length is out of range.");
        }
        if self.len < cluster_size {
            return truncated("qcow2");
        }
        let (l1_size, l1_offset) = (be32(h, 36), be64(h, 40));
        let refcount_offset = be64(h, 48);
        let inside = |offset: u64, bytes: u64| {
            offset.is_multiple_of(cluster_size) && offset.checked_add(bytes).is_some_and(|end| end <= self.len)
        };
        if (l1_size > 0 && !inside(l1_offset, l1_size * 8)) || !inside(refcount_offset, 8) {
            return refuse("qcow2-header", "The qcow2 tables lie outside the file.");
        }
        self.qcow2_extensions(header_length as usize, cluster_size.min(HEAD_LEN as u64) as usize)?;
        Ok(virtual_size)
    }

    /// The header extensions after the header, up to the end of the first
    /// cluster: none may name a data file or a backing file's format.
    fn qcow2_extensions(&self, mut at: usize, end: usize) -> Result<(), Refusal> {
        for _ in 0..64 {
            if at + 8 > end || at + 8 > self.head.len() {
                return refuse("qcow2-header", "The qcow2 header extensions run past the first cluster.");
            }
            let (kind, len) = (be32(&self.head, at), be32(&self.head, at + 4) as usize);
            match kind {
                0 => return Ok(()),
                0x4441_5441 => return refuse("qcow2-data-file", "A qcow2 image may not use an external data file."),
                0xe279_2aca => return refuse("qcow2-backing-file", "A qcow2 image may not name a backing file."),
                _ => {}
            }
            at = at + 8 + len.div_ceil(8) * 8;
        }
        refuse("qcow2-header", "The qcow2 image has too many header extensions.")
    }

    /// VMDK with a sparse header (monolithicSparse, streamOptimized): its
    /// embedded descriptor names one SPARSE extent and no parent, and the
    /// header holds the data itself (QEMU follows the descriptor's extents
    /// when the header's capacity is 0).
    fn vmdk(&mut self) -> Result<u64, Refusal> {
        let h = &self.head;
        if h.len() < 512 {
            return truncated("vmdk");
        }
        if !(1..=3).contains(&le32(h, 4)) {
            return refuse("vmdk-header", "The VMDK version is not accepted.");
        }
        let capacity = le64(h, 12);
        let grain = le64(h, 20);
        let (desc_offset, desc_size) = (le64(h, 28), le64(h, 36));
        if capacity == 0 {
            return refuse("vmdk-extents", "A VMDK image must hold its data: a capacity of 0 defers to other files.");
        }
        if grain == 0 || !grain.is_power_of_two() || grain > 0x20000 {
            return refuse("vmdk-header", "The VMDK grain size is out of range.");
        }
        if desc_offset == 0 || desc_size == 0 || desc_size > 2048 {
            return refuse("vmdk-descriptor", "A VMDK image must embed a descriptor of at most 1 MiB.");
        }
        let start = desc_offset.checked_mul(512).filter(|s| s.saturating_add(desc_size * 512) <= self.len);
        let Some(start) = start else {
            return truncated("vmdk descriptor");
        };
        let descriptor = read_at(self.data, start, (desc_size * 512) as usize)
            .map_err(|_| Refusal { rule: "truncated", message: "The VMDK descriptor cannot be read.".into() })?;
        let text = String::from_utf8_lossy(descriptor.split(|b| *b == 0).next().unwrap_or_default()).into_owned();
        vmdk_descriptor(&text)?;
        capacity.checked_mul(512).map_or_else(|| refuse("virtual-size", "The VMDK capacity is out of range."), Ok)
    }

    /// VHD (`vpc` to QEMU): fixed or dynamic, never differencing (whose
    /// parent locators name another file).
    fn vhd(&mut self, footer_at_start: bool) -> Result<u64, Refusal> {
        let footer = if footer_at_start {
            self.head.get(..512).map(<[u8]>::to_vec)
        } else if self.len >= 512 {
            read_at(self.data, self.len - 512, 512).ok()
        } else {
            None
        };
        let Some(footer) = footer.filter(|f| f.len() == 512 && f.starts_with(b"conectix")) else {
            return refuse("format-mismatch", "Image data is raw, not vhd as its disk_format says.");
        };
        match be32(&footer, 60) {
            2 => {}
            3 => {
                let offset = be64(&footer, 16);
                let dynamic = read_at(self.data, offset, 1024).unwrap_or_default();
                if offset == u64::MAX || !dynamic.starts_with(b"cxsparse") {
                    return refuse("vhd-header", "The dynamic VHD header is missing.");
                }
            }
            4 => return refuse("vhd-differencing", "Differencing VHD images name a parent file and are not accepted."),
            _ => return refuse("vhd-header", "The VHD disk type is not accepted."),
        }
        Ok(be64(&footer, 48))
    }

    /// VDI: normal (dynamic) or static images; QEMU knows no other kind,
    /// and a differencing one would name a parent.
    fn vdi(&mut self) -> Result<u64, Refusal> {
        let h = &self.head;
        if h.len() < 0x180 {
            return truncated("vdi");
        }
        if !matches!(le32(h, 0x4c), 1 | 2) {
            return refuse("vdi-type", "Only normal and static VDI images are accepted.");
        }
        Ok(le64(h, 0x170))
    }
}

/// The embedded descriptor of a sparse VMDK: `createType` monolithicSparse
/// or streamOptimized, exactly one SPARSE extent in the file itself, no parent.
fn vmdk_descriptor(text: &str) -> Result<(), Refusal> {
    let mut extents = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (key, value) = line.split_once('=').map_or((line, ""), |(k, v)| (k.trim(), v.trim().trim_matches('"')));
        match key {
            "createType" if !matches!(value, "monolithicSparse" | "streamOptimized") => {
                return refuse("vmdk-subformat", "Only monolithicSparse and streamOptimized VMDK images are accepted.")
            }
            "parentFileNameHint" => return refuse("vmdk-parent", "A VMDK image may not name a parent file."),
            "parentCID" if !value.eq_ignore_ascii_case("ffffffff") => {
                return refuse("vmdk-parent", "A VMDK image may not have a parent.")
            }
            _ => {}
        }
        let mut words = line.split_whitespace();
        if matches!(words.next(), Some("RW" | "RDONLY" | "NOACCESS")) {
            extents += 1;
            let _size = words.next();
            let kind = words.next().unwrap_or_default();
            let name = line.split('"').nth(1).unwrap_or_default();
            if kind != "SPARSE" || name.contains(['/', '\\', ':']) {
                return refuse("vmdk-extents", "A VMDK image may have only its own SPARSE extent.");
            }
        }
    }
    if extents != 1 {
        return refuse("vmdk-extents", "A VMDK image must have exactly one extent, in the file itself.");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
