//! No hoarding: the per-buyer limit counted per session, per signed-in
//! account and per email, and the per-address caps (seats held at once in
//! one event, new sessions and new holds per minute) keyed on the client
//! address, which `X-Forwarded-For` names only when it comes from a trusted
//! proxy.

use crate::common;

use app::types::{EventId, SeatStatus};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use server::catalog::create::{create_venue, SeatSpec, SectionSpec, VenueSpec};
use server::payments::test_gateway::TestGateway;
use std::sync::Arc;

/// An event in a one-section hall of `seats` seats (all at 5000 cents).
async fn big_event(app: &TestApp, seats: i64) -> (EventId, Vec<i64>) {
    let venue = create_venue(
        app.store(),
        &VenueSpec {
            name: "Arena".into(),
            city: "Leeds".into(),
            sections: vec![SectionSpec {
                name: "Front".into(),
                seats: (1..=seats)
                    .map(|number| SeatSpec {
                        row: format!("R{}", number / 50),
                        number,
                        x: (number % 50) as f64,
                        y: (number / 50) as f64,
                        features: Vec::new(),
                    })
                    .collect(),
            }],
        },
    )
    .await
    .expect("venue");
    let event = add_event_with(
        app.store(),
        venue,
        "Onsale",
        server::clock::now_ms() + 5 * DAY_MS,
        |spec| {
            spec.section_tiers = vec![("Front".into(), "Front".into())];
        },
    )
    .await;
    let ids = seat_ids(app, event).await;
    (event, ids)
}

/// A hold by a request without a cookie (a new session), with extra headers.
async fn cookieless_hold(
    app: &TestApp,
    event: EventId,
    seat_ids: &[i64],
    headers: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let mut request = app
        .client
        .post(app.url(&format!("/api/events/{event}/holds")))
        .json(&json!({ "seat_ids": seat_ids }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    (status, retry_after, response.json().await.expect("JSON"))
}

async fn sign_in<'a>(app: &'a TestApp, email: &str, password: &str) -> Buyer<'a> {
    let mut browser = Buyer::new(app);
    let (status, body) = browser
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": email, "password": password})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    browser
}

