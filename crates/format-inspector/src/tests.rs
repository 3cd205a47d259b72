use std::io::Cursor;

use super::*;

/// The corpus directory, found when the tests run: a test binary may have
/// been built in another checkout sharing the target directory.
fn corpus_dir() -> std::path::PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")).join("corpus")
}

fn corpus(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn verdict(data: &[u8], disk_format: &str) -> Result<Inspected, Refusal> {
    inspect(&mut Cursor::new(data), disk_format).expect("reading from memory")
}

/// Every file of the corpus, the `disk_format` it is declared as, and the
/// rule that refuses it (`None`: accepted).
const CASES: &[(&str, &str, Option<&str>)] = &[
    ("good.qcow2", "qcow2", None),
    ("good-v2.qcow2", "qcow2", None),
    ("good-sparse.vmdk", "vmdk", None),
    ("good-stream.vmdk", "vmdk", None),
    ("good-dynamic.vhd", "vhd", None),
    ("good-fixed.vhd", "vhd", None),
    ("good.vdi", "vdi", None),
    ("good.raw", "raw", None),
    ("hostile-backing-file.qcow2", "qcow2", Some("qcow2-backing-file")),
    ("hostile-backing-json.qcow2", "qcow2", Some("qcow2-backing-file")),
    ("hostile-backing-protocol.qcow2", "qcow2", Some("qcow2-backing-file")),
    ("hostile-backing-extension.qcow2", "qcow2", Some("qcow2-backing-file")),
    ("hostile-data-file.qcow2", "qcow2", Some("qcow2-data-file")),
    ("hostile-truncated.qcow2", "qcow2", Some("truncated")),
    ("hostile-header-length.qcow2", "qcow2", Some("qcow2-header")),
    ("hostile-unknown-feature.qcow2", "qcow2", Some("qcow2-features")),
    ("hostile-encrypted.qcow2", "qcow2", Some("qcow2-encrypted")),
    ("hostile-cluster-bits.qcow2", "qcow2", Some("qcow2-cluster-size")),
    ("hostile-l1-outside.qcow2", "qcow2", Some("qcow2-header")),
    ("hostile-huge-size.qcow2", "qcow2", Some("virtual-size")),
    ("hostile-descriptor-relative.vmdk", "vmdk", Some("vmdk-subformat")),
    ("hostile-descriptor-absolute.vmdk", "vmdk", Some("vmdk-subformat")),
    ("hostile-multi-extent.vmdk", "vmdk", Some("vmdk-subformat")),
    ("hostile-flat-qemu.vmdk", "vmdk", Some("vmdk-subformat")),
    ("hostile-sparse-capacity0.vmdk", "vmdk", Some("vmdk-extents")),
    ("hostile-sparse-parent.vmdk", "vmdk", Some("vmdk-parent")),
    ("hostile-sparse-two-extents.vmdk", "vmdk", Some("vmdk-extents")),
    ("hostile-sparse-flat-extent.vmdk", "vmdk", Some("vmdk-extents")),
    ("hostile-sparse-monolithicflat.vmdk", "vmdk", Some("vmdk-subformat")),
    ("hostile-differencing.vhd", "vhd", Some("vhd-differencing")),
    ("hostile-differencing.vdi", "vdi", Some("vdi-type")),
    ("hostile-not-inspected.vhdx", "vhdx", Some("format-not-inspected")),
    ("hostile-qed.qed", "qed", Some("format-not-inspected")),
    // Good files declared as something else.
    ("good.qcow2", "raw", Some("format-mismatch")),
    ("good-sparse.vmdk", "raw", Some("format-mismatch")),
    ("hostile-descriptor-relative.vmdk", "raw", Some("format-mismatch")),
    ("hostile-not-inspected.vhdx", "raw", Some("format-mismatch")),
    ("hostile-qed.qed", "raw", Some("format-mismatch")),
    ("good.vdi", "qcow2", Some("format-mismatch")),
    ("good.raw", "qcow2", Some("format-mismatch")),
    ("good.raw", "vmdk", Some("format-mismatch")),
    ("good.raw", "vhd", Some("format-mismatch")),
    ("good.qcow2", "ami", Some("format-mismatch")),
    ("good-dynamic.vhd", "vmdk", Some("format-mismatch")),
];

#[test]
fn the_corpus_is_judged_as_expected() {
    for (file, disk_format, rule) in CASES {
        let got = verdict(&corpus(file), disk_format);
        assert_eq!(got.as_ref().err().map(|r| r.rule), *rule, "{file} as {disk_format}: {got:?}");
    }
}

#[test]
fn every_corpus_file_has_a_case() {
    let dir = corpus_dir();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".py") {
            continue;
        }
        assert!(CASES.iter().any(|(f, ..)| *f == name), "{name} has no case");
    }
}

