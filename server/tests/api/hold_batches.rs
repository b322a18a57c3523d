//! The batch writer's own rules, on a real database: one batch is the same
//! as its hold endings followed by its claims, one after another. Claims of
//! one batch never share a seat nor pass a buyer's limit together, a hold
//! ended in a batch frees its seats for that batch's claims, and the whole
//! batch is one version of the seat map. Purchases, sales, refunds and
//! blocks share batches with claims and endings, each decided alone.

use crate::common;

use app::types::SeatStatus;
use common::*;
use server::clock::now_ms;
use server::inventory::holds::{
    write_batch, ClaimOutcome, ClaimRequest, ClientCap, EndRequest, Ending, SeatWrite, WriteOutcome,
};
use server::inventory::writer::purchases::{Payer, RecordPayment, Timing};
use server::inventory::writer::{
    write_batch_telling, BeginOutcome, BeginPurchase, BlockOutcome, BlockRequest, Completion,
    FinishRefund, PurchaseRow, ReleaseOutcome, ReleaseRequest, Sell,
};
use server::live::changes::changes_since;
use server::ticket_codes::TicketSigner;
use std::sync::Arc;

fn claim_request(event: i64, session: &str, seat_ids: &[i64]) -> ClaimRequest {
    let now = now_ms();
    ClaimRequest {
        event_id: event,
        session_id: session.to_string(),
        seat_ids: seat_ids.to_vec(),
        max_per_buyer: 8,
        now,
        expires_at: now + 300_000,
        account_id: None,
        client: None,
    }
}

fn claim(event: i64, session: &str, seat_ids: &[i64]) -> SeatWrite {
    SeatWrite::Claim(claim_request(event, session, seat_ids))
}

/// A claim from `session`, signed in as `account` (if any), from `address`
/// with a cap of `cap` seats held at once.
fn claim_from(
    event: i64,
    session: &str,
    account: Option<i64>,
    (address, cap): (&str, i64),
    seat_ids: &[i64],
) -> SeatWrite {
    SeatWrite::Claim(ClaimRequest {
        account_id: account,
        client: Some(ClientCap {
            key: address.to_string(),
            max_seats: cap,
        }),
        ..claim_request(event, session, seat_ids)
    })
}

fn release(event: i64, hold_id: i64) -> SeatWrite {
    SeatWrite::End(EndRequest {
        hold_id,
        event_id: event,
        ending: Ending::Released,
        now: now_ms(),
    })
}

/// A buyer's release as the API sends it: the hold and the session only.
fn release_by(session: &str, hold_id: i64) -> SeatWrite {
    SeatWrite::Release(ReleaseRequest {
        hold_id,
        session_id: session.to_string(),
        now: now_ms(),
    })
}

fn expire(event: i64, hold_id: i64, now: i64) -> SeatWrite {
    SeatWrite::End(EndRequest {
        hold_id,
        event_id: event,
        ending: Ending::Expired,
        now,
    })
}

/// Runs `writes` as one batch of the seat writer.
async fn batch(app: &TestApp, writes: &[SeatWrite]) -> Vec<WriteOutcome> {
    write_batch(app.store(), writes).await.expect("batch")
}

fn claimed_hold(outcome: &WriteOutcome) -> i64 {
    match outcome {
        WriteOutcome::Claim(ClaimOutcome::Claimed { hold_id, .. }) => *hold_id,
        other => panic!("expected a claimed hold, got {other:?}"),
    }
}

