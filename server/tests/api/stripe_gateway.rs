//! The Stripe adapter against the local stand-in (`tools/stripe-stand-in`),
//! which speaks Stripe's wire format: the same trait, the same checkout, a
//! different processor. Recovery never uses search: the stand-in's index
//! lags by an hour in these tests.

use crate::common;

use app::types::SeatStatus;
use common::*;
use reqwest::Method;
use server::config::Config;
use server::payments::stripe::StripeGateway;
use server::payments::{
    Confirmation, Intent, IntentRequest, IntentStatus, Outcome, PaymentError, PaymentGateway,
    PaymentToken,
};
use std::time::Duration;
use stripe_stand_in::{Options, StripeStandIn, SECRET_KEY};

async fn stand_in() -> StripeStandIn {
    StripeStandIn::start_with(Options {
        search_lag: Duration::from_secs(3600),
        ..Options::default()
    })
    .await
    .expect("stand-in")
}

fn intent_request(key: &str, customer: Option<String>) -> IntentRequest {
    IntentRequest {
        amount_cents: 4200,
        currency: "usd",
        customer,
        idempotency_key: key.into(),
        purchase_id: 7,
        description: "test".into(),
    }
}

fn with(token: &PaymentToken, off_session: bool) -> Confirmation {
    Confirmation {
        method: token.clone(),
        off_session,
    }
}

/// Creates a payment and confirms it with `token`.
async fn pay(
    gateway: &StripeGateway,
    key: &str,
    token: &str,
    customer: Option<String>,
) -> Result<Intent, PaymentError> {
    let off_session = customer.is_some();
    let intent = gateway
        .create_intent(&intent_request(key, customer))
        .await?;
    let token = PaymentToken::parse(token).expect("token");
    gateway
        .confirm(&intent.id, &with(&token, off_session))
        .await
}

fn succeeded(stripe: &StripeStandIn) -> usize {
    stripe
        .records()
        .iter()
        .filter(|r| r["status"] == "succeeded")
        .count()
}

#[tokio::test]
async fn a_saved_card_is_charged_through_its_customer_only() {
    let stripe = stand_in().await;
    let gateway = StripeGateway::new(&stripe.base_url, SECRET_KEY).expect("client");
    let token = PaymentToken::parse("tok_mastercard").expect("token");
    let saved = gateway
        .save_card(&token, "fan@example.com", None)
        .await
        .expect("saved");
    assert_eq!(
        (saved.brand.as_str(), saved.last4.as_str()),
        ("mastercard", "4444")
    );
    let customer = saved.customer.clone().expect("a customer");
    assert!(customer.starts_with("cus_"));
    let method = saved.method.expose().to_string();
    assert!(method.starts_with("pm_"));

    let paid = pay(&gateway, "saved-1", &method, Some(customer)).await;
    assert_eq!(paid.map(|i| i.status), Ok(IntentStatus::Succeeded));
    // Without its customer the saved method is refused, as Stripe does.
    assert!(matches!(
        pay(&gateway, "saved-2", &method, None).await,
        Err(PaymentError::Invalid(_))
    ));
    // A declined card cannot be saved.
    let declined = PaymentToken::parse("tok_chargeDeclined").expect("token");
    assert!(matches!(
        gateway.save_card(&declined, "fan@example.com", None).await,
        Err(PaymentError::Declined(_))
    ));
}

#[tokio::test]
async fn payments_are_created_once_per_key_confirmed_once_and_refunded_once() {
    let stripe = stand_in().await;
    let gateway = StripeGateway::new(&stripe.base_url, SECRET_KEY).expect("client");
    let created = gateway
        .create_intent(&intent_request("idem-1", None))
        .await
        .expect("created");
    assert_eq!(created.outcome(), Outcome::Open);
    let again = gateway
        .create_intent(&intent_request("idem-1", None))
        .await
        .expect("replayed");
    assert_eq!(again.id, created.id);
    assert_eq!(
        stripe.intents_created(),
        1,
        "the same key never creates twice"
    );
    let mut other = intent_request("idem-1", None);
    other.amount_cents = 1;
    assert!(matches!(
        gateway.create_intent(&other).await,
        Err(PaymentError::Invalid(_))
    ));

    let visa = PaymentToken::parse("tok_visa").expect("token");
    let paid = gateway
        .confirm(&created.id, &with(&visa, false))
        .await
        .expect("confirmed");
    assert_eq!(paid.outcome(), Outcome::Charged);
    assert_eq!(paid.amount_cents, 4200);
    assert_eq!(
        gateway.confirm(&created.id, &with(&visa, false)).await,
        Ok(paid.clone()),
        "a repeated confirmation gets the first answer"
    );
    assert_eq!(gateway.retrieve(&created.id).await, Ok(paid.clone()));
    assert!(gateway.cancel(&created.id).await.is_err());

    gateway.refund(&created.id).await.expect("refunded");
    gateway
        .refund(&created.id)
        .await
        .expect("refunding twice is harmless");
    assert_eq!(stripe.refunds(), 1);
    assert_eq!(stripe.records()[0]["amount_refunded"], 4200);
    assert!(gateway.retrieve("not-a-payment/../x").await.is_err());
}

