//! Signed ticket codes. A code carries the event, seat and purchase and an
//! Ed25519 signature over them, so a gate holding only the event's public
//! key can tell a real ticket from a forged one without a network; whether
//! it was refunded or already used is then checked online (or synced).
//!
//! Format: `TK1.` + base64url(event_id ‖ seat_id ‖ purchase_id as 8-byte
//! big-endian integers ‖ 64-byte signature), 122 characters in all.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::Rng;
use std::fmt;
use std::path::Path;

const PREFIX: &str = "TK1.";
const CLAIM_LEN: usize = 24;

/// What a ticket code says, once its signature checks out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketClaim {
    pub event_id: i64,
    pub seat_id: i64,
    pub purchase_id: i64,
}

impl TicketClaim {
    fn to_bytes(self) -> [u8; CLAIM_LEN] {
        let mut bytes = [0u8; CLAIM_LEN];
        bytes[..8].copy_from_slice(&self.event_id.to_be_bytes());
        bytes[8..16].copy_from_slice(&self.seat_id.to_be_bytes());
        bytes[16..].copy_from_slice(&self.purchase_id.to_be_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let int = |range: std::ops::Range<usize>| {
            Some(i64::from_be_bytes(bytes.get(range)?.try_into().ok()?))
        };
        Some(Self {
            event_id: int(0..8)?,
            seat_id: int(8..16)?,
            purchase_id: int(16..24)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("TESSERA_TICKET_KEY must be 64 hex characters (a 32-byte Ed25519 seed)")]
    Malformed,
    #[error("ticket signing key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

/// Signs ticket codes. `Debug` never shows the key.
#[derive(Clone)]
pub struct TicketSigner {
    key: SigningKey,
}

impl fmt::Debug for TicketSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketSigner")
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

impl TicketSigner {
    pub fn generate() -> Self {
        let seed: [u8; 32] = rand::rng().random();
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// From a 64-hex-character seed (`TESSERA_TICKET_KEY`).
    pub fn from_seed_hex(hex: &str) -> Result<Self, KeyError> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::Malformed);
        }
        let mut seed = [0u8; 32];
        for (i, byte) in seed.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| KeyError::Malformed)?;
        }
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The key in `path`, created (owner-readable only) on first use, so an
    /// embedded install keeps issuing codes its gates can verify across
    /// restarts. Servers that share a PostgreSQL database must share the key:
    /// give them all the same `TESSERA_TICKET_KEY`.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let file_error = |source| KeyError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(hex) => Self::from_seed_hex(&hex),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let signer = Self::generate();
                let hex = crate::session::hex(&signer.key.to_bytes());
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(file_error)?;
                }
                write_private(path, &hex).map_err(file_error)?;
                Ok(signer)
            }
            Err(error) => Err(file_error(error)),
        }
    }

    pub fn sign(&self, claim: TicketClaim) -> String {
        let claim_bytes = claim.to_bytes();
        let signature = self.key.sign(&claim_bytes);
        let mut bytes = Vec::with_capacity(CLAIM_LEN + 64);
        bytes.extend_from_slice(&claim_bytes);
        bytes.extend_from_slice(&signature.to_bytes());
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key a gate needs, base64url.
    pub fn public_key_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.verifying_key().as_bytes())
    }

    /// A secret for another `purpose`, derived from the signing seed
    /// (HMAC-SHA256 of the purpose under the seed): servers that share the
    /// ticket key share it too, and it reveals nothing of the seed.
    pub fn derive_secret(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.key.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// The claim in `code` if its signature is valid for `public_key`.
pub fn verify(public_key: &VerifyingKey, code: &str) -> Option<TicketClaim> {
    let bytes = URL_SAFE_NO_PAD
        .decode(code.trim().strip_prefix(PREFIX)?)
        .ok()?;
    if bytes.len() != CLAIM_LEN + 64 {
        return None;
    }
    let (claim_bytes, signature) = bytes.split_at(CLAIM_LEN);
    let signature = Signature::from_slice(signature).ok()?;
    public_key.verify(claim_bytes, &signature).ok()?;
    TicketClaim::from_bytes(claim_bytes)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAIM: TicketClaim = TicketClaim {
        event_id: 7,
        seat_id: 49_999,
        purchase_id: 123_456,
    };

    #[test]
    fn a_signed_code_verifies_with_the_public_key_only() {
        let signer = TicketSigner::generate();
        let code = signer.sign(CLAIM);
        assert!(code.starts_with("TK1.") && code.len() == 122, "{code}");
        assert_eq!(verify(&signer.verifying_key(), &code), Some(CLAIM));
    }

    #[test]
    fn forged_altered_or_foreign_codes_are_rejected() {
        let signer = TicketSigner::generate();
        let code = signer.sign(CLAIM);
        let other = TicketSigner::generate();
        assert_eq!(verify(&other.verifying_key(), &code), None, "another key");
        // Flip one character of the claim part.
        let mut altered: Vec<char> = code.chars().collect();
        altered[10] = if altered[10] == 'A' { 'B' } else { 'A' };
        let altered: String = altered.into_iter().collect();
        assert_eq!(verify(&signer.verifying_key(), &altered), None);
        for junk in ["", "TK1.", "TK1.abc", "hello", &code[4..]] {
            assert_eq!(verify(&signer.verifying_key(), junk), None, "{junk}");
        }
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("tessera-key-{}", rand::rng().random::<u64>()));
        let path = dir.join("ticket-signing.key");
        let first = TicketSigner::load_or_create(&path).expect("created");
        let second = TicketSigner::load_or_create(&path).expect("loaded");
        assert_eq!(first.public_key_base64(), second.public_key_base64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the key");
        }
        assert!(TicketSigner::from_seed_hex("nothex").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