#[tokio::test]
async fn claims_of_one_batch_never_share_a_seat_nor_pass_a_limit_together() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Batch Hall", "Oslo").await;
    let event = add_event(app.store(), venue, "Batch Night", 10).await;
    let map = seat_map(&app, event).await;
    let version = map.version;
    let s: Vec<i64> = map.seats.iter().map(|seat| seat.id.0).collect();

    let outcomes = batch(
        &app,
        &[
            claim(event.0, "buyer-a", &[s[0], s[1]]),
            claim(event.0, "buyer-b", &[s[1], s[2]]),
            claim(event.0, "buyer-c", &[s[3]]),
            // buyer-a has 2 seats from this very batch; 7 more passes 8.
            claim(event.0, "buyer-a", &s[4..11]),
            claim(event.0, "buyer-d", &[s[5], 999_999_999]),
            claim(event.0 + 1_000, "buyer-e", &[s[6]]),
        ],
    )
    .await;

    let hold_a = claimed_hold(&outcomes[0]);
    assert_eq!(
        outcomes[1],
        WriteOutcome::Claim(ClaimOutcome::Unavailable(vec![s[1]]))
    );
    let hold_c = claimed_hold(&outcomes[2]);
    assert_eq!(
        outcomes[3],
        WriteOutcome::Claim(ClaimOutcome::LimitExceeded { already: 2 })
    );
    assert_eq!(
        outcomes[4],
        WriteOutcome::Claim(ClaimOutcome::Unknown(vec![999_999_999]))
    );
    assert_eq!(outcomes[5], WriteOutcome::NoSuchEvent);
    assert_ne!(hold_a, hold_c);
    match &outcomes[0] {
        WriteOutcome::Claim(ClaimOutcome::Claimed {
            total_cents, seats, ..
        }) => {
            assert_eq!(*total_cents, 10_000, "two Front seats");
            let ids: Vec<i64> = seats.iter().map(|seat| seat.id).collect();
            assert_eq!(ids, vec![s[0], s[1]]);
            assert!(seats.iter().all(|seat| seat.status == "held"));
        }
        other => panic!("{other:?}"),
    }

    // Only the three claimed seats changed, all under one new version.
    for (index, seat) in s.iter().enumerate() {
        let expected = if [0, 1, 3].contains(&index) {
            SeatStatus::Held
        } else {
            SeatStatus::Available
        };
        assert_eq!(
            seat_status(&app, event, *seat).await,
            expected,
            "seat {index}"
        );
    }
    let changes = changes_since(app.store(), event.0, version)
        .await
        .expect("changes");
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(changes.iter().all(|change| change.version == version + 1));
}

#[tokio::test]
async fn a_hold_ended_in_a_batch_frees_its_seats_for_that_batch_and_only_once() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Batch Hall", "Oslo").await;
    let event = add_event(app.store(), venue, "Batch Night", 10).await;
    let s = seat_ids(&app, event).await;
    let first = batch(&app, &[claim(event.0, "buyer-a", &[s[0], s[1]])]).await;
    let hold_a = claimed_hold(&first[0]);
    let version = seat_map(&app, event).await.version;

    // The claim comes first in the batch, but endings run first.
    let outcomes = batch(
        &app,
        &[
            claim(event.0, "buyer-b", &[s[1]]),
            release(event.0, hold_a),
            release(event.0, hold_a),
        ],
    )
    .await;
    let hold_b = claimed_hold(&outcomes[0]);
    let mut freed = match &outcomes[1] {
        WriteOutcome::Ended(freed) => freed.clone(),
        other => panic!("{other:?}"),
    };
    freed.sort_unstable();
    assert_eq!(freed, vec![s[0], s[1]]);
    assert_eq!(outcomes[2], WriteOutcome::Ended(vec![]));
    assert_ne!(hold_a, hold_b);
    assert_eq!(seat_status(&app, event, s[0]).await, SeatStatus::Available);
    assert_eq!(seat_status(&app, event, s[1]).await, SeatStatus::Held);

    // Freed, then held again in the same batch: one change per seat, with
    // where it ended, under the one new version.
    let changes = changes_since(app.store(), event.0, version)
        .await
        .expect("changes");
    let logged: Vec<(i64, &str)> = changes
        .iter()
        .map(|change| (change.seat_id, change.status.as_str()))
        .collect();
    assert_eq!(logged, vec![(s[0], "available"), (s[1], "held")]);
    assert!(changes.iter().all(|change| change.version == version + 1));
}