#[tokio::test]
async fn many_cookieless_sessions_from_one_address_cannot_hold_more_than_the_cap() {
    let app = spawn_app().await;
    let (event, seats) = big_event(&app, 200).await;
    // 30 sessions of four seats: 120 seats, past the default cap of 100.
    let mut held = 0;
    let mut refused = 0;
    for chunk in seats[..120].chunks(4) {
        let (status, retry_after, body) = cookieless_hold(&app, event, chunk, &[]).await;
        match status {
            201 => held += chunk.len(),
            429 => {
                assert_eq!(body["error"]["code"], "rate_limited", "{body}");
                let wait: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
                assert!(
                    (1..=300).contains(&wait),
                    "until the first hold ends: {wait}"
                );
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!((held, refused), (100, 5));
    let map = seat_map(&app, event).await.seats;
    assert_eq!(
        map.iter()
            .filter(|seat| seat.status == SeatStatus::Held)
            .count(),
        100
    );
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_does_not_make_new_addresses() {
    let app = spawn_app().await;
    let (event, seats) = big_event(&app, 200).await;
    let mut held = 0;
    for (i, chunk) in seats[..120].chunks(4).enumerate() {
        let forwarded = format!("198.51.100.{i}");
        let (status, _, body) =
            cookieless_hold(&app, event, chunk, &[("x-forwarded-for", &forwarded)]).await;
        match status {
            201 => held += chunk.len(),
            429 => assert_eq!(body["error"]["code"], "rate_limited"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(held, 100, "every request counted as the peer's address");
}

#[tokio::test]
async fn new_sessions_per_address_are_rate_limited() {
    let app = spawn_app().await;
    let (event, seats) = big_event(&app, 100).await;
    let started = std::time::Instant::now();
    // A buyer whose session the server minted first: one of the 60.
    let mut known = Buyer::new(&app);
    known.held(event, &[seats[99]]).await;
    // Each cookie-less hold starts a new session: 60 a minute are allowed
    // at once, then one a second; each takes one seat, so the seat cap is
    // not what stops them.
    let mut sessions = 1;
    let mut refused = None;
    for seat in &seats[..90] {
        let (status, retry_after, body) = cookieless_hold(&app, event, &[*seat], &[]).await;
        match status {
            201 => sessions += 1,
            429 => {
                assert_eq!(body["error"]["code"], "rate_limited", "{body}");
                assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)));
                refused = Some(*seat);
                break;
            }
            other => panic!("{other}: {body}"),
        }
    }
    let refill = started.elapsed().as_secs_f64().ceil() as usize;
    let refused = refused.expect("a new session refused");
    assert!(
        (60..=60 + refill).contains(&sessions),
        "{sessions} new sessions in {refill} s"
    );
    assert_eq!(
        seat_status(&app, event, refused).await,
        SeatStatus::Available
    );
    // A buyer who already has a session is not a new session.
    known.held(event, &[seats[95]]).await;
}

#[tokio::test]
async fn a_signed_in_account_cannot_pass_the_per_buyer_limit_from_several_browsers() {
    let app = spawn_app().await;
    let (event, seats) = big_event(&app, 40).await;
    let mut first = Buyer::new(&app);
    let (status, body) = first
        .send(
            Method::POST,
            "/api/auth/register",
            Some(json!({"email": "ada@example.com", "password": "correct horse battery", "display_name": "Ada"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut second = sign_in(&app, "ada@example.com", "correct horse battery").await;
    let mut third = sign_in(&app, "ada@example.com", "correct horse battery").await;
    // Five bought in one browser…
    let hold = first.held(event, &seats[0..5]).await;
    let (status, body) = first
        .purchase_with(
            hold.hold_id,
            "account-limit-0001",
            json!({"email": "ada@example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // …leave three for all the others together.
    let (status, body) = second.hold(event, &seats[5..9]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("ticket_limit_exceeded")),
        "{body}"
    );
    second.held(event, &seats[5..8]).await;
    let (_, hold) = third.hold(event, &seats[20..21]).await;
    assert_eq!(hold["error"]["code"], "ticket_limit_exceeded", "{hold}");
}

#[tokio::test]
async fn a_guest_cannot_pass_the_per_buyer_limit_by_buying_with_one_email_from_several_sessions() {
    let gateway = Arc::new(TestGateway::default());
    let app = spawn_app_with_gateway(fresh_database_url().await, gateway.clone()).await;
    let (event, seats) = big_event(&app, 40).await;
    let mut first = Buyer::new(&app);
    let hold = first.held(event, &seats[0..5]).await;
    let (status, body) = first
        .purchase_with(
            hold.hold_id,
            "guest-email-0001",
            json!({"email": "Guest@Example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Another session may hold 4 (its own count is 0), but paying for them
    // with the same email would make 9 tickets of a limit of 8.
    let mut second = Buyer::new(&app);
    let hold = second.held(event, &seats[5..9]).await;
    let charges_before = gateway.calls();
    let (status, body) = second
        .purchase_with(
            hold.hold_id,
            "guest-email-0002",
            json!({"email": "guest@example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("ticket_limit_exceeded")),
        "{body}"
    );
    assert_eq!(gateway.calls(), charges_before, "refused before any charge");
    let (purchases,): (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT COUNT(*) FROM purchases").fetch_one(pool).await)
    .expect("count");
    assert_eq!(purchases, 1, "nothing recorded for the refused purchase");
    // The hold is kept: three of its seats fit, or another email pays.
    let (status, view) = second
        .send(Method::GET, &format!("/api/holds/{}", hold.hold_id), None)
        .await;
    assert_eq!((status, view["status"].as_str()), (200, Some("active")));
    let (status, body) = second
        .purchase_with(
            hold.hold_id,
            "guest-email-0003",
            json!({"email": "friend@example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn x_forwarded_for_from_a_trusted_proxy_names_the_client() {
    let mut config = server::config::Config::for_database(fresh_database_url().await);
    // The test client's loopback address is the balancer.
    config.trusted_proxies = vec!["127.0.0.0/8".parse().expect("cidr")];
    config.address_seats_per_event = 8;
    let app = spawn_app_with(config).await;
    let (event, seats) = big_event(&app, 200).await;
    // Thirty clients behind the balancer, four seats each: no cap is hit.
    for (i, chunk) in seats[..120].chunks(4).enumerate() {
        let forwarded = format!("6.6.6.6, 198.51.100.{i}");
        let (status, _, body) =
            cookieless_hold(&app, event, chunk, &[("x-forwarded-for", &forwarded)]).await;
        assert_eq!(status, 201, "client {i}: {body}");
    }
    // The left-most hop is the client's own claim: whatever it says, one
    // client stays one client.
    let mut held = 0;
    for (i, chunk) in seats[120..140].chunks(4).enumerate() {
        let forwarded = format!("10.0.0.{i}, 203.0.113.5");
        match cookieless_hold(&app, event, chunk, &[("x-forwarded-for", &forwarded)]).await {
            (201, _, _) => held += chunk.len(),
            (429, _, body) => assert_eq!(body["error"]["code"], "rate_limited"),
            (status, _, body) => panic!("{status}: {body}"),
        }
    }
    assert_eq!(held, 8);
}

#[tokio::test]
async fn ipv6_clients_behind_a_trusted_proxy_share_the_cap_of_their_64() {
    let mut config = server::config::Config::for_database(fresh_database_url().await);
    config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    config.address_seats_per_event = 8;
    let app = spawn_app_with(config).await;
    let (event, seats) = big_event(&app, 40).await;
    for (i, chunk) in seats[..8].chunks(4).enumerate() {
        let forwarded = format!("2001:db8:5:6::{i:x}");
        let (status, _, body) =
            cookieless_hold(&app, event, chunk, &[("x-forwarded-for", &forwarded)]).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, _, body) = cookieless_hold(
        &app,
        event,
        &seats[8..9],
        &[("x-forwarded-for", "2001:db8:5:6:ffff::1")],
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    let (status, _, body) = cookieless_hold(
        &app,
        event,
        &seats[8..9],
        &[("x-forwarded-for", "2001:db8:5:7::1")],
    )
    .await;
    assert_eq!(status, 201, "another /64: {body}");
}

#[tokio::test]
async fn client_limits_off_lets_one_address_hold_as_much_as_it_likes() {
    let config =
        server::config::Config::for_database(fresh_database_url().await).without_client_limits();
    let app = spawn_app_with(config).await;
    let (event, seats) = big_event(&app, 300).await;
    // 70 new sessions (past 60 a minute) holding 280 seats (past 100).
    for (i, chunk) in seats[..280].chunks(4).enumerate() {
        let (status, _, body) = cookieless_hold(&app, event, chunk, &[]).await;
        assert_eq!(status, 201, "session {i}: {body}");
    }
    // The per-buyer limit stays.
    let mut buyer = Buyer::new(&app);
    buyer.held(event, &seats[280..288]).await;
    let (status, body) = buyer.hold(event, &seats[288..289]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("ticket_limit_exceeded"))
    );
}

#[tokio::test]
async fn seats_paid_for_or_released_no_longer_count_against_the_address() {
    let mut config = server::config::Config::for_database(fresh_database_url().await);
    config.address_seats_per_event = 6;
    let app = spawn_app_with(config).await;
    let (event, seats) = big_event(&app, 40).await;
    let mut first = Buyer::new(&app);
    let paid = first.held(event, &seats[0..4]).await;
    let mut second = Buyer::new(&app);
    let released = second.held(event, &seats[4..6]).await;
    let (status, _, _) = cookieless_hold(&app, event, &seats[6..7], &[]).await;
    assert_eq!(status, 429, "six held from this address");
    let (status, body) = first
        .purchase_with(
            paid.hold_id,
            "address-cap-0001",
            json!({"email": "first@example.com", "payment": {"token": "tok_visa"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let path = format!("/api/holds/{}", released.hold_id);
    assert_eq!(second.send(Method::DELETE, &path, None).await.0, 204);
    let (status, _, body) = cookieless_hold(&app, event, &seats[6..12], &[]).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn the_openapi_document_describes_the_refusals_and_the_claim() {
    let app = spawn_app().await;
    let (status, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    let paths = &doc["paths"];
    assert!(paths["/api/events/{id}/holds"]["post"]["responses"]["429"].is_object());
    assert!(paths["/api/auth/register"]["post"]["responses"]["202"].is_object());
    assert!(paths["/api/auth/register"]["post"]["responses"]["429"].is_object());
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["ClaimLinkSent"].is_object(), "{schemas}");
    assert!(schemas["ConfirmEmailRequest"]["properties"]["new_password"].is_object());
    assert!(schemas["ApiError"]["properties"]["retry_after_seconds"].is_object());
}
