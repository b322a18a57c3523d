//! What loadgen prints: the headline (tickets sold per second, then holds
//! and purchases per second), latency percentiles per kind of call, the
//! run's counts, the viewers, the server's memory and CPU, and what the
//! database says was sold.

use crate::args::{Args, Mode};
use crate::buyers::Recorder;
use crate::cpu::{CpuReport, CpuSample};
use crate::database::Sold;
use crate::latency::Percentiles;
use crate::memory::ServerMemory;
use crate::viewers::ViewerReport;
use app::types::EventId;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub struct Report {
    /// Tickets of paid purchases per second, from the start of the buyers
    /// to the last sale: the onsale's throughput.
    pub tickets_per_s: Option<f64>,
    pub tickets_sold: usize,
    pub holds_per_s: f64,
    pub purchases_per_s: f64,
    pub mode: Mode,
    pub event: EventId,
    pub buyers: usize,
    pub seats_per_hold: usize,
    pub hold_rate_limit: Option<f64>,
    /// Where hold latency is measured from: `schedule` (each hold's slot
    /// under `--hold-rate`, so a stall shows as latency) or `send`.
    pub hold_latency_from: &'static str,
    pub elapsed_s: f64,
    pub holds_ok: usize,
    pub seats_held_per_s: f64,
    pub purchases_ok: usize,
    /// From the start of the buyers to the last successful purchase.
    pub last_purchase_s: Option<f64>,
    /// Whether buyers stopped because nothing that fits was left.
    pub sold_out: bool,
    pub conflict_rate: f64,
    pub hold_latency: Option<Percentiles>,
    pub release_latency: Option<Percentiles>,
    pub purchase_latency: Option<Percentiles>,
    pub status_counts: BTreeMap<String, usize>,
    pub unexpected_5xx: usize,
    /// Replies whose body did not read as the API's type for their status.
    pub unreadable_replies: usize,
    pub oversold_seats: Option<i64>,
    pub database: Option<Sold>,
    pub viewers: Option<ViewerReport>,
    pub server_memory: Option<ServerMemory>,
    /// CPU spent while the buyers ran (the server's with `--server-pid`).
    pub cpu: Option<CpuReport>,
}

/// What the run produced besides the buyers' counts.
pub struct Outcome {
    pub event: EventId,
    pub elapsed_s: f64,
    pub sold_out: bool,
    pub oversold_seats: Option<i64>,
    pub database: Option<Sold>,
    pub viewers: Option<ViewerReport>,
    pub server_memory: Option<ServerMemory>,
    /// CPU counters when the buyers started and when they stopped.
    pub cpu: Option<(CpuSample, CpuSample)>,
}

impl Report {
    pub fn new(args: &Args, recorder: Recorder, outcome: Outcome) -> Self {
        let elapsed = outcome.elapsed_s;
        let last_purchase_s = recorder.last_purchase.map(|d| d.as_secs_f64());
        let attempts = recorder.hold.count().max(1);
        Report {
            tickets_per_s: last_purchase_s
                .filter(|s| *s > 0.0 && recorder.tickets_sold > 0)
                .map(|s| recorder.tickets_sold as f64 / s),
            tickets_sold: recorder.tickets_sold,
            holds_per_s: recorder.holds_ok as f64 / elapsed,
            purchases_per_s: recorder.purchases_ok as f64 / elapsed,
            mode: args.mode,
            event: outcome.event,
            buyers: args.buyers,
            seats_per_hold: args.seats_per_hold,
            hold_rate_limit: args.hold_rate,
            hold_latency_from: if args.hold_rate.is_some() {
                "schedule"
            } else {
                "send"
            },
            elapsed_s: elapsed,
            holds_ok: recorder.holds_ok,
            seats_held_per_s: (recorder.holds_ok * args.seats_per_hold) as f64 / elapsed,
            purchases_ok: recorder.purchases_ok,
            last_purchase_s,
            sold_out: outcome.sold_out,
            conflict_rate: recorder.holds_conflict as f64 / attempts as f64,
            hold_latency: recorder.hold.percentiles(),
            release_latency: recorder.release.percentiles(),
            purchase_latency: recorder.purchase.percentiles(),
            unexpected_5xx: unexpected_5xx(&recorder.statuses),
            unreadable_replies: recorder.unreadable,
            status_counts: recorder.statuses,
            oversold_seats: outcome.oversold_seats,
            database: outcome.database,
            viewers: outcome.viewers,
            server_memory: outcome.server_memory,
            cpu: outcome.cpu.map(|(start, end)| {
                start.report(&end, elapsed, recorder.holds_ok, recorder.tickets_sold)
            }),
        }
    }

    /// One line for the terminal: tickets per second first.
    pub fn headline(&self) -> String {
        let rest = format!(
            "{:.1} holds/s, {:.1} purchases/s",
            self.holds_per_s, self.purchases_per_s
        );
        match (self.tickets_per_s, self.last_purchase_s) {
            (Some(tickets), Some(last)) => format!(
                "{tickets:.1} tickets/s ({} tickets, the last sold at {last:.2} s), {rest}",
                self.tickets_sold
            ),
            _ => format!("no tickets sold, {rest}"),
        }
    }

    /// What `--check` requires: no oversell, no unexpected 5xx, every reply
    /// readable, every viewer live.
    pub fn healthy(&self) -> bool {
        let viewers_ok = self
            .viewers
            .as_ref()
            .is_none_or(|v| v.connected == v.requested);
        self.oversold_seats.unwrap_or(0) == 0
            && self.unexpected_5xx == 0
            && self.unreadable_replies == 0
            && viewers_ok
    }
}

/// 5xx answers other than `503` (busy: the server shedding load as it should).
fn unexpected_5xx(statuses: &BTreeMap<String, usize>) -> usize {
    statuses
        .iter()
        .filter(|(key, _)| {
            key.split(' ').nth(1).is_some_and(|s| s.starts_with('5')) && !key.ends_with("503")
        })
        .map(|(_, n)| n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_5xx_other_than_503_are_unexpected() {
        let statuses = BTreeMap::from([
            ("hold 201".to_string(), 10),
            ("hold 503".to_string(), 4),
            ("purchase 500".to_string(), 2),
            ("release 502".to_string(), 1),
            ("transport: connection refused".to_string(), 3),
        ]);
        assert_eq!(unexpected_5xx(&statuses), 3);
    }
}