/// A release names only its hold: the batch finds the hold's event and
/// owner itself, frees the seats of the owner's hold for the batch's
/// claims, and changes nothing for another session's release, a bought
/// hold's or an unknown hold's.
#[tokio::test]
async fn releases_naming_only_their_hold_are_checked_and_made_in_the_batch() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Release Hall", "Turku").await;
    let event = add_event(app.store(), venue, "Release Night", 10).await;
    let s = seat_ids(&app, event).await;
    let signer = Arc::new(TicketSigner::generate());
    let now = now_ms();
    let (holds, purchases) = paying(&app, event.0, &[("buyer-c", &[s[4]])], now).await;
    let bought = holds[0];
    batch(&app, &[sell(&purchases[0], &signer, now)]).await;
    let first = batch(
        &app,
        &[
            claim(event.0, "buyer-a", &[s[0], s[1]]),
            claim(event.0, "buyer-b", &[s[2]]),
        ],
    )
    .await;
    let (hold_a, hold_b) = (claimed_hold(&first[0]), claimed_hold(&first[1]));

    let outcomes = batch(
        &app,
        &[
            claim(event.0, "buyer-d", &[s[1]]),
            release_by("buyer-a", hold_a),
            release_by("buyer-a", hold_b),
            release_by("buyer-c", bought),
            release_by("buyer-a", 999_999_999),
            release_by("buyer-a", hold_a),
        ],
    )
    .await;
    claimed_hold(&outcomes[0]);
    match &outcomes[1] {
        WriteOutcome::Released(ReleaseOutcome::Released { event_id, freed }) => {
            assert_eq!(*event_id, event.0);
            let mut freed = freed.clone();
            freed.sort_unstable();
            assert_eq!(freed, vec![s[0], s[1]]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        outcomes[2],
        WriteOutcome::Released(ReleaseOutcome::NotFound)
    );
    assert_eq!(
        outcomes[3],
        WriteOutcome::Released(ReleaseOutcome::AlreadyPurchased)
    );
    assert_eq!(
        outcomes[4],
        WriteOutcome::Released(ReleaseOutcome::NotFound)
    );
    assert_eq!(
        outcomes[5],
        WriteOutcome::Released(ReleaseOutcome::Released {
            event_id: event.0,
            freed: vec![]
        }),
        "released once"
    );
    assert_eq!(seat_status(&app, event, s[0]).await, SeatStatus::Available);
    assert_eq!(seat_status(&app, event, s[1]).await, SeatStatus::Held);
    assert_eq!(seat_status(&app, event, s[2]).await, SeatStatus::Held);
    assert_eq!(seat_status(&app, event, s[4]).await, SeatStatus::Sold);
}

/// The seat writer cuts the next batch once the one before starts to
/// commit (on PostgreSQL). That batch must wait for the first one's locks
/// and decide against what it wrote: the seat it claimed is taken, and
/// the second batch refuses it rather than fail or sell it twice.
#[tokio::test]
async fn a_batch_begun_while_another_commits_decides_against_its_writes() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Overlap Hall", "Bergen").await;
    let event = add_event(app.store(), venue, "Overlap Night", 10).await;
    let s = seat_ids(&app, event).await;
    for (round, &seat) in s.iter().enumerate().take(20) {
        let (committing, first_commits) = tokio::sync::oneshot::channel();
        let store = app.store().clone();
        let first = tokio::spawn(async move {
            let claim = claim(event.0, &format!("first-{round}"), &[seat]);
            write_batch_telling(&store, &[claim], Some(committing))
                .await
                .map(|written| written.outcomes)
        });
        first_commits
            .await
            .expect("the first batch reached its commit");
        let second = batch(&app, &[claim(event.0, &format!("second-{round}"), &[seat])]).await;
        let first = first.await.expect("joined").expect("first batch");
        claimed_hold(&first[0]);
        assert_eq!(
            second[0],
            WriteOutcome::Claim(ClaimOutcome::Unavailable(vec![seat])),
            "round {round}"
        );
    }
}

#[tokio::test]
async fn claims_of_one_batch_never_pass_an_accounts_limit_nor_an_addresss_cap_together() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Cap Hall", "Bergen").await;
    let event = add_event(app.store(), venue, "Cap Night", 10).await;
    let s = seat_ids(&app, event).await;
    let (account,): (i64,) = server::on_pool!(app.store(), pool => sqlx::query_as(
        "INSERT INTO users (email, password_hash, created_at) VALUES ('a@x.io', 'x', 0) RETURNING id",
    )
    .fetch_one(pool)
    .await)
    .expect("user");

    let campus = ("192.0.2.1", 6);
    let elsewhere = ("2001:db8:1:2::/64", 6);
    let outcomes = batch(
        &app,
        &[
            // One account in three browsers: 5 + 3 fit the limit of 8, one more does not.
            claim_from(event.0, "browser-1", Some(account), elsewhere, &s[0..5]),
            claim_from(event.0, "browser-2", Some(account), elsewhere, &s[5..6]),
            claim_from(
                event.0,
                "browser-3",
                Some(account),
                ("198.51.100.7", 6),
                &s[6..8],
            ),
            claim_from(
                event.0,
                "browser-3",
                Some(account),
                ("198.51.100.7", 6),
                &s[8..9],
            ),
            // Three sessions behind one address with a cap of 6 seats.
            claim_from(event.0, "student-1", None, campus, &s[10..14]),
            claim_from(event.0, "student-2", None, campus, &s[14..17]),
            claim_from(event.0, "student-3", None, campus, &s[17..19]),
        ],
    )
    .await;

    claimed_hold(&outcomes[0]);
    claimed_hold(&outcomes[1]);
    claimed_hold(&outcomes[2]);
    assert_eq!(
        outcomes[3],
        WriteOutcome::Claim(ClaimOutcome::LimitExceeded { already: 8 })
    );
    claimed_hold(&outcomes[4]);
    match &outcomes[5] {
        WriteOutcome::Claim(ClaimOutcome::AddressCapReached {
            held,
            retry_after_ms,
        }) => {
            assert_eq!(*held, 4);
            assert!(
                (299_000..=300_000).contains(retry_after_ms),
                "{retry_after_ms}"
            );
        }
        other => panic!("{other:?}"),
    }
    claimed_hold(&outcomes[6]);

    // A later batch reads the same counts back from the database.
    let outcomes = batch(
        &app,
        &[
            claim_from(
                event.0,
                "browser-4",
                Some(account),
                ("203.0.113.1", 6),
                &[s[19]],
            ),
            claim_from(event.0, "student-4", None, campus, &[s[9]]),
        ],
    )
    .await;
    assert_eq!(
        outcomes[0],
        WriteOutcome::Claim(ClaimOutcome::LimitExceeded { already: 8 })
    );
    assert!(matches!(
        outcomes[1],
        WriteOutcome::Claim(ClaimOutcome::AddressCapReached { held: 6, .. })
    ));
}

