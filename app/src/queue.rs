//! Wire types of the onsale waiting room: staff settings and figures, a
//! fan's place in the queue, and the published draw.

use crate::types::EventId;
use serde::{Deserialize, Serialize};

/// Where a fan joins the event's queue: the browser client calls it, and
/// a `queue_required` error points to it. Here, with the queue's types, so
/// the error module need not import the client (which imports errors).
pub fn queue_path(event_id: EventId) -> String {
    format!("/api/events/{event_id}/queue")
}

/// Body of `PUT /api/staff/events/{id}/queue`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QueueSettingsRequest {
    pub enabled: bool,
    /// RFC 3339; 30 minutes before the onsale when absent.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub opens_at: Option<String>,
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100_000))]
    pub admit_per_minute: i64,
    /// Admitted shoppers active at once.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 1_000_000))]
    pub max_active: i64,
    /// How long an admission lasts; 10 when absent.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 240))]
    pub admission_minutes: Option<i64>,
    /// Proof of work at joining, in leading zero bits (0 to 28); 0 when absent.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 28))]
    pub pow_difficulty: Option<u32>,
    /// Joining needs a signed-in account: one place per account.
    #[serde(default)]
    pub require_account: Option<bool>,
}

/// The settings with live figures: `PUT` and `GET /api/staff/events/{id}/queue`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QueueSettings {
    pub enabled: bool,
    pub opens_at: String,
    pub onsale_at: String,
    pub admit_per_minute: i64,
    pub max_active: i64,
    pub admission_minutes: i64,
    pub pow_difficulty: u32,
    pub require_account: bool,
    pub paused: bool,
    pub drawn: bool,
    /// In line, not yet admitted (the pre-queue included).
    pub waiting: i64,
    /// Admitted, not expired, not yet done (bought or released).
    pub active: i64,
    pub admitted_last_minute: i64,
    /// At the configured rate; `null` before the draw or while paused.
    pub expected_clear_seconds: Option<i64>,
}

/// Where a fan stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// In line (in the pre-queue until the draw).
    Waiting,
    /// May hold seats until `admission_expires_at`.
    Admitted,
    /// The admission ran out or was used up (bought or released); joining
    /// again goes to the back of the line.
    Expired,
}

/// `POST` and `GET /api/events/{id}/queue`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QueueStatus {
    pub state: QueueState,
    /// 1 is next. Absent in the pre-queue (before the draw) and once admitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_wait_seconds: Option<i64>,
    /// This place's anonymous id in the published draw.
    pub queue_id: String,
    pub onsale_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission_expires_at: Option<String>,
    /// The line is paused by the organiser.
    pub paused: bool,
    /// Ask again after this many seconds.
    pub poll_after_seconds: u32,
}

/// Body of `POST /api/events/{id}/queue`: the answer to the proof-of-work
/// challenge, when the event asks for one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    #[serde(default)]
    pub challenge: Option<String>,
    #[serde(default)]
    pub nonce: Option<u64>,
}

/// `GET /api/events/{id}/queue/challenge`: find a `nonce` such that
/// SHA-256(`challenge` bytes, then `nonce` as 8 big-endian bytes) starts
/// with `difficulty` zero bits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PowChallenge {
    pub challenge: String,
    pub difficulty: u32,
}

/// `GET /api/events/{id}/queue/draw`: the audit of the draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DrawAudit {
    /// Lowercase hex SHA-256 of the seed's bytes, published when the
    /// waiting room is set up.
    pub seed_hash: String,
    /// Lowercase hex, after the draw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// The pre-queue's anonymous ids in drawn order, after the draw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<String>>,
}

/// True when SHA-256(`challenge`, `nonce` big-endian) has at least `bits`
/// leading zero bits: the proof-of-work check, shared by the server and
/// the browser's solver.
pub fn pow_hash_ok(challenge: &str, nonce: u64, bits: u32) -> bool {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(challenge.as_bytes())
        .chain_update(nonce.to_be_bytes())
        .finalize();
    leading_zero_bits(&digest) >= bits
}

fn leading_zero_bits(bytes: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in bytes {
        if *byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

/// The first nonce from `start` (trying `count`) that solves the challenge.
pub fn pow_solve(challenge: &str, bits: u32, start: u64, count: u64) -> Option<u64> {
    (start..start.saturating_add(count)).find(|nonce| pow_hash_ok(challenge, *nonce, bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zero_bits_count_across_bytes() {
        assert_eq!(leading_zero_bits(&[0, 0, 0x10, 0xff]), 19);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
    }

    #[test]
    fn a_solved_challenge_verifies_and_a_wrong_nonce_mostly_does_not() {
        let nonce = pow_solve("abc", 12, 0, 1 << 24).expect("solvable");
        assert!(pow_hash_ok("abc", nonce, 12));
        assert!(!pow_hash_ok("abd", nonce, 12) || !pow_hash_ok("abe", nonce, 12));
    }
}
