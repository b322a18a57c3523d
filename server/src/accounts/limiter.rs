//! Sign-in throttling: attempts are counted per account and per client
//! address over a sliding window. An attempt takes its place in both counts
//! *before* the password is checked, in one step under one lock, and gives
//! it back if the password was right: however many guesses arrive at once,
//! at most the limit are ever checked. Past the limit, attempts are refused
//! with 429 and no password is checked.
//!
//! Why not governor's GCRA (which the per-address rates use): a sign-in
//! must be able to give its place back on success and clear the account's
//! failures, and GCRA has no way to return a cell or reset one key.
//!
//! Counts live in this process: behind a load balancer each server limits
//! on its own, which multiplies the allowance by the number of servers but
//! still stops online guessing. The table of keys has a hard cap; when it
//! is full, stale keys go first, then those whose latest attempt is oldest.

use crate::net::ClientKey;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys tracked at most (accounts and addresses together).
pub const MAX_KEYS: usize = 100_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(ClientKey),
}

#[derive(Debug)]
pub struct LoginLimiter {
    attempts: Mutex<HashMap<Key, VecDeque<Instant>>>,
    per_account: usize,
    per_address: usize,
    max_keys: usize,
}

/// A sign-in attempt that holds its place in the counts. Dropped without
/// [`LoginLimiter::succeeded`], it stays counted as a failure.
#[derive(Debug)]
#[must_use = "a successful sign-in gives its place back with `succeeded`"]
pub struct Attempt {
    email: String,
    address: ClientKey,
    at: Instant,
}

