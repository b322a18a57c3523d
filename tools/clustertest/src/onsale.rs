//! An onsale through one URL (nginx, or one instance for the baseline):
//! buyers competing for the same seats hold and pay, retrying an
//! unanswered purchase with the same `Idempotency-Key` until it is
//! answered; viewers watch the map. Meanwhile the cluster is disturbed
//! (instances killed, or restarted one by one).

use crate::http::{live_url, Session};
use crate::viewer::Viewer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a buyer retries one purchase before it counts as unanswered.
const RETRY_FOR: Duration = Duration::from_secs(30);

/// A purchase the server answered `201 paid`: its seats are sold for good.
#[derive(Clone, Debug)]
pub struct Acknowledged {
    pub purchase_id: i64,
    pub seats: Vec<i64>,
}

#[derive(Debug, Default)]
pub struct Tally {
    /// Hold answers by status ("unanswered" for none).
    pub holds: BTreeMap<String, usize>,
    /// Final purchase answers by status.
    pub purchases: BTreeMap<String, usize>,
    pub acknowledged: Vec<Acknowledged>,
    /// Purchase requests sent again after no answer or a 5xx.
    pub retries: usize,
    /// Purchases still unanswered after retrying for [`RETRY_FOR`].
    pub unanswered: usize,
}

pub struct Onsale {
    pub client: reqwest::Client,
    pub base_url: String,
    pub event: i64,
    /// The seats buyers compete for.
    pub pool: Vec<i64>,
    pub buyers: usize,
    pub viewers: usize,
}

pub struct Outcome {
    pub tally: Tally,
    pub elapsed: Duration,
    pub viewers: Vec<Viewer>,
    pub stop_viewers: watch::Sender<bool>,
}

impl Outcome {
    pub fn tickets(&self) -> usize {
        self.tally.acknowledged.iter().map(|a| a.seats.len()).sum()
    }

    pub fn tickets_per_second(&self) -> f64 {
        self.tickets() as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
}

struct Shared {
    onsale: Onsale,
    stop: AtomicBool,
    next_email: AtomicU64,
    tally: Mutex<Tally>,
}

impl Shared {
    fn record(&self, what: impl FnOnce(&mut Tally)) {
        what(&mut self.tally.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// Runs the onsale while `disturb` runs (or for `at_least`, whichever is
/// longer), then lets buyers finish the purchases they started.
pub async fn run<F>(onsale: Onsale, at_least: Duration, disturb: F) -> Result<Outcome, String>
where
    F: std::future::Future<Output = Result<(), String>>,
{
    let (stop_viewers, stop_rx) = watch::channel(false);
    let viewers: Vec<Viewer> = (0..onsale.viewers)
        .map(|_| {
            Viewer::spawn(
                live_url(&onsale.base_url, onsale.event),
                stop_rx.clone(),
                None,
            )
        })
        .collect();
    let shared = Arc::new(Shared {
        onsale,
        stop: AtomicBool::new(false),
        next_email: AtomicU64::new(0),
        tally: Mutex::default(),
    });
    let started = Instant::now();
    let tasks: Vec<_> = (0..shared.onsale.buyers)
        .map(|index| tokio::spawn(buyer(shared.clone(), index as u64)))
        .collect();
    let (disturbed, ()) = tokio::join!(disturb, tokio::time::sleep(at_least));
    shared.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed();
    disturbed?;
    let shared = Arc::into_inner(shared).ok_or("buyers still running")?;
    Ok(Outcome {
        tally: shared.tally.into_inner().unwrap_or_else(|p| p.into_inner()),
        elapsed,
        viewers,
        stop_viewers,
    })
}

/// A small xorshift generator: buyers need spread, not cryptography.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn buyer(shared: Arc<Shared>, index: u64) {
    let onsale = &shared.onsale;
    let mut random = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(index + 1) | 1;
    while !shared.stop.load(Ordering::SeqCst) {
        // One or two adjacent seats at a random place of the contested pool.
        let count = 1 + (next_random(&mut random) % 2) as usize;
        let start = (next_random(&mut random) as usize) % (onsale.pool.len() - count);
        let seats = onsale.pool[start..start + count].to_vec();
        let mut session = Session::new();
        let reply = session
            .hold(&onsale.client, &onsale.base_url, onsale.event, &seats)
            .await;
        let status = reply.as_ref().map(|(status, _)| *status);
        shared.record(|t| {
            let key = status.map_or("unanswered".into(), |s| s.to_string());
            *t.holds.entry(key).or_default() += 1;
        });
        let hold = match reply {
            Some((201, body)) => body["hold_id"].as_i64(),
            Some((409, _)) => None,
            _ => {
                // Nothing answers right now: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                None
            }
        };
        if let Some(hold) = hold {
            let email = format!(
                "fan-{}@cluster.test",
                shared.next_email.fetch_add(1, Ordering::SeqCst)
            );
            pay(&shared, &mut session, hold, &email, seats, &mut random).await;
        }
    }
}

/// Pays under one key, retrying the same request until it is answered.
async fn pay(
    shared: &Shared,
    session: &mut Session,
    hold: i64,
    email: &str,
    seats: Vec<i64>,
    random: &mut u64,
) {
    let onsale = &shared.onsale;
    let key = format!(
        "cluster-{:016x}{:016x}",
        next_random(random),
        next_random(random)
    );
    let deadline = Instant::now() + RETRY_FOR;
    let mut first = true;
    loop {
        if !first {
            shared.record(|t| t.retries += 1);
        }
        first = false;
        let reply = session
            .purchase(&onsale.client, &onsale.base_url, hold, &key, email)
            .await;
        match reply {
            Some((201, body)) => {
                let paid = body["status"] == "paid";
                shared.record(|t| {
                    *t.purchases.entry(status_of(&body)).or_default() += 1;
                    if paid {
                        if let Some(purchase_id) = body["purchase_id"].as_i64() {
                            t.acknowledged.push(Acknowledged {
                                purchase_id,
                                seats: seats.clone(),
                            });
                        }
                    }
                });
                return;
            }
            Some((status, _)) if status < 500 => {
                shared.record(|t| *t.purchases.entry(status.to_string()).or_default() += 1);
                return;
            }
            // No answer, or 5xx (502 from nginx, 503 outcome not known yet).
            _ if Instant::now() >= deadline => {
                shared.record(|t| t.unanswered += 1);
                return;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn status_of(body: &Value) -> String {
    format!("201 {}", body["status"].as_str().unwrap_or("?"))
}
