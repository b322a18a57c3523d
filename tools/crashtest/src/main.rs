//! `crashtest`: an onsale paid through the Stripe adapter against the local
//! Stripe stand-in (answering late, its search lagging), during which the
//! release server is killed with SIGKILL at random moments and restarted
//! on the same port and database, while buyers retry under their keys.
//! Once the reconciler has settled everything, it checks the books — the
//! database and the stand-in's records — against the invariants in
//! [`invariants`], prints a JSON summary and exits non-zero on any
//! violation. The seed is printed so a failing run can be repeated.
//!
//! ```sh
//! cargo build --release -p crashtest -p stripe-stand-in
//! target/release/crashtest --kills 20 --buyers 32          # from the workspace root
//! target/release/crashtest --kills 4 --database-url "$PG_URL"
//! ```

mod books;
mod buyers;
mod invariants;
mod processes;

use buyers::{Mix, Shared};
use clap::Parser;
use processes::{Server, StandIn};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The secret key the stand-in is started with and the server sends.
const STAND_IN_KEY: &str = "sk_test_crashtest";

/// Signs the run's ticket codes; every incarnation of the server shares it.
const TICKET_KEY: &str = "6372617368746573742d7469636b65742d6b65792d6e6f742d7365637265742e";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "crashtest",
    about = "Kills the server at random moments of an onsale and checks the books"
)]
struct Args {
    /// The release server (run from the workspace root).
    #[arg(long, default_value = "target/release/server")]
    server_bin: PathBuf,
    /// The Stripe stand-in.
    #[arg(long, default_value = "target/release/stripe-stand-in")]
    stand_in_bin: PathBuf,
    /// `postgres://…` (a database of its own is created there for the
    /// run); without it, a fresh SQLite database.
    #[arg(long)]
    database_url: Option<String>,
    /// SIGKILLs during the onsale.
    #[arg(long, default_value_t = 4)]
    kills: usize,
    /// Concurrent buyers.
    #[arg(long, default_value_t = 24)]
    buyers: usize,
    /// Seeds the kill moments and the buyers' choices (random if unset;
    /// printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// Length of the onsale over which the kills are spread (default: 10 s
    /// plus 5 s per kill).
    #[arg(long)]
    duration_secs: Option<u64>,
    /// Event to buy; default: the one with the most seats available.
    #[arg(long)]
    event: Option<i64>,
    /// The stand-in's latency per request.
    #[arg(long, default_value_t = 150)]
    latency_ms: u64,
    /// How long the stand-in's search index lags: longer than the
    /// reconciliation delay, so recovery through search would miss payments.
    #[arg(long, default_value_t = 75_000)]
    search_lag_ms: u64,
    /// The server's processor timeout.
    #[arg(long, default_value_t = 2)]
    processor_timeout_secs: u64,
    /// The server's reconciliation delay (at least twice the timeout).
    #[arg(long, default_value_t = 5)]
    reconcile_after_secs: u64,
    /// How often the server's reconciler runs.
    #[arg(long, default_value_t = 1)]
    reconcile_every_secs: u64,
    /// After the onsale, how long buyers still retry for a definite answer.
    #[arg(long, default_value_t = 20)]
    drain_secs: u64,
    /// How long to wait for the reconciler to settle everything.
    #[arg(long, default_value_t = 120)]
    settle_timeout_secs: u64,
    /// Share of fans paying with a card that is declined.
    #[arg(long, default_value_t = 0.1)]
    declined_share: f64,
    /// Share of fans paying with a card that fails with a processing error.
    #[arg(long, default_value_t = 0.05)]
    processing_error_share: f64,
    /// Share of purchases whose fan, when the server dies under it, never
    /// asks again (the reconciler settles them).
    #[arg(long, default_value_t = 0.15)]
    abandon_share: f64,
    /// Share of purchases whose fan, when the server dies under it, comes
    /// back only after the reconciliation delay.
    #[arg(long, default_value_t = 0.15)]
    late_share: f64,
    /// Share of buyers who ask for a refund once they have their tickets.
    #[arg(long, default_value_t = 0.05)]
    refund_share: f64,
    /// Where the database and logs go (default: a new directory in /tmp,
    /// removed after a run that breaks nothing).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the work directory even when nothing broke.
    #[arg(long)]
    keep: bool,
    /// Also write the summary here.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

impl Args {
    fn duration(&self) -> Duration {
        Duration::from_secs(self.duration_secs.unwrap_or(10 + 5 * self.kills as u64))
    }

