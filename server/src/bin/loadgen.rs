//! `loadgen`: simulates an onsale against a running Tessera server over real
//! HTTP, and reports throughput, latency percentiles, conflict and error
//! rates, and (given the database URL) an oversell count read back from the
//! database. Loopback targets only; bounded by request count and time.
//!
//! ```sh
//! target/release/loadgen --event 5 --buyers 256 --duration-secs 10 --mode hold
//! target/release/loadgen --event 5 --buyers 64 --mode buy --database-url sqlite://data/tessera.db
//! ```

use clap::{Parser, ValueEnum};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
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
struct Args {
    /// Server to load; must be a loopback address.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    base_url: String,
    /// Event to buy seats of; defaults to the upcoming event with the most seats.
    #[arg(long)]
    event: Option<i64>,
    /// Concurrent buyers, each with its own session.
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
    /// Stop after this long.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Stop after this many holds in all.
    #[arg(long, default_value_t = 1_000_000)]
    max_holds: usize,
    /// Read the oversell count back from this database after the run.
    #[arg(long)]
    database_url: Option<String>,
    /// Also write the report here as JSON.
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
    /// Fail (exit 1) on any oversell or unexpected 5xx: the CI smoke check.
    #[arg(long)]
    check: bool,
}

#[derive(Default)]
struct Recorder {
    hold_latency_us: Vec<u64>,
    purchase_latency_us: Vec<u64>,
    holds_ok: usize,
    holds_conflict: usize,
    purchases_ok: usize,
    statuses: BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct Percentiles {
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Serialize)]
struct Report {
    mode: Mode,
    event: i64,
    buyers: usize,
    seats_per_hold: usize,
    elapsed_s: f64,
    holds_ok: usize,
    holds_per_s: f64,
    seats_held_per_s: f64,
    purchases_ok: usize,
    purchases_per_s: f64,
    conflict_rate: f64,
    hold_latency: Option<Percentiles>,
    purchase_latency: Option<Percentiles>,
    status_counts: BTreeMap<String, usize>,
    unexpected_5xx: usize,
    oversold_seats: Option<i64>,
}

