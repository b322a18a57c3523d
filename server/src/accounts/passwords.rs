//! Password hashing with Argon2id (OWASP's minimum parameters: 19 MiB,
//! two passes, one lane), off the async threads because each hash takes
//! tens of milliseconds on purpose.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;
use std::sync::OnceLock;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

fn hash_now(password: &str) -> Option<String> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes).ok()?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .ok()
        .map(|hash| hash.to_string())
}

/// A PHC-format Argon2id hash of `password` (salt and parameters inside).
pub async fn hash(password: String) -> Option<String> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .ok()
        .flatten()
}

/// Whether `password` matches `stored`. Without a stored hash (no such
/// account, or a guest record) a dummy hash is checked instead, so a wrong
/// email costs as much time as a wrong password and timing tells nothing.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
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
