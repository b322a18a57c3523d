//! Stripe's webhooks against the local stand-in, which signs and sends
//! them as Stripe does (late, retried until accepted): only genuine, fresh
//! deliveries are acted on, each event once, and a webhook settles a
//! purchase whether it comes before or after the buyer's own answer.

use crate::common;

use app::types::{HoldView, SeatStatus};
use common::*;
use reqwest::Method;
use server::config::Config;
use server::payments::stripe::StripeGateway;
use std::sync::Arc;
use std::time::Duration;
use stripe_stand_in::webhooks::{signature_header, unix_now};
use stripe_stand_in::{Endpoint, StripeStandIn, SECRET_KEY};

const WEBHOOK_SECRET: &str = "whsec_standin_test";

async fn stripe_app(stripe: &StripeStandIn) -> (TestApp, app::types::EventId, Vec<i64>) {
    let mut config = Config::for_database(fresh_database_url().await);
    config.stripe_webhook_secret = Some(WEBHOOK_SECRET.into());
    stripe_app_with(stripe, config).await
}

/// Sends the stand-in's events to the app, `delay` after each change.
fn send_webhooks(stripe: &StripeStandIn, app: &TestApp, delay: Duration) {
    stripe.send_webhooks_to(Endpoint {
        url: app.url("/api/webhooks/stripe"),
        secret: WEBHOOK_SECRET.into(),
        delay,
    });
}

/// POSTs `body` to the webhook endpoint with `signature`.
async fn deliver(app: &TestApp, body: &str, signature: Option<String>) -> (u16, serde_json::Value) {
    let mut request = app
        .client
        .post(app.url("/api/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// A fan pays for `seats`: the confirmation goes through at the processor
/// but its reply is lost, so the purchase is left pending (`503`). The fan
/// and the hold.
async fn pay_losing_the_reply<'a>(
    app: &'a TestApp,
    stripe: &StripeStandIn,
    event: app::types::EventId,
    seats: &[i64],
    key: &str,
) -> (Buyer<'a>, HoldView) {
    let mut fan = Buyer::new(app);
    let hold = fan.held(event, seats).await;
    stripe.lose_next_replies_to("/confirm", 1);
    let (status, _) = fan.purchase(hold.hold_id, key, "tok_visa").await;
    assert_eq!(status, 503);
    (fan, hold)
}

fn signed_now(body: &str) -> Option<String> {
    Some(signature_header(WEBHOOK_SECRET, unix_now(), body))
}

async fn purchase_status(app: &TestApp, purchase_id: i64) -> (String, Option<String>) {
    server::on_pool!(app.store(), pool => sqlx::query_as(
        "SELECT status, failure FROM purchases WHERE id = $1").bind(purchase_id).fetch_one(pool).await)
    .expect("purchase")
}

async fn only_purchase_id(app: &TestApp) -> i64 {
    let (id,): (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT id FROM purchases").fetch_one(pool).await)
    .expect("one purchase");
    id
}

#[tokio::test]
async fn only_genuine_fresh_deliveries_are_acted_on_and_each_event_once() {
    let stripe = StripeStandIn::start().await.expect("stand-in");
    let (app, event, seats) = stripe_app(&stripe).await;
    // The confirmation goes through at the processor, but its reply is
    // lost: the purchase stays pending, the processor has its event.
    let (mut fan, hold) =
        pay_losing_the_reply(&app, &stripe, event, &seats[0..1], "hook-lost-1").await;
    let purchase = only_purchase_id(&app).await;
    let events = stripe.events();
    let succeeded = events
        .iter()
        .find(|e| e["type"] == "payment_intent.succeeded")
        .expect("a succeeded event");
    let body = succeeded.to_string();

    // Forged, tampered, stale, future, unsigned or malformed: refused, and
    // nothing changes.
    let now = unix_now();
    let refused = [
        signature_header("whsec_someone_else", now, &body),
        signature_header(
            WEBHOOK_SECRET,
            now,
            &body.replace("succeeded", "succeeded "),
        ),
        // An hour off. The tolerance's exact edge is webhook.rs's unit
        // test, on a fixed clock: here the seconds that pass before a
        // delivery arrives on a busy box would move it (a delivery signed
        // 301 s ahead, arriving over a second later, was rightly accepted).
        signature_header(WEBHOOK_SECRET, now - 3_600, &body),
        signature_header(WEBHOOK_SECRET, now + 3_600, &body),
        format!("t={now}"),
        "garbage".to_string(),
    ];
    for signature in refused {
        let (status, reply) = deliver(&app, &body, Some(signature.clone())).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{signature}: {reply}"
        );
    }
    assert_eq!(deliver(&app, &body, None).await.0, 400);
    assert_eq!(purchase_status(&app, purchase).await.0, "pending");

    // Genuine: the purchase is sold at once, without waiting for the
    // reconciler or the buyer.
    let signature = signed_now(&body);
    let (status, reply) = deliver(&app, &body, signature.clone()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        serde_json::json!({"received": true, "duplicate": false})
    );
    assert_eq!(purchase_status(&app, purchase).await, ("paid".into(), None));
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Sold);
    // The same delivery replayed inside the tolerance: acknowledged, not redone.
    let (status, reply) = deliver(&app, &body, signature).await;
    assert_eq!((status, reply["duplicate"].as_bool()), (200, Some(true)));
    // The buyer's retry finds it paid, with its tickets.
    let (status, paid) = fan.purchase(hold.hold_id, "hook-lost-1", "tok_visa").await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["tickets"].as_array().map(Vec::len), Some(1));
    assert_eq!(stripe.refunds(), 0);
}