#[test]
fn virtual_sizes_are_read_from_the_headers() {
    for (file, disk_format, size) in [
        ("good.qcow2", "qcow2", 1 << 20),
        ("good-sparse.vmdk", "vmdk", 1 << 20),
        ("good-stream.vmdk", "vmdk", 1 << 20),
        ("good.vdi", "vdi", 1 << 20),
        ("good.raw", "raw", 4096),
    ] {
        assert_eq!(verdict(&corpus(file), disk_format).unwrap().virtual_size, size, "{file}");
    }
}

#[test]
fn refusals_name_nothing_from_the_data() {
    for (file, disk_format, _) in CASES {
        if let Err(r) = verdict(&corpus(file), disk_format) {
            for leaked in ["passwd", "admin-openrc", "nbd:", "json:", "ext-data", "/"] {
                assert!(!r.message.contains(leaked), "{file}: {}", r.message);
            }
        }
    }
}

#[test]
fn text_descriptors_are_told_from_raw_data() {
    assert_eq!(detect(b"# Disk DescriptorFile\r\n\r\nversion=1\r\n"), Format::VmdkDescriptor);
    assert_eq!(detect(b"  \n# c\nversion=3\nRW 1 FLAT \"x\" 0\n"), Format::VmdkDescriptor);
    assert_eq!(detect(b"version=4\n"), Format::Raw);
    assert_eq!(detect(b"hello\nversion=1\n"), Format::Raw);
    assert_eq!(detect(&[0u8; 4096]), Format::Raw);
}

/// A small deterministic generator (xorshift), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Values that break parsers: zeros, all ones, sign bits, off-by-one sizes.
const EXTREMES: &[u64] = &[0, 1, 0x1ff, 0x200, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, u64::MAX, 1 << 62, 1 << 40];

/// Property test over mutations of every corpus file: the inspector never
/// panics, and whatever it accepts really is self-contained by the header's
/// own fields (read here independently of the inspector).
#[test]
fn mutated_images_never_panic_and_what_is_accepted_is_self_contained() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds: Vec<(Vec<u8>, &str)> = CASES.iter().map(|(f, d, _)| (corpus(f), *d)).collect();
    let mut accepted_count = [0usize; 3];
    for _ in 0..20_000 {
        let (seed, disk_format) = &seeds[rng.below(seeds.len())];
        let mut data = seed.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(data.len().min(2048));
            match rng.below(4) {
                0 => data[at] ^= 1 << rng.below(8),
                1 => {
                    let v = EXTREMES[rng.below(EXTREMES.len())].to_be_bytes();
                    let n = [4, 8][rng.below(2)];
                    for (i, b) in v[8 - n..].iter().enumerate() {
                        if let Some(d) = data.get_mut(at + i) {
                            *d = *b;
                        }
                    }
                }
                2 => data.truncate(rng.below(data.len() + 1)),
                _ => data[at] = rng.next() as u8,
            }
            if data.is_empty() {
                break;
            }
        }
        let Ok(accepted) = verdict(&data, disk_format) else { continue };
        assert!(accepted.virtual_size <= MAX_VIRTUAL_SIZE);
        match accepted.format {
            Format::Qcow2 => {
                accepted_count[0] += 1;
                assert_eq!(be64(&data, 8), 0, "accepted a qcow2 with a backing file");
                assert_eq!(be32(&data, 16), 0, "accepted a qcow2 with a backing file");
                if be32(&data, 4) == 3 {
                    assert_eq!(be64(&data, 72) & 0b110, 0, "accepted a qcow2 with a data file or corrupt bit");
                }
            }
            Format::VmdkSparse => {
                accepted_count[1] += 1;
                assert!(data.starts_with(b"KDMV"));
                assert_ne!(le64(&data, 12), 0, "accepted a VMDK deferring to its descriptor's extents");
                // The descriptor as QEMU reads it: up to its first NUL.
                let start = (le64(&data, 28) * 512) as usize;
                let descriptor = data[start..].split(|b| *b == 0).next().unwrap_or_default();
                let text = String::from_utf8_lossy(descriptor);
                assert!(!text.contains("parentFileNameHint"), "accepted a VMDK naming a parent");
                assert!(!text.contains("FLAT \""), "accepted a VMDK naming a flat extent");
            }
            Format::Raw => {
                accepted_count[2] += 1;
                assert!(matches!(detect(&data), Format::Raw | Format::Iso));
            }
            _ => {}
        }
    }
    // The invariants above were really exercised, on every kind.
    assert!(accepted_count.iter().all(|n| *n > 100), "accepted mutants per kind: {accepted_count:?}");
}
