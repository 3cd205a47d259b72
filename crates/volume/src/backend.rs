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
    /// Grows a volume to `size_gib` GiB, its data kept.
    fn extend(&self, id: &str, size_gib: u64) -> io::Result<()>;
    /// Removes a volume; one that is not there is already removed.
    fn delete(&self, id: &str) -> io::Result<()>;
    fn connection(&self, id: &str) -> Connection;
    /// Whether the backend holds the volume.
    fn exists(&self, id: &str) -> bool;
}

/// Sparse raw files, `<dir>/volume-<id>`, readable by the server alone.
pub struct FileBackend {
    dir: PathBuf,
}

const GIB: u64 = 1 << 30;

/// A size in GiB as bytes; a size no file can have is an error, not a wrap.
fn bytes(size_gib: u64) -> io::Result<u64> {
    size_gib.checked_mul(GIB).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the size is too large"))
}

impl FileBackend {
    pub fn open(dir: &Path) -> io::Result<FileBackend> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        Ok(FileBackend { dir: dir.to_owned() })
    }

    /// The file of a volume. Ids are the service's own UUIDs; anything else
    /// is refused rather than joined to a path.
    fn path(&self, id: &str) -> io::Result<PathBuf> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{id:?} is not a volume id")));
        }
        Ok(self.dir.join(format!("volume-{id}")))
    }

    /// Makes a rename or a new file durable: its directory's entry too.
    fn sync_dir(&self) -> io::Result<()> {
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

impl VolumeBackend for FileBackend {
    fn create(&self, id: &str, size_gib: u64) -> io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path(id)?;
        let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
        file.set_len(bytes(size_gib)?)?;
        file.sync_all()?;
        self.sync_dir()
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
        match std::fs::remove_file(self.path(id)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        self.sync_dir()
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
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
