//! Buyers: each a loop of hold, then release or pay, over real HTTP.

use crate::viewers::HoldClock;
use crate::{Args, Mode};
use app::error::{ErrorBody, ErrorCode};
use app::types::{
    BestAvailable, EventId, HoldRequest, HoldView, PaymentChoice, PurchaseRequest, SeatId,
};
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
    pub event: EventId,
    pub seats: Vec<SeatId>,
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

/// What a hold attempt got back, read with the API's own types.
enum HoldReply {
    Held(HoldView),
    /// `409 seats_unavailable` without `seat_ids`: no seats that fit are left.
    NothingFits,
    /// Any other refusal (taken seats, rate limits, errors).
    Refused,
    /// A body that is not what the API promises for its status.
    Unreadable(String),
}

impl HoldReply {
    async fn read(status: u16, response: reqwest::Response) -> Self {
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return Self::Unreadable(error.without_url().to_string()),
        };
        match status {
            201 => match serde_json::from_slice::<HoldView>(&body) {
                Ok(hold) => Self::Held(hold),
                Err(error) => Self::Unreadable(format!("not a hold: {error}")),
            },
            409 => match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(refusal)
                    if refusal.error.code == ErrorCode::SeatsUnavailable
                        && refusal.error.seat_ids.is_none() =>
                {
                    Self::NothingFits
                }
                Ok(_) => Self::Refused,
                Err(error) => Self::Unreadable(format!("not an error body: {error}")),
            },
            _ => Self::Refused,
        }
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
            HoldRequest {
                seat_ids: None,
                best_available: Some(BestAvailable {
                    count: shared.args.seats_per_hold as i64,
                    section: None,
                    max_price_cents: None,
                }),
            }
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
            HoldRequest {
                seat_ids: Some(seats.to_vec()),
                best_available: None,
            }
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
        let reply = HoldReply::read(status, response).await;
        shared.record(|r| {
            r.hold_latency_us.push(elapsed);
            *r.statuses.entry(format!("hold {status}")).or_default() += 1;
            match status {
                201 => r.holds_ok += 1,
                409 => r.holds_conflict += 1,
                _ => {}
            }
        });
        let hold = match reply {
            HoldReply::Held(hold) => hold,
            HoldReply::NothingFits if shared.args.best_available => {
                // Nothing left that fits: the onsale is over for this buyer.
                shared.sold_out.store(true, Ordering::Relaxed);
                break;
            }
            HoldReply::Unreadable(error) => {
                shared.record(|r| {
                    *r.statuses
                        .entry(format!("hold {status}: {error}"))
                        .or_default() += 1
                });
                continue;
            }
            HoldReply::NothingFits | HoldReply::Refused => continue,
        };
        if let Some(clock) = &shared.clock {
            clock.held(hold.seats.iter().map(|seat| seat.id), answered);
        }
        let hold_id = hold.hold_id;
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
                    .json(&PurchaseRequest {
                        email: format!("buyer{index}-{attempt}@loadgen.test"),
                        payment: PaymentChoice {
                            token: Some("tok_visa".into()),
                            saved: None,
                        },
                        save_payment_method: false,
                    });
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
