//! Money is never lost, whatever crashes: retries racing the reconciler,
//! payments that succeed after their purchase failed, purchases the
//! reconciler cannot settle, idempotency keys per session, the payment
//! grace, and refunds racing gate scans. Against the built-in test
//! processor, whose calls land even when their caller has given up.

use crate::common;

use app::staff::ScanOutcome;
use app::types::{PurchaseRequest, SeatStatus};
use common::*;
use reqwest::Method;
use server::payments::test_gateway::{Call, Fault, TestGateway};
use std::sync::Arc;
use std::time::Duration;

const MINUTE: i64 = 60_000;

#[derive(Debug, sqlx::FromRow)]
struct Row {
    request_key: String,
    status: String,
    failure: Option<String>,
    payment_ref: Option<String>,
}

async fn purchases(app: &TestApp) -> Vec<Row> {
    server::on_pool!(app.store(), pool => sqlx::query_as::<_, Row>(
        "SELECT request_key, status, failure, payment_ref FROM purchases ORDER BY id",
    )
    .fetch_all(pool)
    .await)
    .expect("purchases")
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) =
        server::on_pool!(app.store(), pool => sqlx::query_as(sql).fetch_one(pool).await)
            .expect("count");
    n
}

#[tokio::test]
async fn a_retry_in_flight_is_not_settled_by_the_reconciler() {
    // The first attempt's confirmation never reaches the processor.
    let processor = Arc::new(
        TestGateway::default().with_call_latency(Call::Confirm, Duration::from_millis(400)),
    );
    processor.set_confirm_fault(Some(Fault::DropRequest));
    let database_url = fresh_database_url().await;
    let before = spawn_app_with_gateway(database_url.clone(), processor.clone()).await;
    let hall = add_venue(before.store(), "Hall", "Hull").await;
    let event = add_event(before.store(), hall, "Show", 5).await;
    let seats = seat_ids(&before, event).await;
    let mut fan = Buyer::new(&before);
    let hold = fan.held(event, &seats[0..2]).await;
    let (status, _) = fan.purchase(hold.hold_id, "retry-key-1", "tok_visa").await;
    assert_eq!(status, 503);

    // A minute later (a restart), the buyer retries; the retry's charge is
    // in flight while the reconciler runs.
    processor.set_confirm_fault(None);
    let after = spawn_app_with_gateway(database_url, processor.clone()).await;
    after.state.inventory.clock().advance(MINUTE + 1000);
    let mut fan = Buyer {
        app: &after,
        cookie: fan.cookie.clone(),
    };
    let retry = fan.purchase(hold.hold_id, "retry-key-1", "tok_visa");
    let reconcile = async {
        wait_for_count(
            &after,
            "SELECT COUNT(*) FROM purchases WHERE attempt = 1",
            1,
        )
        .await;
        after.state.checkout.reconcile().await
    };
    let ((status, body), reconciled) = tokio::join!(retry, reconcile);
    assert_eq!(
        reconciled.expect("reconcile"),
        0,
        "the retry's purchase is left alone"
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(purchases(&after).await[0].status, "paid");
    assert_eq!(processor.successful_charges(), 1);
    assert_eq!(processor.refunds(), 0);
}

#[tokio::test]
async fn a_payment_that_succeeds_after_its_purchase_failed_is_refunded_by_the_purchase() {
    // The confirmation lands after the reconciler has looked (and decided
    // it was never confirmed), but before its cancel does.
    let processor = Arc::new(
        TestGateway::default()
            .with_call_latency(Call::Confirm, Duration::from_millis(600))
            .with_call_latency(Call::Cancel, Duration::from_millis(1500)),
    );
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(processor.clone()).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..2]).await;
    let purchase = fan.purchase(hold.hold_id, "late-key-1", "tok_visa");
    let reconcile = async {
        wait_for_count(
            &app,
            "SELECT COUNT(*) FROM purchases WHERE payment_ref IS NOT NULL",
            1,
        )
        .await;
        app.state.inventory.clock().advance(MINUTE + 1000);
        app.state.checkout.reconcile().await
    };
    let ((status, body), reconciled) = tokio::join!(purchase, reconcile);
    reconciled.expect("reconcile");
    assert_eq!(status, 503, "{body}");
    let rows = purchases(&app).await;
    assert_eq!(rows[0].status, "refunded");
    assert_eq!(rows[0].failure.as_deref(), Some("processing_error"));
    assert_eq!(processor.successful_charges(), 1);
    assert!(processor.is_refunded(rows[0].payment_ref.as_deref().expect("payment")));
    assert_eq!(processor.refunds(), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM tickets").await, 0);
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Held);
}