fn timing(now: i64) -> Timing {
    Timing {
        now,
        payment_grace_ms: 120_000,
        reconcile_after_ms: 60_000,
    }
}

fn begin_purchase(event: i64, hold_id: i64, session: &str, key: &str, now: i64) -> SeatWrite {
    let email = format!("{session}@example.com");
    begin_purchase_by(event, hold_id, (session, key), Payer::Guest(email), now)
}

/// The purchase of a hold from `session` under `key`, paid by `payer`.
fn begin_purchase_by(
    event: i64,
    hold_id: i64,
    (session, key): (&str, &str),
    payer: Payer,
    now: i64,
) -> SeatWrite {
    SeatWrite::BeginPurchase(Box::new(BeginPurchase {
        hold_id,
        event_id: event,
        session_id: session.to_string(),
        request_key: key.to_string(),
        fingerprint: format!("fingerprint of {key}"),
        processor_key: format!("tessera-{session}-{key}"),
        customer: None,
        payer,
        timing: timing(now),
    }))
}

fn sell(purchase: &PurchaseRow, signer: &Arc<TicketSigner>, now: i64) -> SeatWrite {
    SeatWrite::Sell(Box::new(Sell {
        purchase: purchase.clone(),
        intent_id: format!("pi_{}", purchase.id),
        signer: signer.clone(),
        now,
    }))
}

fn block(event: i64, seat_ids: &[i64], blocked: bool) -> SeatWrite {
    SeatWrite::Block(BlockRequest {
        event_id: event,
        seat_ids: seat_ids.to_vec(),
        blocked,
        now: now_ms(),
    })
}

fn started(outcome: &WriteOutcome) -> PurchaseRow {
    match outcome {
        WriteOutcome::Began(BeginOutcome::Started(row)) => row.clone(),
        other => panic!("expected a recorded purchase, got {other:?}"),
    }
}

/// Each buyer (a session) holds its seats, in one batch, and starts paying
/// for them, in the next: the holds and their pending purchases.
async fn paying(
    app: &TestApp,
    event: i64,
    buyers: &[(&str, &[i64])],
    now: i64,
) -> (Vec<i64>, Vec<PurchaseRow>) {
    let claims: Vec<SeatWrite> = buyers
        .iter()
        .map(|(session, seats)| claim(event, session, seats))
        .collect();
    let holds: Vec<i64> = batch(app, &claims).await.iter().map(claimed_hold).collect();
    let begins: Vec<SeatWrite> = buyers
        .iter()
        .zip(&holds)
        .map(|((session, _), hold)| {
            begin_purchase(event, *hold, session, &format!("key-{session}"), now)
        })
        .collect();
    let purchases = batch(app, &begins).await.iter().map(started).collect();
    (holds, purchases)
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (count,): (i64,) =
        server::on_pool!(app.store(), pool => sqlx::query_as(sql).fetch_one(pool).await)
            .expect("count");
    count
}

