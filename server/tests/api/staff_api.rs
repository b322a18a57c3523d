//! Venue staff over real HTTP and WebSockets: roles enforced on every
//! staff route, live sales figures, blocking seats, and gate scanning.

use crate::common;

use app::types::{EventId, Role, SeatStatus};
use common::*;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn scan_body(code: &str, event: EventId) -> Value {
    json!({"code": code, "event_id": event.0})
}

#[tokio::test]
async fn every_staff_route_refuses_anonymous_guests_and_fans() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let mut guest = Buyer::new(&app);
    let purchase = guest.buy(event, &seats[0..1], "guest-key-0001").await;
    let code = purchase["tickets"][0]["code"]
        .as_str()
        .expect("code")
        .to_string();
    let mut anonymous = Buyer::new(&app);
    let mut fan = register(&app, "fan@example.com", "Fan").await;
    let mut staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let mut admin = signed_in_member(&app, "admin@example.com", Role::Admin).await;

    let routes = [
        (
            Method::GET,
            format!("/api/staff/events/{event}/stats"),
            None,
        ),
        (Method::GET, format!("/api/staff/events/{event}/live"), None),
        (
            Method::POST,
            format!("/api/staff/events/{event}/seats/block"),
            Some(json!({"seat_ids": [seats[5]], "blocked": true})),
        ),
        (
            Method::POST,
            "/api/tickets/scan".to_string(),
            Some(scan_body(&code, event)),
        ),
        (
            Method::POST,
            "/api/staff/venues".to_string(),
            Some(
                json!({"name": "V", "city": "C", "layout": {"kind": "stage", "sections": [{"name": "S", "rows": 1, "seats_per_row": 1}]}}),
            ),
        ),
        (
            Method::POST,
            "/api/staff/events".to_string(),
            Some(
                json!({"venue_id": 1, "name": "E", "starts_at": "2030-01-01", "tiers": [], "section_tiers": {}}),
            ),
        ),
        (
            Method::PATCH,
            format!("/api/staff/events/{event}"),
            Some(json!({"name": "Renamed by a fan"})),
        ),
        (
            Method::POST,
            "/api/admin/staff".to_string(),
            Some(
                json!({"email": "new@example.com", "password": PASSWORD, "display_name": "New", "role": "staff"}),
            ),
        ),
    ];
    for (method, path, body) in &routes {
        for (who, buyer, expected) in [
            ("anonymous", &mut anonymous, 401),
            ("guest", &mut guest, 401),
            ("fan", &mut fan, 403),
        ] {
            let (status, reply) = buyer.send(method.clone(), path, body.clone()).await;
            assert_eq!(status, expected, "{who} {method} {path}: {reply}");
        }
    }
    // Refused requests changed nothing.
    assert_eq!(
        seat_status(&app, event, seats[5]).await,
        SeatStatus::Available
    );
    let (_, stats) = staff.send(Method::GET, &routes[0].1, None).await;
    assert_eq!(stats["blocked"], 0);
    let (_, scanned) = staff
        .send(Method::POST, &routes[3].1, routes[3].2.clone())
        .await;
    assert_eq!(
        scanned["result"], "valid",
        "the fans' scans did not use the ticket: {scanned}"
    );
    let (_, detail) = staff
        .send(Method::GET, &format!("/api/events/{event}"), None)
        .await;
    assert_eq!(detail["name"], "Show", "the fans' edit changed nothing");
    // Staff may not create accounts; admins may.
    let (_, create_staff, body) = routes.last().expect("the admin route");
    let (status, _) = staff.send(Method::POST, create_staff, body.clone()).await;
    assert_eq!(status, 403);
    let (status, body) = admin.send(Method::POST, create_staff, body.clone()).await;
    assert_eq!(status, 201, "{body}");
    let mut created = Buyer::new(&app);
    let (status, me) = created
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": "new@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!((status, me["role"].as_str()), (200, Some("staff")));
}

