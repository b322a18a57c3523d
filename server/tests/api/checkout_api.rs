//! Purchases and refunds over HTTP: idempotency, declines, automatic refunds
//! of charges whose seats were lost, restart reconciliation, and refunds.

use crate::common;

use app::types::{HoldId, SeatStatus};
use common::*;
use reqwest::Method;
use server::payments::test_gateway::{Fault, TestGateway};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn a_guest_buys_held_seats_and_gets_tickets() {
    let gateway = Arc::new(TestGateway::default());
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(gateway.clone()).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..2]).await;
    let (status, purchase) = fan
        .purchase(hold.hold_id, "key-0001-aaaa", "tok_visa")
        .await;
    assert_eq!(status, 201, "{purchase}");
    assert_eq!(purchase["status"], "paid");
    assert_eq!(purchase["total_cents"], 10_000);
    let tickets = purchase["tickets"].as_array().expect("tickets");
    assert_eq!(tickets.len(), 2);
    assert!(tickets.iter().all(|t| t["status"] == "valid"
        && t["code"]
            .as_str()
            .is_some_and(|c| c.starts_with("TK1.") && c.len() == 122)));
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Sold);
    assert_eq!(gateway.successful_charges(), 1);

    let (_, hold_now) = fan
        .send(Method::GET, &format!("/api/holds/{}", hold.hold_id), None)
        .await;
    assert_eq!(hold_now["status"], "purchased");
    // A bought hold cannot be released: its seats are the fan's tickets.
    let (status, body) = fan
        .send(
            Method::DELETE,
            &format!("/api/holds/{}", hold.hold_id),
            None,
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &"hold_not_active".into())
    );
    assert_eq!(seat_status(&app, event, seats[1]).await, SeatStatus::Sold);
    let path = format!("/api/purchases/{}", purchase["purchase_id"]);
    let (status, again) = fan.send(Method::GET, &path, None).await;
    assert_eq!(
        (status, &again["purchase_id"]),
        (200, &purchase["purchase_id"])
    );
    assert_eq!(Buyer::new(&app).send(Method::GET, &path, None).await.0, 404);

    // The guest is recorded as a user without a password.
    let guest: (Option<String>,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT password_hash FROM users WHERE email = 'fan@example.com'").fetch_one(pool).await)
    .expect("guest row");
    assert_eq!(guest.0, None);
    // Sold seats cannot be held again.
    assert_eq!(Buyer::new(&app).hold(event, &seats[0..1]).await.0, 409);
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_purchase_and_charges_once() {
    let gateway = Arc::new(TestGateway::default());
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(gateway.clone()).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..1]).await;
    let attempts = (0..8).map(|_| {
        let mut fan = Buyer {
            app: &app,
            cookie: fan.cookie.clone(),
        };
        let hold_id = hold.hold_id;
        async move { fan.purchase(hold_id, "same-key-123", "tok_visa").await }
    });
    let results = futures::future::join_all(attempts).await;
    let paid: Vec<_> = results
        .iter()
        .filter(|(status, _)| *status == 201)
        .collect();
    assert!(!paid.is_empty(), "{results:?}");
    for (_, body) in &paid {
        assert_eq!(body["purchase_id"], paid[0].1["purchase_id"]);
    }
    for (status, body) in &results {
        assert!(
            *status == 201 || *status == 409 || *status == 503,
            "{status}: {body}"
        );
    }
    let (status, again) = fan.purchase(hold.hold_id, "same-key-123", "tok_visa").await;
    assert_eq!(status, 201);
    assert_eq!(again["purchase_id"], paid[0].1["purchase_id"]);
    assert_eq!(gateway.successful_charges(), 1);

    // A different key for the already-paid hold is refused, and not charged.
    let (status, body) = fan
        .purchase(hold.hold_id, "another-key-456", "tok_visa")
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(gateway.successful_charges(), 1);
}

