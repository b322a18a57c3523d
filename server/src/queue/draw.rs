//! The draw: at the onsale the pre-queue is put in a uniformly random order
//! that anyone can recompute once the seed is published.
//!
//! Each entry has a random public id (32 lowercase hex characters). Its
//! draw key is the first 8 bytes of HMAC-SHA256(key = the seed's 32 bytes,
//! message = the public id's ASCII) read as a big-endian unsigned integer;
//! the pre-queue is sorted by draw key (ties, which need a 64-bit
//! collision, by public id). The seed is drawn when the waiting room is set
//! up and only its SHA-256 is published until the draw, so nobody — the
//! organiser included — can pick ids that sort first.
//!
//! The key is stored shifted into the signed range ([`to_stored`]) so both
//! databases sort it as an ordinary `BIGINT`.

use crate::session::hex;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// A fresh seed: 32 random bytes.
pub fn new_seed() -> [u8; 32] {
    rand::random()
}

/// Lowercase hex SHA-256 of the seed's bytes: what is published up front.
pub fn seed_hash(seed: &[u8]) -> String {
    hex(&Sha256::digest(seed))
}

/// A fresh public id: 16 random bytes as lowercase hex.
pub fn new_public_id() -> String {
    hex(&rand::random::<[u8; 16]>())
}

/// The entry's draw key (see the module documentation).
pub fn draw_key(seed: &[u8], public_id: &str) -> u64 {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(seed)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(public_id.as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(&tag[..8]);
    u64::from_be_bytes(first)
}

/// The draw key as the database stores it: order-preserving into `i64`.
pub fn to_stored(key: u64) -> i64 {
    (key ^ (1 << 63)) as i64
}

/// The drawn order of `public_ids` under `seed`: what an auditor computes.
pub fn order(seed: &[u8], public_ids: &[String]) -> Vec<String> {
    let mut keyed: Vec<(u64, &String)> = public_ids
        .iter()
        .map(|id| (draw_key(seed, id), id))
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, id)| id.clone()).collect()
}

/// Parses a seed from its lowercase hex form.
pub fn parse_seed(hex_seed: &str) -> Option<Vec<u8>> {
    if !hex_seed.len().is_multiple_of(2) {
        return None;
    }
    (0..hex_seed.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex_seed.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_sort_like_the_unsigned_keys() {
        let keys = [0u64, 1, (1 << 63) - 1, 1 << 63, u64::MAX];
        for pair in keys.windows(2) {
            assert!(to_stored(pair[0]) < to_stored(pair[1]), "{pair:?}");
        }
    }

    #[test]
    fn the_seed_hash_is_the_sha256_of_the_seed_bytes() {
        // SHA-256 of the empty string, a published test vector.
        assert_eq!(
            seed_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let seed = new_seed();
        assert_eq!(parse_seed(&hex(&seed)).as_deref(), Some(&seed[..]));
        assert_eq!(parse_seed("0g"), None);
    }

    #[test]
    fn the_order_depends_on_the_seed_and_not_on_the_arrival_order() {
        let ids: Vec<String> = (0..50).map(|_| new_public_id()).collect();
        let seed = new_seed();
        let mut reversed = ids.clone();
        reversed.reverse();
        assert_eq!(order(&seed, &ids), order(&seed, &reversed));
        assert_ne!(order(&seed, &ids), order(&new_seed(), &ids));
    }

    /// Over many draws, where an arrival ends up must not depend on when
    /// it arrived: a chi-square test of arrival decile against drawn
    /// decile (81 degrees of freedom; the 0.1 % critical value is 124.8).
    #[test]
    fn many_draws_show_no_bias_by_arrival_time() {
        const PEOPLE: usize = 100;
        const DRAWS: usize = 2_000;
        let mut counts = [[0u64; 10]; 10];
        for _ in 0..DRAWS {
            let ids: Vec<String> = (0..PEOPLE).map(|_| new_public_id()).collect();
            let arrival_of: std::collections::HashMap<&String, usize> =
                ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
            let drawn = order(&new_seed(), &ids);
            for (place, id) in drawn.iter().enumerate() {
                let arrival = arrival_of[id];
                counts[arrival / 10][place / 10] += 1;
            }
        }
        let expected = (PEOPLE * DRAWS) as f64 / 100.0;
        let chi_square: f64 = counts
            .iter()
            .flatten()
            .map(|&observed| (observed as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi_square < 124.8, "chi-square {chi_square}");
    }
}
