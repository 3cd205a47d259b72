//! The filesystem store. Data arrives into `tmp/` while it is hashed, and is
//! renamed into place only once complete and synced, so that no partial file
//! is ever taken for an image; `staging/` holds data of interoperable imports.

use std::path::{Path, PathBuf};

use axum::body::Body;
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use sha2::Sha512;
use std::io::Write;

use axum::body::Bytes;

use oxistack_core::error::{Error, Result};

use crate::quota::Budget;

pub struct FileStore {
    root: PathBuf,
}

/// Data received completely into a temporary file.
pub struct Received {
    pub tmp: PathBuf,
    pub size: u64,
    pub md5: String,
    pub sha512: String,
}

/// The blocking half of an upload: writes every chunk and hashes it, MD5 on a
/// thread of its own beside SHA-512, since each hash alone runs at about the
/// speed of a disk, and then syncs.
fn write_and_hash(
    file: std::fs::File,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> std::io::Result<(u64, String, String)> {
    let (md5_tx, md5_rx) = std::sync::mpsc::sync_channel::<Bytes>(8);
    let md5_thread = std::thread::spawn(move || {
        let mut md5 = Md5::new();
        for chunk in md5_rx {
            md5.update(&chunk);
        }
        hex(&md5.finalize())
    });
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut sha512 = Sha512::new();
    let mut size = 0u64;
    let mut result = Ok(());
    while let Some(chunk) = rx.blocking_recv() {
        sha512.update(&chunk);
        if let Err(e) = out.write_all(&chunk) {
            result = Err(e);
            break;
        }
        size += chunk.len() as u64;
        let _ = md5_tx.send(chunk);
    }
    drop(md5_tx);
    let md5 = md5_thread.join().map_err(|_| std::io::Error::other("the MD5 thread panicked"))?;
    result?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((size, md5, hex(&sha512.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl FileStore {
    pub fn open(root: &Path) -> anyhow::Result<FileStore> {
        for sub in ["", "tmp", "staging"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(FileStore { root: root.to_owned() })
    }

    pub fn remove_partial_uploads(&self) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(self.root.join("tmp"))? {
            std::fs::remove_file(entry?.path())?;
        }
        Ok(())
    }

    /// Where an active image's data lives.
    pub fn data_path(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn staging_path(&self, id: &str) -> PathBuf {
        self.root.join("staging").join(id)
    }

    /// Streams `body` into a temporary file, hashing it as it comes, without
    /// holding it in memory. `budget` is the owner's quota: past it, the
    /// data is dropped and the answer is 413.
    pub async fn receive(&self, body: Body, budget: Option<&mut Budget>) -> Result<Received> {
        let tmp = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        let result = self.receive_into(&tmp, body, budget).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    /// Reads the body on the async side and hands its chunks to a blocking
    /// writer that hashes them and writes them in large blocks: per-chunk
    /// asynchronous writes and hashing on the async workers cost four fifths
    /// of the upload speed. The bounded channel keeps memory flat.
    async fn receive_into(&self, tmp: &Path, mut body: Body, mut budget: Option<&mut Budget>) -> Result<Received> {
        let file = std::fs::File::create(tmp).map_err(anyhow::Error::from)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
        let writer = tokio::task::spawn_blocking(move || write_and_hash(file, rx));
        let mut failure = None;
        while let Some(frame) = body.frame().await {
            let chunk = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(chunk) => chunk,
                    Err(_) => continue,
                },
                Err(e) => {
                    failure = Some(Error::BadRequest(format!("The image data could not be read: {e}")));
                    break;
                }
            };
            if let Some(budget) = budget.as_deref_mut() {
                if let Err(e) = budget.take(chunk.len() as u64).await {
                    failure = Some(e);
                    break;
                }
            }
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
        drop(tx);
        let written = writer.await.map_err(anyhow::Error::from)?;
        if let Some(e) = failure {
            return Err(e);
        }
        let (size, md5, sha512) = written.map_err(anyhow::Error::from)?;
        Ok(Received { tmp: tmp.to_owned(), size, md5, sha512 })
    }

    /// Puts received data at `dest`, durably.
    pub async fn commit(&self, data: &Received, dest: &Path) -> Result<()> {
        tokio::fs::rename(&data.tmp, dest).await.map_err(anyhow::Error::from)?;
        let dir = dest.parent().unwrap_or(&self.root).to_owned();
        tokio::task::spawn_blocking(move || std::fs::File::open(dir).and_then(|d| d.sync_all()))
            .await
            .map_err(anyhow::Error::from)?
            .map_err(anyhow::Error::from)?;
        Ok(())
    }

    pub async fn discard(&self, data: Received) {
        let _ = tokio::fs::remove_file(&data.tmp).await;
    }

    /// Removes an image's data and staged data; nothing there is fine.
    pub async fn remove(&self, id: &str) -> Result<()> {
        for p in [self.data_path(id), self.staging_path(id)] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(anyhow::Error::from(e).into()),
            }
        }
        Ok(())
    }
}
