//! The command line: what to load and how.

use crate::live_format::LiveFormat;
use clap::{Parser, ValueEnum};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Hold seats, then release them (measures the hold path alone).
    Hold,
    /// Hold seats and pay for them with the test gateway's `tok_visa`.
    Buy,
}

#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    about = "Onsale load generator for Tessera (loopback only)"
)]
pub struct Args {
    /// Server to load; must be a loopback address.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub base_url: String,
    /// Event to buy seats of; defaults to the upcoming event with the most seats.
    #[arg(long)]
    pub event: Option<i64>,
    /// Concurrent buyers, each with its own session (0: viewers only).
    #[arg(long, default_value_t = 64)]
    pub buyers: usize,
    /// Seats per hold.
    #[arg(long, default_value_t = 2)]
    pub seats_per_hold: usize,
    #[arg(long, value_enum, default_value = "hold")]
    pub mode: Mode,
    /// Ask for `best_available` seats instead of naming them.
    #[arg(long)]
    pub best_available: bool,
    /// Stop after this long (also the limit of `--until-sold-out`).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Stop after this many holds in all.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_holds: usize,
    /// Keep buying until nothing is left that fits, with `--duration-secs`
    /// as the limit: the full onsale.
    #[arg(long)]
    pub until_sold_out: bool,
    /// Start at most this many holds per second across all buyers.
    #[arg(long)]
    pub hold_rate: Option<f64>,
    /// Live seat-map viewers to connect before the buyers start.
    #[arg(long, default_value_t = 0)]
    pub viewers: usize,
    /// Viewers (of `--viewers`) that parse every message and measure the
    /// delay of deltas; the others count frames and bytes only.
    #[arg(long, default_value_t = 50)]
    pub measure_viewers: usize,
    /// The live channel's message format: `json` (one object per seat) or
    /// `compact` (`?format=compact`: statuses packed in layout order).
    #[arg(long, value_enum, default_value = "json")]
    pub live_format: LiveFormat,
    /// Viewers connecting at one time; each waits for its whole snapshot.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// How long viewers keep listening after the buyers stop.
    #[arg(long, default_value_t = 1000)]
    pub drain_ms: u64,
    /// The server's process id, to report its memory from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Read the seats sold and the oversell count back from this database.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Also write the report here as JSON.
    #[arg(long)]
    pub json_out: Option<std::path::PathBuf>,
    /// Run a queued onsale with this many waiting-room visitors instead
    /// (joining over `--duration-secs`; see `queue.rs`).
    #[arg(long)]
    pub queue_visitors: Option<usize>,
    /// Fail (exit 1) on any oversell, unexpected 5xx, reply that does not
    /// read as the API's types, or viewer that never got its snapshot: the
    /// CI smoke check.
    #[arg(long)]
    pub check: bool,
}

impl Args {
    /// Refuses what cannot be run: a target off this machine, nothing to
    /// simulate, a rate that is not one.
    pub fn validate(&self) -> Result<(), String> {
        if !is_loopback(&self.base_url) {
            return Err(
                "loadgen only targets loopback addresses (http://127.0.0.1:…, http://localhost:…)"
                    .into(),
            );
        }
        if self.seats_per_hold == 0
            || (self.buyers == 0 && self.viewers == 0 && self.queue_visitors.is_none())
        {
            return Err(
                "--seats-per-hold must be at least 1, and --buyers or --viewers too".into(),
            );
        }
        if self
            .hold_rate
            .is_some_and(|rate| rate <= 0.0 || !rate.is_finite())
        {
            return Err("--hold-rate must be a positive number".into());
        }
        Ok(())
    }
}

fn is_loopback(base_url: &str) -> bool {
    let Some(rest) = base_url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', ':']).next().unwrap_or("");
    let host = if rest.starts_with('[') {
        rest.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `http://127.0.0.1:3000/` → `127.0.0.1:3000`.
pub fn host_port(base_url: &str) -> String {
    let rest = base_url.trim_start_matches("http://");
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_allowed() {
        for ok in [
            "http://127.0.0.1:3000",
            "http://localhost:8080/",
            "http://127.5.0.1",
        ] {
            assert!(is_loopback(ok), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:3000",
            "https://127.0.0.1",
            "http://example.com",
            "http://192.168.1.2",
        ] {
            assert!(!is_loopback(bad), "{bad}");
        }
    }

    #[test]
    fn viewers_connect_to_the_host_and_port_of_the_base_url() {
        assert_eq!(host_port("http://127.0.0.1:3950/"), "127.0.0.1:3950");
        assert_eq!(host_port("http://localhost"), "localhost:80");
    }
}