#[tokio::test]
async fn a_payment_that_succeeds_after_its_process_died_is_refunded_by_the_reconciler() {
    let processor = Arc::new(
        TestGateway::default()
            .with_call_latency(Call::Confirm, Duration::from_millis(600))
            .with_call_latency(Call::Cancel, Duration::from_millis(1500)),
    );
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(processor.clone()).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..2]).await;
    let (session,): (String,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT session_id FROM holds").fetch_one(pool).await)
    .expect("hold");
    let request: PurchaseRequest = serde_json::from_value(
        serde_json::json!({"email": "fan@example.com", "payment": {"token": "tok_visa"}}),
    )
    .expect("request");
    // The process "dies" once its confirmation has set out: the purchase
    // future is dropped, the confirmation still lands.
    tokio::select! {
        _ = app.state.checkout.purchase(hold.hold_id, &session, None, "died-key-1", request) => {
            panic!("the purchase finished before its process died")
        }
        _ = async {
            while processor.confirms_received() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        } => {}
    }
    app.state.inventory.clock().advance(MINUTE + 1000);
    app.state.checkout.reconcile().await.expect("reconcile");
    let rows = purchases(&app).await;
    assert_eq!(rows[0].status, "refunded", "{rows:?}");
    assert!(processor.is_refunded(rows[0].payment_ref.as_deref().expect("payment")));
    assert_eq!(processor.successful_charges(), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM tickets").await, 0);
    assert_eq!(app.state.checkout.reconcile().await.expect("reconcile"), 0);
}

#[tokio::test]
async fn unsettleable_purchases_do_not_starve_newer_ones() {
    // 110 purchases whose payments the processor (after a switch of
    // account, say) does not know: they can never be settled.
    let forgotten = Arc::new(TestGateway::default());
    forgotten.set_confirm_fault(Some(Fault::LoseReply));
    let database_url = fresh_database_url().await;
    // 110 fans from one address: the per-address caps are not the subject.
    let mut config = server::config::Config::for_database(database_url.clone());
    config.client_limits = server::config::Switch::Off;
    let before = spawn_app_with_config_and_gateway(config, forgotten).await;
    let hall = add_venue(before.store(), "Hall", "Hull").await;
    let mut events = Vec::new();
    for n in 0..6 {
        events.push(add_event(before.store(), hall, &format!("Show {n}"), 5).await);
    }
    let mut made = 0;
    'all: for &event in &events {
        for seat in seat_ids(&before, event).await {
            if made == 110 {
                break 'all;
            }
            let mut fan = Buyer::new(&before);
            let hold = fan.held(event, &[seat]).await;
            let key = format!("odd-{made:04}");
            // A fan of their own each, so the per-buyer limit stays out of it.
            let body = serde_json::json!({
                "email": format!("fan{made}@example.com"),
                "payment": {"token": "tok_visa"},
            });
            assert_eq!(fan.purchase_with(hold.hold_id, &key, body).await.0, 503);
            made += 1;
        }
    }
    // A newer purchase, at the processor in use now, whose reply was lost.
    let processor = Arc::new(TestGateway::default());
    processor.set_confirm_fault(Some(Fault::LoseReply));
    let after = spawn_app_with_gateway(database_url, processor.clone()).await;
    let last = events[5];
    let free = seat_ids(&after, last).await[19];
    let mut fan = Buyer::new(&after);
    let hold = fan.held(last, &[free]).await;
    assert_eq!(
        fan.purchase(hold.hold_id, "good-0001", "tok_visa").await.0,
        503
    );

    after.state.inventory.clock().advance(2 * MINUTE);
    assert_eq!(
        after.state.checkout.reconcile().await.expect("reconcile"),
        1
    );
    let rows = purchases(&after).await;
    let good = rows
        .iter()
        .find(|r| r.request_key == "good-0001")
        .expect("good");
    assert_eq!(good.status, "paid");
    // The others wait for their backoff, still pending: never guessed.
    assert_eq!(rows.iter().filter(|r| r.status == "pending").count(), 110);
    let now = after.state.inventory.clock().now();
    let sql = format!("SELECT COUNT(*) FROM purchases WHERE next_check_at > {now}");
    assert_eq!(count(&after, &sql).await, 110);
}

#[tokio::test]
async fn a_key_is_scoped_to_its_session_and_refused_with_another_body() {
    let gateway = Arc::new(TestGateway::default());
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(gateway.clone()).await;
    let mut one = Buyer::new(&app);
    let hold = one.held(event, &seats[0..1]).await;
    let (status, first) = one.purchase(hold.hold_id, "shared-key-1", "tok_visa").await;
    assert_eq!(status, 201);
    let mut two = Buyer::new(&app);
    let hold2 = two.held(event, &seats[1..2]).await;
    let (status, body) = two
        .purchase(hold2.hold_id, "shared-key-1", "tok_visa")
        .await;
    assert_eq!(
        status, 201,
        "another session's key is another purchase: {body}"
    );
    assert_ne!(body["purchase_id"], first["purchase_id"]);

    let other_body =
        serde_json::json!({"email": "someone-else@example.com", "payment": {"token": "tok_visa"}});
    let (status, body) = one
        .purchase_with(hold.hold_id, "shared-key-1", other_body)
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
    let (status, again) = one.purchase(hold.hold_id, "shared-key-1", "tok_visa").await;
    assert_eq!(
        (status, &again["purchase_id"]),
        (201, &first["purchase_id"])
    );
    assert_eq!(gateway.successful_charges(), 2);
}