#[tokio::test]
async fn claims_purchases_sales_refunds_and_blocks_share_one_batch_each_decided_alone() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Mixed Hall", "Turku").await;
    let event = add_event(app.store(), venue, "Mixed Night", 10).await;
    let s = seat_ids(&app, event).await;
    let signer = Arc::new(TicketSigner::generate());
    let first = batch(&app, &[claim(event.0, "buyer-a", &[s[0], s[1]])]).await;
    let hold_a = claimed_hold(&first[0]);
    let version = seat_map(&app, event).await.version;

    // One buyer claims more seats and starts paying for their first hold in
    // the same batch; a block lands on a seat another buyer is claiming
    // (the block is decided first: claims come last).
    let now = now_ms();
    let outcomes = batch(
        &app,
        &[
            claim(event.0, "buyer-a", &[s[2]]),
            begin_purchase(event.0, hold_a, "buyer-a", "key-a-0001", now),
            claim(event.0, "buyer-b", &[s[3]]),
            block(event.0, &[s[3], s[4]], true),
            begin_purchase(event.0, hold_a, "buyer-a", "key-a-0001", now),
            begin_purchase(event.0, hold_a, "buyer-b", "key-b-0001", now),
        ],
    )
    .await;
    claimed_hold(&outcomes[0]);
    let purchase = started(&outcomes[1]);
    assert_eq!(purchase.status, app::types::PurchaseStatus::Pending);
    assert_eq!(
        outcomes[2],
        WriteOutcome::Claim(ClaimOutcome::Unavailable(vec![s[3]]))
    );
    assert_eq!(
        outcomes[3],
        WriteOutcome::Blocked(BlockOutcome::Changed {
            version: version + 1
        })
    );
    // A retry under the same key in the same batch records nothing: the
    // hold is being paid for (checkout then finds the first purchase by
    // its key, outside the writer).
    assert_eq!(
        outcomes[4],
        WriteOutcome::Began(BeginOutcome::HoldNotActive)
    );
    // Another session cannot pay for buyer-a's hold.
    assert_eq!(outcomes[5], WriteOutcome::Began(BeginOutcome::HoldNotFound));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM purchases").await, 1);
    let changes = changes_since(app.store(), event.0, version)
        .await
        .expect("changes");
    let logged: Vec<(i64, &str)> = changes
        .iter()
        .map(|change| (change.seat_id, change.status.as_str()))
        .collect();
    assert_eq!(
        logged,
        vec![(s[2], "held"), (s[3], "blocked"), (s[4], "blocked")]
    );
    assert!(changes.iter().all(|change| change.version == version + 1));

    // Two settlers of one purchase in one batch: exactly one sells.
    let outcomes = batch(
        &app,
        &[sell(&purchase, &signer, now), sell(&purchase, &signer, now)],
    )
    .await;
    assert_eq!(outcomes[0], WriteOutcome::Sold(Completion::Sold));
    assert_eq!(outcomes[1], WriteOutcome::Sold(Completion::AlreadySettled));
    assert_eq!(seat_status(&app, event, s[0]).await, SeatStatus::Sold);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM tickets WHERE status = 'valid'").await,
        2
    );

    // A refund finished in the batch frees its seats for that batch's claims.
    let decided = server::checkout::store::begin_refund(app.store(), purchase.id, now, 60_000)
        .await
        .expect("refund decided");
    assert!(matches!(
        decided,
        server::checkout::store::RefundDecision::Started(_)
    ));
    let outcomes = batch(
        &app,
        &[
            claim(event.0, "buyer-c", &[s[0]]),
            SeatWrite::FinishRefund(Box::new(FinishRefund {
                purchase: purchase.clone(),
                now,
            })),
            block(event.0, &[s[3]], false),
        ],
    )
    .await;
    claimed_hold(&outcomes[0]);
    assert_eq!(outcomes[1], WriteOutcome::RefundFinished(true));
    assert!(matches!(
        outcomes[2],
        WriteOutcome::Blocked(BlockOutcome::Changed { .. })
    ));
    assert_eq!(seat_status(&app, event, s[0]).await, SeatStatus::Held);
    assert_eq!(seat_status(&app, event, s[1]).await, SeatStatus::Available);
    assert_eq!(seat_status(&app, event, s[3]).await, SeatStatus::Available);
    assert_eq!(seat_status(&app, event, s[4]).await, SeatStatus::Blocked);
}

