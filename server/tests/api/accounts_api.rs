//! Optional accounts over real HTTP: registration, sign-in and out, saved
//! cards, email confirmation attaching guest purchases, "my tickets" with
//! signed codes, and who may see and refund what.

use crate::common;

use app::types::{EventId, HoldView, SeatStatus};
use base64::Engine;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn register_sign_out_and_in_again() {
    let app = spawn_app().await;
    let mut ada = register(&app, "Ada@Example.com", "Ada").await;
    let (status, me) = ada.send(Method::GET, "/api/me", None).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["display_name"], "Ada");
    assert_eq!(me["role"], "fan");
    assert_eq!(me["email_confirmed"], false);
    assert_eq!(me["payment_method"], Value::Null);

    // Sign-out ends the session on the server: the old cookie is dead too.
    let signed_in_cookie = ada.cookie.clone();
    assert_eq!(
        ada.send(Method::POST, "/api/auth/logout", None).await.0,
        204
    );
    assert_ne!(ada.cookie, signed_in_cookie, "a fresh anonymous session");
    assert_eq!(ada.send(Method::GET, "/api/me", None).await.0, 401);
    let mut replay = Buyer::new(&app);
    replay.cookie = signed_in_cookie;
    let (status, body) = replay.send(Method::GET, "/api/me", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );

    // Sign-in replaces the session id (no fixation).
    let before = ada.cookie.clone();
    let (status, me) = ada
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": "ADA@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(
        (status, me["email"].as_str()),
        (200, Some("ada@example.com"))
    );
    assert_ne!(ada.cookie, before);
    assert_eq!(ada.send(Method::GET, "/api/me", None).await.0, 200);

    // The password is stored only as an Argon2id hash.
    let (hash,): (String,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT password_hash FROM users WHERE email = 'ada@example.com'").fetch_one(pool).await)
    .expect("user");
    assert!(hash.starts_with("$argon2id$") && !hash.contains("correct horse"));
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_look_alike_and_are_throttled() {
    let app = spawn_app().await;
    register(&app, "ada@example.com", "Ada").await;
    let login = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            Buyer::new(app)
                .send(
                    Method::POST,
                    "/api/auth/login",
                    Some(json!({"email": email, "password": password})),
                )
                .await
        }
    };
    let wrong_password = login("ada@example.com", "not the password").await;
    let unknown_email = login("nobody@example.com", "not the password").await;
    assert_eq!(wrong_password.0, 401);
    assert_eq!(
        wrong_password, unknown_email,
        "same status, code and message"
    );
    assert_eq!(wrong_password.1["error"]["code"], "invalid_credentials");

    // Ten failures lock the account for a while: even the right password is refused.
    for _ in 0..9 {
        assert_eq!(login("ada@example.com", "guess").await.0, 401);
    }
    let (status, body) = login("ada@example.com", "correct horse battery").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
}

