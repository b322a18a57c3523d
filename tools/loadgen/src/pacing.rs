//! `--hold-rate`: requests on a fixed schedule, and their latency measured
//! from the schedule.
//!
//! A closed loop of buyers that waits for each answer before sending again
//! sends less when the server stalls, so a stall would show as a few slow
//! samples among many fast ones ("coordinated omission"). With a rate, each
//! request has its slot in a schedule fixed at the start; a slot that comes
//! while every buyer is still waiting is not skipped but sent late, and its
//! latency counts from the slot. A one-second stall at 500 holds/s is then
//! 500 samples of up to a second, as the fans queued behind it would see it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The schedule shared by all buyers: slot k is `start + k / rate`.
pub struct Pacer {
    start: Instant,
    per_second: f64,
    issued: AtomicU64,
}

impl Pacer {
    pub fn new(per_second: f64) -> Self {
        Self {
            start: Instant::now(),
            per_second,
            issued: AtomicU64::new(0),
        }
    }

    /// Takes the next slot and waits for it (not at all if it has passed).
    pub async fn next_slot(&self) -> Instant {
        let k = self.issued.fetch_add(1, Ordering::Relaxed);
        let slot = self.start + Duration::from_secs_f64(k as f64 / self.per_second);
        tokio::time::sleep_until(slot).await;
        slot
    }
}

/// A request's outcome and how long it took.
pub struct Timed<T> {
    pub output: T,
    /// From the request's slot when paced, else from sending it.
    pub latency: Duration,
    pub answered: Instant,
}

/// Makes and runs a request in its turn: at its slot of `pacer`'s
/// schedule, or at once without one. The request is made only then, so
/// nothing of it (its timeout included) starts while it waits.
pub async fn timed<F, R>(pacer: Option<&Pacer>, request: F) -> Timed<R::Output>
where
    F: FnOnce() -> R,
    R: Future,
{
    let intended = match pacer {
        Some(pacer) => pacer.next_slot().await,
        None => Instant::now(),
    };
    let output = request().await;
    let answered = Instant::now();
    Timed {
        output,
        latency: answered - intended,
        answered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::Latency;

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn the_pacer_spaces_requests_evenly() {
        let pacer = Pacer::new(500.0);
        let started = Instant::now();
        for _ in 0..51 {
            pacer.next_slot().await;
        }
        // 50 intervals of 2 ms after the first, which goes at once.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_micros(99_900), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(101), "{elapsed:?}");
    }

    /// One connection at 100 requests/s to a server that answers in 1 ms,
    /// except once, when it stalls for a second (time is tokio's paused
    /// clock: the test takes no real time).
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_stall_is_latency_of_every_request_scheduled_during_it() {
        let pacer = Pacer::new(100.0);
        let mut all = Latency::default();
        let mut during_stall = Latency::default();
        let stall_at = Duration::from_secs(5);
        for k in 0..1000u64 {
            let answer_in = if k == 500 {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(1)
            };
            let timed = timed(Some(&pacer), || tokio::time::sleep(answer_in)).await;
            all.record(timed.latency);
            let slot = Duration::from_millis(10 * k);
            if slot > stall_at && slot < stall_at + Duration::from_millis(500) {
                during_stall.record(timed.latency);
            }
        }
        let p = all.percentiles().expect("samples");
        // Every slot was sent and measured, the 100 missed during the stall too.
        assert_eq!(p.count, 1000);
        assert!(p.p50_ms < 2.0, "{p:?}");
        // Those late slots are the slowest 11 %: from 1 s down to nothing
        // as the backlog drains at 9 ms per request.
        assert!(p.p99_ms >= 850.0, "a stall must show in the p99: {p:?}");
        assert!(p.max_ms >= 1000.0, "{p:?}");
        let stalled = during_stall.percentiles().expect("samples");
        assert!(stalled.p50_ms >= 700.0, "{stalled:?}");
        assert!(stalled.p99_ms >= 980.0, "{stalled:?}");
    }
}
