//! Proof of work at joining, hashcash style: the server issues a signed,
//! short-lived challenge bound to the visitor; the browser finds a nonce
//! such that SHA-256(challenge, nonce) starts with the event's number of
//! zero bits ([`app::queue::pow_hash_ok`]). Checking costs one hash.
//!
//! A challenge is written in the letters `a`–`p` (like session ids), so no
//! run of digits in it can ever look like a card number.

use crate::session::{from_letters, letters};
use app::error::ApiError;
use app::queue::JoinRequest;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

/// The most leading zero bits an event may ask for: about 2^28 hashes,
/// seconds to a minute in a browser.
pub const MAX_BITS: u32 = 28;
/// How long a challenge may be answered.
const LIFETIME_MS: i64 = 10 * 60_000;
const MAC_BYTES: usize = 16;

/// Issues and checks challenges under a server secret (shared by servers
/// that share a database, as it derives from the ticket key).
#[derive(Clone)]
pub struct Challenges {
    secret: Arc<[u8; 32]>,
}

impl std::fmt::Debug for Challenges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Challenges(***)")
    }
}

impl Challenges {
    pub fn new(secret: [u8; 32]) -> Self {
        Self {
            secret: Arc::new(secret),
        }
    }

    fn mac(&self, event_id: i64, holder: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.secret.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(&event_id.to_be_bytes());
        mac.update(holder.as_bytes());
        mac.update(body);
        mac
    }

    fn tag(&self, event_id: i64, holder: &str, body: &[u8]) -> [u8; MAC_BYTES] {
        let mut tag = [0u8; MAC_BYTES];
        tag.copy_from_slice(&self.mac(event_id, holder, body).finalize().into_bytes()[..MAC_BYTES]);
        tag
    }

    /// A fresh challenge for `holder` at event `event_id`.
    pub fn issue(&self, event_id: i64, holder: &str, now: i64) -> String {
        let mut body = Vec::with_capacity(16 + MAC_BYTES);
        body.extend_from_slice(&(now + LIFETIME_MS).to_be_bytes());
        body.extend_from_slice(&rand::random::<[u8; 8]>());
        let tag = self.tag(event_id, holder, &body);
        body.extend_from_slice(&tag);
        letters(&body)
    }

    /// Checks an answer: a challenge this server signed for this holder and
    /// event, not expired, whose hash with the nonce has `bits` zero bits.
    pub fn verify(
        &self,
        event_id: i64,
        holder: &str,
        answer: &JoinRequest,
        bits: i64,
        now: i64,
    ) -> Result<(), ApiError> {
        let refused = |message: &str| ApiError::new(app::error::ErrorCode::Forbidden, message);
        let (Some(challenge), Some(nonce)) = (&answer.challenge, answer.nonce) else {
            return Err(refused(
                "this queue asks for a proof of work: get a challenge from \
                 GET /api/events/{id}/queue/challenge and send challenge and nonce",
            ));
        };
        let bytes = from_letters(challenge).filter(|bytes| bytes.len() == 16 + MAC_BYTES);
        let Some(bytes) = bytes else {
            return Err(refused("that is not a challenge of this server"));
        };
        let (body, tag) = bytes.split_at(16);
        // In constant time, as HMAC's own check is.
        if self
            .mac(event_id, holder, body)
            .verify_truncated_left(tag)
            .is_err()
        {
            return Err(refused(
                "that challenge was not issued to you for this event",
            ));
        }
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&body[..8]);
        if i64::from_be_bytes(expiry) <= now {
            return Err(refused("that challenge has expired; get a new one"));
        }
        if !app::queue::pow_hash_ok(challenge, nonce, u32::try_from(bits).unwrap_or(u32::MAX)) {
            return Err(refused("that nonce does not solve the challenge"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(challenge: &str, bits: u32) -> JoinRequest {
        JoinRequest {
            challenge: Some(challenge.to_string()),
            nonce: app::queue::pow_solve(challenge, bits, 0, 1 << 24),
        }
    }

    #[test]
    fn a_solved_challenge_passes_only_for_its_holder_event_and_time() {
        let challenges = Challenges::new([7; 32]);
        let challenge = challenges.issue(1, "s:abc", 1_000);
        assert!(challenge.bytes().all(|b| (b'a'..=b'p').contains(&b)));
        let solved = answer(&challenge, 8);
        assert!(challenges.verify(1, "s:abc", &solved, 8, 2_000).is_ok());
        assert!(challenges.verify(2, "s:abc", &solved, 8, 2_000).is_err());
        assert!(challenges.verify(1, "s:xyz", &solved, 8, 2_000).is_err());
        assert!(challenges
            .verify(1, "s:abc", &solved, 8, 1_000 + LIFETIME_MS)
            .is_err());
        let other_server = Challenges::new([8; 32]);
        assert!(other_server.verify(1, "s:abc", &solved, 8, 2_000).is_err());
    }

    #[test]
    fn a_wrong_or_missing_nonce_is_refused() {
        let challenges = Challenges::new([7; 32]);
        let challenge = challenges.issue(1, "s:abc", 0);
        let unsolved = (0..)
            .find(|nonce| !app::queue::pow_hash_ok(&challenge, *nonce, 8))
            .expect("some nonce fails");
        let wrong = JoinRequest {
            challenge: Some(challenge.clone()),
            nonce: Some(unsolved),
        };
        assert!(challenges.verify(1, "s:abc", &wrong, 8, 1).is_err());
        assert!(challenges
            .verify(1, "s:abc", &JoinRequest::default(), 8, 1)
            .is_err());
    }
}