impl LoginLimiter {
    pub fn new(per_account: u32, per_address: u32, max_keys: usize) -> Self {
        Self {
            attempts: Mutex::default(),
            per_account: per_account as usize,
            per_address: per_address as usize,
            max_keys,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, VecDeque<Instant>>> {
        // Every update is a push, a pop or a removal: a panic cannot leave
        // a half-made entry, so a poisoned lock is still consistent.
        self.attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a place for one attempt, or says how long until one is free.
    pub fn reserve(
        &self,
        email: &str,
        address: ClientKey,
        now: Instant,
    ) -> Result<Attempt, Duration> {
        let keys = [
            (Key::Account(email.to_string()), self.per_account),
            (Key::Address(address), self.per_address),
        ];
        let mut attempts = self.lock();
        let wait = keys
            .iter()
            .filter_map(|(key, limit)| {
                let times = attempts.get_mut(key)?;
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                {
                    times.pop_front();
                }
                let oldest = times.front().copied();
                (times.len() >= *limit)
                    .then(|| oldest.map(|oldest| WINDOW.saturating_sub(now.duration_since(oldest))))
                    .flatten()
            })
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        for (key, _) in keys {
            if !attempts.contains_key(&key) && attempts.len() >= self.max_keys {
                make_room(&mut attempts, now, self.max_keys);
            }
            attempts.entry(key).or_default().push_back(now);
        }
        Ok(Attempt {
            email: email.to_string(),
            address,
            at: now,
        })
    }

    /// The password was right: the account's failures are forgotten, and
    /// the attempt leaves the address's count (one good password must not
    /// reset a guessing run on other accounts, but must not count either).
    pub fn succeeded(&self, attempt: Attempt) {
        let mut attempts = self.lock();
        attempts.remove(&Key::Account(attempt.email));
        let address = Key::Address(attempt.address);
        if let Some(times) = attempts.get_mut(&address) {
            if let Some(position) = times.iter().rposition(|t| *t == attempt.at) {
                times.remove(position);
            }
            if times.is_empty() {
                attempts.remove(&address);
            }
        }
    }

    /// Forgets an account's failed attempts (its owner just proved the
    /// mailbox and chose a new password).
    pub fn forget_account(&self, email: &str) {
        self.lock().remove(&Key::Account(email.to_string()));
    }

    pub fn tracked_keys(&self) -> usize {
        self.lock().len()
    }
}

/// Drops what fell out of the window; if the table is still full, the
/// eighth of the keys with the fewest attempts (the oldest first among
/// equals). A locked account has the most, so a flood of one-off keys
/// pushes out other one-off keys, not the lock.
fn make_room(attempts: &mut HashMap<Key, VecDeque<Instant>>, now: Instant, max_keys: usize) {
    attempts.retain(|_, times| {
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        !times.is_empty()
    });
    if attempts.len() < max_keys {
        return;
    }
    let mut ranks: Vec<(usize, Instant)> = attempts
        .values()
        .filter_map(|times| Some((times.len(), *times.back()?)))
        .collect();
    let evict = (ranks.len() / 8).max(1);
    let (_, threshold, _) = ranks.select_nth_unstable(evict - 1);
    let threshold = *threshold;
    attempts.retain(|_, times| times.back().is_some_and(|t| (times.len(), *t) > threshold));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn address(text: &str) -> ClientKey {
        ClientKey::of(text.parse::<IpAddr>().expect("ip"))
    }

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(10, 50, MAX_KEYS)
    }

    #[test]
    fn an_account_is_locked_after_its_limit_and_unlocks_when_the_window_passes() {
        let limiter = limiter();
        let start = Instant::now();
        for _ in 0..10 {
            let _failed = limiter
                .reserve("a@x.io", address("1.2.3.4"), start)
                .expect("allowed");
        }
        let wait = limiter
            .reserve("a@x.io", address("5.6.7.8"), start)
            .expect_err("locked");
        assert!(wait <= WINDOW && wait > WINDOW - Duration::from_secs(1));
        assert!(
            limiter.reserve("b@x.io", address("5.6.7.8"), start).is_ok(),
            "others unaffected"
        );
        assert!(limiter
            .reserve("a@x.io", address("5.6.7.8"), start + WINDOW)
            .is_ok());
    }

    #[test]
    fn a_successful_sign_in_gives_its_place_back() {
        let limiter = limiter();
        let now = Instant::now();
        for _ in 0..9 {
            let _failed = limiter.reserve("a@x.io", address("1.2.3.4"), now);
        }
        let good = limiter
            .reserve("a@x.io", address("1.2.3.4"), now)
            .expect("tenth");
        limiter.succeeded(good);
        for _ in 0..10 {
            let _failed = limiter
                .reserve("a@x.io", address("1.2.3.4"), now)
                .expect("the account's count was cleared");
        }
    }

    #[test]
    fn one_address_guessing_many_accounts_is_stopped() {
        let limiter = limiter();
        let now = Instant::now();
        for i in 0..50 {
            let _failed = limiter.reserve(&format!("user{i}@x.io"), address("9.9.9.9"), now);
        }
        assert!(limiter
            .reserve("fresh@x.io", address("9.9.9.9"), now)
            .is_err());
        assert!(limiter
            .reserve("fresh@x.io", address("8.8.8.8"), now)
            .is_ok());
        // One IPv6 /64 is one address.
        for i in 0..50 {
            let _failed = limiter.reserve(
                &format!("v6user{i}@x.io"),
                address(&format!("2001:db8::{i:x}")),
                now,
            );
        }
        assert!(limiter
            .reserve("fresh@x.io", address("2001:db8::ffff"), now)
            .is_err());
    }

    #[test]
    fn a_flood_of_distinct_keys_never_grows_the_table_past_its_cap() {
        let limiter = LoginLimiter::new(10, 50, 1_000);
        let start = Instant::now();
        // The account under attack is locked before the flood…
        for _ in 0..10 {
            let _failed = limiter.reserve("victim@x.io", address("7.7.7.7"), start);
        }
        assert!(limiter
            .reserve("victim@x.io", address("6.6.6.6"), start)
            .is_err());
        for i in 0..20_000u32 {
            let now = start + Duration::from_millis(u64::from(i) + 1);
            let _failed = limiter.reserve(
                &format!("user{i}@x.io"),
                ClientKey::of(IpAddr::from(i.to_be_bytes())),
                now,
            );
            assert!(
                limiter.tracked_keys() <= 1_000,
                "{}",
                limiter.tracked_keys()
            );
        }
        assert!(limiter.tracked_keys() > 100, "evicts an eighth, not all");
        // …and stays locked: one-off keys were evicted, not the lock.
        let later = start + Duration::from_secs(30);
        assert!(limiter
            .reserve("victim@x.io", address("6.6.6.6"), later)
            .is_err());
    }
}
