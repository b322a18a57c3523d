//! Password hashing with Argon2id (OWASP's minimum parameters: 19 MiB,
//! two passes, one lane), off the async threads because each hash takes
//! tens of milliseconds on purpose, and a few at a time so a burst of
//! sign-ins or registrations cannot take the box's memory.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

pub use crate::validation::{PASSWORD_MAX_LEN as MAX_LEN, PASSWORD_MIN_LEN as MIN_LEN};

fn hash_now(password: &str) -> Option<String> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes).ok()?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .ok()
        .map(|hash| hash.to_string())
}

/// Hashes computed at once, at most: one per core (at least two). Each
/// takes 19 MiB and a core for tens of milliseconds; uncapped, a burst of
/// 500 sign-ins would take 9.5 GiB on the blocking pool.
pub fn max_at_once() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// Hashes being computed now, and the most ever at once (for tests).
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Runs one hash computation on the blocking pool once one of the
/// [`max_at_once`] slots is free; the others wait their turn without a
/// thread (a request that waits too long meets the request timeout).
async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let _slot = SLOTS
        .get_or_init(|| Semaphore::new(max_at_once()))
        .acquire()
        .await
        .ok()?;
    tokio::task::spawn_blocking(move || {
        let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        let result = work();
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        result
    })
    .await
    .ok()
}

/// A PHC-format Argon2id hash of `password` (salt and parameters inside).
pub async fn hash(password: String) -> Option<String> {
    run(move || hash_now(&password)).await.flatten()
}

/// Whether `password` matches `stored`. Without a stored hash (no such
/// account, or a guest record) a dummy hash is checked instead, so a wrong
/// email costs as much time as a wrong password and timing tells nothing.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    run(move || {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let dummy = DUMMY.get_or_init(|| hash_now("not anybody's password").unwrap_or_default());
        let exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy.clone());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        exists && matches
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_sign_ins_computes_only_a_few_hashes_at_once() {
        let stored = hash("correct horse".into()).await.expect("hash");
        let burst: Vec<_> = (0..24)
            .map(|_| tokio::spawn(verify("wrong horse".into(), Some(stored.clone()))))
            .collect();
        for guess in burst {
            assert!(!guess.await.expect("task"));
        }
        let peak = PEAK.load(Ordering::SeqCst);
        assert!(
            peak <= max_at_once(),
            "{peak} hashes at once, at most {} allowed",
            max_at_once()
        );
    }

    #[tokio::test]
    async fn hashes_are_salted_argon2id_and_verify_only_the_right_password() {
        let first = hash("correct horse".into()).await.expect("hash");
        let second = hash("correct horse".into()).await.expect("hash");
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert_ne!(first, second, "a fresh salt per hash");
        assert!(verify("correct horse".into(), Some(first.clone())).await);
        assert!(!verify("wrong horse".into(), Some(first)).await);
        assert!(!verify("anything".into(), None).await);
    }
}