#[tokio::test]
async fn stats_count_seats_revenue_and_sales_per_minute() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let mut staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let path = format!("/api/staff/events/{event}/stats");
    let (status, empty) = staff.send(Method::GET, &path, None).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(
        (empty["sold"].as_i64(), empty["available"].as_i64()),
        (Some(0), Some(20))
    );
    assert_eq!(empty["sales_per_minute"].as_array().map(Vec::len), Some(60));

    let mut fan = Buyer::new(&app);
    let purchase = fan.buy(event, &seats[0..2], "stats-key-0001").await; // Front: 2 x 5000
    fan.hold(event, &seats[10..13]).await; // Back: 3 held
    let (_, stats) = staff.send(Method::GET, &path, None).await;
    assert_eq!(
        (
            stats["sold"].as_i64(),
            stats["held"].as_i64(),
            stats["available"].as_i64(),
            stats["blocked"].as_i64()
        ),
        (Some(2), Some(3), Some(15), Some(0)),
        "{stats}"
    );
    assert_eq!(stats["revenue_cents"], 10_000);
    let per_minute: Vec<i64> = stats["sales_per_minute"]
        .as_array()
        .expect("minutes")
        .iter()
        .map(|n| n.as_i64().expect("count"))
        .collect();
    assert_eq!(per_minute.iter().sum::<i64>(), 2);
    assert_eq!(per_minute[59], 2, "this minute's sales are last");
    let front = &stats["sections"][0];
    assert_eq!(
        (
            front["section"].as_str(),
            front["sold"].as_i64(),
            front["capacity"].as_i64()
        ),
        (Some("Front"), Some(2), Some(10))
    );
    assert_eq!(stats["sections"][1]["held"], 3);

    // A refund takes the revenue back and the seats back on sale.
    let refund = format!("/api/purchases/{}/refund", purchase["purchase_id"]);
    assert_eq!(fan.send(Method::POST, &refund, None).await.0, 200);
    let (_, after) = staff.send(Method::GET, &path, None).await;
    assert_eq!(
        (after["sold"].as_i64(), after["revenue_cents"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        staff
            .send(Method::GET, "/api/staff/events/999999/stats", None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn blocked_seats_leave_the_sale_all_or_none_and_come_back() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let mut staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let mut fan = Buyer::new(&app);
    fan.buy(event, &seats[0..1], "block-key-0001").await;
    let path = format!("/api/staff/events/{event}/seats/block");

    // A sold seat among them: nothing is blocked, and the sold one is named.
    let (status, body) = staff
        .send(
            Method::POST,
            &path,
            Some(json!({"seat_ids": [seats[1], seats[0]], "blocked": true})),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["seat_ids"]),
        (409, &json!([seats[0]])),
        "{body}"
    );
    assert_eq!(
        seat_status(&app, event, seats[1]).await,
        SeatStatus::Available
    );

    let (status, stats) = staff
        .send(
            Method::POST,
            &path,
            Some(json!({"seat_ids": [seats[1], seats[2]], "blocked": true})),
        )
        .await;
    assert_eq!(
        (status, stats["blocked"].as_i64()),
        (200, Some(2)),
        "{stats}"
    );
    assert_eq!(
        seat_status(&app, event, seats[1]).await,
        SeatStatus::Blocked
    );
    let (status, body) = Buyer::new(&app).hold(event, &seats[1..2]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("seats_unavailable"))
    );

    for (body, expected) in [
        (json!({"seat_ids": [], "blocked": true}), 422),
        (
            json!({"seat_ids": [seats[3], seats[3]], "blocked": true}),
            422,
        ),
        (json!({"seat_ids": [987654], "blocked": true}), 404),
        (json!({"seat_ids": [seats[3]]}), 422),
        (json!({"seat_ids": [seats[3]], "blocked": false}), 409),
    ] {
        let (status, reply) = staff.send(Method::POST, &path, Some(body.clone())).await;
        assert_eq!(status, expected, "{body}: {reply}");
    }
    let (status, stats) = staff
        .send(
            Method::POST,
            &path,
            Some(json!({"seat_ids": [seats[1], seats[2]], "blocked": false})),
        )
        .await;
    assert_eq!((status, stats["blocked"].as_i64()), (200, Some(0)));
    Buyer::new(&app).held(event, &seats[1..2]).await;
}

#[tokio::test]
async fn a_ticket_is_admitted_once_and_forged_refunded_or_foreign_codes_never() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let hall = add_venue(app.store(), "Other hall", "York").await;
    let other_event = add_event(app.store(), hall, "Other show", 6).await;
    let mut staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let mut fan = Buyer::new(&app);
    let purchase = fan.buy(event, &seats[0..2], "scan-key-0001").await;
    let code = purchase["tickets"][0]["code"]
        .as_str()
        .expect("code")
        .to_string();

    let (_, first) = staff
        .send(
            Method::POST,
            "/api/tickets/scan",
            Some(scan_body(&code, event)),
        )
        .await;
    assert_eq!(first["result"], "valid", "{first}");
    assert!(first["seat"]
        .as_str()
        .is_some_and(|s| s.starts_with("Front")));
    let (_, second) = staff
        .send(
            Method::POST,
            "/api/tickets/scan",
            Some(scan_body(&code, event)),
        )
        .await;
    assert_eq!(second["result"], "already_used");
    assert!(
        second["first_scanned_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{second}"
    );

    // A code with one character changed, junk, and another event's gate.
    let mut forged: Vec<char> = code.chars().collect();
    forged[20] = if forged[20] == 'x' { 'y' } else { 'x' };
    let forged: String = forged.into_iter().collect();
    for bad in [forged.as_str(), "TK1.AAAA", "hello", ""] {
        let (status, reply) = staff
            .send(
                Method::POST,
                "/api/tickets/scan",
                Some(scan_body(bad, event)),
            )
            .await;
        assert_eq!(
            (status, reply["result"].as_str()),
            (200, Some("invalid")),
            "{bad}: {reply}"
        );
    }
    let other_code = purchase["tickets"][1]["code"].as_str().expect("code");
    let (_, foreign) = staff
        .send(
            Method::POST,
            "/api/tickets/scan",
            Some(scan_body(other_code, other_event)),
        )
        .await;
    assert_eq!(foreign["result"], "invalid");

    // Refunded tickets are invalid (a used one blocks the refund, so buy anew).
    let refunded = fan.buy(event, &seats[5..6], "scan-key-0002").await;
    let refund = format!("/api/purchases/{}/refund", refunded["purchase_id"]);
    assert_eq!(fan.send(Method::POST, &refund, None).await.0, 200);
    let refunded_code = refunded["tickets"][0]["code"].as_str().expect("code");
    let (_, reply) = staff
        .send(
            Method::POST,
            "/api/tickets/scan",
            Some(scan_body(refunded_code, event)),
        )
        .await;
    assert_eq!(reply["result"], "invalid");
    assert!(reply["message"]
        .as_str()
        .is_some_and(|m| m.contains("refunded")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scans_of_one_code_admit_exactly_once() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let cookie = staff.cookie.clone().expect("cookie");
    let mut fan = Buyer::new(&app);
    let purchase = fan.buy(event, &seats[0..1], "race-key-0001").await;
    let code = purchase["tickets"][0]["code"]
        .as_str()
        .expect("code")
        .to_string();
    let gates = (0..16).map(|_| {
        let request = app
            .client
            .post(app.url("/api/tickets/scan"))
            .header("cookie", cookie.clone())
            .json(&scan_body(&code, event));
        tokio::spawn(async move {
            let reply: Value = request
                .send()
                .await
                .expect("scan")
                .json()
                .await
                .expect("JSON");
            reply["result"].as_str().expect("result").to_string()
        })
    });
    let results: Vec<String> = futures::future::join_all(gates)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    assert_eq!(
        results.iter().filter(|r| *r == "valid").count(),
        1,
        "{results:?}"
    );
    assert_eq!(results.iter().filter(|r| *r == "already_used").count(), 15);
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON text message of a WebSocket, within 5 s.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("stats in time")
            .expect("open")
            .expect("frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("stats");
        }
    }
}

/// Opens the live dashboard of `event` as the signed-in `member`.
async fn open_dashboard(app: &TestApp, member: &Buyer<'_>, event: EventId) -> Socket {
    let url = format!(
        "{}/api/staff/events/{event}/live",
        app.base_url.replacen("http://", "ws://", 1)
    );
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .expect("request");
    request.headers_mut().insert(
        "cookie",
        member
            .cookie
            .clone()
            .expect("cookie")
            .parse()
            .expect("header"),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    socket
}

/// The dashboard's figures once they show `sold` seats sold; fails unless
/// that happens within `within`.
async fn until_sold(socket: &mut Socket, sold: i64, within: Duration) -> Value {
    tokio::time::timeout(within, async {
        loop {
            let figures = next_json(socket).await;
            if figures["sold"] == sold {
                return figures;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the dashboard did not show {sold} sold within {within:?}"))
}

#[tokio::test]
async fn the_live_dashboard_moves_when_a_fan_buys() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let mut socket = open_dashboard(&app, &staff, event).await;
    let first = next_json(&mut socket).await;
    assert_eq!(first["sold"], 0);
    let mut fan = Buyer::new(&app);
    fan.buy(event, &seats[0..2], "live-key-0001").await;
    // Holding and selling may arrive as one or two updates.
    let latest = until_sold(&mut socket, 2, Duration::from_secs(5)).await;
    assert_eq!(latest["revenue_cents"], 10_000);
}

#[tokio::test]
async fn the_live_dashboard_keeps_moving_when_no_seat_map_is_open_past_the_idle_time() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let mut socket = open_dashboard(&app, &staff, event).await;
    assert_eq!(next_json(&mut socket).await["sold"], 0);
    // Nobody has the event's seat map open: only the dashboard watches it.
    // Move past the time after which an unwatched event leaves memory, and
    // run a pump pass (the background pump runs one every tick as well).
    app.state
        .inventory
        .clock()
        .advance(server::live::IDLE_EVICT_MS + 1_000);
    app.state.live.pump_once().await.expect("pump pass");
    let mut fan = Buyer::new(&app);
    fan.buy(event, &seats[0..2], "idle-key-0001").await;
    until_sold(&mut socket, 2, Duration::from_secs(5)).await;
    // A second sale, well inside the minute the clock moved into: only the
    // event's changes can bring it, not the turn of the minute.
    fan.buy(event, &seats[2..4], "idle-key-0002").await;
    let latest = until_sold(&mut socket, 4, Duration::from_secs(3)).await;
    assert_eq!(latest["revenue_cents"], 20_000);
}

fn in_days(days: i64) -> String {
    server::clock::format_ms(server::clock::now_ms() + days * DAY_MS)
}

#[tokio::test]
async fn staff_create_a_venue_from_a_layout_and_sell_an_event_there() {
    let app = spawn_app().await;
    let mut staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let layout = json!({"name": "Corn Hall", "city": "Leeds", "layout": {"kind": "stage", "sections": [
        {"name": "Stalls", "rows": 12, "seats_per_row": 20, "curved": true},
        {"name": "Balcony", "rows": 4, "seats_per_row": 16},
    ]}});
    let (status, venue) = staff
        .send(Method::POST, "/api/staff/venues", Some(layout))
        .await;
    assert_eq!(status, 201, "{venue}");
    assert_eq!(
        (venue["seats"].as_i64(), &venue["sections"]),
        (Some(304), &json!(["Stalls", "Balcony"]))
    );

    let mut event = json!({
        "venue_id": venue["venue_id"], "name": "Quartet", "description": "Strings",
        "starts_at": in_days(10), "hold_seconds": 120, "max_tickets_per_buyer": 4,
        "tiers": [{"name": "Stalls", "price_cents": 4500}, {"name": "Balcony", "price_cents": 2500}],
        "section_tiers": {"Stalls": "Stalls", "Balcony": "Balcony"},
    });
    // Every section must be priced; tiers must exist; dates must make sense.
    let mut unpriced = event.clone();
    unpriced["section_tiers"] = json!({"Stalls": "Stalls"});
    let mut unknown_tier = event.clone();
    unknown_tier["section_tiers"]["Balcony"] = json!("Gallery");
    let mut past = event.clone();
    past["starts_at"] = json!(in_days(-1));
    let mut long_hold = event.clone();
    long_hold["hold_seconds"] = json!(86_400);
    for (name, body) in [
        ("unpriced", unpriced),
        ("unknown tier", unknown_tier),
        ("past", past),
        ("hold", long_hold),
    ] {
        let (status, reply) = staff
            .send(Method::POST, "/api/staff/events", Some(body))
            .await;
        assert_eq!(status, 422, "{name}: {reply}");
    }
    let (status, created) = staff
        .send(Method::POST, "/api/staff/events", Some(event.clone()))
        .await;
    assert_eq!(
        (status, created["seats"].as_i64()),
        (201, Some(304)),
        "{created}"
    );
    let event_id = EventId(created["event_id"].as_i64().expect("id"));
    let (status, detail) = app.get_json(&format!("/api/events/{event_id}")).await;
    assert_eq!(
        (
            status,
            detail["hold_seconds"].as_i64(),
            detail["max_tickets_per_buyer"].as_i64()
        ),
        (200, Some(120), Some(4))
    );

    // Edit: a new name and no refunds.
    event["name"] = json!("ignored");
    let patch = json!({"name": "Quartet in D", "refund_policy": "none"});
    let path = format!("/api/staff/events/{event_id}");
    assert_eq!(staff.send(Method::PATCH, &path, Some(patch)).await.0, 204);
    let (_, detail) = app.get_json(&format!("/api/events/{event_id}")).await;
    assert_eq!(detail["name"], "Quartet in D");
    let (_, found) = app.get_json("/api/events?q=quartet%20in%20d").await;
    assert_eq!(
        found["events"].as_array().map(Vec::len),
        Some(1),
        "search follows the new name"
    );
    let bad = json!({"starts_at": in_days(-30)});
    assert_eq!(
        staff.send(Method::PATCH, &path, Some(bad)).await.0,
        422,
        "before its onsale"
    );
    assert_eq!(
        staff
            .send(Method::PATCH, "/api/staff/events/999999", Some(json!({})))
            .await
            .0,
        404
    );

    let seats = seat_ids(&app, event_id).await;
    let mut fan = Buyer::new(&app);
    let purchase = fan.buy(event_id, &seats[0..1], "new-event-0001").await;
    let refund = format!("/api/purchases/{}/refund", purchase["purchase_id"]);
    let (status, body) = fan.send(Method::POST, &refund, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_refundable"))
    );
}

#[tokio::test]
async fn a_50000_seat_stadium_event_is_created_in_one_request() {
    let app = spawn_app().await;
    let mut staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let layout = json!({"name": "Bowl", "city": "Leeds", "layout": {"kind": "bowl",
    "pitch_length_m": 105.0, "pitch_width_m": 68.0, "tiers": [
        {"name_prefix": "Lower ", "sections": 20, "rows": 25, "seats_per_row": 40},
        {"name_prefix": "Upper ", "sections": 20, "rows": 25, "seats_per_row": 60},
    ]}});
    let (status, venue) = staff
        .send(Method::POST, "/api/staff/venues", Some(layout))
        .await;
    assert_eq!(
        (status, venue["seats"].as_i64()),
        (201, Some(50_000)),
        "{venue}"
    );
    let sections = venue["sections"].as_array().expect("sections");
    let section_tiers: serde_json::Map<String, Value> = sections
        .iter()
        .map(|name| {
            let name = name.as_str().expect("name");
            let tier = if name.starts_with("Lower") {
                "Lower"
            } else {
                "Upper"
            };
            (name.to_string(), json!(tier))
        })
        .collect();
    let event = json!({
        "venue_id": venue["venue_id"], "name": "Cup Final", "starts_at": in_days(20),
        "tiers": [{"name": "Lower", "price_cents": 9000}, {"name": "Upper", "price_cents": 6000}],
        "section_tiers": section_tiers,
    });
    let (status, created) = staff
        .send(Method::POST, "/api/staff/events", Some(event))
        .await;
    assert_eq!(
        (status, created["seats"].as_i64()),
        (201, Some(50_000)),
        "{created}"
    );
    let event_id = EventId(created["event_id"].as_i64().expect("id"));
    let (_, stats) = staff
        .send(
            Method::GET,
            &format!("/api/staff/events/{event_id}/stats"),
            None,
        )
        .await;
    assert_eq!(
        (
            stats["available"].as_i64(),
            stats["sections"].as_array().map(Vec::len)
        ),
        (Some(50_000), Some(40))
    );
}

#[tokio::test]
async fn open_seat_maps_see_blocked_seats_at_once() {
    let (app, event, seats) = spawn_app_with_a_show().await;
    let mut staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let url = format!(
        "{}/api/events/{event}/live",
        app.base_url.replacen("http://", "ws://", 1)
    );
    let (mut map, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    let snapshot = next_json(&mut map).await;
    assert_eq!(snapshot["type"], "snapshot");
    let path = format!("/api/staff/events/{event}/seats/block");
    let (status, _) = staff
        .send(
            Method::POST,
            &path,
            Some(json!({"seat_ids": [seats[4], seats[5]], "blocked": true})),
        )
        .await;
    assert_eq!(status, 200);
    let delta = next_json(&mut map).await;
    assert_eq!(delta["type"], "delta", "{delta}");
    let mut changed: Vec<(i64, String)> = delta["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["seat_id"].as_i64().expect("id"),
                c["status"].as_str().expect("status").to_string(),
            )
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        vec![
            (seats[4], "blocked".to_string()),
            (seats[5], "blocked".to_string())
        ]
    );
}

/// The staff socket speaks for the session its cookie names; a page on
/// another site must not open it with the browser's cookie.
#[tokio::test]
async fn the_live_dashboard_refuses_a_handshake_from_another_site() {
    let (app, event, _) = spawn_app_with_a_show().await;
    let staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    let url = format!(
        "{}/api/staff/events/{event}/live",
        app.base_url.replacen("http://", "ws://", 1)
    );
    let handshake = |origin: String| {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                url.clone(),
            )
            .expect("request");
        let headers = request.headers_mut();
        let cookie = staff.cookie.clone().expect("cookie");
        headers.insert("cookie", cookie.parse().expect("header"));
        headers.insert("origin", origin.parse().expect("header"));
        request
    };
    let foreign =
        tokio_tungstenite::connect_async(handshake("https://tickets.example.evil".into()))
            .await
            .expect_err("refused");
    let tokio_tungstenite::tungstenite::Error::Http(response) = foreign else {
        panic!("an HTTP refusal, got {foreign:?}");
    };
    assert_eq!(response.status(), 403);
    let body: Value =
        serde_json::from_slice(response.body().as_deref().unwrap_or_default()).expect("JSON error");
    assert_eq!(body["error"]["code"], "forbidden");
    // From our own pages it opens.
    let (mut socket, _) = tokio_tungstenite::connect_async(handshake(app.base_url.clone()))
        .await
        .expect("same origin");
    assert_eq!(next_json(&mut socket).await["sold"], 0);
}

/// The layout's size is checked from its numbers before any seat is made:
/// a request for billions of seats is refused at once.
#[tokio::test]
async fn a_venue_of_billions_of_seats_is_refused_at_once() {
    let app = spawn_app().await;
    let mut staff = signed_in_member(&app, "staff@example.com", Role::Staff).await;
    // Every tier within the per-block limits; 1.7 billion seats in all.
    let tiers: Vec<Value> = (0..900)
        .map(|_| json!({"name_prefix": "T", "sections": 64, "rows": 150, "seats_per_row": 200}))
        .collect();
    let layout = json!({"name": "Huge", "city": "Leeds", "layout": {"kind": "bowl",
        "pitch_length_m": 105.0, "pitch_width_m": 68.0, "tiers": tiers}});
    let started = std::time::Instant::now();
    let response = app
        .client
        .post(app.url("/api/staff/venues"))
        .header("cookie", staff.cookie.clone().expect("cookie"))
        .json(&layout)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("answered (not still generating seats)");
    let took = started.elapsed();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "validation", "{body}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // A stage of many sections, each allowed, too many together.
    let sections: Vec<Value> = (0..201)
        .map(|i| json!({"name": format!("S{i}"), "rows": 150, "seats_per_row": 200}))
        .collect();
    let layout =
        json!({"name": "Long", "city": "Leeds", "layout": {"kind": "stage", "sections": sections}});
    let (status, body) = staff
        .send(Method::POST, "/api/staff/venues", Some(layout))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("validation"))
    );
}