#[tokio::test]
async fn a_declined_attempt_gives_back_no_extra_hold_time() {
    let gateway = Arc::new(
        TestGateway::default().with_call_latency(Call::Confirm, Duration::from_millis(300)),
    );
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(gateway).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..1]).await;
    let path = format!("/api/holds/{}", hold.hold_id);
    app.state.inventory.clock().advance(290_000);
    // While the charge is in flight, the grace keeps the hold.
    let attempt = fan.purchase(hold.hold_id, "declined-1", "tok_chargeDeclined");
    let during = async {
        wait_for_count(
            &app,
            "SELECT COUNT(*) FROM purchases WHERE payment_ref IS NOT NULL",
            1,
        )
        .await;
        let (expires,): (i64,) = server::on_pool!(app.store(), pool =>
            sqlx::query_as("SELECT expires_at FROM holds").fetch_one(pool).await)
        .expect("hold");
        expires
    };
    let ((status, _), extended) = tokio::join!(attempt, during);
    assert_eq!(status, 402);
    assert!(extended >= app.state.inventory.clock().now() + 100_000);
    // After the decline the hold expires when it always would have.
    let mut owner = Buyer {
        app: &app,
        cookie: fan.cookie.clone(),
    };
    let (_, after) = owner.send(Method::GET, &path, None).await;
    assert_eq!(after["expires_at"], hold.expires_at);
    app.state.inventory.clock().advance(11_000);
    app.state.inventory.sweep_expired().await.expect("sweep");
    assert_eq!(
        seat_status(&app, event, seats[0]).await,
        SeatStatus::Available
    );
}

#[tokio::test]
async fn a_refund_and_a_gate_scan_never_both_succeed() {
    let processor = Arc::new(
        TestGateway::default().with_call_latency(Call::Refund, Duration::from_millis(400)),
    );
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(processor.clone()).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..1]).await;
    let (status, purchase) = fan.purchase(hold.hold_id, "scan-race-1", "tok_visa").await;
    assert_eq!(status, 201);
    let code = purchase["tickets"][0]["code"]
        .as_str()
        .expect("code")
        .to_string();
    let path = format!("/api/purchases/{}/refund", purchase["purchase_id"]);
    // The scan lands while the processor is refunding.
    let refund = fan.send(Method::POST, &path, None);
    let scan = async {
        wait_for_count(
            &app,
            "SELECT COUNT(*) FROM purchases WHERE status = 'refunding'",
            1,
        )
        .await;
        app.state
            .staff
            .scan(&code, Some(event))
            .await
            .expect("scan")
    };
    let ((status, body), scanned) = tokio::join!(refund, scan);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "refunded");
    assert_ne!(scanned.result, ScanOutcome::Valid, "{}", scanned.message);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM tickets WHERE status = 'used'").await,
        0
    );

    // The other way round: admitted first, then the refund is refused.
    let hold = fan.held(event, &seats[1..2]).await;
    let (_, purchase) = fan.purchase(hold.hold_id, "scan-race-2", "tok_visa").await;
    let code = purchase["tickets"][0]["code"].as_str().expect("code");
    let scanned = app.state.staff.scan(code, Some(event)).await.expect("scan");
    assert_eq!(scanned.result, ScanOutcome::Valid);
    let path = format!("/api/purchases/{}/refund", purchase["purchase_id"]);
    let (status, body) = fan.send(Method::POST, &path, None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(processor.refunds(), 1);
}

#[tokio::test]
async fn a_refund_the_processor_refuses_is_taken_back() {
    let processor = Arc::new(TestGateway::default());
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(processor.clone()).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..1]).await;
    let (_, purchase) = fan.purchase(hold.hold_id, "disputed-1", "tok_visa").await;
    processor.set_refund_refusal(Some("the payment is disputed"));
    let path = format!("/api/purchases/{}/refund", purchase["purchase_id"]);
    let (status, body) = fan.send(Method::POST, &path, None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_refundable");
    assert!(body["error"]["message"]
        .as_str()
        .expect("message")
        .contains("disputed"));
    let (_, now) = fan
        .send(
            Method::GET,
            &format!("/api/purchases/{}", purchase["purchase_id"]),
            None,
        )
        .await;
    assert_eq!(now["status"], "paid");
    assert_eq!(now["tickets"][0]["status"], "valid");
    let code = purchase["tickets"][0]["code"].as_str().expect("code");
    let scanned = app.state.staff.scan(code, Some(event)).await.expect("scan");
    assert_eq!(scanned.result, ScanOutcome::Valid);
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Sold);
}
