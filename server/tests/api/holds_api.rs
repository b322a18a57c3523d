//! Holds over HTTP: all-or-nothing claims, ownership, release, expiry,
//! the per-buyer limit, bad input, and a fight over the same seats.

use crate::common;

use app::types::{HoldStatus, SeatStatus};
use common::*;
use reqwest::Method;
use std::collections::HashMap;

async fn app_with_event() -> (TestApp, app::types::EventId, Vec<i64>) {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let seats = seat_ids(&app, event).await;
    (app, event, seats)
}

#[tokio::test]
async fn a_hold_claims_the_seats_for_its_buyer_only() {
    let (app, event, seats) = app_with_event().await;
    let mut alice = Buyer::new(&app);
    let hold = alice.held(event, &seats[0..2]).await;
    assert!(alice
        .cookie
        .as_deref()
        .is_some_and(|c| c.starts_with("tessera_session=")));
    assert_eq!(hold.status, HoldStatus::Active);
    assert_eq!(hold.total_cents, 10_000);
    assert_eq!(hold.seats.len(), 2);
    let expires_in = hold.expires_in_ms;
    assert!((299_000..=300_000).contains(&expires_in), "{expires_in}");

    let map = seat_map(&app, event).await.seats;
    assert_eq!(map[0].status, SeatStatus::Held);
    assert_eq!(map[1].status, SeatStatus::Held);
    assert_eq!(map[2].status, SeatStatus::Available);

    let hold_path = format!("/api/holds/{}", hold.hold_id);
    let (status, again) = alice.send(Method::GET, &hold_path, None).await;
    assert_eq!(status, 200);
    assert_eq!(again["hold_id"], hold.hold_id.0);

    // Another buyer can neither see, release nor take it.
    let mut bob = Buyer::new(&app);
    let (status, body) = bob.send(Method::GET, &hold_path, None).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = bob.send(Method::DELETE, &hold_path, None).await;
    assert_eq!(status, 404);
    let (status, body) = bob.hold(event, &[seats[1], seats[2]]).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "seats_unavailable");
    assert_eq!(body["error"]["seat_ids"], serde_json::json!([seats[1]]));
    // All or nothing: seat 2 was free but is not held by the failed request.
    let map = seat_map(&app, event).await.seats;
    assert_eq!(map[2].status, SeatStatus::Available);
}

#[tokio::test]
async fn releasing_a_hold_puts_its_seats_back_on_sale_at_once() {
    let (app, event, seats) = app_with_event().await;
    let mut alice = Buyer::new(&app);
    let hold = alice.held(event, &seats[0..3]).await;
    let hold_path = format!("/api/holds/{}", hold.hold_id);
    let (status, _) = alice.send(Method::DELETE, &hold_path, None).await;
    assert_eq!(status, 204);
    let map = seat_map(&app, event).await.seats;
    assert!(map.iter().all(|seat| seat.status == SeatStatus::Available));
    let (_, released) = alice.send(Method::GET, &hold_path, None).await;
    assert_eq!(released["status"], "released");

    let mut bob = Buyer::new(&app);
    bob.held(event, &seats[0..3]).await;
}

#[tokio::test]
async fn every_seat_change_is_logged_in_version_order() {
    let (app, event, seats) = app_with_event().await;
    let mut alice = Buyer::new(&app);
    let hold = alice.held(event, &seats[0..2]).await;
    alice
        .send(
            Method::DELETE,
            &format!("/api/holds/{}", hold.hold_id),
            None,
        )
        .await;
    let changes = server::live::changes::changes_since(app.store(), event.0, 0)
        .await
        .expect("changes");
    let summary: Vec<(i64, i64, &str)> = changes
        .iter()
        .map(|c| (c.version, c.seat_id, c.status.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, seats[0], "held"),
            (1, seats[1], "held"),
            (2, seats[0], "available"),
            (2, seats[1], "available")
        ]
    );
    let version = seat_map(&app, event).await.version;
    assert_eq!(version, 2);
}

