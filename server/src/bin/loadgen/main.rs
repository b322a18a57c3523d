//! `loadgen`: simulates an onsale against a running Tessera server over real
//! HTTP and WebSockets, and reports throughput, latency percentiles,
//! conflict and error rates, live-delta delays, the server's memory, and
//! (given the database URL) the seats sold and the oversell count read back
//! from the database. Loopback targets only; bounded by request count and
//! time.
//!
//! ```sh
//! target/release/loadgen --event 5 --buyers 256 --duration-secs 10 --mode hold
//! target/release/loadgen --event 5 --buyers 64 --mode buy --database-url sqlite://data/tessera.db
//! target/release/loadgen --viewers 10000 --hold-rate 500 --mode hold --server-pid 1234
//! target/release/loadgen --mode buy --best-available --until-sold-out --buyers 128
//! target/release/loadgen --queue-visitors 50000 --duration-secs 60 --server-pid 1234
//! ```

mod buyers;
mod queue;
mod report;
mod viewers;

use buyers::{buyer, Pacer, Shared};
use clap::{Parser, ValueEnum};
use report::{memory_of, percentiles, Report, ServerMemory};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use viewers::{HoldClock, ViewerConfig};

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
    base_url: String,
    /// Event to buy seats of; defaults to the upcoming event with the most seats.
    #[arg(long)]
    event: Option<i64>,
    /// Concurrent buyers, each with its own session (0: viewers only).
    #[arg(long, default_value_t = 64)]
    buyers: usize,
    /// Seats per hold.
    #[arg(long, default_value_t = 2)]
    seats_per_hold: usize,
    #[arg(long, value_enum, default_value = "hold")]
    mode: Mode,
    /// Ask for `best_available` seats instead of naming them.
    #[arg(long)]
    best_available: bool,
    /// Stop after this long (also the limit of `--until-sold-out`).
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Stop after this many holds in all.
    #[arg(long, default_value_t = 1_000_000)]
    max_holds: usize,
    /// Keep buying until nothing is left that fits, with `--duration-secs`
    /// as the limit: the full onsale.
    #[arg(long)]
    until_sold_out: bool,
    /// Start at most this many holds per second across all buyers.
    #[arg(long)]
    hold_rate: Option<f64>,
    /// Live seat-map viewers to connect before the buyers start.
    #[arg(long, default_value_t = 0)]
    viewers: usize,
    /// Viewers (of `--viewers`) that parse every message and measure the
    /// delay of deltas; the others count frames and bytes only.
    #[arg(long, default_value_t = 50)]
    measure_viewers: usize,
    /// Viewers connecting at one time; each waits for its whole snapshot.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// How long viewers keep listening after the buyers stop.
    #[arg(long, default_value_t = 1000)]
    drain_ms: u64,
    /// The server's process id, to report its memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Read the seats sold and the oversell count back from this database.
    #[arg(long)]
    database_url: Option<String>,
    /// Also write the report here as JSON.
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
    /// Run a queued onsale with this many waiting-room visitors instead
    /// (joining over `--duration-secs`; see `queue.rs`).
    #[arg(long)]
    queue_visitors: Option<usize>,
    /// Fail (exit 1) on any oversell, unexpected 5xx, or viewer that never
    /// got its snapshot: the CI smoke check.
    #[arg(long)]
    check: bool,
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
fn host_port(base_url: &str) -> String {
    let rest = base_url.trim_start_matches("http://");
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    }
}

