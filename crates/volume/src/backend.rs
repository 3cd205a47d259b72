//! Where volumes' data lives, behind a trait as Compute's virt driver is:
//! the service decides what happens to a volume, a backend only does it.
//! The default keeps each volume as a sparse raw file in the data dir; a
//! network backend (Ceph RBD, which QEMU opens natively) answers the same
//! calls with its own `Connection`.
//!
//! The calls block (file system or network I/O): the service runs them on
//! the blocking pool, and only ever one at a time per volume, since each
//! runs under a transitional status that the service set first.

use std::io;
use std::path::{Path, PathBuf};

/// How a hypervisor opens a volume: Cinder's `connection_info`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "driver_volume_type", content = "data", rename_all = "lowercase")]
pub enum Connection {
    /// A raw file on this host.
    File { device_path: PathBuf },
}

pub trait VolumeBackend: Send + Sync {
    /// Makes a blank volume of `size_gib` GiB.
    fn create(&self, id: &str, size_gib: u64) -> io::Result<()>;
    /// Makes a volume of `size_gib` GiB holding the image at `source`, whose
    /// data is `disk_format` (the service has inspected it and checked that
    /// it fits).
    fn create_from_image(&self, id: &str, size_gib: u64, source: &Path, disk_format: &str) -> io::Result<()>;
    /// Makes volume `id` of `size_gib` GiB as a copy of volume `source`.
    fn clone_volume(&self, source: &str, id: &str, size_gib: u64) -> io::Result<()>;
    /// Keeps what volume `volume` holds now as snapshot `snapshot`.
    fn create_snapshot(&self, volume: &str, snapshot: &str) -> io::Result<()>;
    /// Makes volume `id` of `size_gib` GiB from snapshot `snapshot`.
    fn create_from_snapshot(&self, snapshot: &str, id: &str, size_gib: u64) -> io::Result<()>;
    /// Removes a snapshot; one that is not there is already removed.
    fn delete_snapshot(&self, snapshot: &str) -> io::Result<()>;
    /// Keeps what volume `volume` holds now as backup `backup`.
    fn create_backup(&self, volume: &str, backup: &str) -> io::Result<()>;
    /// Writes backup `backup` over volume `id`, which is `size_gib` GiB.
    fn restore_backup(&self, backup: &str, id: &str, size_gib: u64) -> io::Result<()>;
    /// Removes a backup; one that is not there is already removed.
    fn delete_backup(&self, backup: &str) -> io::Result<()>;
    /// Writes volume `volume`'s data as an image of `disk_format` (raw or
    /// qcow2) for image `image`: the file the image's data is read from.
    fn export(&self, volume: &str, image: &str, disk_format: &str) -> io::Result<PathBuf>;
    /// Removes what [`Self::export`] wrote for image `image`.
    fn remove_export(&self, image: &str) -> io::Result<()>;
    /// Grows a volume to `size_gib` GiB, its data kept.
    fn extend(&self, id: &str, size_gib: u64) -> io::Result<()>;
    /// Removes a volume; one that is not there is already removed.
    fn delete(&self, id: &str) -> io::Result<()>;
    fn connection(&self, id: &str) -> Connection;
    /// Whether the backend holds the volume.
    fn exists(&self, id: &str) -> bool;
}

/// Sparse raw files, `<dir>/volume-<id>`, `<dir>/snapshot-<id>` and
/// `<dir>/backup-<id>` (until backups go to the Object Storage service),
/// readable by the server alone. Copies (snapshots, clones) share the
/// data's blocks where the file system can (a reflink), and otherwise copy
/// only what is not a hole.
pub struct FileBackend {
    dir: PathBuf,
}

const GIB: u64 = 1 << 30;

/// A size in GiB as bytes; a size no file can have is an error, not a wrap.
fn bytes(size_gib: u64) -> io::Result<u64> {
    size_gib.checked_mul(GIB).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the size is too large"))
}