#[tokio::test]
async fn declines_transient_failures_and_bad_keys_are_told_apart() {
    let stripe = stand_in().await;
    let gateway = StripeGateway::new(&stripe.base_url, SECRET_KEY).expect("client");
    assert!(matches!(
        pay(&gateway, "d-1", "tok_chargeDeclined", None).await,
        Err(PaymentError::Declined(_))
    ));
    assert!(matches!(
        pay(&gateway, "p-1", "tok_processing_error", None).await,
        Err(PaymentError::Transient(_))
    ));
    // The failed attempt is on the payment, for whoever looks it up.
    let declined = stripe.records()[0]["id"].as_str().expect("id").to_string();
    let looked_up = gateway.retrieve(&declined).await.expect("retrieved");
    assert!(matches!(
        looked_up.outcome(),
        Outcome::Failed(PaymentError::Declined(_))
    ));
    let canceled = gateway.cancel(&declined).await.expect("canceled");
    assert!(matches!(canceled.outcome(), Outcome::Failed(_)));

    let wrong_key = StripeGateway::new(&stripe.base_url, "sk_test_wrong").expect("client");
    assert!(matches!(
        pay(&wrong_key, "w-1", "tok_visa", None).await,
        Err(PaymentError::Invalid(_))
    ));
    let unreachable = StripeGateway::new("http://127.0.0.1:9", SECRET_KEY).expect("client");
    assert!(matches!(
        pay(&unreachable, "u-1", "tok_visa", None).await,
        Err(PaymentError::Transient(_))
    ));
    assert_eq!(succeeded(&stripe), 0);
}

async fn stripe_app(stripe: &StripeStandIn) -> (TestApp, app::types::EventId, Vec<i64>) {
    stripe_app_with(stripe, Config::for_database(fresh_database_url().await)).await
}

#[tokio::test]
async fn a_fan_buys_and_refunds_through_the_stripe_adapter() {
    let stripe = stand_in().await;
    let (app, event, seats) = stripe_app(&stripe).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..2]).await;
    let (status, body) = fan
        .purchase(hold.hold_id, "stripe-decline", "tok_chargeDeclined")
        .await;
    assert_eq!(status, 402, "{body}");
    let (status, purchase) = fan
        .purchase(hold.hold_id, "stripe-success", "tok_visa")
        .await;
    assert_eq!(status, 201, "{purchase}");
    assert_eq!(
        fan.purchase(hold.hold_id, "stripe-success", "tok_visa")
            .await
            .0,
        201
    );
    assert_eq!(succeeded(&stripe), 1);
    // The client's key never reaches the processor.
    let records = serde_json::to_string(&stripe.records()).expect("JSON");
    assert!(!records.contains("stripe-success"), "{records}");

    let (status, refunded) = fan
        .send(
            Method::POST,
            &format!("/api/purchases/{}/refund", purchase["purchase_id"]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(stripe.refunds(), 1);
    let map = seat_map(&app, event).await.seats;
    assert_eq!(map[0].status, SeatStatus::Available);
}

#[tokio::test]
async fn a_lost_reply_is_recovered_by_the_payment_id_without_the_search_index() {
    let stripe = stand_in().await;
    let (app, event, seats) = stripe_app(&stripe).await;
    // The confirmation is carried out, but its reply is lost.
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..2]).await;
    stripe.lose_next_replies_to("/confirm", 1);
    let (status, _) = fan.purchase(hold.hold_id, "lost-reply-1", "tok_visa").await;
    assert_eq!(status, 503);
    // Here the creation's reply is lost: the payment exists, its id was
    // never recorded, and it was never confirmed.
    let mut other = Buyer::new(&app);
    let other_hold = other.held(event, &seats[2..3]).await;
    stripe.lose_next_replies_to("/v1/payment_intents", 1);
    let (status, _) = other
        .purchase(other_hold.hold_id, "lost-create-1", "tok_visa")
        .await;
    assert_eq!(status, 503);
    assert_eq!(stripe.intents_created(), 2);

    app.state.inventory.clock().advance(2 * 60_000);
    app.state.checkout.reconcile().await.expect("reconcile");
    let (status, purchase) = fan.purchase(hold.hold_id, "lost-reply-1", "tok_visa").await;
    assert_eq!(
        status, 201,
        "the payment succeeded, so the seats are sold: {purchase}"
    );
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Sold);
    // The replayed creation found the same payment (no second one) and,
    // as it was never confirmed, canceled it.
    let (status, _) = other
        .purchase(other_hold.hold_id, "lost-create-1", "tok_visa")
        .await;
    assert_eq!(status, 503);
    let records = stripe.records();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1]["status"], "canceled");
    assert_eq!(succeeded(&stripe), 1);
}

