//! Buyers: each a loop of hold, then release or pay, over real HTTP, with
//! requests and replies in the API's own types.

use crate::args::{Args, Mode};
use crate::hold_clock::HoldClock;
use crate::latency::Latency;
use crate::pacing::{timed, Pacer};
use app::error::{ErrorBody, ErrorCode};
use app::types::{
    BestAvailable, EventId, HoldId, HoldRequest, HoldView, PaymentChoice, PurchaseRequest,
    PurchaseStatus, PurchaseView, SeatId,
};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Recorder {
    pub hold: Latency,
    pub release: Latency,
    pub purchase: Latency,
    pub holds_ok: usize,
    pub holds_conflict: usize,
    pub purchases_ok: usize,
    /// Tickets in the paid purchases' replies.
    pub tickets_sold: usize,
    /// Since the buyers started.
    pub last_purchase: Option<Duration>,
    pub statuses: BTreeMap<String, usize>,
    /// Replies whose body was not what the API promises for their status.
    pub unreadable: usize,
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
    /// `--hold-rate`: the schedule holds are sent on.
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

    fn count(&self, key: String) {
        self.record(|r| *r.statuses.entry(key).or_default() += 1);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.args.base_url)
    }

    /// The next hold to ask for, or `None` once the named seats ran out.
    fn next_request(&self) -> Option<HoldRequest> {
        let count = self.args.seats_per_hold;
        if self.args.best_available {
            return Some(HoldRequest {
                seat_ids: None,
                best_available: Some(BestAvailable {
                    count: count as i64,
                    section: None,
                    max_price_cents: None,
                }),
            });
        }
        let mut start = self.next_seat.fetch_add(count, Ordering::Relaxed);
        if self.args.mode == Mode::Hold {
            // Held seats are released again: go round the map, so a fast
            // server does not run out of seats before the time is up.
            let per_lap = self.seats.len() - self.seats.len() % count;
            start %= per_lap.max(1);
        }
        let seats = self.seats.get(start..start + count)?;
        Some(HoldRequest {
            seat_ids: Some(seats.to_vec()),
            best_available: None,
        })
    }
}

/// One fan's session: the cookie the server set.
#[derive(Default)]
struct Session {
    cookie: Option<String>,
}

