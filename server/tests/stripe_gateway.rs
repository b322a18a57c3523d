//! The Stripe adapter against a local stand-in that speaks Stripe's wire
//! format: the same trait, the same checkout, a different processor.

mod common;

use common::stripe_stand_in::{StripeStandIn, SECRET_KEY};
use common::*;
use reqwest::Method;
use server::payments::stripe::StripeGateway;
use server::payments::{ChargeRequest, PaymentError, PaymentGateway, PaymentToken};
use std::sync::Arc;

fn charge_request(token: &str, key: &str) -> ChargeRequest {
    ChargeRequest {
        amount_cents: 4200,
        currency: "usd",
        token: PaymentToken::parse(token).expect("token"),
        customer: None,
        idempotency_key: key.into(),
        description: "test".into(),
    }
}

#[tokio::test]
async fn a_saved_card_is_charged_through_its_customer_only() {
    let stripe = StripeStandIn::start().await;
    let gateway = StripeGateway::new(&stripe.base_url, SECRET_KEY).expect("client");
    let token = PaymentToken::parse("tok_mastercard").expect("token");
    let saved = gateway
        .save_card(&token, "fan@example.com")
        .await
        .expect("saved");
    assert_eq!(
        (saved.brand.as_str(), saved.last4.as_str()),
        ("mastercard", "4444")
    );
    assert!(saved.method.expose().starts_with("pm_"));
    let customer = saved.customer.clone().expect("a customer");
    assert!(customer.starts_with("cus_"));

    let mut request = charge_request("tok_visa", "saved-1");
    request.token = saved.method.clone();
    request.customer = Some(customer);
    gateway
        .charge(&request)
        .await
        .expect("charged the saved card");
    // Without its customer the saved method is refused, as Stripe does.
    request.customer = None;
    request.idempotency_key = "saved-2".into();
    assert!(gateway.charge(&request).await.is_err());
    // A declined card cannot be saved.
    let declined = PaymentToken::parse("tok_chargeDeclined").expect("token");
    assert!(matches!(
        gateway.save_card(&declined, "fan@example.com").await,
        Err(PaymentError::Declined(_))
    ));
}

#[tokio::test]
async fn charges_are_idempotent_refundable_and_findable() {
    let stripe = StripeStandIn::start().await;
    let gateway = StripeGateway::new(&stripe.base_url, SECRET_KEY).expect("client");
    let charge = gateway
        .charge(&charge_request("tok_visa", "idem-1"))
        .await
        .expect("charged");
    assert!(charge.id.starts_with("pi_"));
    assert_eq!(charge.amount_cents, 4200);
    let again = gateway
        .charge(&charge_request("tok_visa", "idem-1"))
        .await
        .expect("replayed");
    assert_eq!(again.id, charge.id);
    assert_eq!(
        stripe.intents_created(),
        1,
        "the same key never charges twice"
    );

    assert_eq!(
        gateway
            .find_charge("idem-1")
            .await
            .expect("search")
            .map(|c| c.id),
        Some(charge.id.clone())
    );
    assert_eq!(
        gateway.find_charge("idem-unknown").await.expect("search"),
        None
    );

    gateway.refund(&charge.id).await.expect("refunded");
    gateway
        .refund(&charge.id)
        .await
        .expect("refunding twice is harmless");
    assert_eq!(stripe.refunds(), 1);
    let pm = gateway
        .charge(&charge_request("pm_card_visa", "idem-2"))
        .await
        .expect("payment method");
    assert_ne!(pm.id, charge.id);
}

#[tokio::test]
async fn declines_transient_failures_and_bad_keys_are_told_apart() {
    let stripe = StripeStandIn::start().await;
    let gateway = StripeGateway::new(&stripe.base_url, SECRET_KEY).expect("client");
    assert!(matches!(
        gateway
            .charge(&charge_request("tok_chargeDeclined", "d-1"))
            .await,
        Err(PaymentError::Declined(_))
    ));
    assert!(matches!(
        gateway
            .charge(&charge_request("tok_processing_error", "p-1"))
            .await,
        Err(PaymentError::Transient(_))
    ));
    let wrong_key = StripeGateway::new(&stripe.base_url, "sk_test_wrong").expect("client");
    assert!(wrong_key
        .charge(&charge_request("tok_visa", "w-1"))
        .await
        .is_err());
    let unreachable = StripeGateway::new("http://127.0.0.1:9", SECRET_KEY).expect("client");
    assert!(matches!(
        unreachable.charge(&charge_request("tok_visa", "u-1")).await,
        Err(PaymentError::Transient(_))
    ));
    assert_eq!(stripe.intents_created(), 0);
}

#[tokio::test]
async fn a_fan_buys_and_refunds_through_the_stripe_adapter() {
    let stripe = StripeStandIn::start().await;
    let gateway = Arc::new(StripeGateway::new(&stripe.base_url, SECRET_KEY).expect("client"));
    let app = spawn_app_with_gateway(fresh_database_url().await, gateway).await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let seats: Vec<i64> = seat_map(&app, event)
        .await
        .1
        .into_iter()
        .map(|(id, _)| id)
        .collect();

    let mut fan = Buyer::new(&app);
    let (_, hold) = fan.hold(event, &seats[0..2]).await;
    let (status, body) = fan
        .purchase(&hold["hold_id"], "stripe-decline", "tok_chargeDeclined")
        .await;
    assert_eq!(status, 402, "{body}");
    let (status, purchase) = fan
        .purchase(&hold["hold_id"], "stripe-success", "tok_visa")
        .await;
    assert_eq!(status, 201, "{purchase}");
    assert_eq!(
        fan.purchase(&hold["hold_id"], "stripe-success", "tok_visa")
            .await
            .0,
        201
    );
    assert_eq!(stripe.intents_created(), 1);

    let (status, refunded) = fan
        .send(
            Method::POST,
            &format!("/api/purchases/{}/refund", purchase["purchase_id"]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(stripe.refunds(), 1);
    let (_, map) = seat_map(&app, event).await;
    assert_eq!(map[0].1, "available");
}
