//! When each hold of each seat got its response, for the viewers that
//! measure how long the live channel took to show it: the k-th delta that
//! shows a seat `held` belongs to the k-th hold of it.

use app::types::SeatId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Default)]
pub struct HoldClock {
    held_at: Mutex<HashMap<SeatId, Vec<Instant>>>,
}

impl HoldClock {
    pub fn held(&self, seats: impl IntoIterator<Item = SeatId>, at: Instant) {
        let mut map = self.lock();
        for seat in seats {
            map.entry(seat).or_default().push(at);
        }
    }

    /// When the `k`-th hold (from 0) of `seat` was answered, if it was.
    pub fn nth_hold(&self, seat: SeatId, k: usize) -> Option<Instant> {
        self.lock()
            .get(&seat)
            .and_then(|holds| holds.get(k))
            .copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SeatId, Vec<Instant>>> {
        // A poisoned map only means a buyer task panicked; its times are whole.
        self.held_at.lock().unwrap_or_else(|p| p.into_inner())
    }
}
