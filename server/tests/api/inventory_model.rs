//! A randomized model-based test of the seat state machine: sequences of
//! hold / release / extension / time passing / sweep / purchase (good or
//! declined card, fresh or repeated idempotency key) / refund / staff block
//! and unblock, by several buyers, are run
//! against the real service on a real database and against a small
//! reference model; every answer and the whole seat map must agree.

use crate::common;

use app::error::ErrorCode;
use app::types::{EventId, HoldId, PaymentChoice, PurchaseId, PurchaseRequest, SeatId, SeatStatus};
use common::*;
use proptest::prelude::*;
use server::payments::test_gateway::TestGateway;
use std::collections::HashMap;
use std::sync::Arc;

const SEATS: usize = 6;
const BUYERS: usize = 3;
const HOLD_MS: i64 = 300_000;
/// The fixture event's per-buyer limit.
const MAX_PER_BUYER: usize = 8;

#[derive(Clone, Debug)]
enum Op {
    Hold {
        buyer: usize,
        seats: Vec<usize>,
    },
    Release {
        buyer: usize,
        hold: usize,
    },
    Advance {
        seconds: i64,
    },
    Sweep,
    Purchase {
        buyer: usize,
        hold: usize,
        good_card: bool,
        reuse_key: bool,
    },
    Refund {
        buyer: usize,
        purchase: usize,
    },
    Extend {
        buyer: usize,
        hold: usize,
    },
    Block {
        seat: usize,
        blocked: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..BUYERS, proptest::sample::subsequence((0..SEATS).collect::<Vec<_>>(), 1..=3))
            .prop_map(|(buyer, seats)| Op::Hold { buyer, seats }),
        1 => (0..BUYERS, 0..8usize).prop_map(|(buyer, hold)| Op::Release { buyer, hold }),
        2 => prop_oneof![Just(10i64), Just(110), Just(130), Just(200), Just(310)].prop_map(|seconds| Op::Advance { seconds }),
        1 => Just(Op::Sweep),
        3 => (0..BUYERS, 0..8usize, proptest::bool::weighted(0.7), proptest::bool::weighted(0.2))
            .prop_map(|(buyer, hold, good_card, reuse_key)| Op::Purchase { buyer, hold, good_card, reuse_key }),
        1 => (0..BUYERS, 0..4usize).prop_map(|(buyer, purchase)| Op::Refund { buyer, purchase }),
        1 => (0..BUYERS, 0..8usize).prop_map(|(buyer, hold)| Op::Extend { buyer, hold }),
        1 => (0..SEATS, proptest::bool::ANY).prop_map(|(seat, blocked)| Op::Block { seat, blocked }),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Seat {
    Available,
    Held { hold: usize, until: i64 },
    Sold,
    Blocked,
}

#[derive(Clone, Debug, PartialEq)]
enum HoldState {
    Active,
    Released,
    Expired,
    Purchased,
}

#[derive(Clone, Debug)]
struct ModelHold {
    id: HoldId,
    buyer: usize,
    seats: Vec<usize>,
    expires: i64,
    state: HoldState,
    extended: bool,
}

/// What the reference model expects an operation to answer.
#[derive(Clone, Debug, PartialEq)]
enum Answer {
    Ok,
    Err(ErrorCode),
}

#[derive(Default)]
struct Model {
    now: i64,
    seats: Vec<Option<Seat>>,
    holds: Vec<ModelHold>,
    /// (buyer, seats) per purchase, and whether it is refunded.
    purchases: Vec<(PurchaseId, usize, Vec<usize>, bool)>,
    /// Answers already given per idempotency key: (hold index, good card,
    /// answer).
    keys: HashMap<String, (usize, bool, Answer, Option<PurchaseId>)>,
    last_key: HashMap<usize, String>,
    next_key: usize,
}

impl Model {
    fn seat(&self, index: usize) -> Seat {
        self.seats[index].unwrap_or(Seat::Available)
    }

