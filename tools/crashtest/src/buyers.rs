//! Buyers: each a loop of fans who hold seats and pay for them, and who,
//! when the server dies under them (a refused or reset connection, a
//! timeout, a 5xx), retry the same purchase with the same
//! `Idempotency-Key` and the same session cookie until it answers for
//! good.

use crate::invariants::{Answer, Answers, PurchaseAnswer, RefundAnswer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shares of fans paying with each test card, of fans who give up or come
/// back late when the server dies under them, and of fans who ask for a
/// refund after buying.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    pub declined: f64,
    pub processing_error: f64,
    pub abandon: f64,
    pub late: f64,
    /// How long a late fan waits before retrying: past the reconciliation
    /// delay, so the reconciler may have settled the purchase first.
    pub late_by: Duration,
    pub refund: f64,
}

/// What a fan does when a purchase gets no definite answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Patience {
    /// Retries at once, with backoff.
    Prompt,
    /// Closes the tab: never retries; the reconciler settles it.
    Abandon,
    /// Comes back once, after a while, then retries promptly.
    Late(Duration),
}

/// What the buyers saw, for the summary.
#[derive(Debug, Default)]
pub struct Tally {
    pub holds: BTreeMap<String, usize>,
    /// Requests sent again after a connection error, timeout or 5xx.
    pub retries: usize,
    pub answers: Answers,
}

pub struct Shared {
    pub client: reqwest::Client,
    pub base_url: String,
    pub event: i64,
    pub seats: Vec<i64>,
    pub mix: Mix,
    pub seed: u64,
    /// No new fans once set.
    pub stop: AtomicBool,
    /// After this, a fan still retrying gives up (the server settles it).
    drain_until: Mutex<Option<Instant>>,
    /// Fans between their hold and their last answer.
    pub in_flight: AtomicUsize,
    pub tally: Mutex<Tally>,
}

impl Shared {
    pub fn new(
        client: reqwest::Client,
        base_url: String,
        event: i64,
        seats: Vec<i64>,
        mix: Mix,
        seed: u64,
    ) -> Self {
        Self {
            client,
            base_url,
            event,
            seats,
            mix,
            seed,
            stop: AtomicBool::new(false),
            drain_until: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
            tally: Mutex::default(),
        }
    }