#[tokio::test]
async fn expired_holds_are_swept_and_can_be_reclaimed_before_the_sweep() {
    let (app, event, seats) = app_with_event().await;
    let mut alice = Buyer::new(&app);
    let first = alice.held(event, &seats[0..2]).await;
    let second = alice.held(event, &seats[4..5]).await;
    app.state.inventory.clock().advance(301_000);

    // Lazy reclaim: the map and other buyers see the seats free at once...
    let map = seat_map(&app, event).await.seats;
    assert_eq!(map[0].status, SeatStatus::Available);
    let mut bob = Buyer::new(&app);
    bob.held(event, &seats[1..2]).await;
    let (_, view) = alice
        .send(Method::GET, &format!("/api/holds/{}", first.hold_id), None)
        .await;
    assert_eq!(view["status"], "expired");
    assert_eq!(view["expires_in_ms"], 0);

    // ...and the sweeper frees what nobody reclaimed, leaving Bob's hold alone.
    let freed = app.state.inventory.sweep_expired().await.expect("sweep");
    assert_eq!(
        freed, 2,
        "seat 0 of the first hold and the second hold's seat"
    );
    let statuses: HashMap<i64, SeatStatus> = seat_map(&app, event)
        .await
        .seats
        .into_iter()
        .map(|seat| (seat.id.0, seat.status))
        .collect();
    assert_eq!(statuses[&seats[0]], SeatStatus::Available);
    assert_eq!(statuses[&seats[1]], SeatStatus::Held);
    assert_eq!(statuses[&seats[4]], SeatStatus::Available);
    let (_, view) = alice
        .send(Method::GET, &format!("/api/holds/{}", second.hold_id), None)
        .await;
    assert_eq!(view["status"], "expired");
}

#[tokio::test]
async fn a_buyer_cannot_hold_more_than_the_events_limit() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event_with(
        app.store(),
        hall,
        "Limited",
        server::clock::now_ms() + 5 * DAY_MS,
        |spec| {
            spec.max_tickets_per_buyer = 4;
        },
    )
    .await;
    let seats = seat_ids(&app, event).await;
    let mut alice = Buyer::new(&app);
    alice.held(event, &seats[0..3]).await;
    let (status, body) = alice.hold(event, &seats[3..5]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "ticket_limit_exceeded");
    alice.held(event, &seats[3..4]).await;
    // Another buyer has their own allowance.
    Buyer::new(&app).held(event, &seats[5..9]).await;
}