#[tokio::test]
async fn bad_registrations_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let mut ada = register(&app, "ada@example.com", "Ada").await;
    // Confirmed: registering the address again is refused (an unconfirmed
    // one would get a claim link instead).
    let token = mailed_token(&app, "ada@example.com").await;
    assert_eq!(confirm(&mut ada, json!({"token": token})).await.0, 204);
    let cases = [
        (
            json!({"email": "ada@example.com", "password": "another password", "display_name": "Eve"}),
            409,
            "email_taken",
        ),
        (
            json!({"email": "not-an-email", "password": "long enough", "display_name": "Eve"}),
            422,
            "validation",
        ),
        (
            json!({"email": "eve@example.com", "password": "short", "display_name": "Eve"}),
            422,
            "validation",
        ),
        (
            json!({"email": "eve@example.com", "password": "long enough", "display_name": "  "}),
            422,
            "validation",
        ),
        (
            json!({"email": "eve@example.com", "password": "long enough"}),
            422,
            "validation",
        ),
        (
            json!({"email": "eve@example.com", "password": "long enough", "display_name": "Eve", "role": "admin"}),
            422,
            "validation",
        ),
        (
            json!({"email": "eve@example.com", "password": "long enough", "display_name": "4242 4242 4242 4242"}),
            422,
            "card_data_refused",
        ),
    ];
    for (body, status, code) in cases {
        let (got, reply) = Buyer::new(&app)
            .send(Method::POST, "/api/auth/register", Some(body.clone()))
            .await;
        assert_eq!(
            (got, reply["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let (users,): (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(pool).await)
    .expect("count");
    assert_eq!(users, 1);
    // The first account's password still works: the 409 changed nothing.
    let (status, _) = Buyer::new(&app)
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": "ada@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_saved_card_pays_in_one_click_and_stores_only_brand_last4_and_a_reference() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let mut ada = register(&app, "ada@example.com", "Ada").await;
    let (status, card) = ada
        .send(
            Method::PUT,
            "/api/me/payment-method",
            Some(json!({"token": "tok_mastercard"})),
        )
        .await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card, json!({"brand": "mastercard", "last4": "4444"}));
    let (_, me) = ada.send(Method::GET, "/api/me", None).await;
    assert_eq!(me["payment_method"], card);

    let (status, purchase) = ada
        .buy_with(
            event,
            &seats[0..1],
            "one-click-0001",
            json!({"email": "ada@example.com", "payment": {"saved": true}}),
        )
        .await;
    assert_eq!(
        (status, purchase["status"].as_str()),
        (201, Some("paid")),
        "{purchase}"
    );
    assert_eq!(seat_status(&app, event, seats[0]).await, SeatStatus::Sold);

    // What the database holds for the card: a processor reference, brand, last4.
    let (token, brand, last4): (String, String, String) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT payment_token, payment_brand, payment_last4 FROM users WHERE email = 'ada@example.com'")
            .fetch_one(pool).await)
    .expect("user");
    assert!(token.starts_with("pm_"), "{token}");
    assert_eq!((brand.as_str(), last4.as_str()), ("mastercard", "4444"));

    // Anything card-like is refused, and a declined card is not saved.
    let (status, body) = ada
        .send(
            Method::PUT,
            "/api/me/payment-method",
            Some(json!({"token": "5555 5555 5555 4444"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("card_data_refused"))
    );
    let (status, _) = ada
        .send(
            Method::PUT,
            "/api/me/payment-method",
            Some(json!({"token": "tok_chargeDeclined"})),
        )
        .await;
    assert_eq!(status, 402);
    let (_, me) = ada.send(Method::GET, "/api/me", None).await;
    assert_eq!(me["payment_method"], card, "the saved card is unchanged");

    // Removed, it can no longer pay.
    assert_eq!(
        ada.send(Method::DELETE, "/api/me/payment-method", None)
            .await
            .0,
        204
    );
    let (status, body) = ada
        .buy_with(
            event,
            &seats[1..2],
            "one-click-0002",
            json!({"email": "ada@example.com", "payment": {"saved": true}}),
        )
        .await;
    // The request is well formed; what it names does not exist.
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
}

#[tokio::test]
async fn paying_with_a_new_card_can_save_it_but_only_when_signed_in() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let mut guest = Buyer::new(&app);
    let (status, body) = guest.buy_with(event,
        &seats[0..1],
        "save-guest-0001",
        json!({"email": "g@example.com", "payment": {"token": "tok_visa"}, "save_payment_method": true}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, _) = guest
        .send(
            Method::PUT,
            "/api/me/payment-method",
            Some(json!({"token": "tok_visa"})),
        )
        .await;
    assert_eq!(status, 401);

    let mut ada = register(&app, "ada@example.com", "Ada").await;
    let (status, purchase) = ada.buy_with(event,
        &seats[1..2],
        "save-ada-0001",
        json!({"email": "ada@example.com", "payment": {"token": "tok_visa"}, "save_payment_method": true}),
    )
    .await;
    assert_eq!(status, 201, "{purchase}");
    let (_, me) = ada.send(Method::GET, "/api/me", None).await;
    assert_eq!(
        me["payment_method"],
        json!({"brand": "visa", "last4": "4242"})
    );
}

#[tokio::test]
async fn holds_made_before_signing_in_move_to_the_signed_in_session() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    register(&app, "ada@example.com", "Ada").await;
    let mut ada = Buyer::new(&app);
    let hold = ada.held(event, &seats[0..2]).await;
    let anonymous_cookie = ada.cookie.clone();
    let (status, _) = ada
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": "ada@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("/api/holds/{}", hold.hold_id);
    assert_eq!(ada.send(Method::GET, &path, None).await.0, 200);
    // The pre-sign-in id no longer reaches it.
    let mut old = Buyer::new(&app);
    old.cookie = anonymous_cookie;
    assert_eq!(old.send(Method::GET, &path, None).await.0, 404);
    // And the purchase made signed in belongs to the account.
    let (status, _) = ada
        .purchase_with(
            hold.hold_id,
            "moved-hold-0001",
            json!({"email": "ada@example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, tickets) = ada.send(Method::GET, "/api/me/tickets", None).await;
    assert_eq!(
        tickets["upcoming"].as_array().map(Vec::len),
        Some(2),
        "{tickets}"
    );
}

#[tokio::test]
async fn guest_purchases_join_the_account_once_its_email_is_confirmed() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let mut guest = Buyer::new(&app);
    let (status, purchase) = guest
        .buy_with(
            event,
            &seats[0..1],
            "guest-first-0001",
            json!({"email": "ada@example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    assert_eq!(status, 201, "{purchase}");

    // Registering the address (from another browser) reveals nothing yet.
    let mut ada = register(&app, "ada@example.com", "Ada").await;
    let (_, tickets) = ada.send(Method::GET, "/api/me/tickets", None).await;
    assert_eq!(tickets["upcoming"], json!([]));
    let path = format!("/api/purchases/{}", purchase["purchase_id"]);
    assert_eq!(ada.send(Method::GET, &path, None).await.0, 404);

    let bad = ada
        .send(
            Method::POST,
            "/api/auth/confirm",
            Some(json!({"token": "0".repeat(32)})),
        )
        .await;
    assert_eq!(bad.0, 404);
    let mail = app
        .mailed("ada@example.com", "token=")
        .await
        .expect("a confirmation email");
    let token = mail
        .body
        .split("token=")
        .nth(1)
        .and_then(|rest| rest.get(..32))
        .expect("token in the link");
    assert_eq!(
        ada.send(
            Method::POST,
            "/api/auth/confirm",
            Some(json!({"token": token}))
        )
        .await
        .0,
        204
    );
    // The link works once.
    assert_eq!(
        ada.send(
            Method::POST,
            "/api/auth/confirm",
            Some(json!({"token": token}))
        )
        .await
        .0,
        404
    );
    let (_, me) = ada.send(Method::GET, "/api/me", None).await;
    assert_eq!(me["email_confirmed"], true);
    let (_, tickets) = ada.send(Method::GET, "/api/me/tickets", None).await;
    let upcoming = tickets["upcoming"].as_array().expect("upcoming");
    assert_eq!(upcoming.len(), 1, "{tickets}");
    assert_eq!(upcoming[0]["purchase_id"], purchase["purchase_id"]);
    assert_eq!(upcoming[0]["refundable"], true);
    assert_eq!(ada.send(Method::GET, &path, None).await.0, 200);
}

#[tokio::test]
async fn only_the_owner_sees_refunds_and_scans_a_purchase() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let mut owner = register(&app, "owner@example.com", "Ada").await;
    let (status, purchase) = owner
        .buy_with(
            event,
            &seats[0..2],
            "owned-0001-aaaa",
            json!({"email": "owner@example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    assert_eq!(status, 201, "{purchase}");
    let view = format!("/api/purchases/{}", purchase["purchase_id"]);
    let refund = format!("{view}/refund");
    let ticket_id = &purchase["tickets"][0]["id"];
    let qr = format!("/api/tickets/{ticket_id}/qr.svg");

    // Anonymous, a guest with a purchase of their own, another account.
    let mut anonymous = Buyer::new(&app);
    let mut guest = Buyer::new(&app);
    let (status, _) = guest
        .buy_with(
            event,
            &seats[2..3],
            "guest-0001-bbbb",
            json!({"email": "guest@example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    assert_eq!(status, 201);
    let mut other = register(&app, "other@example.com", "Ada").await;
    for (who, buyer) in [
        ("anonymous", &mut anonymous),
        ("guest", &mut guest),
        ("other", &mut other),
    ] {
        assert_eq!(
            buyer.send(Method::GET, &view, None).await.0,
            404,
            "{who} view"
        );
        assert_eq!(
            buyer.send(Method::POST, &refund, None).await.0,
            404,
            "{who} refund"
        );
        assert_eq!(buyer.send(Method::GET, &qr, None).await.0, 404, "{who} qr");
        let (_, tickets) = buyer.send(Method::GET, "/api/me/tickets", None).await;
        assert!(
            tickets["upcoming"].as_array().is_none_or(|t| t
                .iter()
                .all(|t| t["purchase_id"] != purchase["purchase_id"])),
            "{who} tickets"
        );
    }
    assert_eq!(
        anonymous.send(Method::GET, "/api/me/tickets", None).await.0,
        401
    );
    assert_eq!(guest.send(Method::GET, "/api/me", None).await.0, 401);
    assert_eq!(
        seat_status(&app, event, seats[0]).await,
        SeatStatus::Sold,
        "nobody else refunded it"
    );

    // The owner, signed in from a new browser, sees it, its QR, and refunds it.
    let mut elsewhere = Buyer::new(&app);
    let (status, _) = elsewhere
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": "owner@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(elsewhere.send(Method::GET, &view, None).await.0, 200);
    let response = app
        .client
        .get(app.url(&qr))
        .header("cookie", elsewhere.cookie.clone().expect("cookie"))
        .send()
        .await
        .expect("qr");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(response.text().await.expect("svg").contains("<svg"));
    let (status, refunded) = elsewhere.send(Method::POST, &refund, None).await;
    assert_eq!(
        (status, refunded["status"].as_str()),
        (200, Some("refunded"))
    );
    assert_eq!(
        seat_status(&app, event, seats[0]).await,
        SeatStatus::Available
    );
    let (_, tickets) = owner.send(Method::GET, "/api/me/tickets", None).await;
    let mine = tickets["upcoming"].as_array().expect("upcoming");
    assert!(
        mine.iter()
            .all(|t| t["status"] == "refunded" && t["refundable"] == false),
        "{tickets}"
    );
}

#[tokio::test]
async fn ticket_codes_verify_offline_with_the_published_key() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let mut fan = Buyer::new(&app);
    let (_, purchase) = fan
        .buy_with(
            event,
            &seats[0..2],
            "codes-0001-aaaa",
            json!({"email": "fan@example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    let (status, key) = app.get_json("/api/tickets/public-key").await;
    assert_eq!((status, key["algorithm"].as_str()), (200, Some("Ed25519")));
    let key_bytes: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key["public_key"].as_str().expect("key"))
        .expect("base64url")
        .try_into()
        .expect("32 bytes");
    let public_key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes).expect("key");
    for ticket in purchase["tickets"].as_array().expect("tickets") {
        let claim =
            server::ticket_codes::verify(&public_key, ticket["code"].as_str().expect("code"))
                .expect("a valid signature");
        assert_eq!(EventId(claim.event_id), event);
        assert_eq!(Some(claim.seat_id), ticket["seat_id"].as_i64());
        assert_eq!(Some(claim.purchase_id), purchase["purchase_id"].as_i64());
    }
    // Another server's key (another deployment) does not accept them.
    let stranger = server::ticket_codes::TicketSigner::generate();
    let code = purchase["tickets"][0]["code"].as_str().expect("code");
    assert!(server::ticket_codes::verify(&stranger.verifying_key(), code).is_none());
}

#[tokio::test]
async fn requests_from_other_sites_are_refused_without_effect() {
    let app = spawn_app().await;
    let forged = app
        .client
        .post(app.url("/api/auth/register"))
        .header("origin", "https://evil.example")
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery", "display_name": "Ada"}))
        .send()
        .await
        .expect("request");
    assert_eq!(forged.status(), 403);
    let body: Value = forged.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "forbidden");
    let (users,): (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(pool).await)
    .expect("count");
    assert_eq!(users, 0);
    // The same request from our own page goes through.
    let host = app.base_url.trim_start_matches("http://").to_string();
    let ours = app
        .client
        .post(app.url("/api/auth/register"))
        .header("origin", format!("http://{host}"))
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery", "display_name": "Ada"}))
        .send()
        .await
        .expect("request");
    assert_eq!(ours.status(), 201);
}

/// The token of the latest link mailed to `to`.
async fn mailed_token(app: &TestApp, to: &str) -> String {
    let mail = app
        .mailed(to, "token=")
        .await
        .expect("an email with a link");
    mail.body
        .split("token=")
        .nth(1)
        .and_then(|rest| rest.get(..32))
        .expect("token in the link")
        .to_string()
}

async fn confirm(browser: &mut Buyer<'_>, body: Value) -> (u16, Value) {
    browser
        .send(Method::POST, "/api/auth/confirm", Some(body))
        .await
}

async fn login_as(app: &TestApp, email: &str, password: &str) -> u16 {
    Buyer::new(app)
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": email, "password": password})),
        )
        .await
        .0
}

#[tokio::test]
async fn concurrent_wrong_passwords_at_one_account_are_checked_at_most_the_limit() {
    let app = spawn_app().await;
    register(&app, "ada@example.com", "Ada").await;
    let guesses = (0..200).map(|i| {
        let app = &app;
        async move {
            Buyer::new(app)
                .send(
                    Method::POST,
                    "/api/auth/login",
                    Some(json!({"email": "ada@example.com", "password": format!("guess number {i}")})),
                )
                .await
        }
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|(status, _)| *status == 401).count();
    let throttled = answers
        .iter()
        .filter(|(status, body)| *status == 429 && body["error"]["code"] == "rate_limited")
        .count();
    assert_eq!((checked, throttled), (10, 190), "{answers:?}");
}

#[tokio::test]
async fn registrations_from_one_address_are_throttled_before_any_hashing() {
    let app = spawn_app().await;
    for i in 0..20 {
        register(
            &app,
            &format!("fan{}@example.com", char::from(b'a' + i)),
            "Ada",
        )
        .await;
    }
    let response = app
        .client
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "one-more@example.com", "password": "long enough", "display_name": "Eve"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 429);
    let wait: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=3600).contains(&wait), "{wait}");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "rate_limited");
    let (users,): (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(pool).await)
    .expect("count");
    assert_eq!(users, 20);
}

#[tokio::test]
async fn registering_a_guests_email_first_never_takes_over_their_tickets() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let mut guest = Buyer::new(&app);
    let (status, purchase) = guest
        .buy_with(
            event,
            &seats[0..1],
            "victim-guest-0001",
            json!({"email": "victim@example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    assert_eq!(status, 201, "{purchase}");

    // Someone else registers the address first and stays signed in.
    let mut mallory = register(&app, "victim@example.com", "Ada").await;
    let token = mailed_token(&app, "victim@example.com").await;

    // The owner opens the link in their own browser: proving the mailbox is
    // not enough while someone else's password is on the account…
    let mut owner = Buyer::new(&app);
    let (status, body) = confirm(&mut owner, json!({"token": token})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("new_password_required")),
        "{body}"
    );
    let (_, me) = mallory.send(Method::GET, "/api/me", None).await;
    assert_eq!(me["email_confirmed"], false, "the refusal changed nothing");

    // …they choose a password, and only then is the address confirmed.
    let (status, body) = confirm(
        &mut owner,
        json!({"token": token, "new_password": "the owner's own password"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, me) = owner.send(Method::GET, "/api/me", None).await;
    assert_eq!((status, me["email_confirmed"].as_bool()), (200, Some(true)));
    let (_, tickets) = owner.send(Method::GET, "/api/me/tickets", None).await;
    assert_eq!(
        tickets["upcoming"][0]["purchase_id"], purchase["purchase_id"],
        "{tickets}"
    );

    // The registrant is signed out everywhere and their password is gone.
    assert_eq!(mallory.send(Method::GET, "/api/me", None).await.0, 401);
    let path = format!("/api/purchases/{}", purchase["purchase_id"]);
    assert_eq!(mallory.send(Method::GET, &path, None).await.0, 404);
    assert_eq!(
        login_as(&app, "victim@example.com", "correct horse battery").await,
        401
    );
    assert_eq!(
        login_as(&app, "victim@example.com", "the owner's own password").await,
        200
    );
    // The link worked once.
    let (status, _) = confirm(
        &mut Buyer::new(&app),
        json!({"token": token, "new_password": "mallory again, later"}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_owner_claims_an_address_someone_else_registered_but_never_confirmed() {
    let app = spawn_app().await;
    let mut mallory = register(&app, "owner@example.com", "Ada").await;
    let (status, _) = mallory
        .send(
            Method::PUT,
            "/api/me/payment-method",
            Some(json!({"token": "tok_visa"})),
        )
        .await;
    assert_eq!(status, 200);

    // Registering the address again mails a claim link instead of failing;
    // nobody is signed in by it and the first password still works.
    let mut owner = Buyer::new(&app);
    let (status, body) = owner
        .send(
            Method::POST,
            "/api/auth/register",
            Some(json!({"email": "Owner@example.com", "password": "the owner's password", "display_name": "Owner"})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["email"], "owner@example.com");
    assert_eq!(owner.send(Method::GET, "/api/me", None).await.0, 401);
    assert_eq!(
        login_as(&app, "owner@example.com", "correct horse battery").await,
        200
    );

    let token = mailed_token(&app, "owner@example.com").await;
    let (status, body) = confirm(
        &mut owner,
        json!({"token": token, "new_password": "the owner's password"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, me) = owner.send(Method::GET, "/api/me", None).await;
    assert_eq!(me["email_confirmed"], true);
    assert_eq!(
        me["payment_method"],
        Value::Null,
        "not the registrant's card"
    );
    assert_eq!(mallory.send(Method::GET, "/api/me", None).await.0, 401);
    assert_eq!(
        login_as(&app, "owner@example.com", "correct horse battery").await,
        401
    );

    // A confirmed address cannot be claimed again.
    let (status, body) = Buyer::new(&app)
        .send(
            Method::POST,
            "/api/auth/register",
            Some(json!({"email": "owner@example.com", "password": "yet another one", "display_name": "X"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("email_taken"))
    );
}

#[tokio::test]
async fn confirmation_links_expire() {
    let app = spawn_app().await;
    let mut ada = register(&app, "ada@example.com", "Ada").await;
    let token = mailed_token(&app, "ada@example.com").await;
    app.state
        .inventory
        .clock()
        .advance(24 * 3600 * 1000 + 60_000);
    let (status, body) = confirm(&mut ada, json!({"token": token})).await;
    assert_eq!(status, 404, "{body}");
    let (_, me) = ada.send(Method::GET, "/api/me", None).await;
    assert_eq!(me["email_confirmed"], false);
}

#[tokio::test]
async fn sign_in_throttling_behind_a_trusted_proxy_counts_each_client_not_the_balancer() {
    let mut config = server::config::Config::for_database(fresh_database_url().await);
    config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    let app = spawn_app_with(config).await;
    register(&app, "ada@example.com", "Ada").await;
    let login = |email: String, password: &'static str, client: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/auth/login"))
                .header("x-forwarded-for", client)
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }
    };
    // One client guesses at 100 accounts: it is stopped…
    for i in 0..100 {
        assert_eq!(
            login(format!("user{i}@example.com"), "guess", "198.51.100.1").await,
            401
        );
    }
    assert_eq!(
        login(
            "ada@example.com".into(),
            "correct horse battery",
            "198.51.100.1"
        )
        .await,
        429
    );
    // …but the other clients behind the same balancer sign in as ever.
    assert_eq!(
        login(
            "ada@example.com".into(),
            "correct horse battery",
            "198.51.100.2"
        )
        .await,
        200
    );
}

/// The `Set-Cookie` values of a response.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().expect("ascii").to_string())
        .collect()
}

/// Holds one seat with the given `Cookie` header (and TLS as the load
/// balancer reports it); returns the answer and its cookies.
async fn hold_with_cookie(
    app: &TestApp,
    event: EventId,
    seat: i64,
    cookie: Option<&str>,
    over_tls: bool,
) -> (HoldView, Vec<String>) {
    let mut request = app
        .client
        .post(app.url(&format!("/api/events/{event}/holds")))
        .json(&json!({"seat_ids": [seat]}));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if over_tls {
        request = request.header("x-forwarded-proto", "https");
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), 201);
    let cookies = set_cookies(&response);
    (response.json().await.expect("hold view"), cookies)
}

#[tokio::test]
async fn a_session_id_the_client_chose_is_replaced_by_one_the_server_minted() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    // The shape ids used to have, chosen by the client (session fixation).
    let chosen = "tessera_session=0123456789abcdef0123456789abcdef";
    let (hold, cookies) = hold_with_cookie(&app, event, seats[0], Some(chosen), false).await;
    assert_eq!(cookies.len(), 1, "a fresh id is issued: {cookies:?}");
    let minted = cookies[0].split(';').next().expect("pair").to_string();
    assert_ne!(minted, chosen);
    assert!(!minted.bytes().any(|b| b.is_ascii_digit()), "{minted}");
    let path = format!("/api/holds/{}", hold.hold_id);
    let status_with = |cookie: &str| {
        let request = app
            .client
            .get(app.url(&path))
            .header("cookie", cookie.to_string());
        async move { request.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(status_with(chosen).await, 404, "the chosen id owns nothing");
    assert_eq!(status_with(&minted).await, 200);
    // An id minted here is kept: no new cookie.
    let (_, cookies) = hold_with_cookie(&app, event, seats[1], Some(&minted), false).await;
    assert!(cookies.is_empty(), "{cookies:?}");
}

#[tokio::test]
async fn over_tls_the_session_cookie_is_host_prefixed_and_both_names_are_read() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let (hold, cookies) = hold_with_cookie(&app, event, seats[0], None, true).await;
    let cookie = &cookies[0];
    assert!(cookie.starts_with("__Host-tessera_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    let pair = cookie.split(';').next().expect("pair").to_string();
    let path = format!("/api/holds/{}", hold.hold_id);
    let response = app
        .client
        .get(app.url(&path))
        .header("cookie", &pair)
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "the __Host- cookie is read");

    // A browser still holding the plain name from before is recognised,
    // and its id moves to the __Host- name.
    let id = pair.split_once('=').expect("pair").1;
    let plain = format!("tessera_session={id}");
    let (_, cookies) = hold_with_cookie(&app, event, seats[1], Some(&plain), true).await;
    assert!(
        cookies[0].starts_with(&format!("__Host-tessera_session={id};")),
        "{cookies:?}"
    );
    assert!(cookies[1].starts_with("tessera_session=;") && cookies[1].contains("Max-Age=0"));
    let response = app
        .client
        .get(app.url(&path))
        .header("cookie", &plain)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "the plain name is read too");
}

#[tokio::test]
async fn servers_sharing_a_ticket_key_accept_each_others_sessions() {
    let database_url = fresh_database_url().await;
    let mut config = server::config::Config::for_database(database_url);
    let first = spawn_app_with(config.clone()).await;
    let hall = add_venue(first.store(), "Hall", "Hull").await;
    let event = add_event(first.store(), hall, "Show", 5).await;
    let seats = seat_ids(&first, event).await;
    let mut fan = Buyer::new(&first);
    let hold = fan.held(event, &[seats[0]]).await;
    let cookie = fan.cookie.clone().expect("cookie");
    let path = format!("/api/holds/{}", hold.hold_id);
    let on = |app: &TestApp| {
        let request = app
            .client
            .get(app.url(&path))
            .header("cookie", cookie.clone());
        async move { request.send().await.expect("request").status().as_u16() }
    };
    let second = spawn_app_with(config.clone()).await;
    assert_eq!(on(&second).await, 200, "same key: the same session");
    config.ticket_key = Some("5".repeat(64));
    let other_key = spawn_app_with(config).await;
    assert_eq!(on(&other_key).await, 404, "another key: a stranger");
}