#[tokio::test]
async fn an_expiry_and_a_purchase_of_one_hold_in_one_batch_never_both_win() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Expiry Hall", "Tartu").await;
    let event = add_event(app.store(), venue, "Expiry Night", 10).await;
    let s = seat_ids(&app, event).await;
    let signer = Arc::new(TicketSigner::generate());
    let now = now_ms();
    let short = SeatWrite::Claim(ClaimRequest {
        expires_at: now + 1_000,
        ..claim_request(event.0, "buyer-a", &[s[0]])
    });
    let first = batch(&app, &[short, claim(event.0, "buyer-b", &[s[1], s[2]])]).await;
    let (hold_a, hold_b) = (claimed_hold(&first[0]), claimed_hold(&first[1]));
    let later = now + 2_000;

    // buyer-a's hold has run out: the expiry wins and the purchase is refused.
    let outcomes = batch(
        &app,
        &[
            begin_purchase(event.0, hold_a, "buyer-a", "key-a-0001", later),
            expire(event.0, hold_a, later),
        ],
    )
    .await;
    assert_eq!(
        outcomes[0],
        WriteOutcome::Began(BeginOutcome::HoldNotActive)
    );
    assert_eq!(outcomes[1], WriteOutcome::Ended(vec![s[0]]));

    // buyer-b is paying when the hold runs out: a payment in flight is not
    // expired, and the sale in the same batch goes through.
    let began = batch(
        &app,
        &[begin_purchase(
            event.0,
            hold_b,
            "buyer-b",
            "key-b-0001",
            now,
        )],
    )
    .await;
    let purchase = started(&began[0]);
    let past_everything = now + 600_000;
    let outcomes = batch(
        &app,
        &[
            expire(event.0, hold_b, past_everything),
            sell(&purchase, &signer, past_everything),
            expire(event.0, hold_b, past_everything),
        ],
    )
    .await;
    assert_eq!(outcomes[0], WriteOutcome::Ended(vec![]));
    assert_eq!(outcomes[1], WriteOutcome::Sold(Completion::Sold));
    assert_eq!(outcomes[2], WriteOutcome::Ended(vec![]));
    assert_eq!(seat_status(&app, event, s[1]).await, SeatStatus::Sold);
    assert_eq!(seat_status(&app, event, s[2]).await, SeatStatus::Sold);
}

#[tokio::test]
async fn a_sale_whose_hold_lost_a_seat_changes_nothing() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Lost Hall", "Riga").await;
    let event = add_event(app.store(), venue, "Lost Night", 10).await;
    let s = seat_ids(&app, event).await;
    let signer = Arc::new(TicketSigner::generate());
    let now = now_ms();
    let first = batch(&app, &[claim(event.0, "buyer-a", &[s[0], s[1]])]).await;
    let hold = claimed_hold(&first[0]);
    let began = batch(
        &app,
        &[begin_purchase(event.0, hold, "buyer-a", "key-a-0001", now)],
    )
    .await;
    let purchase = started(&began[0]);
    // Released while the payment was in flight; another buyer takes a seat.
    let outcomes = batch(
        &app,
        &[
            release(event.0, hold),
            sell(&purchase, &signer, now),
            claim(event.0, "buyer-b", &[s[1]]),
        ],
    )
    .await;
    assert_eq!(outcomes[1], WriteOutcome::Sold(Completion::SeatsLost));
    claimed_hold(&outcomes[2]);
    let (status,): (String,) = server::on_pool!(app.store(), pool => sqlx::query_as(
        "SELECT status FROM purchases WHERE id = $1",
    )
    .bind(purchase.id)
    .fetch_one(pool)
    .await)
    .expect("purchase");
    assert_eq!(status, "pending", "left for the refund of the charge");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM tickets").await, 0);
}

#[tokio::test]
async fn sales_side_by_side_in_one_batch_are_each_decided_alone() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Sales Hall", "Vilnius").await;
    let event = add_event(app.store(), venue, "Sales Night", 10).await;
    let s = seat_ids(&app, event).await;
    let signer = Arc::new(TicketSigner::generate());
    let now = now_ms();
    let (holds, purchases) = paying(
        &app,
        event.0,
        &[
            ("buyer-a", &[s[0], s[1]]),
            ("buyer-b", &[s[2]]),
            ("buyer-c", &[s[3]]),
            ("buyer-d", &[s[4]]),
        ],
        now,
    )
    .await;
    let first = batch(&app, &[sell(&purchases[3], &signer, now)]).await;
    assert_eq!(first[0], WriteOutcome::Sold(Completion::Sold));

    // buyer-c's hold is released while its payment is in flight (endings
    // come first in a batch); buyer-a's sale arrives twice; buyer-d's was
    // sold in the batch before.
    let outcomes = batch(
        &app,
        &[
            sell(&purchases[0], &signer, now),
            sell(&purchases[1], &signer, now),
            sell(&purchases[0], &signer, now),
            release(event.0, holds[2]),
            sell(&purchases[2], &signer, now),
            sell(&purchases[3], &signer, now),
        ],
    )
    .await;
    let sold = |completion| WriteOutcome::Sold(completion);
    assert_eq!(outcomes[0], sold(Completion::Sold));
    assert_eq!(outcomes[1], sold(Completion::Sold));
    assert_eq!(outcomes[2], sold(Completion::AlreadySettled));
    assert_eq!(outcomes[3], WriteOutcome::Ended(vec![s[3]]));
    assert_eq!(outcomes[4], sold(Completion::SeatsLost));
    assert_eq!(outcomes[5], sold(Completion::AlreadySettled));

    // Each ticket is its own purchase's seat, one per seat; one letter per
    // sale; the purchase that lost its seats is left pending for its refund.
    let tickets: Vec<(i64, i64)> = server::on_pool!(app.store(), pool => sqlx::query_as(
        "SELECT purchase_id, seat_id FROM tickets WHERE status = 'valid' ORDER BY seat_id",
    )
    .fetch_all(pool)
    .await)
    .expect("tickets");
    let (a, b, d) = (purchases[0].id, purchases[1].id, purchases[3].id);
    assert_eq!(tickets, vec![(a, s[0]), (a, s[1]), (b, s[2]), (d, s[4])]);
    let letters: Vec<(i64,)> = server::on_pool!(app.store(), pool => sqlx::query_as(
        "SELECT purchase_id FROM outbox WHERE kind = 'tickets' ORDER BY purchase_id",
    )
    .fetch_all(pool)
    .await)
    .expect("letters");
    assert_eq!(letters, vec![(a,), (b,), (d,)]);
    let statuses: Vec<(String,)> = server::on_pool!(app.store(), pool => sqlx::query_as(
        "SELECT status FROM purchases ORDER BY id",
    )
    .fetch_all(pool)
    .await)
    .expect("purchases");
    let statuses: Vec<&str> = statuses.iter().map(|(status,)| status.as_str()).collect();
    assert_eq!(statuses, ["paid", "paid", "pending", "paid"]);
    for (seat, status) in [
        (s[0], SeatStatus::Sold),
        (s[2], SeatStatus::Sold),
        (s[3], SeatStatus::Available),
        (s[4], SeatStatus::Sold),
    ] {
        assert_eq!(seat_status(&app, event, seat).await, status);
    }
    let changes = changes_since(app.store(), event.0, 0)
        .await
        .expect("changes");
    let sold_logged = changes
        .iter()
        .filter(|change| change.status.as_str() == "sold")
        .count();
    assert_eq!(sold_logged, 4, "{changes:?}");
}