impl FileBackend {
    /// Opens the directory of one server's volumes. Nothing is written
    /// into it yet, so a `.part` there is what a stop cut short (the
    /// volume's own status says so): it goes.
    pub fn open(dir: &Path) -> io::Result<FileBackend> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "part") {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(FileBackend { dir: dir.to_owned() })
    }

    /// The file of a volume. Ids are the service's own UUIDs; anything else
    /// is refused rather than joined to a path.
    fn path(&self, id: &str) -> io::Result<PathBuf> {
        self.file("volume", id)
    }

    fn file(&self, kind: &str, id: &str) -> io::Result<PathBuf> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{id:?} is not a {kind} id")));
        }
        Ok(self.dir.join(format!("{kind}-{id}")))
    }

    /// The in-progress file of a new volume or snapshot: a stop leaves
    /// it behind, never a half-written file under the final name.
    fn part(path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".part");
        PathBuf::from(name)
    }

    /// Puts a written `.part` in place at `path`, `size_gib` GiB when set.
    fn finish(&self, part: &Path, path: &Path, size_gib: Option<u64>) -> io::Result<()> {
        let file = std::fs::OpenOptions::new().write(true).open(part)?;
        if let Some(size) = size_gib {
            let size = bytes(size)?;
            if file.metadata()?.len() > size {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "the data is larger than the volume"));
            }
            file.set_len(size)?;
        }
        file.sync_all()?;
        std::fs::rename(part, path)?;
        self.sync_dir()
    }

    /// `source` copied to `path` through a `.part`, `size_gib` when set.
    fn copy(&self, source: &Path, path: &Path, size_gib: Option<u64>) -> io::Result<()> {
        let part = Self::part(path);
        let copied = copy_file(source, &part).and_then(|()| self.finish(&part, path, size_gib));
        if copied.is_err() {
            let _ = std::fs::remove_file(&part);
        }
        copied
    }

    /// Removes `path` and the `.part` a stop may have left of it; what is
    /// not there is already removed.
    fn remove(&self, path: &Path) -> io::Result<()> {
        for p in [Self::part(path), path.to_owned()] {
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        self.sync_dir()
    }

    /// Makes a rename or a new file durable: its directory's entry too.
    fn sync_dir(&self) -> io::Result<()> {
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

/// A new file only the server may read.
fn private_file(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

/// Copies `source` to a new file at `dest`: a reflink where the file system
/// has them, else the data between the holes (the copy as sparse as the
/// source).
fn copy_file(source: &Path, dest: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    let from = std::fs::File::open(source)?;
    let to = private_file(dest)?;
    // SAFETY: FICLONE takes two open descriptors and changes nothing on failure.
    if unsafe { libc::ioctl(to.as_raw_fd(), libc::FICLONE, from.as_raw_fd()) } == 0 {
        return Ok(());
    }
    let len = from.metadata()?.len();
    to.set_len(len)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        // SAFETY: lseek on an open descriptor; ENXIO means no data after `at`.
        let data = unsafe { libc::lseek(from.as_raw_fd(), at as libc::off_t, libc::SEEK_DATA) };
        if data < 0 {
            break;
        }
        let data = data as u64;
        // SAFETY: as above; a file always ends in a hole (its end).
        let hole = unsafe { libc::lseek(from.as_raw_fd(), data as libc::off_t, libc::SEEK_HOLE) };
        let hole = if hole < 0 { len } else { hole as u64 };
        let mut pos = data;
        while pos < hole {
            let n = buf.len().min((hole - pos) as usize);
            let read = from.read_at(&mut buf[..n], pos)?;
            if read == 0 {
                break;
            }
            to.write_all_at(&buf[..read], pos)?;
            pos += read as u64;
        }
        at = hole;
    }
    Ok(())
}

impl VolumeBackend for FileBackend {
    fn create(&self, id: &str, size_gib: u64) -> io::Result<()> {
        let path = self.path(id)?;
        let file = private_file(&path)?;
        file.set_len(bytes(size_gib)?)?;
        file.sync_all()?;
        self.sync_dir()
    }

    fn create_from_image(&self, id: &str, size_gib: u64, source: &Path, disk_format: &str) -> io::Result<()> {
        let refused = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
        let format = qemu_img::qemu_format(disk_format)
            .ok_or_else(|| refused(format!("images of disk_format {disk_format} cannot become volumes")))?;
        let path = self.path(id)?;
        if format == "raw" {
            return self.copy(source, &path, Some(size_gib));
        }
        // The inspector proved the image self-contained; qemu-img's own
        // reading must agree before it converts anything.
        qemu_img::check_untrusted(&qemu_img::info_blocking(source, format).map_err(refused)?).map_err(refused)?;
        let part = Self::part(&path);
        drop(private_file(&part)?);
        let converted = qemu_img::run_blocking(
            &[
                "convert".into(),
                "-f".into(),
                format.into(),
                "-O".into(),
                "raw".into(),
                source.into(),
                part.clone().into(),
            ],
            qemu_img::WORK_LIMITS,
        )
        .map_err(io::Error::other)
        .and_then(|_| self.finish(&part, &path, Some(size_gib)));
        if converted.is_err() {
            let _ = std::fs::remove_file(&part);
        }
        converted
    }

    fn clone_volume(&self, source: &str, id: &str, size_gib: u64) -> io::Result<()> {
        self.copy(&self.path(source)?, &self.path(id)?, Some(size_gib))
    }

    fn create_snapshot(&self, volume: &str, snapshot: &str) -> io::Result<()> {
        self.copy(&self.path(volume)?, &self.file("snapshot", snapshot)?, None)
    }

    fn create_from_snapshot(&self, snapshot: &str, id: &str, size_gib: u64) -> io::Result<()> {
        self.copy(&self.file("snapshot", snapshot)?, &self.path(id)?, Some(size_gib))
    }

    fn delete_snapshot(&self, snapshot: &str) -> io::Result<()> {
        self.remove(&self.file("snapshot", snapshot)?)
    }

    fn create_backup(&self, volume: &str, backup: &str) -> io::Result<()> {
        self.copy(&self.path(volume)?, &self.file("backup", backup)?, None)
    }

    fn restore_backup(&self, backup: &str, id: &str, size_gib: u64) -> io::Result<()> {
        self.copy(&self.file("backup", backup)?, &self.path(id)?, Some(size_gib))
    }

    fn delete_backup(&self, backup: &str) -> io::Result<()> {
        self.remove(&self.file("backup", backup)?)
    }

    fn export(&self, volume: &str, image: &str, disk_format: &str) -> io::Result<PathBuf> {
        let (source, dest) = (self.path(volume)?, self.file("export", image)?);
        match disk_format {
            "raw" => self.copy(&source, &dest, None)?,
            "qcow2" => {
                let part = Self::part(&dest);
                drop(private_file(&part)?);
                let converted = qemu_img::run_blocking(
                    &[
                        "convert".into(),
                        "-f".into(),
                        "raw".into(),
                        "-O".into(),
                        "qcow2".into(),
                        source.into(),
                        part.clone().into(),
                    ],
                    qemu_img::WORK_LIMITS,
                )
                .map_err(io::Error::other)
                .and_then(|_| self.finish(&part, &dest, None));
                if converted.is_err() {
                    let _ = std::fs::remove_file(&part);
                }
                converted?
            }
            other => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("volumes are not written as {other}")))
            }
        }
        Ok(dest)
    }

    fn remove_export(&self, image: &str) -> io::Result<()> {
        self.remove(&self.file("export", image)?)
    }

    fn extend(&self, id: &str, size_gib: u64) -> io::Result<()> {
        let file = std::fs::OpenOptions::new().write(true).open(self.path(id)?)?;
        let size = bytes(size_gib)?;
        if file.metadata()?.len() < size {
            file.set_len(size)?;
        }
        file.sync_all()
    }

    fn delete(&self, id: &str) -> io::Result<()> {
        self.remove(&self.path(id)?)
    }

    fn connection(&self, id: &str) -> Connection {
        Connection::File { device_path: self.dir.join(format!("volume-{id}")) }
    }

    fn exists(&self, id: &str) -> bool {
        self.path(id).is_ok_and(|p| p.exists())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_sparse_private_and_grow() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = std::env::temp_dir().join(format!("oxistack-volume-backend-{}", uuid::Uuid::new_v4()));
        let b = FileBackend::open(&dir).unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        b.create(&id, 2).unwrap();
        let path = dir.join(format!("volume-{id}"));
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 2 * GIB);
        assert!(meta.blocks() * 512 < GIB, "a blank volume takes no space");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        b.extend(&id, 3).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 * GIB);
        assert!(b.path("../../etc/passwd").is_err());
        assert!(b.create(&uuid::Uuid::new_v4().to_string(), u64::MAX).is_err(), "no wrapping size");
        b.delete(&id).unwrap();
        b.delete(&id).unwrap();
        assert!(!b.exists(&id));
        // What a stop left half written goes at the next open; volumes stay.
        b.create(&id, 1).unwrap();
        let part = dir.join(format!("volume-{}.part", uuid::Uuid::new_v4()));
        std::fs::write(&part, b"half").unwrap();
        let b = FileBackend::open(&dir).unwrap();
        assert!(!part.exists() && b.exists(&id));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn snapshots_and_clones_keep_the_data_and_its_holes() {
        use std::os::unix::fs::{FileExt, MetadataExt};
        let dir = std::env::temp_dir().join(format!("oxistack-volume-backend-{}", uuid::Uuid::new_v4()));
        let b = FileBackend::open(&dir).unwrap();
        let new_id = || uuid::Uuid::new_v4().to_string();
        let (vol, snap, clone, from_snap) = (new_id(), new_id(), new_id(), new_id());
        b.create(&vol, 1).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(dir.join(format!("volume-{vol}"))).unwrap();
        file.write_all_at(b"first", 0).unwrap();
        file.write_all_at(b"middle", GIB / 2).unwrap();
        b.create_snapshot(&vol, &snap).unwrap();
        file.write_all_at(b"later", 0).unwrap();
        b.clone_volume(&vol, &clone, 2).unwrap();
        b.create_from_snapshot(&snap, &from_snap, 1).unwrap();
        let read = |name: &str, at: u64, n: usize| {
            let mut buf = vec![0; n];
            std::fs::File::open(dir.join(name)).unwrap().read_exact_at(&mut buf, at).unwrap();
            buf
        };
        assert_eq!(read(&format!("volume-{from_snap}"), 0, 5), b"first", "a snapshot keeps what was written before it");
        assert_eq!(read(&format!("volume-{from_snap}"), GIB / 2, 6), b"middle");
        assert_eq!(read(&format!("volume-{clone}"), 0, 5), b"later", "a clone is the volume as it is");
        let meta = std::fs::metadata(dir.join(format!("volume-{clone}"))).unwrap();
        assert_eq!(meta.len(), 2 * GIB);
        assert!(meta.blocks() * 512 < GIB / 4, "the copy keeps the holes");
        assert!(b.create_from_snapshot(&snap, &new_id(), 0).is_err(), "no smaller volume");
        assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".part")));
        b.delete_snapshot(&snap).unwrap();
        b.delete_snapshot(&snap).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
