//! The per-project image quota. What a project stores and stages is in the
//! database (`size`); what is arriving right now is counted here, chunk by
//! chunk, so that concurrent uploads cannot pass the quota together. The
//! count of arrivals is this process's own: servers sharing a database each
//! keep their own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oxistack_core::db::Pool;
use oxistack_core::error::{Error, Result};

use crate::store;

#[derive(Default)]
pub struct Arrivals {
    by_owner: Mutex<HashMap<String, Arriving>>,
}

#[derive(Default)]
struct Arriving {
    bytes: u64,
    /// Uploads of this owner that ended: when it moves, what is stored is
    /// read again, since their data may now be counted there instead.
    ended: u64,
}

/// One upload's right to take room in its owner's quota; what it took is
/// given back when it is dropped (once the data is stored or discarded).
pub struct Budget {
    arrivals: Arc<Arrivals>,
    pool: Pool,
    owner: String,
    quota: u64,
    stored: u64,
    seen_ended: u64,
    taken: u64,
}

impl Arrivals {
    /// A budget for an upload by `owner`; `None` when there is no quota.
    pub async fn budget(self: &Arc<Self>, pool: &Pool, owner: &str, quota: Option<u64>) -> Result<Option<Budget>> {
        let Some(quota) = quota else { return Ok(None) };
        let seen_ended = self.lock().get(owner).map_or(0, |a| a.ended);
        Ok(Some(Budget {
            arrivals: self.clone(),
            pool: pool.clone(),
            owner: owner.to_owned(),
            quota,
            stored: stored(pool, owner).await?,
            seen_ended,
            taken: 0,
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arriving>> {
        self.by_owner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn stored(pool: &Pool, owner: &str) -> Result<u64> {
    Ok(store::usage(pool, owner).await?.max(0) as u64)
}

impl Budget {
    /// Takes `n` more bytes of room, or refuses (413) when what is stored,
    /// staged and arriving would pass the quota.
    pub async fn take(&mut self, n: u64) -> Result<()> {
        let ended = self.arrivals.lock().get(&self.owner).map_or(0, |a| a.ended);
        if ended != self.seen_ended {
            self.stored = stored(&self.pool, &self.owner).await?;
            self.seen_ended = ended;
        }
        let mut all = self.arrivals.lock();
        let arriving = all.entry(self.owner.clone()).or_default();
        let used = self.stored.saturating_add(arriving.bytes);
        if used.saturating_add(n) > self.quota {
            return Err(Error::PayloadTooLarge(format!(
                "Denying attempt to upload image because it exceeds the quota: the project may store {} more bytes.",
                self.quota.saturating_sub(used.saturating_sub(self.taken))
            )));
        }
        arriving.bytes += n;
        self.taken += n;
        Ok(())
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        let mut all = self.arrivals.lock();
        if let Some(a) = all.get_mut(&self.owner) {
            a.bytes = a.bytes.saturating_sub(self.taken);
            a.ended += 1;
        }
    }
}
