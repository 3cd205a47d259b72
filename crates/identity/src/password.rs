//! Password and secret hashing with Argon2id, a memory-hard hash.
//!
//! Each hash costs ~20 ms of CPU and 19 MiB of memory, so it runs on the
//! blocking pool (never on the async workers) and at most one per core at a
//! time: more would only queue on the CPU while holding more memory.

use std::sync::LazyLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

static HASHING: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)));

async fn limited<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let _permit = HASHING.acquire().await?;
    Ok(tokio::task::spawn_blocking(f).await?)
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