fn percentiles(samples: &mut [u64]) -> Option<Percentiles> {
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

struct Shared {
    args: Args,
    client: reqwest::Client,
    event: i64,
    seats: Vec<i64>,
    next_seat: AtomicUsize,
    holds_started: AtomicUsize,
    stop: AtomicBool,
    recorder: Mutex<Recorder>,
}

impl Shared {
    fn record(&self, what: impl FnOnce(&mut Recorder)) {
        // A poisoned recorder only means another buyer task panicked; the
        // numbers it holds are still whole.
        let mut recorder = self.recorder.lock().unwrap_or_else(|p| p.into_inner());
        what(&mut recorder);
    }
}

async fn buyer(shared: Arc<Shared>, index: usize) {
    let mut cookie: Option<String> = None;
    let mut attempt = 0usize;
    while !shared.stop.load(Ordering::Relaxed) {
        if shared.holds_started.fetch_add(1, Ordering::Relaxed) >= shared.args.max_holds {
            break;
        }
        let body = if shared.args.best_available {
            serde_json::json!({"best_available": {"count": shared.args.seats_per_hold}})
        } else {
            let start = shared
                .next_seat
                .fetch_add(shared.args.seats_per_hold, Ordering::Relaxed);
            let Some(seats) = shared.seats.get(start..start + shared.args.seats_per_hold) else {
                break;
            };
            serde_json::json!({"seat_ids": seats})
        };
        let mut request = shared
            .client
            .post(format!(
                "{}/api/events/{}/holds",
                shared.args.base_url, shared.event
            ))
            .json(&body);
        if let Some(cookie) = &cookie {
            request = request.header("cookie", cookie);
        }
        let started = Instant::now();
        let response = request.send().await;
        let elapsed = started.elapsed().as_micros() as u64;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                shared.record(|r| {
                    *r.statuses
                        .entry(format!("transport: {}", error.without_url()))
                        .or_default() += 1
                });
                continue;
            }
        };
        let status = response.status().as_u16();
        if let Some(set_cookie) = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
        {
            cookie = set_cookie.split(';').next().map(str::to_string);
        }
        let json: serde_json::Value = response.json().await.unwrap_or_default();
        shared.record(|r| {
            r.hold_latency_us.push(elapsed);
            *r.statuses.entry(format!("hold {status}")).or_default() += 1;
            match status {
                201 => r.holds_ok += 1,
                409 => r.holds_conflict += 1,
                _ => {}
            }
        });
        if status == 409 && shared.args.best_available && json["error"]["seat_ids"].is_null() {
            // Nothing left that fits: the onsale is over for this buyer.
            break;
        }
        if status != 201 {
            continue;
        }
        let hold_id = json["hold_id"].clone();
        match shared.args.mode {
            Mode::Hold => {
                let mut release = shared
                    .client
                    .delete(format!("{}/api/holds/{hold_id}", shared.args.base_url));
                if let Some(cookie) = &cookie {
                    release = release.header("cookie", cookie);
                }
                if let Ok(response) = release.send().await {
                    let status = response.status().as_u16();
                    shared.record(|r| {
                        *r.statuses.entry(format!("release {status}")).or_default() += 1
                    });
                }
            }
            Mode::Buy => {
                attempt += 1;
                let mut pay = shared
                    .client
                    .post(format!("{}/api/holds/{hold_id}/purchase", shared.args.base_url))
                    .header("idempotency-key", format!("loadgen-{}-{index}-{attempt}", std::process::id()))
                    .json(&serde_json::json!({"email": format!("buyer{index}@loadgen.test"), "payment": {"token": "tok_visa"}}));
                if let Some(cookie) = &cookie {
                    pay = pay.header("cookie", cookie);
                }
                let started = Instant::now();
                let status = pay.send().await.map(|r| r.status().as_u16());
                let elapsed = started.elapsed().as_micros() as u64;
                shared.record(|r| match status {
                    Ok(status) => {
                        r.purchase_latency_us.push(elapsed);
                        *r.statuses.entry(format!("purchase {status}")).or_default() += 1;
                        if status == 201 {
                            r.purchases_ok += 1;
                        }
                    }
                    Err(error) => {
                        *r.statuses
                            .entry(format!("transport: {}", error.without_url()))
                            .or_default() += 1
                    }
                });
                // Each purchase is a different fan: start a fresh session, so
                // the per-buyer ticket limit applies per fan as in a real onsale.
                cookie = None;
            }
        }
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

async fn oversold(database_url: &str) -> Result<i64, Box<dyn std::error::Error>> {
    let store = server::store::Store::connect(database_url).await?;
    let sql =
        "SELECT COUNT(*) FROM (SELECT seat_id FROM tickets WHERE status IN ('valid', 'used') \
               GROUP BY event_id, seat_id HAVING COUNT(*) > 1) doubles";
    let (count,): (i64,) =
        server::on_pool!(&store, pool => sqlx::query_as(sql).fetch_one(pool).await)?;
    store.close().await;
    Ok(count)
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
    if args.seats_per_hold == 0 || args.buyers == 0 {
        return Err("--buyers and --seats-per-hold must be at least 1".into());
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.buyers)
        .timeout(Duration::from_secs(30))
        .build()?;
    let event = match args.event {
        Some(event) => event,
        None => pick_event(&client, &args.base_url).await?,
    };
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
        "loadgen: event {event}, {} available seats, {} buyers, mode {:?}",
        seats.len(),
        args.buyers,
        args.mode
    );
    let duration = Duration::from_secs(args.duration_secs);
    let shared = Arc::new(Shared {
        client,
        event,
        seats,
        next_seat: AtomicUsize::new(0),
        holds_started: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        recorder: Mutex::new(Recorder::default()),
        args,
    });
    let started = Instant::now();
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
    for task in tasks {
        task.await?;
    }
    stopper.abort();
    let elapsed = started.elapsed().as_secs_f64();
    let oversold_seats = match &shared.args.database_url {
        Some(url) => Some(oversold(url).await?),
        None => None,
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
        elapsed_s: elapsed,
        holds_ok: recorder.holds_ok,
        holds_per_s: recorder.holds_ok as f64 / elapsed,
        seats_held_per_s: (recorder.holds_ok * shared.args.seats_per_hold) as f64 / elapsed,
        purchases_ok: recorder.purchases_ok,
        purchases_per_s: recorder.purchases_ok as f64 / elapsed,
        conflict_rate: recorder.holds_conflict as f64 / attempts as f64,
        hold_latency: percentiles(&mut recorder.hold_latency_us),
        purchase_latency: percentiles(&mut recorder.purchase_latency_us),
        status_counts: recorder.statuses,
        unexpected_5xx,
        oversold_seats,
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &shared.args.json_out {
        std::fs::write(path, &json)?;
    }
    let healthy = report.oversold_seats.unwrap_or(0) == 0 && report.unexpected_5xx == 0;
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
    fn percentiles_come_from_sorted_samples() {
        let mut samples: Vec<u64> = (1..=100).rev().map(|ms| ms * 1000).collect();
        let p = percentiles(&mut samples).expect("samples");
        assert_eq!((p.p50_ms, p.p99_ms, p.max_ms), (51.0, 99.0, 100.0));
        assert!(percentiles(&mut []).is_none());
    }
}