#[tokio::test]
async fn a_refund_whose_reply_is_lost_is_finished_by_the_reconciler() {
    let stripe = stand_in().await;
    let (app, event, seats) = stripe_app(&stripe).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..1]).await;
    let (_, purchase) = fan
        .purchase(hold.hold_id, "refund-lost-1", "tok_visa")
        .await;
    let code = purchase["tickets"][0]["code"]
        .as_str()
        .expect("code")
        .to_string();
    let path = format!("/api/purchases/{}/refund", purchase["purchase_id"]);

    stripe.lose_next_replies_to("/v1/refunds", 1);
    let (status, body) = fan.send(Method::POST, &path, None).await;
    assert_eq!(status, 503, "{body}");
    let (_, now) = fan
        .send(
            Method::GET,
            &format!("/api/purchases/{}", purchase["purchase_id"]),
            None,
        )
        .await;
    assert_eq!(now["status"], "refunding");
    // The decision stands: the ticket no longer admits anyone.
    let scanned = app
        .state
        .staff
        .scan(&code, Some(event))
        .await
        .expect("scan");
    assert_ne!(scanned.result, app::staff::ScanOutcome::Valid);
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Sold);

    app.state.inventory.clock().advance(2 * 60_000);
    assert_eq!(app.state.checkout.reconcile().await.expect("reconcile"), 1);
    let (_, now) = fan
        .send(
            Method::GET,
            &format!("/api/purchases/{}", purchase["purchase_id"]),
            None,
        )
        .await;
    assert_eq!(now["status"], "refunded");
    assert_eq!(
        seat_status(&app, event, seats[0]).await,
        SeatStatus::Available
    );
    assert_eq!(
        stripe.refunds(),
        1,
        "the replayed refund is the same refund"
    );
}

async fn saved_method(app: &TestApp) -> Option<String> {
    let (method,): (Option<String>,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT payment_token FROM users WHERE email = 'cards@example.com'")
            .fetch_one(pool).await)
    .expect("user");
    method
}

#[tokio::test]
async fn an_account_keeps_one_customer_and_a_removed_card_is_detached() {
    let stripe = stand_in().await;
    let (app, event, seats) = stripe_app(&stripe).await;
    let mut fan = signed_in_member(&app, "cards@example.com", app::types::Role::Fan).await;
    let save = |token: &'static str| serde_json::json!({ "token": token });

    let (status, card) = fan
        .send(
            Method::PUT,
            "/api/me/payment-method",
            Some(save("tok_visa")),
        )
        .await;
    assert_eq!(status, 200, "{card}");
    let first = saved_method(&app).await.expect("a saved card");
    // A new card: the same customer, the old card detached from it.
    let (status, card) = fan
        .send(
            Method::PUT,
            "/api/me/payment-method",
            Some(save("tok_mastercard")),
        )
        .await;
    assert_eq!(
        (status, card["last4"].as_str()),
        (200, Some("4444")),
        "{card}"
    );
    let second = saved_method(&app).await.expect("a saved card");
    let customers = stripe.customers();
    assert_eq!(customers.len(), 1, "{customers:?}");
    let (customer, attached) = customers.iter().next().expect("one customer");
    assert_eq!(attached, &vec![second.clone()]);
    // The detached card cannot be charged any more, even with its customer.
    let gateway = StripeGateway::new(&stripe.base_url, SECRET_KEY).expect("client");
    assert!(matches!(
        pay(&gateway, "old-card-1", &first, Some(customer.clone())).await,
        Err(PaymentError::Invalid(_))
    ));
    // One click still pays with the current card.
    let hold = fan.held(event, &seats[0..1]).await;
    let body = serde_json::json!({"email": "cards@example.com", "payment": {"saved": true}});
    let (status, paid) = fan
        .purchase_with(hold.hold_id, "saved-card-0001", body)
        .await;
    assert_eq!(status, 201, "{paid}");

    // Removed: detached at the processor, forgotten here, customer kept.
    let (status, _) = fan
        .send(Method::DELETE, "/api/me/payment-method", None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(saved_method(&app).await, None);
    assert_eq!(stripe.customers()[customer], Vec::<String>::new());
    // Saving again reuses the customer.
    let (status, _) = fan
        .send(
            Method::PUT,
            "/api/me/payment-method",
            Some(save("tok_amex")),
        )
        .await;
    assert_eq!(status, 200);
    let customers = stripe.customers();
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert_eq!(customers[customer].len(), 1);
}
