//! `loadgen`: simulates an onsale against a running Tessera server over real
//! HTTP and WebSockets, and reports tickets sold per second, holds and
//! purchases per second, latency histograms per kind of call, conflict and
//! error rates, live-delta delays and bytes per viewer, the server's memory,
//! and (given the database URL) the seats sold and the oversell count read
//! back from the database. Loopback targets only; bounded by request count
//! and time.
//!
//! ```sh
//! target/release/loadgen --event 5 --buyers 256 --duration-secs 10 --mode hold
//! target/release/loadgen --event 5 --buyers 64 --mode buy --database-url sqlite://data/tessera.db
//! target/release/loadgen --viewers 10000 --hold-rate 500 --mode hold --server-pid 1234
//! target/release/loadgen --mode buy --best-available --until-sold-out --buyers 128
//! target/release/loadgen --queue-visitors 50000 --duration-secs 60 --server-pid 1234
//! ```
//!
//! Modules run one way: `main` → (`queue`, `report`) → (`buyers`, `viewers`,
//! `database`, `memory`) → (`pacing`, `latency`, `hold_clock`,
//! `live_format`, `args`). A new kind of buyer is a module beside `buyers`
//! and a `--mode`.

mod args;
mod buyers;
mod cpu;
mod database;
mod hold_clock;
mod latency;
mod live_format;
mod memory;
mod pacing;
mod queue;
mod report;
mod viewers;

use app::types::{EventId, EventList, SeatId, SeatMap, SeatStatus};
use args::{host_port, Args};
use buyers::{buyer, Recorder, Shared};
use clap::Parser;
use cpu::CpuSample;
use hold_clock::HoldClock;
use memory::{memory_of, ServerMemory};
use pacing::Pacer;
use report::{Outcome, Report};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use viewers::{ViewerConfig, Viewers};

type Error = Box<dyn std::error::Error>;

async fn pick_event(client: &reqwest::Client, base_url: &str) -> Result<EventId, Error> {
    let list: EventList = client
        .get(format!("{base_url}/api/events?limit=100"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    list.events
        .iter()
        .max_by_key(|e| e.seats_available)
        .map(|e| e.id)
        .ok_or_else(|| "no upcoming events".into())
}

/// The seats of the event that are available now, in map order.
async fn available_seats(
    client: &reqwest::Client,
    base_url: &str,
    event: EventId,
) -> Result<Vec<SeatId>, Error> {
    let map: SeatMap = client
        .get(format!("{base_url}/api/events/{event}/seats"))
        .send()
        .await?
        .error_for_status()
        .map_err(|e| format!("the event's seat map did not load: {e}"))?
        .json()
        .await?;
    Ok(map
        .seats
        .iter()
        .filter(|s| s.status == SeatStatus::Available)
        .map(|s| s.id)
        .collect())
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

async fn run() -> Result<bool, Error> {
    let args = Args::parse();
    args.validate()?;
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
        Some(event) => EventId(event),
        None => pick_event(&client, &args.base_url).await?,
    };
    if let Some(visitors) = args.queue_visitors {
        return queue::run(&args, event, visitors).await;
    }
    let seats = available_seats(&client, &args.base_url, event).await?;
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
    let clock = (args.viewers > 0 && args.measure_viewers > 0 && args.live_format.decodable())
        .then(|| Arc::new(HoldClock::default()));
    let viewers = connect_viewers(&args, event, clock.clone()).await?;
    if let (Some(memory), Some(_)) = (&mut memory, &viewers) {
        memory.after_viewers_connected = memory_of(memory.pid);
    }
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
        recorder: Mutex::new(Recorder::default()),
        args,
    });
    let cpu_at_start = CpuSample::now(shared.args.server_pid);
    run_buyers(&shared).await?;
    let elapsed_s = shared.started.elapsed().as_secs_f64();
    let args = &shared.args;
    let cpu = cpu_at_start.zip(CpuSample::now(args.server_pid));
    let viewers = match viewers {
        Some(viewers) => Some(viewers.finish(Duration::from_millis(args.drain_ms)).await),
        None => None,
    };
    if let Some(memory) = &mut memory {
        memory.at_end = memory_of(memory.pid);
    }
    let (oversold_seats, database) = match &args.database_url {
        Some(url) => {
            let (oversold, sold) = database::read_back(url, event.0).await?;
            (Some(oversold), Some(sold))
        }
        None => (None, None),
    };
    let recorder = std::mem::take(&mut *shared.recorder.lock().unwrap_or_else(|p| p.into_inner()));
    let outcome = Outcome {
        event,
        elapsed_s,
        sold_out: shared.sold_out.load(Ordering::Relaxed),
        oversold_seats,
        database,
        viewers,
        server_memory: memory,
        cpu,
    };
    let report = Report::new(args, recorder, outcome);
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &args.json_out {
        std::fs::write(path, &json)?;
    }
    eprintln!("loadgen: {}", report.headline());
    Ok(!args.check || report.healthy())
}

/// Connects `--viewers` live viewers, if any, before the buyers start.
async fn connect_viewers(
    args: &Args,
    event: EventId,
    clock: Option<Arc<HoldClock>>,
) -> Result<Option<Viewers>, Error> {
    if args.viewers == 0 {
        return Ok(None);
    }
    if !args.live_format.decodable() && args.measure_viewers > 0 {
        eprintln!(
            "loadgen: --live-format compact: no delta delays (loadgen counts this format's frames and bytes only)"
        );
    }
    let config = ViewerConfig {
        addr: host_port(&args.base_url),
        event,
        count: args.viewers,
        measure: args.measure_viewers,
        connect_concurrency: args.connect_concurrency,
        format: args.live_format,
    };
    let viewers = viewers::connect(config, clock.unwrap_or_default()).await?;
    eprintln!(
        "loadgen: {} of {} viewers connected in {:.1} s",
        viewers.connected(),
        args.viewers,
        viewers.connect_s()
    );
    Ok(Some(viewers))
}

/// Runs the buyers until `--duration-secs` is up, the holds run out or
/// nothing is left to sell.
async fn run_buyers(shared: &Arc<Shared>) -> Result<(), Error> {
    let duration = Duration::from_secs(shared.args.duration_secs);
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
    Ok(())
}
