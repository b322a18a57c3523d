//! Per-address request rates: governor's GCRA limiter over a table of
//! buckets with a hard cap. Each address gets a bucket of `n` requests that
//! refills at `n` per period: a burst of the whole allowance once, then the
//! steady rate.
//!
//! The buckets live in this process, so behind a load balancer each server
//! allows the rate on its own. The table holds at most a fixed number of
//! addresses; when it is full, the buckets closest to full are forgotten
//! first (forgetting a bucket gives its address a full allowance, so those
//! give away the least), an eighth of the table at a time.

use super::client_addr::ClientKey;
use governor::clock::{Clock, DefaultClock};
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Tracked addresses per limiter, at most: a bucket is a few dozen bytes.
pub const MAX_TRACKED: usize = 100_000;

/// The buckets: each address's theoretical arrival time (GCRA's state).
/// Shared between the limiter and [`AddressRate::tracked`].
#[derive(Clone, Debug)]
pub struct BoundedBuckets {
    buckets: Arc<Mutex<HashMap<ClientKey, Nanos>>>,
    max_tracked: usize,
}

impl BoundedBuckets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, Nanos>> {
        // Every change is one insert or a retain: never half made.
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Forgets the fullest eighth of the buckets (the lowest arrival times).
fn evict_fullest(buckets: &mut HashMap<ClientKey, Nanos>) {
    let mut times: Vec<Nanos> = buckets.values().copied().collect();
    let evict = (times.len() / 8).max(1);
    let (_, threshold, _) = times.select_nth_unstable(evict - 1);
    let threshold = *threshold;
    buckets.retain(|_, time| *time > threshold);
}

impl StateStore for BoundedBuckets {
    type Key = ClientKey;

    fn measure_and_replace<T, F, E>(&self, key: &ClientKey, decide: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut buckets = self.lock();
        // A refusal changes nothing (and so adds no address).
        let (answer, next) = decide(buckets.get(key).copied())?;
        if !buckets.contains_key(key) && buckets.len() >= self.max_tracked {
            evict_fullest(&mut buckets);
        }
        buckets.insert(*key, next);
        Ok(answer)
    }
}

type Limiter = RateLimiter<ClientKey, BoundedBuckets, DefaultClock>;

pub struct AddressRate {
    limiter: Limiter,
    buckets: BoundedBuckets,
}

impl std::fmt::Debug for AddressRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressRate")
            .field("tracked", &self.tracked())
            .finish()
    }
}

impl AddressRate {
    pub fn new(quota: Quota, max_tracked: usize) -> Self {
        let buckets = BoundedBuckets {
            buckets: Arc::default(),
            max_tracked,
        };
        Self {
            limiter: RateLimiter::new(quota, buckets.clone(), DefaultClock::default()),
            buckets,
        }
    }

    /// Counts one request of `client`; `Err(wait)` when its allowance is
    /// spent, with the time until it can be let through.
    pub fn check(&self, client: ClientKey) -> Result<(), Duration> {
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// Addresses tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};
    use std::num::NonZeroU32;

    fn key(n: u32) -> ClientKey {
        ClientKey::of(IpAddr::V4(Ipv4Addr::from(n)))
    }

    fn per_minute(n: u32) -> Quota {
        Quota::per_minute(NonZeroU32::new(n).expect("non-zero"))
    }

    #[test]
    fn an_address_gets_its_allowance_then_waits_and_others_are_unaffected() {
        let rate = AddressRate::new(per_minute(3), MAX_TRACKED);
        for _ in 0..3 {
            assert_eq!(rate.check(key(1)), Ok(()));
        }
        let wait = rate.check(key(1)).expect_err("spent");
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert_eq!(rate.check(key(2)), Ok(()));
    }

    #[test]
    fn a_flood_of_distinct_addresses_never_grows_the_table_past_its_cap() {
        let rate = AddressRate::new(per_minute(2), 1_000);
        // One address spends its allowance before the flood…
        rate.check(key(u32::MAX)).expect("first");
        rate.check(key(u32::MAX)).expect("second");
        for n in 0..20_000 {
            rate.check(key(n)).expect("an address's first request");
            assert!(rate.tracked() <= 1_000, "{}", rate.tracked());
        }
        // …and stays limited: its bucket was the emptiest, never forgotten.
        assert!(rate.check(key(u32::MAX)).is_err());
    }
}