#[tokio::test]
async fn bad_hold_requests_get_clear_errors_and_change_nothing() {
    let (app, event, seats) = app_with_event().await;
    let other = {
        let hall = add_venue(app.store(), "Other", "Bath").await;
        let other_event = add_event(app.store(), hall, "Other Show", 5).await;
        seat_ids(&app, other_event).await[0]
    };
    let path = format!("/api/events/{event}/holds");
    let huge: Vec<i64> = (1..=500).collect();
    let cases: Vec<(&str, String, u16)> = vec![
        ("malformed JSON", "{\"seat_ids\": [1,".into(), 400),
        ("not an object", "[1,2]".into(), 422),
        ("empty list", "{\"seat_ids\": []}".into(), 422),
        (
            "huge list",
            serde_json::json!({ "seat_ids": huge }).to_string(),
            422,
        ),
        ("negative id", "{\"seat_ids\": [-1]}".into(), 422),
        ("string id", "{\"seat_ids\": [\"a\"]}".into(), 422),
        (
            "duplicate",
            serde_json::json!({ "seat_ids": [seats[0], seats[0]] }).to_string(),
            422,
        ),
        (
            "another event's seat",
            serde_json::json!({ "seat_ids": [seats[0], other] }).to_string(),
            404,
        ),
        ("unknown seat", "{\"seat_ids\": [987654]}".into(), 404),
        ("neither field", "{}".into(), 422),
        (
            "negative count",
            "{\"best_available\": {\"count\": -2}}".into(),
            422,
        ),
        (
            "unknown field",
            "{\"seat_ids\": [1], \"vip\": true}".into(),
            422,
        ),
    ];
    for (name, body, expected) in cases {
        let response = app
            .client
            .post(app.url(&path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let json: serde_json::Value = response.json().await.expect("JSON error");
        assert_eq!(status, expected, "{name}: {json}");
        assert!(json["error"]["code"].is_string(), "{name}: {json}");
    }
    let (status, body) = Buyer::new(&app)
        .hold(app::types::EventId(999_999), &seats[0..1])
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = Buyer::new(&app)
        .send(
            Method::POST,
            "/api/events/xyz/holds",
            Some(serde_json::json!({"seat_ids": [1]})),
        )
        .await;
    assert_eq!(status, 400);

    let map = seat_map(&app, event).await;
    assert_eq!(map.version, 0, "no change was recorded");
    assert!(map
        .seats
        .iter()
        .all(|seat| seat.status == SeatStatus::Available));
}

#[tokio::test]
async fn many_buyers_fighting_over_a_few_seats_never_share_one() {
    let (app, event, seats) = app_with_event().await;
    let contested = &seats[0..4];
    // 48 buyers, each asking for a pair of overlapping seats at once.
    let attempts = (0..48).map(|i| {
        let pair = vec![contested[i % 4], contested[(i + 1) % 4]];
        let app = &app;
        async move {
            let mut buyer = Buyer::new(app);
            let (status, body) = buyer.hold(event, &pair).await;
            (pair, status, body)
        }
    });
    let results = futures::future::join_all(attempts).await;

    let mut owner: HashMap<i64, i64> = HashMap::new();
    let mut winners = 0;
    for (pair, status, body) in &results {
        match status {
            201 => {
                winners += 1;
                let hold_id = body["hold_id"].as_i64().expect("hold id");
                for seat in pair {
                    assert!(
                        owner.insert(*seat, hold_id).is_none(),
                        "seat {seat} held twice"
                    );
                }
            }
            409 => assert_eq!(body["error"]["code"], "seats_unavailable"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(
        (1..=2).contains(&winners),
        "{winners} winners for 4 seats in pairs"
    );
    for seat in seat_map(&app, event).await.seats {
        let expected = if owner.contains_key(&seat.id.0) {
            SeatStatus::Held
        } else {
            SeatStatus::Available
        };
        assert_eq!(seat.status, expected, "seat {}", seat.id);
    }
}

#[tokio::test]
async fn best_available_holds_adjacent_cheapest_seats_without_stranding_one() {
    let (app, event, seats) = app_with_event().await;
    // Seats are listed Front A1-5, Front B1-5, Back A1-5, Back B1-5; Back is cheaper.
    let best = |body: serde_json::Value| serde_json::json!({ "best_available": body });
    let path = format!("/api/events/{event}/holds");
    let held_ids = |hold: &serde_json::Value| -> Vec<i64> {
        hold["seats"]
            .as_array()
            .expect("seats")
            .iter()
            .map(|s| s["id"].as_i64().expect("id"))
            .collect()
    };

    // Someone holds Back A2: Back A now has runs {1} and {3,4,5}. Two seats in
    // 3-5 would strand a single seat, so a pair in Back B is chosen. (The live
    // map best available reads learns of the hold at the pump's next tick, or
    // at once with a seat-map read, as here.)
    Buyer::new(&app).held(event, &[seats[11]]).await;
    assert_eq!(seat_status(&app, event, seats[11]).await, SeatStatus::Held);
    let (status, hold) = Buyer::new(&app)
        .send(
            Method::POST,
            &path,
            Some(best(serde_json::json!({"count": 2}))),
        )
        .await;
    assert_eq!(status, 201, "{hold}");
    // Back B1-2 and B4-5 are equally good (cheap, nobody stranded);
    // concurrent buyers are spread over such ties.
    let pair = held_ids(&hold);
    assert!(pair == seats[15..17] || pair == seats[18..20], "{pair:?}");
    assert_eq!(hold["total_cents"], 6000);

    let (status, hold) = Buyer::new(&app)
        .send(
            Method::POST,
            &path,
            Some(best(serde_json::json!({"count": 3, "section": "Front"}))),
        )
        .await;
    assert_eq!(status, 201, "{hold}");
    let trio = held_ids(&hold);
    let allowed = [&seats[0..3], &seats[2..5], &seats[5..8], &seats[7..10]];
    assert!(
        allowed.contains(&trio.as_slice()),
        "{trio:?}: three together in Front, nobody stranded"
    );

    for impossible in [
        serde_json::json!({"count": 2, "max_price_cents": 2000}),
        serde_json::json!({"count": 6}),
        serde_json::json!({"count": 1, "section": "Balcony"}),
    ] {
        let (status, body) = Buyer::new(&app)
            .send(Method::POST, &path, Some(best(impossible.clone())))
            .await;
        assert_eq!(status, 409, "{impossible}: {body}");
        assert_eq!(body["error"]["code"], "seats_unavailable");
    }
    for invalid in [
        serde_json::json!({"count": 0}),
        serde_json::json!({"count": 2, "max_price_cents": -1}),
    ] {
        let (status, body) = Buyer::new(&app)
            .send(Method::POST, &path, Some(best(invalid.clone())))
            .await;
        assert_eq!(status, 422, "{invalid}: {body}");
    }
}

#[tokio::test]
async fn a_buyer_extends_a_hold_once() {
    let (app, event, seats) = app_with_event().await;
    let mut alice = Buyer::new(&app);
    let hold = alice.held(event, &seats[0..2]).await;
    assert_eq!(hold.extensions_left, 1);
    let path = format!("/api/holds/{}/extend", hold.hold_id);
    let version = seat_map(&app, event).await.version;
    app.state.inventory.clock().advance(200_000);

    // Someone else's hold is not theirs to extend.
    let mut mallory = Buyer::new(&app);
    mallory.hold(event, &seats[5..6]).await;
    let (status, body) = mallory.send(Method::POST, &path, None).await;
    assert_eq!((status, &body["error"]["code"]), (404, &"not_found".into()));

    let (status, extended) = alice.send(Method::POST, &path, None).await;
    assert_eq!(status, 200, "{extended}");
    assert_eq!(extended["status"], "active");
    let left = extended["expires_in_ms"].as_i64().expect("ms left");
    assert!(
        (299_000..=300_000).contains(&left),
        "the event's hold length from now: {left}"
    );
    assert_eq!(extended["extensions_left"], 0);
    let (_, view) = alice
        .send(Method::GET, &format!("/api/holds/{}", hold.hold_id), None)
        .await;
    assert_eq!(view["expires_at"], extended["expires_at"]);
    assert_eq!(view["extensions_left"], 0);
    // Its seats moved with it, as one new version of the seat map.
    let changes = server::live::changes::changes_since(app.store(), event.0, version)
        .await
        .expect("changes");
    let logged: Vec<(i64, &str)> = changes
        .iter()
        .map(|change| (change.seat_id, change.status.as_str()))
        .collect();
    assert!(
        logged.ends_with(&[(seats[0], "held"), (seats[1], "held")]),
        "{logged:?}"
    );

    // Once only; and past the old expiry it still holds.
    let (status, body) = alice.send(Method::POST, &path, None).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &"extension_used".into())
    );
    app.state.inventory.clock().advance(200_000);
    let mut bob = Buyer::new(&app);
    let (status, _) = bob.hold(event, &seats[0..1]).await;
    assert_eq!(status, 409, "still Alice's");
    app.state.inventory.clock().advance(100_001);
    let (status, body) = alice.send(Method::POST, &path, None).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &"hold_not_active".into())
    );
    let (_, view) = alice
        .send(Method::GET, &format!("/api/holds/{}", hold.hold_id), None)
        .await;
    assert_eq!(
        (&view["status"], &view["extensions_left"]),
        (&"expired".into(), &0.into())
    );
}

#[tokio::test]
async fn a_released_hold_cannot_be_extended_nor_any_past_the_events_start() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let starts_at = server::clock::now_ms() + 400_000;
    let event = add_event_with(app.store(), hall, "Soon", starts_at, |_| {}).await;
    let seats = seat_ids(&app, event).await;
    let mut alice = Buyer::new(&app);
    let released = alice.held(event, &seats[0..1]).await;
    alice
        .send(
            Method::DELETE,
            &format!("/api/holds/{}", released.hold_id),
            None,
        )
        .await;
    let (status, body) = alice
        .send(
            Method::POST,
            &format!("/api/holds/{}/extend", released.hold_id),
            None,
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &"hold_not_active".into())
    );
    let (status, body) = alice
        .send(Method::POST, "/api/holds/999999/extend", None)
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = alice
        .send(Method::POST, "/api/holds/nope/extend", None)
        .await;
    assert_eq!(status, 400, "{body}");

    let hold = alice.held(event, &seats[1..2]).await;
    app.state.inventory.clock().advance(250_000);
    let (status, extended) = alice
        .send(
            Method::POST,
            &format!("/api/holds/{}/extend", hold.hold_id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{extended}");
    let left = extended["expires_in_ms"].as_i64().expect("ms left");
    assert!(
        (149_000..=150_000).contains(&left),
        "until the event starts, not 300 s: {left}"
    );
}
