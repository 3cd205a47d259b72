//! Password and secret hashing with Argon2id, a memory-hard hash.
//!
//! Each hash costs ~20 ms of CPU and 19 MiB of memory, so hashes run on a few
//! threads of their own, one per core, never on the async workers. Dedicated
//! threads also bound memory: the allocator keeps a freed 19 MiB block in the
//! arena of the thread that used it, so hashing on a growing blocking pool
//! would leave one such block behind per thread.
//!
//! The queue in front of them is bounded: a burst of logins beyond it is
//! answered 503 with `Retry-After` at once, instead of an ever longer wait
//! (and ever more memory) for everyone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

static HASHERS: LazyLock<Mutex<mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || loop {
                let job = match rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            })
            .expect("spawning a hashing thread");
    }
    Mutex::new(tx)
});

/// How many hashes may wait or run at once: about a second of work per core.
const QUEUE_LIMIT: usize = 64;
static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// The hashing queue is full.
#[derive(Debug)]
pub struct Busy;

impl From<Busy> for oxistack_core::Error {
    fn from(_: Busy) -> Self {
        oxistack_core::Error::Unavailable("The server is busy checking other credentials; try again shortly.".into())
    }
}

/// Holds one place in a queue of at most `limit` until dropped.
struct Place(&'static AtomicUsize);

impl Place {
    fn take(queue: &'static AtomicUsize, limit: usize) -> Result<Place, Busy> {
        if queue.fetch_add(1, Ordering::AcqRel) >= limit {
            queue.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        Ok(Place(queue))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn limited<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let place = Place::take(&QUEUED, QUEUE_LIMIT).map_err(|_| anyhow::Error::new(BusyError))?;
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _place = place;
        let _ = tx.send(f());
    });
    HASHERS
        .lock()
        .map_err(|_| anyhow::anyhow!("hashing threads poisoned"))?
        .send(job)
        .map_err(|_| anyhow::anyhow!("hashing threads stopped"))?;
    Ok(rx.await?)
}

pub async fn hash(secret: &str) -> anyhow::Result<String> {
    let secret = secret.to_owned();
    limited(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

/// The error `limited` gives when the queue is full, told apart from others.
#[derive(Debug)]
struct BusyError;

impl std::fmt::Display for BusyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the hashing queue is full")
    }
}

impl std::error::Error for BusyError {}

/// Whether `secret` matches `stored`; `Busy` when the queue is full.
pub async fn verify(secret: &str, stored: &str) -> Result<bool, Busy> {
    let (secret, stored) = (secret.to_owned(), stored.to_owned());
    match limited(move || {
        PasswordHash::new(&stored).is_ok_and(|h| Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
    })
    .await
    {
        Ok(ok) => Ok(ok),
        Err(e) if e.is::<BusyError>() => Err(Busy),
        Err(_) => Ok(false),
    }
}

/// Whether `secret` matches a stored hash that may be absent (a user without
/// a password matches nothing, after the same work as one with a password).
pub async fn matches(secret: &str, stored: Option<&str>) -> Result<bool, Busy> {
    match stored {
        Some(h) => verify(secret, h).await,
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_full_queue_refuses_at_once_and_frees_its_places() {
        static QUEUE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let held: Vec<_> = (0..3).map(|_| super::Place::take(&QUEUE, 3).unwrap()).collect();
        assert!(super::Place::take(&QUEUE, 3).is_err());
        drop(held);
        assert!(super::Place::take(&QUEUE, 3).is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_only_their_secret() {
        let h = super::hash("s3cret").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("s3cret", &h).await.unwrap());
        assert!(!super::verify("s3creT", &h).await.unwrap());
        assert!(!super::verify("s3cret", "not a hash").await.unwrap());
        assert!(!super::matches("s3cret", None).await.unwrap());
        assert!(super::matches("s3cret", Some(&h)).await.unwrap());
    }
}