    /// No new fans; those paying retry for at most `drain` more.
    pub fn stop(&self, drain: Duration) {
        *self.drain_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + drain);
        self.stop.store(true, Ordering::SeqCst);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn drained(&self) -> bool {
        self.drain_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|until| Instant::now() >= until)
    }

    fn record(&self, what: impl FnOnce(&mut Tally)) {
        // A poisoned tally only means another buyer panicked; its counts are whole.
        what(&mut self.tally.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// The event with the most seats available (the stadium in the demo
/// data) unless one is named, and its available seats.
pub async fn prepare(
    client: &reqwest::Client,
    base_url: &str,
    event: Option<i64>,
) -> Result<(i64, Vec<i64>), Box<dyn std::error::Error + Send + Sync>> {
    let event = match event {
        Some(event) => event,
        None => {
            let list: Value = client
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
                .ok_or("no upcoming events (is the demo data seeded?)")?
        }
    };
    let map: Value = client
        .get(format!("{base_url}/api/events/{event}/seats"))
        .send()
        .await?
        .json()
        .await?;
    let seats: Vec<i64> = map["seats"]
        .as_array()
        .map(|seats| {
            seats
                .iter()
                .filter(|s| s["status"] == "available")
                .filter_map(|s| s["id"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    if seats.is_empty() {
        return Err(format!("event {event} has no available seats").into());
    }
    Ok((event, seats))
}

fn with_cookie(
    request: reqwest::RequestBuilder,
    cookie: &Option<String>,
) -> reqwest::RequestBuilder {
    match cookie {
        Some(cookie) => request.header("cookie", cookie),
        None => request,
    }
}

/// One buyer: fan after fan until stopped.
pub async fn buyer(shared: std::sync::Arc<Shared>, index: usize) {
    let mut rng =
        StdRng::seed_from_u64(shared.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut fan = 0usize;
    while !shared.stopped() {
        fan += 1;
        let mut cookie = None;
        let Some(hold_id) = hold(&shared, &mut rng, &mut cookie).await else {
            continue;
        };
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let email = format!("fan-{index}-{fan}@crash.test");
        pay(&shared, &mut rng, hold_id, &email, &cookie).await;
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Holds one to four adjacent seats at a random place on the map.
async fn hold(shared: &Shared, rng: &mut StdRng, cookie: &mut Option<String>) -> Option<i64> {
    let count = rng.random_range(1..=4usize).min(shared.seats.len());
    let start = rng.random_range(0..=shared.seats.len() - count);
    let body = json!({"seat_ids": &shared.seats[start..start + count]});
    let response = shared
        .client
        .post(shared.url(&format!("/api/events/{}/holds", shared.event)))
        .json(&body)
        .send()
        .await;
    let (outcome, hold_id) = match response {
        Err(_) => ("unreachable".to_string(), None),
        Ok(response) => {
            let status = response.status().as_u16();
            if let Some(set) = response
                .headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
            {
                *cookie = set.split(';').next().map(str::to_string);
            }
            let body: Value = response.json().await.unwrap_or_default();
            (
                status.to_string(),
                body["hold_id"].as_i64().filter(|_| status == 201),
            )
        }
    };
    if hold_id.is_none() && outcome != "409" {
        // The server is down or restarting: do not spin.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shared.record(|t| *t.holds.entry(outcome).or_default() += 1);
    hold_id
}

/// Pays for a hold: a fresh key per attempt; after a decline or a failed
/// attempt some fans try again with another card, under a new key.
async fn pay(
    shared: &Shared,
    rng: &mut StdRng,
    hold_id: i64,
    email: &str,
    cookie: &Option<String>,
) {
    let roll: f64 = rng.random();
    let mut token = if roll < shared.mix.declined {
        "tok_chargeDeclined"
    } else if roll < shared.mix.declined + shared.mix.processing_error {
        "tok_processing_error"
    } else {
        "tok_visa"
    };
    for _ in 0..3 {
        let key = format!("crash-{:032x}", rng.random::<u128>());
        let roll: f64 = rng.random();
        let patience = if roll < shared.mix.abandon {
            Patience::Abandon
        } else if roll < shared.mix.abandon + shared.mix.late {
            let extra = Duration::from_millis(rng.random_range(0..=3000));
            Patience::Late(shared.mix.late_by + extra)
        } else {
            Patience::Prompt
        };
        let body = json!({"email": email, "payment": {"token": token}});
        let url = shared.url(&format!("/api/holds/{hold_id}/purchase"));
        let request = || {
            with_cookie(shared.client.post(&url), cookie)
                .header("idempotency-key", &key)
                .json(&body)
        };
        let (answer, body) = until_definite(shared, rng, patience, request, purchase_answer).await;
        let purchase_id = body["purchase_id"]
            .as_i64()
            .filter(|_| answer == Answer::Status(201));
        shared.record(|t| {
            t.answers.purchases.push(PurchaseAnswer {
                key: key.clone(),
                answer,
                purchase_id,
            })
        });
        match (answer, purchase_id) {
            (Answer::Status(201), Some(purchase_id)) => {
                if rng.random_bool(shared.mix.refund) {
                    refund(shared, rng, purchase_id, cookie).await;
                }
                return;
            }
            (Answer::Status(402) | Answer::NewKey, _)
                if !shared.stopped() && rng.random_bool(0.5) =>
            {
                token = "tok_visa";
            }
            _ => return,
        }
    }
}

async fn refund(shared: &Shared, rng: &mut StdRng, purchase_id: i64, cookie: &Option<String>) {
    let url = shared.url(&format!("/api/purchases/{purchase_id}/refund"));
    let request = || with_cookie(shared.client.post(&url), cookie);
    let (answer, _) = until_definite(shared, rng, Patience::Prompt, request, refund_answer).await;
    shared.record(|t| {
        t.answers.refunds.push(RefundAnswer {
            purchase_id,
            answer,
        })
    });
}

/// A purchase's definite answers. Of the two kinds of 503, "retry with the
/// same key" (outcome not known yet) is retried; "try again with a new
/// key" means this attempt failed for good.
fn purchase_answer(status: u16, body: &Value) -> Option<Answer> {
    match status {
        503 if body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("new Idempotency-Key")) =>
        {
            Some(Answer::NewKey)
        }
        429 | 500..=599 => None,
        status => Some(Answer::Status(status)),
    }
}

/// A refund is definite once done (200) or refused (409); 503 "under way"
/// is asked again.
fn refund_answer(status: u16, _: &Value) -> Option<Answer> {
    match status {
        429 | 500..=599 => None,
        status => Some(Answer::Status(status)),
    }
}

/// Sends the request again (after a connection error, a timeout, or an
/// answer `classify` does not call definite) until it is definite or the
/// drain is over, with a growing, jittered pause, as `patience` says.
async fn until_definite(
    shared: &Shared,
    rng: &mut StdRng,
    mut patience: Patience,
    request: impl Fn() -> reqwest::RequestBuilder,
    classify: fn(u16, &Value) -> Option<Answer>,
) -> (Answer, Value) {
    let mut tries = 0u32;
    loop {
        if let Ok(response) = request().send().await {
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            if let Some(answer) = classify(status, &body) {
                return (answer, body);
            }
        }
        let pause = match patience {
            Patience::Abandon => return (Answer::Abandoned, Value::Null),
            _ if shared.drained() => return (Answer::GaveUp, Value::Null),
            Patience::Late(after) => {
                patience = Patience::Prompt;
                after
            }
            Patience::Prompt => {
                let pause = 50u64 << tries.min(5);
                Duration::from_millis(pause + rng.random_range(0..=pause))
            }
        };
        tries += 1;
        shared.record(|t| t.retries += 1);
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_failed_for_good_503_is_definite() {
        let body = |message: &str| json!({"error": {"code": "unavailable", "message": message}});
        let unknown =
            body("we could not confirm your payment yet; retry with the same Idempotency-Key");
        let failed =
            body("the payment processor had a problem; try again with a new Idempotency-Key");
        assert_eq!(purchase_answer(503, &unknown), None);
        assert_eq!(purchase_answer(503, &failed), Some(Answer::NewKey));
        assert_eq!(purchase_answer(500, &Value::Null), None);
        assert_eq!(
            purchase_answer(201, &Value::Null),
            Some(Answer::Status(201))
        );
        assert_eq!(
            purchase_answer(402, &Value::Null),
            Some(Answer::Status(402))
        );
        assert_eq!(refund_answer(503, &unknown), None);
        assert_eq!(refund_answer(409, &Value::Null), Some(Answer::Status(409)));
    }
}
