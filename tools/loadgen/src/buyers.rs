//! Buyers: each a loop of hold, then release or pay, over real HTTP.

use crate::viewers::HoldClock;
use crate::{Args, Mode};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Recorder {
    pub hold_latency_us: Vec<u64>,
    pub purchase_latency_us: Vec<u64>,
    pub holds_ok: usize,
    pub holds_conflict: usize,
    pub purchases_ok: usize,
    /// Since the buyers started.
    pub last_purchase: Option<Duration>,
    pub statuses: BTreeMap<String, usize>,
}

/// Spaces hold attempts evenly across all buyers: `--hold-rate`.
pub struct Pacer {
    interval: Duration,
    next: Mutex<tokio::time::Instant>,
}

impl Pacer {
    pub fn new(per_second: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits for this attempt's slot.
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

pub struct Shared {
    pub args: Args,
    pub client: reqwest::Client,
    pub event: i64,
    pub seats: Vec<i64>,
    pub next_seat: AtomicUsize,
    pub holds_started: AtomicUsize,
    pub stop: AtomicBool,
    /// Set by the buyer that found nothing left to hold.
    pub sold_out: AtomicBool,
    pub started: Instant,
    pub pacer: Option<Pacer>,
    /// Present when viewers measure the delay of deltas.
    pub clock: Option<Arc<HoldClock>>,
    pub recorder: Mutex<Recorder>,
}

impl Shared {
    fn record(&self, what: impl FnOnce(&mut Recorder)) {
        // A poisoned recorder only means another buyer task panicked; the
        // numbers it holds are still whole.
        let mut recorder = self.recorder.lock().unwrap_or_else(|p| p.into_inner());
        what(&mut recorder);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.args.base_url)
    }
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

pub async fn buyer(shared: Arc<Shared>, index: usize) {
    let mut cookie: Option<String> = None;
    let mut attempt = 0usize;
    while !shared.stop.load(Ordering::Relaxed) {
        if shared.holds_started.fetch_add(1, Ordering::Relaxed) >= shared.args.max_holds {
            break;
        }
        let body = if shared.args.best_available {
            serde_json::json!({"best_available": {"count": shared.args.seats_per_hold}})
        } else {
            let mut start = shared
                .next_seat
                .fetch_add(shared.args.seats_per_hold, Ordering::Relaxed);
            if shared.args.mode == Mode::Hold {
                // Held seats are released again: go round the map, so a
                // fast server does not run out of seats before the time is up.
                let per_lap = shared.seats.len() - shared.seats.len() % shared.args.seats_per_hold;
                start %= per_lap.max(1);
            }
            let Some(seats) = shared.seats.get(start..start + shared.args.seats_per_hold) else {
                shared.sold_out.store(true, Ordering::Relaxed);
                break;
            };
            serde_json::json!({"seat_ids": seats})
        };
        if let Some(pacer) = &shared.pacer {
            pacer.wait().await;
        }
        let request = shared
            .client
            .post(shared.url(&format!("/api/events/{}/holds", shared.event)))
            .json(&body);
        let started = Instant::now();
        let response = with_cookie(request, &cookie).send().await;
        let answered = Instant::now();
        let elapsed = (answered - started).as_micros() as u64;
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
            shared.sold_out.store(true, Ordering::Relaxed);
            break;
        }
        if status != 201 {
            continue;
        }
        let held: Vec<i64> = json["seats"]
            .as_array()
            .map(|seats| seats.iter().filter_map(|s| s["id"].as_i64()).collect())
            .unwrap_or_default();
        if let Some(clock) = &shared.clock {
            clock.held(held.iter().copied(), answered);
        }
        let hold_id = json["hold_id"].clone();
        match shared.args.mode {
            Mode::Hold => {
                let release = shared
                    .client
                    .delete(shared.url(&format!("/api/holds/{hold_id}")));
                if let Ok(response) = with_cookie(release, &cookie).send().await {
                    let status = response.status().as_u16();
                    shared.record(|r| {
                        *r.statuses.entry(format!("release {status}")).or_default() += 1
                    });
                }
            }
            Mode::Buy => {
                attempt += 1;
                // Every purchase is a different fan with an email of its own.
                let pay = shared
                    .client
                    .post(shared.url(&format!("/api/holds/{hold_id}/purchase")))
                    .header(
                        "idempotency-key",
                        format!("loadgen-{}-{index}-{attempt}", std::process::id()),
                    )
                    .json(&serde_json::json!({
                        "email": format!("buyer{index}-{attempt}@loadgen.test"),
                        "payment": {"token": "tok_visa"},
                    }));
                let started = Instant::now();
                let status = with_cookie(pay, &cookie)
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                let elapsed = started.elapsed().as_micros() as u64;
                let since_start = shared.started.elapsed();
                shared.record(|r| match status {
                    Ok(status) => {
                        r.purchase_latency_us.push(elapsed);
                        *r.statuses.entry(format!("purchase {status}")).or_default() += 1;
                        if status == 201 {
                            r.purchases_ok += 1;
                            r.last_purchase = Some(since_start);
                        }
                    }
                    Err(error) => {
                        *r.statuses
                            .entry(format!("transport: {}", error.without_url()))
                            .or_default() += 1
                    }
                });
                // A fresh session too, so the per-buyer ticket limit applies
                // per fan as in a real onsale.
                cookie = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_pacer_spaces_attempts_evenly() {
        let pacer = Pacer::new(500.0);
        let started = tokio::time::Instant::now();
        for _ in 0..51 {
            pacer.wait().await;
        }
        // 50 intervals of 2 ms after the first, which goes at once.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(400), "{elapsed:?}");
    }
}
