//! Seats that best-available requests on this server picked a moment ago.
//!
//! Best available chooses from the live seat map, which learns of a claim
//! only at the next pump tick after its batch commits. In an onsale flood,
//! every request in that window would see the same free seats, aim at the
//! same few placements, and all but one would lose the claim and try again.
//! Each pick is therefore noted here, and the next requests choose around
//! it until the seat map has caught up. A note only steers the choice: the
//! claim in the database still decides.
//!
//! Seat ids are hashed with FxHash, not the default SipHash: ranking the
//! free seats of a version, and walking them, looks up each free seat of
//! the event (tens of thousands in a stadium) in these sets, and with
//! SipHash that hashing was a sixth of the server's time when every
//! request walked. The ids are ours, not an attacker's.

use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Long enough for a claim's batch to commit and the seat map to show it
/// (tens of milliseconds, seconds in a stall), short enough that seats of a
/// pick that failed oddly are not hidden for long.
pub const PICK_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub struct RecentPicks {
    picked_at: Mutex<FxHashMap<i64, Instant>>,
}

impl RecentPicks {
    /// The seats picked within [`PICK_TTL`] before `now`; older notes are dropped.
    pub fn current(&self, now: Instant) -> FxHashSet<i64> {
        let mut picked_at = self.picked_at.lock().unwrap_or_else(|p| p.into_inner());
        picked_at.retain(|_, at| now.duration_since(*at) < PICK_TTL);
        picked_at.keys().copied().collect()
    }

    pub fn note(&self, seat_ids: &[i64], now: Instant) {
        let mut picked_at = self.picked_at.lock().unwrap_or_else(|p| p.into_inner());
        picked_at.extend(seat_ids.iter().map(|&id| (id, now)));
    }

    /// Drops the notes of a pick that was not claimed, so others may choose
    /// those seats again at once.
    pub fn forget(&self, seat_ids: &[i64]) {
        let mut picked_at = self.picked_at.lock().unwrap_or_else(|p| p.into_inner());
        for id in seat_ids {
            picked_at.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_seen_until_forgotten_or_stale() {
        let picks = RecentPicks::default();
        let start = Instant::now();
        picks.note(&[1, 2], start);
        picks.note(&[3], start + Duration::from_secs(1));
        assert_eq!(picks.current(start), FxHashSet::from_iter([1, 2, 3]));

        picks.forget(&[2]);
        assert_eq!(picks.current(start), FxHashSet::from_iter([1, 3]));

        let later = start + PICK_TTL + Duration::from_millis(1);
        assert_eq!(
            picks.current(later),
            FxHashSet::from_iter([3]),
            "1 went stale"
        );
        assert!(picks.current(later + Duration::from_secs(1)).is_empty());
    }
}