#[tokio::test]
async fn a_key_used_for_one_hold_is_refused_for_another_and_charges_nothing() {
    let gateway = Arc::new(TestGateway::default());
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(gateway.clone()).await;
    let mut fan = Buyer::new(&app);
    let first = fan.held(event, &seats[0..1]).await;
    let second = fan.held(event, &seats[1..2]).await;
    let (status, paid) = fan.purchase(first.hold_id, "one-key-789", "tok_visa").await;
    assert_eq!(status, 201, "{paid}");
    // The second hold is active and has no purchase: only the key says
    // this is not a new purchase.
    let (status, body) = fan
        .purchase(second.hold_id, "one-key-789", "tok_visa")
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
    assert_eq!(gateway.successful_charges(), 1);
    assert_eq!(seat_status(&app, event, seats[1]).await, SeatStatus::Held);
    let (_, hold_now) = fan
        .send(Method::GET, &format!("/api/holds/{}", second.hold_id), None)
        .await;
    assert_eq!(hold_now["status"], "active");
    // The first purchase's key still answers with it.
    let (status, again) = fan.purchase(first.hold_id, "one-key-789", "tok_visa").await;
    assert_eq!((status, &again["purchase_id"]), (201, &paid["purchase_id"]));
}

#[tokio::test]
async fn a_declined_card_keeps_the_hold_and_a_new_attempt_can_succeed() {
    let gateway = Arc::new(TestGateway::default());
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(gateway.clone()).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..2]).await;
    let (status, body) = fan
        .purchase(hold.hold_id, "attempt-one-1", "tok_chargeDeclined")
        .await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["code"], "payment_declined");
    let (_, hold_now) = fan
        .send(Method::GET, &format!("/api/holds/{}", hold.hold_id), None)
        .await;
    assert_eq!(hold_now["status"], "active");
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Held);
    // The same key replays the decline (with another card it is refused:
    // a key names one request); a new key with a good card buys.
    assert_eq!(
        fan.purchase(hold.hold_id, "attempt-one-1", "tok_chargeDeclined")
            .await
            .0,
        402
    );
    let (status, body) = fan
        .purchase(hold.hold_id, "attempt-one-1", "tok_visa")
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
    let (status, body) = fan
        .purchase(hold.hold_id, "attempt-two-2", "tok_visa")
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(gateway.successful_charges(), 1);
    // A transient processor failure is a 503 and also keeps the hold.
    let hold2 = fan.held(event, &seats[5..6]).await;
    let (status, body) = fan
        .purchase(hold2.hold_id, "flaky-attempt", "tok_processing_error")
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(seat_status(&app, event, seats[5]).await, SeatStatus::Held);
}

