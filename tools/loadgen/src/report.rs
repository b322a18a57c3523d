//! What loadgen prints: latency percentiles, the run's counts, the server's
//! memory, and what the database says was sold.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Percentiles of microsecond samples, in milliseconds.
pub fn percentiles(samples: &mut [u64]) -> Option<Percentiles> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    Some(Percentiles {
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    })
}

#[derive(Serialize)]
pub struct Report {
    pub mode: crate::Mode,
    pub event: app::types::EventId,
    pub buyers: usize,
    pub seats_per_hold: usize,
    pub hold_rate_limit: Option<f64>,
    pub elapsed_s: f64,
    pub holds_ok: usize,
    pub holds_per_s: f64,
    pub seats_held_per_s: f64,
    pub purchases_ok: usize,
    pub purchases_per_s: f64,
    /// From the start of the buyers to the last successful purchase.
    pub last_purchase_s: Option<f64>,
    /// Whether buyers stopped because nothing that fits was left.
    pub sold_out: bool,
    pub conflict_rate: f64,
    pub hold_latency: Option<Percentiles>,
    pub purchase_latency: Option<Percentiles>,
    pub status_counts: BTreeMap<String, usize>,
    pub unexpected_5xx: usize,
    pub oversold_seats: Option<i64>,
    pub database: Option<crate::database::Sold>,
    pub viewers: Option<crate::viewers::ViewerReport>,
    pub server_memory: Option<ServerMemory>,
}

/// The server's resident memory at one moment, from `/proc/PID/status`.
#[derive(Serialize, Clone, Copy)]
pub struct Memory {
    pub vm_rss_mib: f64,
    pub vm_hwm_mib: f64,
}

#[derive(Serialize)]
pub struct ServerMemory {
    pub pid: u32,
    pub before_viewers: Option<Memory>,
    pub after_viewers_connected: Option<Memory>,
    pub at_end: Option<Memory>,
}

pub fn memory_of(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .map(|kib| (kib / 1024.0 * 10.0).round() / 10.0)
    };
    Some(Memory {
        vm_rss_mib: field("VmRSS:")?,
        vm_hwm_mib: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_sorted_samples() {
        let mut samples: Vec<u64> = (1..=100).rev().map(|ms| ms * 1000).collect();
        let p = percentiles(&mut samples).expect("samples");
        assert_eq!((p.p50_ms, p.p99_ms, p.max_ms), (51.0, 99.0, 100.0));
        assert!(percentiles(&mut []).is_none());
    }

    #[test]
    fn own_memory_is_readable() {
        let memory = memory_of(std::process::id()).expect("/proc/self/status");
        assert!(memory.vm_rss_mib > 0.0 && memory.vm_hwm_mib >= memory.vm_rss_mib);
    }
}
