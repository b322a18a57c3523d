//! Paying in the processor's card form (Stripe's Payment Element) against
//! the Stripe stand-in: the server creates and records the payment and
//! hands its client secret to the browser; the browser's side is played
//! here by calling the stand-in as Stripe.js does (publishable key, client
//! secret, the typed card number), 3-D Secure challenge included.

use crate::common;

use app::types::HoldView;
use common::{stripe_app_with, Buyer, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use server::config::Config;
use stripe_stand_in::StripeStandIn;

const THREE_D_SECURE_CARD: &str = "4000 0027 6000 3184";

fn card_form_config(stripe: &StripeStandIn, database_url: String) -> Config {
    let mut config = Config::for_database(database_url);
    config.stripe_secret_key = Some(stripe_stand_in::SECRET_KEY.into());
    config.stripe_api_base = stripe.base_url.clone();
    config.stripe_publishable_key = Some(stripe.publishable_key());
    config.stripe_js_url = format!("{}/v3/", stripe.base_url);
    config
}

/// What Stripe.js sends from the buyer's browser.
async fn browser_post(stripe: &StripeStandIn, path: &str, fields: &[(&str, &str)]) -> Value {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    let key = stripe.publishable_key();
    form.push(("key", &key));
    reqwest::Client::new()
        .post(format!("{}{path}", stripe.base_url))
        .form(&form)
        .send()
        .await
        .expect("stand-in")
        .json()
        .await
        .expect("JSON")
}

async fn pay_in_form(buyer: &mut Buyer<'_>, hold: &HoldView, key: &str) -> (u16, Value) {
    let body = json!({"email": "form@example.com", "payment": {"element": true}});
    buyer.purchase_with(hold.hold_id, key, body).await
}

async fn held<'a>(
    app: &'a TestApp,
    event: app::types::EventId,
    seats: &[i64],
) -> (Buyer<'a>, HoldView) {
    let mut buyer = Buyer::new(app);
    let hold = buyer.held(event, seats).await;
    (buyer, hold)
}

#[tokio::test]
async fn a_payment_confirmed_in_the_browser_with_3d_secure_sells_the_seats() {
    let stripe = StripeStandIn::start().await.expect("stand-in");
    let config = card_form_config(&stripe, common::fresh_database_url().await);
    let (app, event, seats) = stripe_app_with(&stripe, config).await;

    // The page learns how to load the card form, and may load it.
    let (status, payment_config) = app.get_json("/api/payments/config").await;
    assert_eq!(status, 200);
    assert_eq!(
        payment_config["card_form"]["publishable_key"],
        stripe.publishable_key()
    );
    let page = app.get("/").await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        csp.contains(&format!(
            "script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval' {}",
            stripe.base_url
        )),
        "{csp}"
    );
    assert!(csp.contains("frame-src"), "{csp}");

    let (mut buyer, hold) = held(&app, event, &seats[..2]).await;
    let (status, waiting) = pay_in_form(&mut buyer, &hold, "form-key-000001").await;
    assert_eq!(status, 202, "{waiting}");
    assert_eq!(waiting["status"], "pending");
    let secret = waiting["client_secret"]
        .as_str()
        .expect("client secret")
        .to_string();
    let intent = secret
        .split("_secret_")
        .next()
        .expect("intent id")
        .to_string();
    // The payment is recorded before the browser can confirm it.
    let (recorded,): (Option<String>,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT payment_ref FROM purchases WHERE id = $1")
            .bind(waiting["purchase_id"].as_i64().expect("id"))
            .fetch_one(pool)
            .await)
    .expect("purchase");
    assert_eq!(recorded.as_deref(), Some(intent.as_str()));

    // Stripe.js confirms with the typed card; the bank wants 3-D Secure.
    let confirmed = browser_post(
        &stripe,
        &format!("/v1/payment_intents/{intent}/confirm"),
        &[
            ("client_secret", &secret),
            ("payment_method_data[card][number]", THREE_D_SECURE_CARD),
        ],
    )
    .await;
    assert_eq!(confirmed["status"], "requires_action", "{confirmed}");
    // Asked meanwhile, the server still waits for the browser.
    let (status, still) = pay_in_form(&mut buyer, &hold, "form-key-000001").await;
    assert_eq!(status, 202, "{still}");

    let passed = browser_post(
        &stripe,
        &format!("/_stand_in/3ds/{intent}"),
        &[("client_secret", &secret), ("outcome", "pass")],
    )
    .await;
    assert_eq!(passed["status"], "succeeded", "{passed}");
    let (status, paid) = pay_in_form(&mut buyer, &hold, "form-key-000001").await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["tickets"].as_array().map(Vec::len), Some(2));
    assert!(paid.get("client_secret").is_none(), "{paid}");
    // Charged once.
    assert_eq!(stripe.intents_created(), 1);
}

#[tokio::test]
async fn a_failed_3d_secure_challenge_declines_and_keeps_the_hold() {
    let stripe = StripeStandIn::start().await.expect("stand-in");
    let config = card_form_config(&stripe, common::fresh_database_url().await);
    let (app, event, seats) = stripe_app_with(&stripe, config).await;
    let (mut buyer, hold) = held(&app, event, &seats[..1]).await;
    let (status, waiting) = pay_in_form(&mut buyer, &hold, "form-key-000002").await;
    assert_eq!(status, 202, "{waiting}");
    let secret = waiting["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let intent = secret.split("_secret_").next().expect("id").to_string();
    browser_post(
        &stripe,
        &format!("/v1/payment_intents/{intent}/confirm"),
        &[
            ("client_secret", &secret),
            ("payment_method_data[card][number]", THREE_D_SECURE_CARD),
        ],
    )
    .await;
    let failed = browser_post(
        &stripe,
        &format!("/_stand_in/3ds/{intent}"),
        &[("client_secret", &secret), ("outcome", "fail")],
    )
    .await;
    assert_eq!(failed["status"], "requires_payment_method", "{failed}");
    let (status, declined) = pay_in_form(&mut buyer, &hold, "form-key-000002").await;
    assert_eq!(status, 402, "{declined}");
    let (status, hold_now) = buyer
        .send(Method::GET, &format!("/api/holds/{}", hold.hold_id), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(hold_now["status"], "active", "{hold_now}");
    // A wrong client secret gets nothing from the processor.
    let refused = browser_post(
        &stripe,
        &format!("/v1/payment_intents/{intent}/confirm"),
        &[
            ("client_secret", "pi_other_secret_x"),
            ("payment_method_data[card][number]", "4242424242424242"),
        ],
    )
    .await;
    assert!(refused.get("error").is_some(), "{refused}");
}

#[tokio::test]
async fn without_a_publishable_key_the_card_form_is_refused_and_nothing_is_recorded() {
    let stripe = StripeStandIn::start().await.expect("stand-in");
    let mut config = card_form_config(&stripe, common::fresh_database_url().await);
    config.stripe_publishable_key = None;
    let (app, event, seats) = stripe_app_with(&stripe, config).await;
    let (status, payment_config) = app.get_json("/api/payments/config").await;
    assert_eq!((status, payment_config), (200, json!({})));
    let (mut buyer, hold) = held(&app, event, &seats[..1]).await;
    let (status, refused) = pay_in_form(&mut buyer, &hold, "form-key-000003").await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(stripe.intents_created(), 0);
    // A token and the form at once is refused too.
    let body =
        json!({"email": "form@example.com", "payment": {"element": true, "token": "tok_visa"}});
    let (status, _) = buyer
        .purchase_with(hold.hold_id, "form-key-000004", body)
        .await;
    assert_eq!(status, 422);
}