#[tokio::test]
async fn payment_references_side_by_side_are_each_recorded_alone() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Payment Hall", "Tallinn").await;
    let event = add_event(app.store(), venue, "Payment Night", 10).await;
    let s = seat_ids(&app, event).await;
    let signer = Arc::new(TicketSigner::generate());
    let now = now_ms();
    let (_, purchases) = paying(
        &app,
        event.0,
        &[
            ("buyer-a", &[s[0]]),
            ("buyer-b", &[s[1]]),
            ("buyer-c", &[s[2]]),
        ],
        now,
    )
    .await;
    batch(&app, &[sell(&purchases[2], &signer, now)]).await;
    let record = |purchase: &PurchaseRow, intent: &str| {
        SeatWrite::RecordPayment(RecordPayment {
            purchase_id: purchase.id,
            event_id: event.0,
            intent_id: intent.to_string(),
            timing: timing(now),
        })
    };
    let outcomes = batch(
        &app,
        &[
            record(&purchases[0], "pi_a"),
            record(&purchases[1], "pi_b"),
            record(&purchases[0], "pi_a"),
            record(&purchases[1], "pi_other"),
            record(&purchases[2], "pi_c"),
        ],
    )
    .await;
    // The same payment again is recorded again; another payment for a
    // purchase that has one, or a settled purchase, is not.
    let recorded: Vec<WriteOutcome> = [true, true, true, false, false]
        .into_iter()
        .map(WriteOutcome::Recorded)
        .collect();
    assert_eq!(outcomes, recorded);
    let refs: Vec<(Option<String>,)> = server::on_pool!(app.store(), pool => sqlx::query_as(
        "SELECT payment_ref FROM purchases ORDER BY id",
    )
    .fetch_all(pool)
    .await)
    .expect("purchases");
    let refs: Vec<Option<&str>> = refs.iter().map(|(r,)| r.as_deref()).collect();
    let sold_with = format!("pi_{}", purchases[2].id);
    assert_eq!(refs, [Some("pi_a"), Some("pi_b"), Some(sold_with.as_str())]);
}