#[tokio::test]
async fn without_a_secret_webhooks_are_refused() {
    let stripe = StripeStandIn::start().await.expect("stand-in");
    let gateway = Arc::new(StripeGateway::new(&stripe.base_url, SECRET_KEY).expect("client"));
    let app = spawn_app_with_gateway(fresh_database_url().await, gateway).await;
    let body =
        r#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}"#;
    let (status, reply) = deliver(&app, body, signed_now(body)).await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{reply}"
    );
}

#[tokio::test]
async fn webhooks_sent_by_the_processor_settle_a_purchase_whose_answer_was_lost() {
    let stripe = StripeStandIn::start().await.expect("stand-in");
    let (app, event, seats) = stripe_app(&stripe).await;
    send_webhooks(&stripe, &app, Duration::from_millis(20));
    pay_losing_the_reply(&app, &stripe, event, &seats[0..2], "hook-auto-1").await;
    // The processor's own delivery, unprompted: accepted the first time.
    let deliveries = stripe.deliveries().await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].1, vec![200]);
    let purchase = only_purchase_id(&app).await;
    assert_eq!(purchase_status(&app, purchase).await.0, "paid");
    assert_eq!(seat_status(&app, event, seats[1]).await, SeatStatus::Sold);
}

#[tokio::test]
async fn a_webhook_after_the_buyers_answer_changes_nothing() {
    let stripe = StripeStandIn::start().await.expect("stand-in");
    let (app, event, seats) = stripe_app(&stripe).await;
    // Late enough that the buyer's own answer settles the purchase first.
    send_webhooks(&stripe, &app, Duration::from_millis(300));
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..1]).await;
    let (status, paid) = fan.purchase(hold.hold_id, "hook-after-1", "tok_visa").await;
    assert_eq!(status, 201, "{paid}");
    // A decline for someone else, its event too.
    let mut other = Buyer::new(&app);
    let other_hold = other.held(event, &seats[1..2]).await;
    let (status, _) = other
        .purchase(other_hold.hold_id, "hook-after-2", "tok_chargeDeclined")
        .await;
    assert_eq!(status, 402);
    let deliveries = stripe.deliveries().await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(deliveries
        .iter()
        .all(|(_, statuses)| statuses == &vec![200]));
    let (tickets,): (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT COUNT(*) FROM tickets").fetch_one(pool).await)
    .expect("tickets");
    assert_eq!(tickets, 1);
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Sold);
    assert_eq!(seat_status(&app, event, seats[1]).await, SeatStatus::Held);
    assert_eq!(stripe.refunds(), 0);
}

#[tokio::test]
async fn a_webhook_for_a_payment_whose_seats_were_lost_refunds_it() {
    let stripe = StripeStandIn::start().await.expect("stand-in");
    let (app, event, seats) = stripe_app(&stripe).await;
    pay_losing_the_reply(&app, &stripe, event, &seats[0..1], "hook-late-1").await;
    // The webhook is days late: the hold (and its payment grace) ran out
    // and someone else holds the seat.
    app.state.inventory.clock().advance(10 * 60 * 1000);
    Buyer::new(&app).held(event, &seats[0..1]).await;
    let succeeded = stripe
        .events()
        .into_iter()
        .find(|e| e["type"] == "payment_intent.succeeded")
        .expect("a succeeded event")
        .to_string();
    let (status, reply) = deliver(&app, &succeeded, signed_now(&succeeded)).await;
    assert_eq!(status, 200, "{reply}");
    let purchase = only_purchase_id(&app).await;
    assert_eq!(
        purchase_status(&app, purchase).await,
        ("refunded".into(), Some("hold_lost".into()))
    );
    assert_eq!(stripe.refunds(), 1);
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Held);
}

#[tokio::test]
async fn a_refund_made_at_the_processor_refunds_the_purchase() {
    let stripe = StripeStandIn::start().await.expect("stand-in");
    let (app, event, seats) = stripe_app(&stripe).await;
    send_webhooks(&stripe, &app, Duration::from_millis(20));
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..2]).await;
    let (status, paid) = fan
        .purchase(hold.hold_id, "hook-refund-1", "tok_visa")
        .await;
    assert_eq!(status, 201, "{paid}");
    stripe.deliveries().await;
    let intent = stripe.records()[0]["id"]
        .as_str()
        .expect("intent")
        .to_string();

    // Refunded from the processor's dashboard, as an operator would.
    let refunded = app
        .client
        .post(format!("{}/v1/refunds", stripe.base_url))
        .bearer_auth(SECRET_KEY)
        .form(&[("payment_intent", intent.as_str())])
        .send()
        .await
        .expect("refund");
    assert_eq!(refunded.status(), 200);
    let deliveries = stripe.deliveries().await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].1, vec![200]);

    let (_, now) = fan
        .send(
            Method::GET,
            &format!("/api/purchases/{}", paid["purchase_id"]),
            None,
        )
        .await;
    assert_eq!(now["status"], "refunded", "{now}");
    assert_eq!(
        seat_status(&app, event, seats[0]).await,
        SeatStatus::Available
    );
    assert_eq!(
        seat_status(&app, event, seats[1]).await,
        SeatStatus::Available
    );
    // One refund at the processor: ours found it already done.
    assert_eq!(stripe.refunds(), 1);
}
