//! The cluster test: starts `scripts/cluster.sh` (three release servers on
//! one PostgreSQL behind nginx) and checks that it behaves as one system.
//!
//! 1. Cross-instance delay: holds through each instance, seen on the live
//!    maps of the two others (p50/p99 reported; p99 must stay under
//!    `--max-p99-ms`).
//! 2. Throughput: the same onsale through one instance directly, then
//!    through nginx to all three.
//! 3. `kill -9` of instances during an onsale: buyers retry through nginx
//!    with their keys; no acknowledged purchase lost, no seat sold twice,
//!    viewers reconnect and end on the database's map.
//! 4. A rolling restart (graceful, one instance at a time) during an
//!    onsale: the same checks, and viewers closed with 1001.
//!
//! Prints one JSON summary; exits non-zero on any violation.

mod books;
mod cluster;
mod http;
mod latency;
mod onsale;
mod viewer;

use clap::Parser;
use cluster::{Cluster, Error};
use onsale::{Onsale, Outcome};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(about = "Checks that scripts/cluster.sh's three instances behave as one system")]
struct Args {
    /// The cluster script to drive.
    #[arg(long, default_value = "scripts/cluster.sh")]
    script: PathBuf,
    /// Holds for the cross-instance delay.
    #[arg(long, default_value_t = 150)]
    holds: usize,
    /// Fail if the cross-instance delay's p99 is above this.
    #[arg(long, default_value_t = 250.0)]
    max_p99_ms: f64,
    /// Instances killed (kill -9, then restarted) during the onsale.
    #[arg(long, default_value_t = 5)]
    kills: usize,
    /// Concurrent buyers.
    #[arg(long, default_value_t = 24)]
    buyers: usize,
    /// Live viewers through nginx during the onsales.
    #[arg(long, default_value_t = 12)]
    viewers: usize,
    /// Length of each throughput run.
    #[arg(long, default_value_t = 8)]
    throughput_secs: u64,
}