    fn validate(&self) -> Result<(), Error> {
        let shares = [
            self.declined_share,
            self.processing_error_share,
            self.abandon_share,
            self.late_share,
            self.refund_share,
        ];
        if shares.iter().any(|s| !(0.0..=1.0).contains(s))
            || self.declined_share + self.processing_error_share > 1.0
            || self.abandon_share + self.late_share > 1.0
        {
            return Err(
                "the shares must be between 0 and 1, the card shares together too, \
                 and the abandon and late shares together too"
                    .into(),
            );
        }
        if self.buyers == 0 {
            return Err("--buyers must be at least 1".into());
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("crashtest: {error}");
            ExitCode::from(2)
        }
    }
}

/// One kill: when, and what was going on.
#[derive(Debug, serde::Serialize)]
struct Kill {
    /// Since the onsale began.
    at_ms: u128,
    /// How long that server process had been up.
    uptime_ms: u128,
    /// Fans between their hold and their last answer.
    fans_paying: usize,
}

async fn run(args: Args) -> Result<bool, Error> {
    args.validate()?;
    let seed = args.seed.unwrap_or_else(rand::random);
    eprintln!("crashtest: seed {seed} (repeat with --seed {seed})");
    let work = args.work_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("tessera-crash-{seed}-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work)?;
    let stand_in = StandIn::start(
        &args.stand_in_bin,
        STAND_IN_KEY,
        args.latency_ms,
        args.search_lag_ms,
        &work.join("stand-in.log"),
    )
    .await?;
    let (database_url, backend) = match &args.database_url {
        Some(url) if url.starts_with("postgres") => {
            let name = format!("tessera_crash_{seed}_{}", std::process::id());
            (books::fresh_postgres(url, &name).await?, "postgres")
        }
        Some(_) => return Err("--database-url must be postgres://…".into()),
        None => (format!("sqlite://{}/tessera.db", work.display()), "sqlite"),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()?;
    let mut server = Server::new(
        args.server_bin.clone(),
        processes::free_port()?,
        server_env(&args, &database_url, &stand_in.base_url),
        work.clone(),
    );
    server.start()?;
    // The first start migrates and seeds the demo data.
    server
        .wait_healthy(&client, Duration::from_secs(300))
        .await?;
    let (event, seats) = buyers::prepare(&client, &server.base_url(), args.event).await?;
    eprintln!(
        "crashtest: {backend}, event {event} ({} seats available), {} buyers, {} kills over {:?}; work dir {}",
        seats.len(),
        args.buyers,
        args.kills,
        args.duration(),
        work.display()
    );

    let mix = Mix {
        declined: args.declined_share,
        processing_error: args.processing_error_share,
        abandon: args.abandon_share,
        late: args.late_share,
        late_by: Duration::from_secs(args.reconcile_after_secs),
        refund: args.refund_share,
    };
    let shared = Arc::new(Shared::new(
        client.clone(),
        server.base_url(),
        event,
        seats,
        mix,
        seed,
    ));
    let onsale = Instant::now();
    let buyers: Vec<_> = (0..args.buyers)
        .map(|index| tokio::spawn(buyers::buyer(shared.clone(), index)))
        .collect();
    let kills = kill_during_onsale(&args, seed, &mut server, &client, &shared, onsale).await?;
    shared.stop(Duration::from_secs(args.drain_secs));
    for buyer in buyers {
        buyer.await?;
    }
    let onsale_ms = onsale.elapsed().as_millis();

    let db = books::Db::connect(&database_url).await?;
    let settled = db
        .wait_settled(Duration::from_secs(args.settle_timeout_secs))
        .await;
    // Everything is committed; how the last process ends does not matter.
    server.kill()?;
    let mut books = db.read().await?;
    db.close().await;
    books.charges = books::charges(&client, &stand_in.base_url, STAND_IN_KEY).await?;
    drop(stand_in);

    let tally = std::mem::take(&mut *shared.tally.lock().unwrap_or_else(|p| p.into_inner()));
    let verdicts = invariants::check(&books, &tally.answers);
    let ok = verdicts.iter().all(|v| v.holds);
    let summary = json!({
        "seed": seed,
        "backend": backend,
        "event": event,
        "buyers": args.buyers,
        "onsale_ms": onsale_ms,
        "stand_in": {"latency_ms": args.latency_ms, "search_lag_ms": args.search_lag_ms},
        "server": {
            "processor_timeout_secs": args.processor_timeout_secs,
            "reconcile_after_secs": args.reconcile_after_secs,
            "processes": server.started,
        },
        "kills": kills.len(),
        "kill_moments": kills,
        "holds": tally.holds,
        "purchases_attempted": tally.answers.purchases.len(),
        "answers": count(tally.answers.purchases.iter().map(|a| a.answer.label())),
        "retries": tally.retries,
        "refunds_asked": count(tally.answers.refunds.iter().map(|a| a.answer.label())),
        "settled_ms": settled.as_ref().ok().map(Duration::as_millis),
        "left_unsettled": settled.err(),
        "database": database_summary(&books),
        "charges": charges_summary(&books),
        "server_log": recovery_log(&work, server.started),
        "invariants": verdicts,
        "ok": ok,
    });
    let text = serde_json::to_string_pretty(&summary)?;
    println!("{text}");
    if let Some(path) = &args.json_out {
        std::fs::write(path, &text)?;
    }
    if ok && !args.keep && args.work_dir.is_none() {
        std::fs::remove_dir_all(&work)?;
    } else {
        eprintln!("crashtest: database and logs kept in {}", work.display());
    }
    Ok(ok)
}

fn server_env(args: &Args, database_url: &str, stand_in: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", database_url.to_string()),
        ("TESSERA_DEMO", "1".into()),
        ("TESSERA_CLIENT_LIMITS", "off".into()),
        ("TESSERA_TICKET_KEY", TICKET_KEY.into()),
        ("TESSERA_STRIPE_SECRET_KEY", STAND_IN_KEY.into()),
        ("TESSERA_STRIPE_API_BASE", stand_in.into()),
        (
            "TESSERA_RECONCILE_SECONDS",
            args.reconcile_every_secs.to_string(),
        ),
        (
            "TESSERA_RECONCILE_AFTER_SECONDS",
            args.reconcile_after_secs.to_string(),
        ),
        (
            "TESSERA_PROCESSOR_TIMEOUT_SECONDS",
            args.processor_timeout_secs.to_string(),
        ),
        ("RUST_LOG", "warn,server::checkout=info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The kill moments: spread uniformly at random over the onsale, sorted.
fn kill_schedule(rng: &mut StdRng, kills: usize, onsale: Duration) -> Vec<Duration> {
    let mut moments: Vec<Duration> = (0..kills)
        .map(|_| onsale.mul_f64(rng.random::<f64>()))
        .collect();
    moments.sort();
    moments
}

/// Kills the server at each scheduled moment (or, if it is still coming
/// back up then, a random moment shortly after it is), restarts it after a
/// random pause, and lets the onsale run to its end.
async fn kill_during_onsale(
    args: &Args,
    seed: u64,
    server: &mut Server,
    client: &reqwest::Client,
    shared: &Shared,
    onsale: Instant,
) -> Result<Vec<Kill>, Error> {
    let mut rng = StdRng::seed_from_u64(seed);
    let schedule = kill_schedule(&mut rng, args.kills, args.duration());
    let mut up_since = Instant::now();
    let mut kills = Vec::new();
    for moment in schedule {
        let earliest = up_since + Duration::from_millis(rng.random_range(0..=500));
        tokio::time::sleep_until((onsale + moment).max(earliest).into()).await;
        let fans_paying = shared.in_flight.load(Ordering::SeqCst);
        let at = Instant::now();
        server.kill()?;
        kills.push(Kill {
            at_ms: (at - onsale).as_millis(),
            uptime_ms: (at - up_since).as_millis(),
            fans_paying,
        });
        eprintln!(
            "crashtest: kill {} at {:?} into the onsale, {fans_paying} fans paying",
            kills.len(),
            at - onsale
        );
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..=1000))).await;
        server.start()?;
        server.wait_healthy(client, Duration::from_secs(60)).await?;
        up_since = Instant::now();
    }
    // A few seconds after the last restart at least, so its retries land.
    let end = (onsale + args.duration()).max(up_since + Duration::from_secs(3));
    tokio::time::sleep_until(end.into()).await;
    Ok(kills)
}

fn count(labels: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for label in labels {
        *counts.entry(label).or_default() += 1;
    }
    counts
}

fn database_summary(books: &invariants::Books) -> Value {
    json!({
        "purchases": count(books.purchases.iter().map(|p| p.status.clone())),
        "taken_over_by_a_retry": books.purchases.iter().filter(|p| p.attempt > 0).count(),
        "live_tickets": books.tickets.iter().filter(|t| t.status == "valid" || t.status == "used").count(),
        "sold_seats": books.sold_seats.len(),
    })
}

fn charges_summary(books: &invariants::Books) -> Value {
    let charges = &books.charges;
    json!({
        "payments": charges.len(),
        "by_status": count(charges.iter().map(|c| c.status.clone())),
        "succeeded": charges.iter().filter(|c| c.status == "succeeded").count(),
        "refunded": charges.iter().filter(|c| c.is_refunded_in_full()).count(),
        "kept": charges.iter().filter(|c| c.is_kept()).count(),
    })
}

/// How often the servers' logs mention each kind of recovery: evidence of
/// where the kills landed.
fn recovery_log(work: &Path, processes: usize) -> BTreeMap<&'static str, usize> {
    const MESSAGES: [&str; 8] = [
        "payment creation unanswered; left pending",
        "payment outcome unknown; left pending",
        "payment not found yet",
        "reconciled a payment that succeeded",
        "reconciled: not charged",
        "reconciled: never confirmed; canceling",
        "a payment succeeded after its purchase failed; refunding",
        "charged but the hold lost its seats; refunding",
    ];
    let mut counts: BTreeMap<&str, usize> = MESSAGES.iter().map(|m| (*m, 0)).collect();
    for process in 0..processes {
        let log =
            std::fs::read_to_string(work.join(format!("server-{process}.log"))).unwrap_or_default();
        for line in log.lines() {
            if let Some(message) = MESSAGES.iter().find(|m| line.contains(**m)) {
                *counts.entry(message).or_default() += 1;
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kills_are_spread_over_the_onsale_and_repeat_with_the_seed() {
        let onsale = Duration::from_secs(60);
        let first = kill_schedule(&mut StdRng::seed_from_u64(7), 20, onsale);
        let again = kill_schedule(&mut StdRng::seed_from_u64(7), 20, onsale);
        let other = kill_schedule(&mut StdRng::seed_from_u64(8), 20, onsale);
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert_eq!(first.len(), 20);
        assert!(first.windows(2).all(|w| w[0] <= w[1]));
        assert!(first.iter().all(|m| *m < onsale));
        // Not bunched at one end: some in each half.
        assert!(first.iter().any(|m| *m < onsale / 2));
        assert!(first.iter().any(|m| *m >= onsale / 2));
    }
}