#[tokio::test]
async fn purchases_side_by_side_in_one_batch_are_each_recorded_alone() {
    let app = spawn_app().await;
    let venue = add_venue(app.store(), "Checkout Hall", "Vilnius").await;
    let event = add_event(app.store(), venue, "Checkout Night", 10).await;
    server::on_pool!(app.store(), pool => sqlx::query(
        "UPDATE events SET max_tickets_per_buyer = 4 WHERE id = $1",
    )
    .bind(event.0)
    .execute(pool)
    .await
    .map(|_| ()))
    .expect("limit");
    let s = seat_ids(&app, event).await;
    let holds: Vec<i64> = batch(
        &app,
        &[
            claim(event.0, "s1", &s[0..3]),
            claim(event.0, "s2", &s[3..5]),
            claim(event.0, "s3", &s[5..6]),
            claim(event.0, "s3", &s[6..7]),
            claim(event.0, "s4", &s[7..8]),
            claim(event.0, "s4", &s[8..9]),
            claim(event.0, "s5", &s[9..10]),
        ],
    )
    .await
    .iter()
    .map(claimed_hold)
    .collect();
    let (account,): (i64,) = server::on_pool!(app.store(), pool => sqlx::query_as(
        "INSERT INTO users (email, password_hash, created_at) \
         VALUES ('fan@example.com', 'x', 0) RETURNING id",
    )
    .fetch_one(pool)
    .await)
    .expect("user");
    let guest = |email: &str| Payer::Guest(email.to_string());
    let now = now_ms();
    // The holds end a minute from now, before the payment grace would.
    for sql in [
        "UPDATE holds SET expires_at = $1",
        "UPDATE seats SET held_until = $1 WHERE status = 'held'",
    ] {
        server::on_pool!(app.store(), pool => sqlx::query(sql)
            .bind(now + 60_000)
            .execute(pool)
            .await
            .map(|_| ()))
        .expect("hold expiry");
    }
    let outcomes = batch(
        &app,
        &[
            // Three seats for one email, then two more for it from another
            // session: the second must count the first against the limit.
            begin_purchase_by(
                event.0,
                holds[0],
                ("s1", "k1"),
                guest("fan@example.com"),
                now,
            ),
            begin_purchase_by(
                event.0,
                holds[1],
                ("s2", "k2"),
                Payer::Account(account),
                now,
            ),
            // One session's key used for two holds: the first wins.
            begin_purchase_by(event.0, holds[2], ("s3", "k3"), guest("a@example.com"), now),
            begin_purchase_by(event.0, holds[3], ("s3", "k3"), guest("b@example.com"), now),
            begin_purchase_by(event.0, holds[4], ("s4", "k4"), guest("c@example.com"), now),
            begin_purchase_by(event.0, holds[5], ("s4", "k4"), guest("c@example.com"), now),
            // Another session's hold, and a hold being paid for already.
            begin_purchase_by(event.0, holds[6], ("s1", "k5"), guest("d@example.com"), now),
            begin_purchase_by(event.0, holds[0], ("s1", "k6"), guest("e@example.com"), now),
            begin_purchase_by(event.0, holds[6], ("s5", "k7"), guest("f@example.com"), now),
        ],
    )
    .await;
    let kinds: Vec<&str> = outcomes
        .iter()
        .map(|outcome| match outcome {
            WriteOutcome::Began(BeginOutcome::Started(_)) => "started",
            WriteOutcome::Began(BeginOutcome::TicketLimitExceeded) => "over limit",
            WriteOutcome::Began(BeginOutcome::HoldNotActive) => "not active",
            WriteOutcome::Began(BeginOutcome::HoldNotFound) => "not found",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "started",
            "over limit",
            "started",
            "not active",
            "started",
            "not active",
            "not found",
            "not active",
            "started"
        ]
    );
    let recorded: Vec<(i64, String)> = server::on_pool!(app.store(), pool => sqlx::query_as(
        "SELECT p.hold_id, u.email FROM purchases p JOIN users u ON u.id = p.user_id ORDER BY p.id",
    )
    .fetch_all(pool)
    .await)
    .expect("purchases");
    let expected: Vec<(i64, String)> = [
        (holds[0], "fan@example.com"),
        (holds[2], "a@example.com"),
        (holds[4], "c@example.com"),
        (holds[6], "f@example.com"),
    ]
    .into_iter()
    .map(|(hold, email)| (hold, email.to_string()))
    .collect();
    assert_eq!(recorded, expected);
    // Each recorded purchase's hold and seats last through the payment
    // grace; the refused ones keep their expiry.
    let grace_end = now + timing(now).payment_grace_ms;
    for (index, hold) in holds.iter().enumerate() {
        let (expires_at,): (i64,) = server::on_pool!(app.store(), pool => sqlx::query_as(
            "SELECT expires_at FROM holds WHERE id = $1",
        )
        .bind(hold)
        .fetch_one(pool)
        .await)
        .expect("hold");
        let paying = [0, 2, 4, 6].contains(&index);
        assert_eq!(expires_at >= grace_end, paying, "hold {index}");
        let held_until = count(
            &app,
            &format!("SELECT MIN(held_until) FROM seats WHERE hold_id = {hold}"),
        )
        .await;
        assert_eq!(held_until, expires_at, "seats of hold {index}");
    }
}