/// Seats each onsale phase competes for (the stadium has 50,000).
const POOL: usize = 8_000;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let cluster = match Cluster::start(args.script.clone()).await {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("clustertest: cannot start the cluster: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = scenarios(&args, &cluster).await;
    if let Err(error) = cluster.stop().await {
        eprintln!("clustertest: stopping the cluster: {error}");
    }
    match result {
        Ok((summary, violations)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_default()
            );
            if violations.is_empty() {
                eprintln!("clustertest: passed");
                std::process::ExitCode::SUCCESS
            } else {
                for violation in &violations {
                    eprintln!("VIOLATION: {violation}");
                }
                std::process::ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("clustertest: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn scenarios(args: &Args, cluster: &Cluster) -> Result<(Value, Vec<String>), Error> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&cluster.database_url)
        .await?;
    let (event, seats) = http::biggest_event(&client, &cluster.base_url).await?;
    let mut violations = Vec::new();

    eprintln!(
        "clustertest: cross-instance delay over {} holds",
        args.holds
    );
    let delays = latency::measure(cluster, &client, event, &seats, args.holds).await?;
    if delays.p99_ms > args.max_p99_ms {
        violations.push(format!(
            "cross-instance p99 {:.1} ms is over {} ms",
            delays.p99_ms, args.max_p99_ms
        ));
    }
    let mut pools = seats[args.holds..].chunks(POOL).map(<[i64]>::to_vec);
    let mut next_pool = || pools.next().ok_or("the event has too few seats left");
    let onsale = |base_url: &str, pool: Vec<i64>, viewers: usize| Onsale {
        client: client.clone(),
        base_url: base_url.to_string(),
        event,
        pool,
        buyers: args.buyers,
        viewers,
    };
    let run_for = Duration::from_secs(args.throughput_secs);

    eprintln!("clustertest: onsale through one instance (baseline)");
    let one = onsale::run(
        onsale(&cluster.instances[0], next_pool()?, 0),
        run_for,
        async { Ok(()) },
    )
    .await?;
    eprintln!("clustertest: the same onsale through nginx to three instances");
    let three = onsale::run(onsale(&cluster.base_url, next_pool()?, 0), run_for, async {
        Ok(())
    })
    .await?;

    eprintln!("clustertest: onsale with {} kill -9", args.kills);
    let kills = onsale::run(
        onsale(&cluster.base_url, next_pool()?, args.viewers),
        Duration::from_secs(2),
        kill_instances(cluster, args.kills),
    )
    .await?;
    let killed = settle(&pool, event, &kills, "kills", &mut violations).await?;
    if kills_reconnects(&kills) == 0 && args.kills > 0 && args.viewers >= 3 {
        violations.push("kills: no viewer reconnected after its instance died".into());
    }

    eprintln!("clustertest: onsale during a rolling restart");
    let rolling = onsale::run(
        onsale(&cluster.base_url, next_pool()?, args.viewers),
        Duration::from_secs(2),
        rolling_restart(cluster),
    )
    .await?;
    let rolled = settle(&pool, event, &rolling, "rolling restart", &mut violations).await?;
    let going_away = close_codes(&rolling, 1001);
    if going_away == 0 && args.viewers >= 3 {
        violations.push("rolling restart: no viewer was closed with 1001".into());
    }
    for (name, phase) in [("baseline", &one), ("three", &three)] {
        violations.extend(
            books::check_sales(&pool, event, &phase.tally.acknowledged)
                .await?
                .into_iter()
                .map(|v| format!("{name}: {v}")),
        );
    }

    let summary = json!({
        "event": event,
        "cross_instance_delay_ms": {
            "samples": delays.samples, "p50": delays.p50_ms, "p99": delays.p99_ms, "max": delays.max_ms,
        },
        "throughput_tickets_per_s": {
            "one_instance_direct": round(one.tickets_per_second()),
            "three_instances_nginx": round(three.tickets_per_second()),
        },
        "kills": killed,
        "rolling_restart": rolled,
        "viewers_closed_with_1001": going_away,
    });
    Ok((summary, violations))
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `kills` times: kill -9 of the next instance, then start it again.
async fn kill_instances(cluster: &Cluster, kills: usize) -> Result<(), String> {
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let instance = k % cluster.instances.len() + 1;
        cluster.kill(instance).await.map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_millis(700)).await;
        cluster.restart(instance).await.map_err(|e| e.to_string())?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

/// Each instance in turn stopped gracefully (SIGTERM) and started again.
async fn rolling_restart(cluster: &Cluster) -> Result<(), String> {
    for instance in 1..=cluster.instances.len() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        cluster.restart(instance).await.map_err(|e| e.to_string())?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

fn kills_reconnects(outcome: &Outcome) -> usize {
    outcome
        .viewers
        .iter()
        .map(|v| v.state.lock().map(|s| s.reconnects).unwrap_or(0))
        .sum()
}

fn close_codes(outcome: &Outcome, code: u16) -> usize {
    outcome
        .viewers
        .iter()
        .map(|v| {
            v.state
                .lock()
                .map(|s| s.close_codes.iter().filter(|&&c| c == code).count())
                .unwrap_or(0)
        })
        .sum()
}

/// After a disturbed onsale: the books, and every viewer's map against the
/// database once the last deltas have arrived.
async fn settle(
    pool: &sqlx::PgPool,
    event: i64,
    outcome: &Outcome,
    name: &str,
    violations: &mut Vec<String>,
) -> Result<Value, Error> {
    let sales = books::check_sales(pool, event, &outcome.tally.acknowledged).await?;
    violations.extend(sales.into_iter().map(|v| format!("{name}: {v}")));
    if outcome.tally.unanswered > 0 {
        violations.push(format!(
            "{name}: {} purchases never answered after 30 s of retries",
            outcome.tally.unanswered
        ));
    }
    // Viewers agree with the database within a few pump ticks.
    let mut disagreements = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stored = books::seat_statuses(pool, event).await?;
        disagreements = books::check_viewers(&outcome.viewers, &stored);
        if disagreements.is_empty() {
            break;
        }
    }
    violations.extend(disagreements.into_iter().map(|v| format!("{name}: {v}")));
    let _ = outcome.stop_viewers.send(true);
    // The server resynchronises a viewer by snapshot, never by a delta
    // that skips versions.
    let gaps: usize = outcome
        .viewers
        .iter()
        .map(|v| v.state.lock().map(|s| s.gaps).unwrap_or(0))
        .sum();
    if gaps > 0 {
        violations.push(format!(
            "{name}: {gaps} deltas did not follow the viewer's map"
        ));
    }
    Ok(json!({
        "tickets_acknowledged": outcome.tickets(),
        "tickets_per_s": round(outcome.tickets_per_second()),
        "seconds": round(outcome.elapsed.as_secs_f64()),
        "holds": outcome.tally.holds,
        "purchases": outcome.tally.purchases,
        "purchase_retries": outcome.tally.retries,
        "viewer_reconnects": kills_reconnects(outcome),
        "viewer_gaps": gaps,
    }))
}
