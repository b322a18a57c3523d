//! Sign-in throttling: failed attempts are counted per account and per
//! client address over a sliding window; past the limit, attempts are
//! refused with 429 before any password is checked. Counts live in this
//! process: behind a load balancer each server limits on its own, which
//! multiplies the allowance by the number of servers but still stops
//! online guessing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const PER_ACCOUNT: usize = 10;
pub const PER_ADDRESS: usize = 50;
/// Past this many tracked keys, stale ones are dropped before adding more.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn account_key(email: &str) -> String {
    format!("account:{email}")
}

fn address_key(address: &str) -> String {
    format!("address:{address}")
}

impl LoginLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        // Every update is a push or a pop: a panic cannot leave a half-made
        // entry, so a poisoned lock is still consistent.
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long until another attempt is allowed, if it is not allowed now.
    pub fn retry_after(&self, email: &str, address: &str, now: Instant) -> Option<Duration> {
        let mut failures = self.lock();
        [
            (account_key(email), PER_ACCOUNT),
            (address_key(address), PER_ADDRESS),
        ]
        .into_iter()
        .filter_map(|(key, limit)| {
            let times = failures.get_mut(&key)?;
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= WINDOW)
            {
                times.pop_front();
            }
            (times.len() >= limit)
                .then(|| {
                    times
                        .front()
                        .map(|oldest| WINDOW - now.duration_since(*oldest))
                })
                .flatten()
        })
        .max()
    }

    pub fn record_failure(&self, email: &str, address: &str, now: Instant) {
        let mut failures = self.lock();
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for key in [account_key(email), address_key(address)] {
            failures.entry(key).or_default().push_back(now);
        }
    }

    /// A successful sign-in clears the account's count (not the address's:
    /// one good password must not reset a guessing run on other accounts).
    pub fn record_success(&self, email: &str) {
        self.lock().remove(&account_key(email));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_its_limit_and_unlocks_when_the_window_passes() {
        let limiter = LoginLimiter::default();
        let start = Instant::now();
        for _ in 0..PER_ACCOUNT {
            assert_eq!(limiter.retry_after("a@x.io", "1.2.3.4", start), None);
            limiter.record_failure("a@x.io", "1.2.3.4", start);
        }
        let wait = limiter
            .retry_after("a@x.io", "5.6.7.8", start)
            .expect("locked");
        assert!(wait <= WINDOW && wait > WINDOW - Duration::from_secs(1));
        assert_eq!(
            limiter.retry_after("b@x.io", "5.6.7.8", start),
            None,
            "others unaffected"
        );
        assert_eq!(
            limiter.retry_after("a@x.io", "5.6.7.8", start + WINDOW),
            None
        );
    }

    #[test]
    fn one_address_guessing_many_accounts_is_stopped() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        for i in 0..PER_ADDRESS {
            limiter.record_failure(&format!("user{i}@x.io"), "9.9.9.9", now);
        }
        assert!(limiter.retry_after("fresh@x.io", "9.9.9.9", now).is_some());
        limiter.record_success("fresh@x.io");
        assert!(limiter.retry_after("fresh@x.io", "9.9.9.9", now).is_some());
        assert_eq!(limiter.retry_after("fresh@x.io", "8.8.8.8", now), None);
    }
}