    fn free(&self, index: usize) -> bool {
        match self.seat(index) {
            Seat::Available => true,
            Seat::Held { until, .. } => until <= self.now,
            Seat::Sold | Seat::Blocked => false,
        }
    }

    fn status(&self, index: usize) -> SeatStatus {
        if self.free(index) {
            SeatStatus::Available
        } else if self.seat(index) == Seat::Sold {
            SeatStatus::Sold
        } else if self.seat(index) == Seat::Blocked {
            SeatStatus::Blocked
        } else {
            SeatStatus::Held
        }
    }

    /// Seats counted against a buyer's limit: unexpired holds plus live tickets.
    fn buyer_seats(&self, buyer: usize) -> usize {
        let held = (0..SEATS)
            .filter(|&s| matches!(self.seat(s), Seat::Held { hold, until }
                if until > self.now && self.holds[hold].buyer == buyer && self.holds[hold].state == HoldState::Active))
            .count();
        let bought: usize = self
            .purchases
            .iter()
            .filter(|p| p.1 == buyer && !p.3)
            .map(|p| p.2.len())
            .sum();
        held + bought
    }

    /// Frees the seats still held under `hold` and ends it as `state`.
    fn end_hold(&mut self, hold: usize, state: HoldState) {
        for seat in self.seats.iter_mut() {
            if matches!(seat, Some(Seat::Held { hold: h, .. }) if *h == hold) {
                *seat = Some(Seat::Available);
            }
        }
        self.holds[hold].state = state;
    }
}

async fn run(ops: Vec<Op>) {
    let gateway = Arc::new(TestGateway::default());
    let app = spawn_app_with_gateway(fresh_database_url().await, gateway).await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event: EventId = add_event(app.store(), hall, "Model Show", 30).await;
    let seat_ids: Vec<i64> = seat_ids(&app, event)
        .await
        .into_iter()
        .take(SEATS)
        .collect();
    let sessions: Vec<String> = (0..BUYERS).map(|b| format!("{:032x}", b + 1)).collect();
    let inventory = &app.state.inventory;
    let checkout = &app.state.checkout;
    let mut model = Model {
        seats: vec![None; SEATS],
        ..Model::default()
    };

    for (step, op) in ops.into_iter().enumerate() {
        let context = format!("step {step}: {op:?}");
        match op {
            Op::Hold { buyer, seats } => {
                let request = app::types::HoldRequest {
                    seat_ids: Some(seats.iter().map(|&s| SeatId(seat_ids[s])).collect()),
                    best_available: None,
                };
                let holder = server::inventory::Holder {
                    session_id: &sessions[buyer],
                    new_session: false,
                    account_id: None,
                    client: server::net::ClientKey::of([192, 0, 2, buyer as u8].into()),
                };
                let got = inventory.hold(event, holder, request).await;
                if model.buyer_seats(buyer) + seats.len() > MAX_PER_BUYER {
                    let error = got.expect_err(&context);
                    assert_eq!(error.code, ErrorCode::TicketLimitExceeded, "{context}");
                } else if seats.iter().all(|&s| model.free(s)) {
                    let hold = got.unwrap_or_else(|e| panic!("{context}: {e:?}"));
                    let index = model.holds.len();
                    let until = model.now + HOLD_MS;
                    for &s in &seats {
                        model.seats[s] = Some(Seat::Held { hold: index, until });
                    }
                    model.holds.push(ModelHold {
                        id: hold.hold_id,
                        buyer,
                        seats,
                        expires: until,
                        state: HoldState::Active,
                        extended: false,
                    });
                } else {
                    let error = got.expect_err(&context);
                    assert_eq!(error.code, ErrorCode::SeatsUnavailable, "{context}");
                }
            }
            Op::Release { buyer, hold } => {
                let Some(target) = model.holds.get(hold).cloned() else {
                    continue;
                };
                let got = inventory.release(target.id, &sessions[buyer]).await;
                let expected = if target.buyer != buyer {
                    Answer::Err(ErrorCode::NotFound)
                } else if target.state == HoldState::Purchased {
                    Answer::Err(ErrorCode::HoldNotActive)
                } else {
                    if target.state == HoldState::Active {
                        model.end_hold(hold, HoldState::Released);
                    }
                    Answer::Ok
                };
                assert_eq!(
                    got.map(|_| Answer::Ok)
                        .unwrap_or_else(|e| Answer::Err(e.code)),
                    expected,
                    "{context}"
                );
            }
            Op::Advance { seconds } => {
                inventory.clock().advance(seconds * 1000);
                model.now += seconds * 1000;
            }
            Op::Sweep => {
                inventory.sweep_expired().await.expect(&context);
                for index in 0..model.holds.len() {
                    if model.holds[index].state == HoldState::Active
                        && model.holds[index].expires <= model.now
                    {
                        model.end_hold(index, HoldState::Expired);
                    }
                }
            }
            Op::Purchase {
                buyer,
                hold,
                good_card,
                reuse_key,
            } => {
                let Some(target) = model.holds.get(hold).cloned() else {
                    continue;
                };
                let key = match model.last_key.get(&buyer) {
                    Some(key) if reuse_key => key.clone(),
                    _ => {
                        model.next_key += 1;
                        format!("model-key-{:04}", model.next_key)
                    }
                };
                model.last_key.insert(buyer, key.clone());
                let request = PurchaseRequest {
                    email: format!("buyer{buyer}@example.com"),
                    payment: PaymentChoice {
                        token: Some(
                            if good_card {
                                "tok_visa"
                            } else {
                                "tok_chargeDeclined"
                            }
                            .into(),
                        ),
                        ..PaymentChoice::default()
                    },
                    save_payment_method: false,
                };
                let got = checkout
                    .purchase(target.id, &sessions[buyer], None, &key, request)
                    .await;
                let got_answer = got
                    .as_ref()
                    .map(|_| Answer::Ok)
                    .unwrap_or_else(|e| Answer::Err(e.code));
                let expected = if let Some((used_for, card, answer, purchase)) =
                    model.keys.get(&key).cloned()
                {
                    // A repeated key replays its first answer (for the
                    // same request only).
                    if used_for != hold || card != good_card {
                        Answer::Err(ErrorCode::IdempotencyKeyReused)
                    } else {
                        if let (Ok(view), Some(purchase)) = (&got, purchase) {
                            assert_eq!(view.purchase_id, purchase, "{context}: same purchase");
                        }
                        answer
                    }
                } else if target.buyer != buyer {
                    Answer::Err(ErrorCode::NotFound)
                } else if target.state != HoldState::Active || target.expires <= model.now {
                    Answer::Err(ErrorCode::HoldNotActive)
                } else {
                    // The payment grace extends the hold only while the
                    // charge is in flight: a sale ends the hold, and a
                    // decline gives it back its old expiry.
                    let answer = if good_card {
                        for &s in &target.seats {
                            model.seats[s] = Some(Seat::Sold);
                        }
                        model.holds[hold].state = HoldState::Purchased;
                        let id = got.as_ref().expect(&context).purchase_id;
                        model
                            .purchases
                            .push((id, buyer, target.seats.clone(), false));
                        model
                            .keys
                            .insert(key.clone(), (hold, good_card, Answer::Ok, Some(id)));
                        Answer::Ok
                    } else {
                        model.keys.insert(
                            key.clone(),
                            (
                                hold,
                                good_card,
                                Answer::Err(ErrorCode::PaymentDeclined),
                                None,
                            ),
                        );
                        Answer::Err(ErrorCode::PaymentDeclined)
                    };
                    answer
                };
                assert_eq!(got_answer, expected, "{context}");
            }
            Op::Refund { buyer, purchase } => {
                let Some((id, owner, seats, refunded)) = model.purchases.get(purchase).cloned()
                else {
                    continue;
                };
                let got = checkout.refund(id, &sessions[buyer], None).await;
                if owner != buyer {
                    assert_eq!(
                        got.map_err(|e| e.code).err(),
                        Some(ErrorCode::NotFound),
                        "{context}"
                    );
                } else {
                    got.unwrap_or_else(|e| panic!("{context}: {e:?}"));
                    if !refunded {
                        for s in seats {
                            model.seats[s] = Some(Seat::Available);
                        }
                        model.purchases[purchase].3 = true;
                    }
                }
            }
            Op::Extend { buyer, hold } => {
                let Some(target) = model.holds.get(hold).cloned() else {
                    continue;
                };
                let got = inventory.extend(target.id, &sessions[buyer]).await;
                let expected = if target.buyer != buyer {
                    Answer::Err(ErrorCode::NotFound)
                } else if target.state != HoldState::Active || target.expires <= model.now {
                    Answer::Err(ErrorCode::HoldNotActive)
                } else if target.extended {
                    Answer::Err(ErrorCode::ExtensionUsed)
                } else {
                    // The event starts in 30 days: a full hold length from now.
                    let until = target.expires.max(model.now + HOLD_MS);
                    for seat in model.seats.iter_mut() {
                        if let Some(Seat::Held { hold: h, until: u }) = seat {
                            if *h == hold {
                                *u = until;
                            }
                        }
                    }
                    model.holds[hold].expires = until;
                    model.holds[hold].extended = true;
                    let view = got.as_ref().unwrap_or_else(|e| panic!("{context}: {e:?}"));
                    // Real time passes too (milliseconds per step).
                    let expected_ms = until - model.now;
                    assert!(
                        (expected_ms - 1_000..=expected_ms).contains(&view.expires_in_ms),
                        "{context}: {} ms left, expected {expected_ms}",
                        view.expires_in_ms
                    );
                    assert_eq!(view.extensions_left, 0, "{context}");
                    Answer::Ok
                };
                assert_eq!(
                    got.map(|_| Answer::Ok)
                        .unwrap_or_else(|e| Answer::Err(e.code)),
                    expected,
                    "{context}"
                );
            }
            Op::Block { seat, blocked } => {
                let got = app
                    .state
                    .staff
                    .set_blocked(event, &[seat_ids[seat]], blocked)
                    .await
                    .unwrap_or_else(|e| panic!("{context}: {e:?}"));
                let movable = if blocked {
                    model.free(seat)
                } else {
                    model.seat(seat) == Seat::Blocked
                };
                if movable {
                    assert!(
                        matches!(got, server::staff::BlockOutcome::Changed { .. }),
                        "{context}: {got:?}"
                    );
                    model.seats[seat] = Some(if blocked {
                        Seat::Blocked
                    } else {
                        Seat::Available
                    });
                } else {
                    assert_eq!(
                        got,
                        server::staff::BlockOutcome::Conflict(vec![seat_ids[seat]]),
                        "{context}"
                    );
                }
            }
        }
        // After every step the seat map is exactly what the model says.
        let map = seat_map(&app, event).await.seats;
        for (index, id) in seat_ids.iter().enumerate() {
            let actual = map
                .iter()
                .find(|seat| seat.id.0 == *id)
                .expect("seat")
                .status;
            assert_eq!(actual, model.status(index), "{context}: seat {index}");
        }
    }
    // The database's last line of defence agrees: never two live tickets per seat.
    let doubles: (i64,) = server::on_pool!(app.store(), pool => sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT seat_id FROM tickets WHERE status = 'valid' GROUP BY seat_id HAVING COUNT(*) > 1) d",
    )
    .fetch_one(pool)
    .await)
    .expect("count");
    assert_eq!(doubles.0, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_inventory_behaves_like_its_reference_model(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        runtime.block_on(run(ops));
    }
}
