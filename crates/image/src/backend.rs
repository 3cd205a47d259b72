//! The filesystem store. Data arrives into `tmp/` while it is hashed, and is
//! renamed into place only once complete and synced, so that no partial file
//! is ever taken for an image; `staging/` holds data of interoperable imports.

use std::path::{Path, PathBuf};

use axum::body::Body;
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use sha2::Sha512;
use tokio::io::AsyncWriteExt;

use oxistack_core::error::{Error, Result};

use crate::inspect::HEAD_LEN;

pub struct FileStore {
    root: PathBuf,
}

/// Data received completely into a temporary file.
pub struct Received {
    pub tmp: PathBuf,
    pub size: u64,
    pub md5: String,
    pub sha512: String,
    /// The first bytes, for format inspection.
    pub head: Vec<u8>,
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
    /// holding it in memory. `limit` caps its size: past it, the data is
    /// dropped and the answer is 413.
    pub async fn receive(&self, body: Body, limit: Option<u64>) -> Result<Received> {
        let tmp = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        let result = self.receive_into(&tmp, body, limit).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn receive_into(&self, tmp: &Path, mut body: Body, limit: Option<u64>) -> Result<Received> {
        let mut file = tokio::fs::File::create(tmp).await.map_err(anyhow::Error::from)?;
        let (mut md5, mut sha512) = (Md5::new(), Sha512::new());
        let mut size = 0u64;
        let mut head = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Error::BadRequest(format!("The image data could not be read: {e}")))?;
            let Ok(chunk) = frame.into_data() else { continue };
            size += chunk.len() as u64;
            if let Some(max) = limit {
                if size > max {
                    return Err(Error::PayloadTooLarge(format!(
                        "Denying attempt to upload image because it exceeds the quota: the project may store {max} more bytes."
                    )));
                }
            }
            if head.len() < HEAD_LEN {
                let take = (HEAD_LEN - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            md5.update(&chunk);
            sha512.update(&chunk);
            file.write_all(&chunk).await.map_err(anyhow::Error::from)?;
        }
        file.sync_all().await.map_err(anyhow::Error::from)?;
        Ok(Received { tmp: tmp.to_owned(), size, md5: hex(&md5.finalize()), sha512: hex(&sha512.finalize()), head })
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
