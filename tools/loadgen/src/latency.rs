//! Latency histograms: every sample kept at three significant digits
//! (HdrHistogram), so the tail percentiles of a long run are exact to
//! 0.1 % instead of depending on a sample buffer.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// The longest latency told apart from longer ones: an hour, in microseconds.
const HIGHEST_US: u64 = 3_600_000_000;

/// Latencies of one kind of call, in microseconds.
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        // Bounds that are constants and valid: creating it cannot fail.
        Self(Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid histogram bounds"))
    }
}

/// Percentiles of one kind of call, in milliseconds.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // Anything past the highest trackable value counts as that value.
        self.0.saturating_record(us.max(1));
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// `None` without samples.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.0.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        let at = |q: f64| ms(self.0.value_at_quantile(q));
        Some(Percentiles {
            count: self.0.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            p99_9_ms: at(0.999),
            max_ms: ms(self.0.max()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= expected * 0.001 + 0.001
    }

    #[test]
    fn percentiles_of_every_sample_within_a_tenth_of_a_percent() {
        let mut latency = Latency::default();
        for ms in (1..=1000).rev() {
            latency.record(Duration::from_millis(ms));
        }
        let p = latency.percentiles().expect("samples");
        assert_eq!(p.count, 1000);
        for (actual, expected) in [
            (p.p50_ms, 500.0),
            (p.p90_ms, 900.0),
            (p.p99_ms, 990.0),
            (p.p99_9_ms, 999.0),
            (p.max_ms, 1000.0),
        ] {
            assert!(close(actual, expected), "{actual} ≉ {expected}: {p:?}");
        }
        assert!(Latency::default().percentiles().is_none());
    }

    #[test]
    fn the_tail_is_kept_and_past_an_hour_counts_as_an_hour() {
        let mut latency = Latency::default();
        for _ in 0..99 {
            latency.record(Duration::from_micros(200));
        }
        latency.record(Duration::from_secs(7200));
        let p = latency.percentiles().expect("samples");
        assert_eq!(p.count, 100);
        assert!(close(p.p50_ms, 0.2), "{p:?}");
        assert!(close(p.p99_ms, 0.2), "{p:?}");
        assert!(close(p.max_ms, 3_600_000.0), "{p:?}");
    }
}
