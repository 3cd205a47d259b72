//! Password and secret hashing with Argon2id, a memory-hard hash.
//!
//! Each hash costs ~20 ms of CPU and 19 MiB of memory, so hashes run on a few
//! threads of their own, one per core, never on the async workers. Dedicated
//! threads also bound memory: the allocator keeps a freed 19 MiB block in the
//! arena of the thread that used it, so hashing on a growing blocking pool
//! would leave one such block behind per thread.

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

async fn limited<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
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

pub async fn verify(secret: &str, stored: &str) -> bool {
    let (secret, stored) = (secret.to_owned(), stored.to_owned());
    limited(move || {
        PasswordHash::new(&stored).is_ok_and(|h| Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// Whether `secret` matches a stored hash that may be absent (a user without
/// a password matches nothing).
pub async fn matches(secret: &str, stored: Option<&str>) -> bool {
    match stored {
        Some(h) => verify(secret, h).await,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_verify_only_their_secret() {
        let h = super::hash("s3cret").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("s3cret", &h).await);
        assert!(!super::verify("s3creT", &h).await);
        assert!(!super::verify("s3cret", "not a hash").await);
        assert!(!super::matches("s3cret", None).await);
        assert!(super::matches("s3cret", Some(&h)).await);
    }
}