async fn pick_event(
    client: &reqwest::Client,
    base_url: &str,
) -> Result<i64, Box<dyn std::error::Error>> {
    let list: serde_json::Value = client
        .get(format!("{base_url}/api/events?limit=100"))
        .send()
        .await?
        .json()
        .await?;
    list["events"]
        .as_array()
        .and_then(|events| {
            events
                .iter()
                .max_by_key(|e| e["seats_available"].as_i64().unwrap_or(0))
        })
        .and_then(|e| e["id"].as_i64())
        .ok_or_else(|| "no upcoming events".into())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(error) => {
            eprintln!("loadgen: {error}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args = Args::parse();
    if !is_loopback(&args.base_url) {
        return Err(
            "loadgen only targets loopback addresses (http://127.0.0.1:…, http://localhost:…)"
                .into(),
        );
    }
    if args.seats_per_hold == 0 || (args.buyers == 0 && args.viewers == 0) {
        return Err("--seats-per-hold must be at least 1, and --buyers or --viewers too".into());
    }
    if args
        .hold_rate
        .is_some_and(|rate| rate <= 0.0 || !rate.is_finite())
    {
        return Err("--hold-rate must be a positive number".into());
    }
    // Every viewer is a socket: raise the open-file soft limit to the hard one.
    let fd_limit = rlimit::increase_nofile_limit(u64::MAX)?;
    if args.viewers + args.buyers + 64 > fd_limit as usize {
        eprintln!(
            "loadgen: warning: {fd_limit} open files allowed, fewer than the sockets asked for"
        );
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.buyers)
        .timeout(Duration::from_secs(30))
        .build()?;
    let event = match args.event {
        Some(event) => event,
        None => pick_event(&client, &args.base_url).await?,
    };
    if let Some(visitors) = args.queue_visitors {
        return queue::run(&args, event, visitors).await;
    }
    let map: serde_json::Value = client
        .get(format!("{}/api/events/{event}/seats", args.base_url))
        .send()
        .await?
        .json()
        .await?;
    let seats: Vec<i64> = map["seats"]
        .as_array()
        .ok_or("the event's seat map did not load")?
        .iter()
        .filter(|s| s["status"] == "available")
        .filter_map(|s| s["id"].as_i64())
        .collect();
    eprintln!(
        "loadgen: event {event}, {} available seats, {} buyers, {} viewers, mode {:?}, open-file limit {fd_limit}",
        seats.len(),
        args.buyers,
        args.viewers,
        args.mode
    );
    let mut memory = args.server_pid.map(|pid| ServerMemory {
        pid,
        before_viewers: memory_of(pid),
        after_viewers_connected: None,
        at_end: None,
    });
    let measuring = args.viewers > 0 && args.measure_viewers > 0;
    let clock = measuring.then(|| Arc::new(HoldClock::default()));
    let viewers = if args.viewers > 0 {
        let config = ViewerConfig {
            addr: host_port(&args.base_url),
            event,
            count: args.viewers,
            measure: args.measure_viewers,
            connect_concurrency: args.connect_concurrency,
        };
        let viewers = viewers::connect(config, clock.clone().unwrap_or_default()).await;
        eprintln!(
            "loadgen: {} of {} viewers connected in {:.1} s",
            viewers.connected(),
            args.viewers,
            viewers.connect_s()
        );
        if let Some(memory) = &mut memory {
            memory.after_viewers_connected = memory_of(memory.pid);
        }
        Some(viewers)
    } else {
        None
    };
    let duration = Duration::from_secs(args.duration_secs);
    let shared = Arc::new(Shared {
        client,
        event,
        seats,
        next_seat: AtomicUsize::new(0),
        holds_started: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        sold_out: AtomicBool::new(false),
        started: Instant::now(),
        pacer: args.hold_rate.map(Pacer::new),
        clock,
        recorder: Mutex::new(buyers::Recorder::default()),
        args,
    });
    let tasks: Vec<_> = (0..shared.args.buyers)
        .map(|i| tokio::spawn(buyer(shared.clone(), i)))
        .collect();
    let stopper = {
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            shared.stop.store(true, Ordering::Relaxed);
        })
    };
    if shared.args.buyers == 0 {
        tokio::time::sleep(duration).await;
    }
    for task in tasks {
        task.await?;
    }
    stopper.abort();
    let elapsed = shared.started.elapsed().as_secs_f64();
    let viewer_report = match viewers {
        Some(viewers) => Some(
            viewers
                .finish(Duration::from_millis(shared.args.drain_ms))
                .await,
        ),
        None => None,
    };
    if let Some(memory) = &mut memory {
        memory.at_end = memory_of(memory.pid);
    }
    let (oversold_seats, database) = match &shared.args.database_url {
        Some(url) => {
            let (oversold, sold) = report::read_back(url, event).await?;
            (Some(oversold), Some(sold))
        }
        None => (None, None),
    };
    let mut recorder =
        std::mem::take(&mut *shared.recorder.lock().unwrap_or_else(|p| p.into_inner()));
    let attempts = recorder.hold_latency_us.len().max(1);
    let unexpected_5xx = recorder
        .statuses
        .iter()
        .filter(|(key, _)| {
            key.split(' ').nth(1).is_some_and(|s| s.starts_with('5')) && !key.ends_with("503")
        })
        .map(|(_, n)| n)
        .sum();
    let report = Report {
        mode: shared.args.mode,
        event,
        buyers: shared.args.buyers,
        seats_per_hold: shared.args.seats_per_hold,
        hold_rate_limit: shared.args.hold_rate,
        elapsed_s: elapsed,
        holds_ok: recorder.holds_ok,
        holds_per_s: recorder.holds_ok as f64 / elapsed,
        seats_held_per_s: (recorder.holds_ok * shared.args.seats_per_hold) as f64 / elapsed,
        purchases_ok: recorder.purchases_ok,
        purchases_per_s: recorder.purchases_ok as f64 / elapsed,
        last_purchase_s: recorder.last_purchase.map(|d| d.as_secs_f64()),
        sold_out: shared.sold_out.load(Ordering::Relaxed),
        conflict_rate: recorder.holds_conflict as f64 / attempts as f64,
        hold_latency: percentiles(&mut recorder.hold_latency_us),
        purchase_latency: percentiles(&mut recorder.purchase_latency_us),
        status_counts: recorder.statuses,
        unexpected_5xx,
        oversold_seats,
        database,
        viewers: viewer_report,
        server_memory: memory,
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &shared.args.json_out {
        std::fs::write(path, &json)?;
    }
    let viewers_ok = report
        .viewers
        .as_ref()
        .is_none_or(|v| v.connected == v.requested);
    let healthy =
        report.oversold_seats.unwrap_or(0) == 0 && report.unexpected_5xx == 0 && viewers_ok;
    Ok(!shared.args.check || healthy)
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