#[tokio::test]
async fn a_charge_whose_hold_was_lost_is_refunded_automatically() {
    let gateway = Arc::new(TestGateway::new(Duration::from_millis(400), 0.0));
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(gateway.clone()).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..2]).await;
    let purchase = {
        let mut fan = Buyer {
            app: &app,
            cookie: fan.cookie.clone(),
        };
        let hold_id = hold.hold_id;
        async move { fan.purchase(hold_id, "slow-payment-1", "tok_visa").await }
    };
    let meanwhile = async {
        // Once the purchase is pending (the processor is slow), time runs out
        // on the hold and its payment grace, and another buyer takes a seat.
        loop {
            let pending: (i64,) = server::on_pool!(app.store(), pool =>
                sqlx::query_as("SELECT COUNT(*) FROM purchases WHERE status = 'pending'").fetch_one(pool).await)
            .expect("count");
            if pending.0 == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        app.state.inventory.clock().advance(10 * 60 * 1000);
        Buyer::new(&app).held(event, &seats[1..2]).await
    };
    let ((status, body), _) = tokio::join!(purchase, meanwhile);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "hold_not_active");
    assert!(body["error"]["message"]
        .as_str()
        .expect("message")
        .contains("refunded"));
    assert_eq!(gateway.successful_charges(), 1);
    let refunded: (String,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT payment_ref FROM purchases").fetch_one(pool).await)
    .expect("purchase");
    assert!(gateway.is_refunded(&refunded.0));
    assert_eq!(gateway.refunds(), 1);
    assert_eq!(
        seat_status(&app, event, seats[1]).await,
        SeatStatus::Held,
        "the other buyer keeps their seat"
    );
    let tickets: (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT COUNT(*) FROM tickets").fetch_one(pool).await)
    .expect("count");
    assert_eq!(tickets.0, 0);
}

#[tokio::test]
async fn a_purchase_interrupted_after_the_charge_is_settled_on_restart() {
    // The processor carries every confirmation out, but its replies are
    // lost: the server never learns what happened.
    let processor = Arc::new(TestGateway::default());
    processor.set_confirm_fault(Some(Fault::LoseReply));
    let database_url = fresh_database_url().await;
    let before = spawn_app_with_gateway(database_url.clone(), processor.clone()).await;
    let hall = add_venue(before.store(), "Hall", "Hull").await;
    let event = add_event(before.store(), hall, "Show", 5).await;
    let seats = seat_ids(&before, event).await;

    // Three purchases whose replies are lost: one charged and still held,
    // one charged but whose seats went to someone else, one never charged.
    let mut sold_fan = Buyer::new(&before);
    let sold_hold = sold_fan.held(event, &seats[0..2]).await;
    assert_eq!(
        sold_fan
            .purchase(sold_hold.hold_id, "crash-sold-1", "tok_visa")
            .await
            .0,
        503
    );
    let mut lost_fan = Buyer::new(&before);
    let lost_hold = lost_fan.held(event, &seats[2..3]).await;
    assert_eq!(
        lost_fan
            .purchase(lost_hold.hold_id, "crash-lost-1", "tok_visa")
            .await
            .0,
        503
    );
    let mut unpaid_fan = Buyer::new(&before);
    let unpaid_hold = unpaid_fan.held(event, &seats[3..4]).await;
    assert_eq!(
        unpaid_fan
            .purchase(unpaid_hold.hold_id, "crash-none-1", "tok_chargeDeclined")
            .await
            .0,
        503
    );
    assert_eq!(processor.successful_charges(), 2);

    // The process "restarts" on the same database; by then the lost
    // purchase's seat has been released and taken by someone else.
    processor.set_confirm_fault(None);
    let after = spawn_app_with_gateway(database_url, processor.clone()).await;
    after.state.inventory.clock().advance(10 * 60 * 1000);
    Buyer::new(&after).held(event, &seats[2..3]).await;
    // Two settlers at once (two instances, or a retry racing the periodic
    // run) must still settle each purchase exactly once.
    let (first, second) = tokio::join!(
        after.state.checkout.reconcile(),
        after.state.checkout.reconcile()
    );
    first.expect("reconcile");
    second.expect("reconcile");

    let purchases: Vec<(String, String, Option<String>)> = server::on_pool!(after.store(), pool =>
        sqlx::query_as("SELECT request_key, status, failure FROM purchases ORDER BY id").fetch_all(pool).await)
    .expect("purchases");
    assert_eq!(purchases[0], ("crash-sold-1".into(), "paid".into(), None));
    assert_eq!(
        purchases[1],
        (
            "crash-lost-1".into(),
            "refunded".into(),
            Some("hold_lost".into())
        )
    );
    assert_eq!(purchases[2].1, "failed");
    assert_eq!(seat_status(&after, event, seats[0]).await, SeatStatus::Sold);
    assert_eq!(seat_status(&after, event, seats[2]).await, SeatStatus::Held);
    // Every charge ended as tickets or a refund.
    assert_eq!(
        processor.refunds(),
        1,
        "only the charge whose seats were lost is refunded"
    );
    assert_eq!(
        after.state.checkout.reconcile().await.expect("reconcile"),
        0
    );
}

#[tokio::test]
async fn a_refund_puts_the_seats_back_on_sale() {
    let gateway = Arc::new(TestGateway::default());
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(gateway.clone()).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..2]).await;
    let (_, purchase) = fan
        .purchase(hold.hold_id, "buy-then-refund", "tok_visa")
        .await;
    let path = format!("/api/purchases/{}/refund", purchase["purchase_id"]);

    assert_eq!(
        Buyer::new(&app).send(Method::POST, &path, None).await.0,
        404,
        "not yours"
    );
    let (status, body) = fan.send(Method::POST, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "refunded");
    assert!(body["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .all(|t| t["status"] == "refunded"));
    assert_eq!(
        seat_status(&app, event, seats[0]).await,
        SeatStatus::Available
    );
    let paid_with: (String,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT payment_ref FROM purchases").fetch_one(pool).await)
    .expect("purchase");
    assert!(gateway.is_refunded(&paid_with.0));
    // Refunding again is harmless; the seats can be bought again.
    assert_eq!(fan.send(Method::POST, &path, None).await.0, 200);
    let mut next = Buyer::new(&app);
    let hold = next.held(event, &seats[0..2]).await;
    assert_eq!(
        next.purchase(hold.hold_id, "second-buyer-1", "tok_visa")
            .await
            .0,
        201
    );

    // After the event starts, refunds are closed.
    let (_, purchase) = {
        let hold = next.held(event, &seats[4..5]).await;
        next.purchase(hold.hold_id, "second-buyer-2", "tok_visa")
            .await
    };
    app.state.inventory.clock().advance(6 * DAY_MS);
    let (status, body) = next
        .send(
            Method::POST,
            &format!("/api/purchases/{}/refund", purchase["purchase_id"]),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_refundable");
}

#[tokio::test]
async fn card_numbers_and_bad_purchase_requests_are_refused_without_effect() {
    let gateway = Arc::new(TestGateway::default());
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(gateway.clone()).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..1]).await;
    let path = format!("/api/holds/{}/purchase", hold.hold_id);
    let cookie = fan.cookie.clone().expect("cookie");
    let cases: Vec<(&str, Option<&str>, serde_json::Value, u16)> = vec![
        (
            "card number as token",
            Some("k-card-0001"),
            serde_json::json!({"email": "a@b.co", "payment": {"token": "4242424242424242"}}),
            422,
        ),
        (
            "card number anywhere",
            Some("k-card-0002"),
            serde_json::json!({"email": "a@b.co", "payment": {"token": "tok_visa"}, "note": "4242 4242 4242 4242"}),
            422,
        ),
        (
            "no key",
            None,
            serde_json::json!({"email": "a@b.co", "payment": {"token": "tok_visa"}}),
            400,
        ),
        (
            "bad email",
            Some("k-bad-00001"),
            serde_json::json!({"email": "nope", "payment": {"token": "tok_visa"}}),
            422,
        ),
        (
            "bad token",
            Some("k-bad-00002"),
            serde_json::json!({"email": "a@b.co", "payment": {"token": "visa please"}}),
            422,
        ),
        (
            "saved without account",
            Some("k-bad-00003"),
            serde_json::json!({"email": "a@b.co", "payment": {"saved": true}}),
            401,
        ),
        (
            "no payment",
            Some("k-bad-00004"),
            serde_json::json!({"email": "a@b.co", "payment": {}}),
            422,
        ),
    ];
    for (name, key, body, expected) in cases {
        let mut request = app
            .client
            .post(app.url(&path))
            .header("cookie", &cookie)
            .json(&body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let json: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(status, expected, "{name}: {json}");
    }
    let card = app
        .client
        .post(app.url(&path))
        .header("cookie", &cookie)
        .header("idempotency-key", "k-card-0003")
        .json(&serde_json::json!({"email": "a@b.co", "payment": {"token": "4242424242424242"}}))
        .send()
        .await
        .expect("request");
    let json: serde_json::Value = card.json().await.expect("JSON");
    assert_eq!(json["error"]["code"], "card_data_refused");
    assert_eq!(
        fan.purchase(HoldId(987654), "k-unknown-01", "tok_visa")
            .await
            .0,
        404
    );
    assert_eq!(
        fan.send(
            Method::POST,
            "/api/holds/abc/purchase",
            Some(serde_json::json!({}))
        )
        .await
        .0,
        400
    );

    let purchases: (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT COUNT(*) FROM purchases").fetch_one(pool).await)
    .expect("count");
    assert_eq!(purchases.0, 0, "nothing was recorded");
    assert_eq!(gateway.calls(), 0);
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Held);
}

#[tokio::test]
async fn many_buyers_paying_for_the_same_seats_get_at_most_one_ticket_each_seat() {
    let gateway = Arc::new(TestGateway::default());
    let (app, event, seats) = spawn_app_with_a_show_and_gateway(gateway.clone()).await;
    // Twenty buyers race for four seats, two at a time, holding then paying.
    let attempts = (0..20).map(|i| {
        let app = &app;
        let pair = vec![seats[i % 4], seats[(i + 1) % 4]];
        async move {
            let mut buyer = Buyer::new(app);
            let (status, hold) = buyer.hold(event, &pair).await;
            if status != 201 {
                return (status, 0);
            }
            let hold_id = HoldId(hold["hold_id"].as_i64().expect("hold id"));
            let (status, _) = buyer
                .purchase(hold_id, &format!("race-key-{i:04}"), "tok_visa")
                .await;
            (status, 1)
        }
    });
    let results = futures::future::join_all(attempts).await;
    assert!(
        results.iter().all(|(s, _)| *s == 201 || *s == 409),
        "{results:?}"
    );
    let live: Vec<(i64, i64)> = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT seat_id, COUNT(*) FROM tickets WHERE status = 'valid' GROUP BY seat_id").fetch_all(pool).await)
    .expect("tickets");
    assert!(live.iter().all(|(_, count)| *count == 1), "{live:?}");
    let paid = results
        .iter()
        .filter(|(s, bought)| *s == 201 && *bought == 1)
        .count();
    assert_eq!(live.len(), paid * 2);
    assert_eq!(gateway.successful_charges(), paid);
}