impl Session {
    fn send(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    fn keep_cookie(&mut self, response: &reqwest::Response) {
        if let Some(set_cookie) = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
        {
            self.cookie = set_cookie.split(';').next().map(str::to_string);
        }
    }
}

/// What a hold attempt came to.
enum HoldOutcome {
    Held(HoldView),
    /// `409 seats_unavailable` without `seat_ids`: no seats that fit are left.
    NothingFits,
    /// Refused, failed or unreadable; counted, and the buyer tries again.
    Failed,
}

pub async fn buyer(shared: Arc<Shared>, index: usize) {
    let mut session = Session::default();
    let mut attempt = 0usize;
    while !shared.stop.load(Ordering::Relaxed) {
        if shared.holds_started.fetch_add(1, Ordering::Relaxed) >= shared.args.max_holds {
            break;
        }
        let Some(request) = shared.next_request() else {
            shared.sold_out.store(true, Ordering::Relaxed);
            break;
        };
        let hold = match hold(&shared, &mut session, &request).await {
            HoldOutcome::Held(hold) => hold,
            HoldOutcome::NothingFits if shared.args.best_available => {
                // Nothing left that fits: the onsale is over for this buyer.
                shared.sold_out.store(true, Ordering::Relaxed);
                break;
            }
            HoldOutcome::NothingFits | HoldOutcome::Failed => continue,
        };
        match shared.args.mode {
            Mode::Hold => release(&shared, &session, hold.hold_id).await,
            Mode::Buy => {
                attempt += 1;
                purchase(&shared, &session, hold.hold_id, index, attempt).await;
                // A fresh session too, so the per-buyer ticket limit applies
                // per fan as in a real onsale.
                session = Session::default();
            }
        }
    }
}

/// `POST /api/events/{id}/holds`, in its slot of the schedule when paced.
async fn hold(shared: &Shared, session: &mut Session, body: &HoldRequest) -> HoldOutcome {
    let request = shared
        .client
        .post(shared.url(&format!("/api/events/{}/holds", shared.event)))
        .json(body);
    let sent = timed(shared.pacer.as_ref(), || session.send(request).send()).await;
    let response = match sent.output {
        Ok(response) => response,
        Err(error) => {
            // Not answered: counted, not timed (its latency is the timeout's).
            shared.count(format!("transport: {}", error.without_url()));
            return HoldOutcome::Failed;
        }
    };
    let status = response.status().as_u16();
    session.keep_cookie(&response);
    shared.record(|r| {
        r.hold.record(sent.latency);
        *r.statuses.entry(format!("hold {status}")).or_default() += 1;
        match status {
            201 => r.holds_ok += 1,
            409 => r.holds_conflict += 1,
            _ => {}
        }
    });
    match status {
        201 => match read::<HoldView>(shared, "hold", response).await {
            Some(hold) => {
                if let Some(clock) = &shared.clock {
                    clock.held(hold.seats.iter().map(|s| s.id), sent.answered.into_std());
                }
                HoldOutcome::Held(hold)
            }
            None => HoldOutcome::Failed,
        },
        409 => match read::<ErrorBody>(shared, "hold", response).await {
            Some(refusal)
                if refusal.error.code == ErrorCode::SeatsUnavailable
                    && refusal.error.seat_ids.is_none() =>
            {
                HoldOutcome::NothingFits
            }
            _ => HoldOutcome::Failed,
        },
        _ => HoldOutcome::Failed,
    }
}

/// `DELETE /api/holds/{id}`.
async fn release(shared: &Shared, session: &Session, hold_id: HoldId) {
    let request = shared
        .client
        .delete(shared.url(&format!("/api/holds/{hold_id}")));
    let sent = timed(None, || session.send(request).send()).await;
    match sent.output {
        Ok(response) => {
            let status = response.status().as_u16();
            shared.record(|r| {
                r.release.record(sent.latency);
                *r.statuses.entry(format!("release {status}")).or_default() += 1;
            });
        }
        Err(error) => shared.count(format!("transport: {}", error.without_url())),
    }
}

/// `POST /api/holds/{id}/purchase` with the test gateway's `tok_visa`, as a
/// fan with an email of their own.
async fn purchase(
    shared: &Shared,
    session: &Session,
    hold_id: HoldId,
    index: usize,
    attempt: usize,
) {
    let body = PurchaseRequest {
        email: format!("buyer{index}-{attempt}@loadgen.test"),
        payment: PaymentChoice {
            token: Some("tok_visa".into()),
            ..PaymentChoice::default()
        },
        save_payment_method: false,
    };
    let request = shared
        .client
        .post(shared.url(&format!("/api/holds/{hold_id}/purchase")))
        .header(
            "idempotency-key",
            format!("loadgen-{}-{index}-{attempt}", std::process::id()),
        )
        .json(&body);
    let sent = timed(None, || session.send(request).send()).await;
    let since_start = shared.started.elapsed();
    let response = match sent.output {
        Ok(response) => response,
        Err(error) => {
            shared.count(format!("transport: {}", error.without_url()));
            return;
        }
    };
    let status = response.status().as_u16();
    shared.record(|r| {
        r.purchase.record(sent.latency);
        *r.statuses.entry(format!("purchase {status}")).or_default() += 1;
    });
    if status != 201 {
        return;
    }
    let Some(purchase) = read::<PurchaseView>(shared, "purchase", response).await else {
        return;
    };
    if purchase.status == PurchaseStatus::Paid {
        shared.record(|r| {
            r.purchases_ok += 1;
            r.tickets_sold += purchase.tickets.len();
            r.last_purchase = Some(since_start);
        });
    } else {
        shared.count(format!("purchase 201 {}", purchase.status.as_str()));
    }
}

/// A reply's body as `T`; `None` (and counted as unreadable) if it is not.
async fn read<T: DeserializeOwned>(
    shared: &Shared,
    call: &str,
    response: reqwest::Response,
) -> Option<T> {
    let status = response.status().as_u16();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => {
            shared.count(format!("transport: {}", error.without_url()));
            return None;
        }
    };
    match serde_json::from_slice(&body) {
        Ok(value) => Some(value),
        Err(error) => {
            shared.record(|r| {
                r.unreadable += 1;
                *r.statuses
                    .entry(format!("{call} {status}: unreadable reply: {error}"))
                    .or_default() += 1;
            });
            None
        }
    }
}
