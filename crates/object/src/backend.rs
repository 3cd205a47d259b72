//! Where object data lives, behind [`ObjectBackend`]: the local file system
//! by default (`FileBackend`), written so that a distributed store can take
//! its place. Data arrives into `tmp/` while its MD5 is taken, is synced,
//! and only then gets a name of its own (`data/<xx>/<key>`), so a cut
//! connection or a crash never leaves a partial object anywhere an index
//! row could name.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use md5::{Digest, Md5};

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Data received whole and synced, not yet any object's.
#[derive(Debug)]
pub struct Received {
    pub key: String,
    pub size: u64,
    /// Hex MD5 of the data: the object's ETag.
    pub md5: String,
}

/// Why a body was not stored.
#[derive(Debug)]
pub enum ReceiveError {
    /// More than the limit was sent.
    TooLarge,
    /// The client's body ended in an error (a cut connection).
    Body(String),
    Io(io::Error),
}

/// What the Object Storage service asks of its data store.
pub trait ObjectBackend: Send + Sync {
    /// Streams `body` into new data of at most `max` bytes.
    fn receive(&self, body: Body, max: u64) -> BoxFuture<'_, Result<Received, ReceiveError>>;
    /// Makes received data durable under its key.
    fn commit<'a>(&'a self, data: &'a Received) -> BoxFuture<'a, io::Result<()>>;
    /// Drops received data that no object took.
    fn discard(&self, data: Received) -> BoxFuture<'_, ()>;
    /// Opens stored data for reading.
    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<tokio::fs::File>>;
    /// Removes stored data; data already gone is removed.
    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// The keys of stored data last written before `before`.
    fn keys_before(&self, before: std::time::SystemTime) -> BoxFuture<'_, io::Result<Vec<String>>>;
}

pub type SharedBackend = Arc<dyn ObjectBackend>;

/// Object data as files under one directory.
pub struct FileBackend {
    root: PathBuf,
}

impl FileBackend {
    /// Opens the store; what a stop left in `tmp/` (data no object ever
    /// took) goes.
    pub fn open(root: &Path) -> io::Result<FileBackend> {
        use std::os::unix::fs::DirBuilderExt;
        for sub in ["tmp", "data"] {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(root.join(sub))?;
        }
        for entry in std::fs::read_dir(root.join("tmp"))? {
            std::fs::remove_file(entry?.path())?;
        }
        Ok(FileBackend { root: root.to_owned() })
    }

    fn tmp(&self, key: &str) -> PathBuf {
        self.root.join("tmp").join(key)
    }

    /// Keys are the service's own UUIDs; anything else is refused rather
    /// than joined to a path.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        if uuid::Uuid::parse_str(key).is_err() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{key:?} is not a data key")));
        }
        Ok(self.root.join("data").join(&key[..2]).join(key))
    }

    async fn receive_into(&self, tmp: &Path, mut body: Body, max: u64) -> Result<(u64, String), ReceiveError> {
        let file = std::fs::File::create(tmp).map_err(ReceiveError::Io)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
        let writer = tokio::task::spawn_blocking(move || write_hashed(file, rx));
        let mut failure = None;
        let mut size = 0u64;
        while let Some(frame) = body.frame().await {
            let chunk = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(chunk) => chunk,
                    Err(_) => continue,
                },
                Err(e) => {
                    failure = Some(ReceiveError::Body(e.to_string()));
                    break;
                }
            };
            size += chunk.len() as u64;
            if size > max {
                failure = Some(ReceiveError::TooLarge);
                break;
            }
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
        drop(tx);
        let written = writer.await.map_err(|e| ReceiveError::Io(io::Error::other(e)))?;
        if let Some(e) = failure {
            return Err(e);
        }
        written.map_err(ReceiveError::Io)
    }
}

/// The blocking half of a receive: writes the chunks in large blocks,
/// hashing them, then syncs.
fn write_hashed(file: std::fs::File, mut rx: tokio::sync::mpsc::Receiver<Bytes>) -> io::Result<(u64, String)> {
    let mut out = io::BufWriter::with_capacity(1 << 20, file);
    let mut md5 = Md5::new();
    let mut size = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        md5.update(&chunk);
        out.write_all(&chunk)?;
        size += chunk.len() as u64;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok((size, md5.finalize().iter().map(|b| format!("{b:02x}")).collect()))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl ObjectBackend for FileBackend {
    fn receive(&self, body: Body, max: u64) -> BoxFuture<'_, Result<Received, ReceiveError>> {
        Box::pin(async move {
            let key = uuid::Uuid::new_v4().to_string();
            let tmp = self.tmp(&key);
            match self.receive_into(&tmp, body, max).await {
                Ok((size, md5)) => Ok(Received { key, size, md5 }),
                Err(e) => {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    Err(e)
                }
            }
        })
    }

    fn commit<'a>(&'a self, data: &'a Received) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let dest = self.path(&data.key)?;
            let dir = dest.parent().map(Path::to_owned).unwrap_or_else(|| self.root.clone());
            let tmp = self.tmp(&data.key);
            tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
                std::fs::rename(&tmp, &dest)?;
                sync_dir(&dir)
            })
            .await
            .map_err(io::Error::other)?
        })
    }

    fn discard(&self, data: Received) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = tokio::fs::remove_file(self.tmp(&data.key)).await;
        })
    }

    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<tokio::fs::File>> {
        Box::pin(async move { tokio::fs::File::open(self.path(key)?).await })
    }

    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn keys_before(&self, before: std::time::SystemTime) -> BoxFuture<'_, io::Result<Vec<String>>> {
        let data = self.root.join("data");
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut keys = vec![];
                for shard in std::fs::read_dir(&data)? {
                    let shard = shard?;
                    if !shard.file_type()?.is_dir() {
                        continue;
                    }
                    for entry in std::fs::read_dir(shard.path())? {
                        let entry = entry?;
                        let Some(key) = entry.file_name().to_str().map(str::to_owned) else { continue };
                        if uuid::Uuid::parse_str(&key).is_ok() && entry.metadata()?.modified()? < before {
                            keys.push(key);
                        }
                    }
                }
                Ok(keys)
            })
            .await
            .map_err(io::Error::other)?
        })
    }
}
