//! The onsale waiting room over real HTTP: staff settings, the pre-queue
//! and its auditable draw, first come first served after it, admissions at
//! the configured pace under the active cap, holds refused without an
//! admission, pause and resume, proof of work, and two servers sharing one
//! queue. Time moves with the inventory clock; admission steps are run by
//! the test (`Queue::tick`), as each server's ticker would.

use crate::common;

use app::types::{EventId, Role, SeatStatus};
use common::*;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use server::clock::now_ms;
use server::config::{Config, Switch};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery";
const HOUR_MS: i64 = 3_600_000;

/// An app with an event whose onsale is an hour ahead.
async fn setup() -> (TestApp, EventId) {
    setup_on(Config::for_database(fresh_database_url().await)).await
}

/// Per-address limits off: for tests that send many fans from one address.
fn unlimited(database_url: String) -> Config {
    Config {
        client_limits: Switch::Off,
        ..Config::for_database(database_url)
    }
}

async fn setup_on(config: Config) -> (TestApp, EventId) {
    let app = spawn_app_with(config).await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event_with(app.store(), hall, "Onsale", now_ms() + 5 * DAY_MS, |spec| {
        spec.onsale_at_ms = now_ms() + HOUR_MS;
    })
    .await;
    (app, event)
}

async fn staff<'a>(app: &'a TestApp) -> Buyer<'a> {
    let email = format!("staff{}@example.com", rand::random::<u32>());
    signed_in_member(app, &email, Role::Staff).await
}

/// Turns the waiting room on, open from now.
async fn protect(app: &TestApp, event: EventId, settings: Value) -> Value {
    let mut body = json!({
        "enabled": true,
        "opens_at": "2000-01-01T00:00:00Z",
        "admit_per_minute": 60,
        "max_active": 100,
    });
    body.as_object_mut()
        .expect("object")
        .extend(settings.as_object().expect("object").clone());
    let (status, answer) = staff(app)
        .await
        .send(
            Method::PUT,
            &format!("/api/staff/events/{event}/queue"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Asks to join (with the proof-of-work answer, if given): the status and
/// the answer.
async fn try_join(fan: &mut Buyer<'_>, event: EventId, answer: Option<Value>) -> (u16, Value) {
    fan.send(Method::POST, &format!("/api/events/{event}/queue"), answer)
        .await
}

async fn join(fan: &mut Buyer<'_>, event: EventId) -> Value {
    let (status, body) = try_join(fan, event, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn place(fan: &mut Buyer<'_>, event: EventId) -> Value {
    let (status, body) = fan
        .send(Method::GET, &format!("/api/events/{event}/queue"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn advance(app: &TestApp, ms: i64) {
    app.state.queue.clock().advance(ms);
}

async fn tick(app: &TestApp, event: EventId) -> server::queue::store::TickOutcome {
    app.state.queue.tick(event).await.expect("tick")
}

async fn first_seats(app: &TestApp, event: EventId, count: usize) -> Vec<i64> {
    seat_ids(app, event).await[..count].to_vec()
}

async fn staff_view(app: &TestApp, event: EventId) -> Value {
    let (status, body) = staff(app)
        .await
        .send(
            Method::GET,
            &format!("/api/staff/events/{event}/queue"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn staff_set_up_a_waiting_room_with_defaults_and_fans_cannot() {
    let (app, event) = setup().await;
    let mut fan = Buyer::new(&app);
    let put = |body: Value| {
        (
            Method::PUT,
            format!("/api/staff/events/{event}/queue"),
            body,
        )
    };
    let (method, path, body) =
        put(json!({"enabled": true, "admit_per_minute": 60, "max_active": 10}));
    let (status, _) = fan.send(method, &path, Some(body.clone())).await;
    assert_eq!(status, 401);

    let mut member = staff(&app).await;
    let (status, settings) = member.send(Method::PUT, &path, Some(body)).await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["admission_minutes"], 10);
    assert_eq!(settings["waiting"], 0);
    assert_eq!(settings["paused"], false);
    // Opens 30 minutes before the onsale unless told.
    let onsale = time::OffsetDateTime::parse(
        settings["onsale_at"].as_str().expect("onsale"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");
    let opens = time::OffsetDateTime::parse(
        settings["opens_at"].as_str().expect("opens"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");
    assert_eq!(onsale - opens, time::Duration::minutes(30));

    for bad in [
        json!({"enabled": true, "admit_per_minute": 0, "max_active": 10}),
        json!({"enabled": true, "admit_per_minute": 60, "max_active": 0}),
        json!({"enabled": true, "admit_per_minute": 60, "max_active": 10, "pow_difficulty": 99}),
    ] {
        let (status, body) = member.send(Method::PUT, &path, Some(bad)).await;
        assert_eq!(status, 422, "{body}");
    }
    // Not open yet: joining is refused with a clear error.
    let (status, body) = fan
        .send(Method::POST, &format!("/api/events/{event}/queue"), None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_on_sale");
}

/// What the event's own details say about its waiting room.
async fn waiting_room(app: &TestApp, event: EventId) -> Value {
    app.get_json(&format!("/api/events/{event}")).await.1["waiting_room"].clone()
}

#[tokio::test]
async fn holds_without_an_admission_are_refused_while_the_map_stays_open() {
    let (app, event) = setup().await;
    assert_eq!(waiting_room(&app, event).await, false);
    protect(&app, event, json!({})).await;
    // The event page learns from the event itself that the way in is the queue.
    assert_eq!(waiting_room(&app, event).await, true);
    advance(&app, HOUR_MS);
    let seats = first_seats(&app, event, 1).await;
    let mut fan = Buyer::new(&app);
    let (status, body) = fan.hold(event, &seats).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "queue_required");
    assert_eq!(
        body["error"]["queue_url"],
        format!("/api/events/{event}/queue")
    );
    assert_eq!(
        seat_status(&app, event, seats[0]).await,
        SeatStatus::Available
    );

    // Once admitted, the same fan holds.
    join(&mut fan, event).await;
    advance(&app, 1_000);
    tick(&app, event).await;
    assert_eq!(place(&mut fan, event).await["state"], "admitted");
    fan.held(event, &seats).await;

    // Turned off, the event sells without a queue.
    protect(&app, event, json!({"enabled": false})).await;
    assert_eq!(waiting_room(&app, event).await, false);
    Buyer::new(&app)
        .held(event, &first_seats(&app, event, 3).await[2..])
        .await;
}

/// The independent recomputation an auditor would do from the published
/// seed: sort the ids by HMAC-SHA256(seed, id).
fn recompute(seed_hex: &str, ids: &[String]) -> Vec<String> {
    let seed: Vec<u8> = (0..seed_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&seed_hex[i..i + 2], 16).expect("hex"))
        .collect();
    let mut keyed: Vec<(Vec<u8>, String)> = ids
        .iter()
        .map(|id| {
            let mut mac = Hmac::<Sha256>::new_from_slice(&seed).expect("key");
            mac.update(id.as_bytes());
            (mac.finalize().into_bytes()[..8].to_vec(), id.clone())
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test]
async fn the_pre_queue_is_drawn_at_the_onsale_and_anyone_can_recompute_the_draw() {
    let (app, event) = setup().await;
    let settings = protect(&app, event, json!({})).await;
    assert_eq!(settings["drawn"], false);
    let (status, before) = app
        .get_json(&format!("/api/events/{event}/queue/draw"))
        .await;
    assert_eq!(status, 200);
    let seed_hash = before["seed_hash"].as_str().expect("hash").to_string();
    assert_eq!(seed_hash.len(), 64);
    assert!(before.get("seed").is_none() && before.get("order").is_none());

    let mut fans: Vec<Buyer> = (0..6).map(|_| Buyer::new(&app)).collect();
    let mut ids = Vec::new();
    for fan in &mut fans {
        let joined = join(fan, event).await;
        assert_eq!(joined["state"], "waiting");
        assert!(
            joined.get("position").is_none(),
            "no position before the draw: {joined}"
        );
        ids.push(joined["queue_id"].as_str().expect("id").to_string());
    }
    assert_eq!(staff_view(&app, event).await["waiting"], 6);

    advance(&app, HOUR_MS);
    assert!(tick(&app, event).await.drawn);
    let (_, audit) = app
        .get_json(&format!("/api/events/{event}/queue/draw"))
        .await;
    let seed = audit["seed"].as_str().expect("seed after the draw");
    assert_eq!(seed_hash, hex_sha256(seed));
    let order: Vec<String> = serde_json::from_value(audit["order"].clone()).expect("order");
    assert_eq!(order, recompute(seed, &ids));

    // Each fan's position is their place in the published order.
    for (fan, id) in fans.iter_mut().zip(&ids) {
        let drawn_place = order.iter().position(|x| x == id).expect("in the draw") as i64;
        let now = place(fan, event).await;
        assert_eq!(now["state"], "waiting");
        assert_eq!(now["position"], json!(drawn_place + 1), "{now}");
    }
}

fn hex_sha256(seed_hex: &str) -> String {
    let bytes: Vec<u8> = (0..seed_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&seed_hex[i..i + 2], 16).expect("hex"))
        .collect();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn after_the_draw_newcomers_join_the_back_in_arrival_order() {
    let (app, event) = setup().await;
    protect(&app, event, json!({"admit_per_minute": 1})).await;
    let mut early: Vec<Buyer> = (0..3).map(|_| Buyer::new(&app)).collect();
    for fan in &mut early {
        join(fan, event).await;
    }
    advance(&app, HOUR_MS);
    tick(&app, event).await;
    for expected in 4..=6 {
        let mut late = Buyer::new(&app);
        let joined = join(&mut late, event).await;
        assert_eq!(joined["position"], expected, "{joined}");
        assert_eq!(joined["estimated_wait_seconds"], expected * 60);
    }
}

#[tokio::test]
async fn a_burst_of_joins_after_the_draw_gets_every_place_once_with_no_gaps() {
    let (app, event) = setup_on(unlimited(fresh_database_url().await)).await;
    protect(&app, event, json!({})).await;
    advance(&app, HOUR_MS);
    tick(&app, event).await;
    // Joins that arrive together are written together: the places they get
    // must still be one each, 1 to N, and two tabs of one fan joining at
    // the same moment must share a place.
    let mut fans: Vec<Buyer> = (0..120).map(|_| Buyer::new(&app)).collect();
    let path = format!("/api/events/{event}/queue");
    for fan in &mut fans {
        // Asking for a challenge starts the browser's session.
        fan.send(Method::GET, &format!("{path}/challenge"), None)
            .await;
        assert!(fan.cookie.is_some(), "a session before joining");
    }
    let answers = futures::future::join_all(fans.iter().flat_map(|fan| {
        [0, 1].map(|_| {
            let mut tab = Buyer {
                app: fan.app,
                cookie: fan.cookie.clone(),
            };
            let path = path.clone();
            async move { tab.send(Method::POST, &path, None).await }
        })
    }))
    .await;
    let mut positions = Vec::new();
    for pair in answers.chunks(2) {
        let [(first_status, first), (second_status, second)] = pair else {
            unreachable!("chunks of two");
        };
        assert_eq!(
            (*first_status, *second_status),
            (200, 200),
            "{first} {second}"
        );
        assert_eq!(first["queue_id"], second["queue_id"], "two tabs, one place");
        assert_eq!(first["position"], second["position"]);
        positions.push(first["position"].as_i64().expect("a position"));
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=120).collect::<Vec<i64>>());
}

#[tokio::test]
async fn a_refresh_and_a_second_tab_keep_the_place() {
    let (app, event) = setup().await;
    protect(&app, event, json!({})).await;
    advance(&app, HOUR_MS);
    let mut others = Buyer::new(&app);
    join(&mut others, event).await;
    let mut fan = Buyer::new(&app);
    let first = join(&mut fan, event).await;
    assert_eq!(first["position"], 2);
    // Another tab of the same browser shares the cookie: same place.
    let again = join(&mut fan, event).await;
    assert_eq!(again["queue_id"], first["queue_id"]);
    assert_eq!(again["position"], 2);
    assert_eq!(place(&mut fan, event).await["queue_id"], first["queue_id"]);
    // A stranger without the cookie is not in the queue.
    let (status, body) = Buyer::new(&app)
        .send(Method::GET, &format!("/api/events/{event}/queue"), None)
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn admissions_follow_the_pace_and_never_exceed_the_active_cap() {
    let (app, event) = setup().await;
    protect(
        &app,
        event,
        json!({"admit_per_minute": 60, "max_active": 3, "admission_minutes": 5}),
    )
    .await;
    let mut fans: Vec<Buyer> = (0..6).map(|_| Buyer::new(&app)).collect();
    for fan in &mut fans {
        join(fan, event).await;
    }
    advance(&app, HOUR_MS);
    tick(&app, event).await;
    let mut admitted = Vec::new();
    for _ in 0..10 {
        advance(&app, 1_000);
        admitted.push(tick(&app, event).await.admitted);
        let view = staff_view(&app, event).await;
        assert!(view["active"].as_i64().expect("active") <= 3, "{view}");
    }
    // One a second until three are in; then the cap holds the rest back.
    assert_eq!(admitted, [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);

    // An admitted fan buys: the slot goes to the next in line.
    let mut buyer = None;
    for (i, fan) in fans.iter_mut().enumerate() {
        if place(fan, event).await["state"] == "admitted" {
            buyer = Some(i);
            break;
        }
    }
    let fan = &mut fans[buyer.expect("someone admitted")];
    let hold = fan.held(event, &first_seats(&app, event, 1).await).await;
    let (status, paid) = fan
        .purchase(hold.hold_id, "queue-buy-0001", "tok_visa")
        .await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(place(fan, event).await["state"], "expired");
    advance(&app, 1_000);
    assert_eq!(tick(&app, event).await.admitted, 1);

    // Admissions not used run out after admission_minutes, freeing slots.
    advance(&app, 5 * 60_000);
    let outcome = tick(&app, event).await;
    assert_eq!(outcome.expired, 3);
    assert_eq!(outcome.admitted, 2, "the last two in line");
}

#[tokio::test]
async fn an_admission_expires_and_a_released_hold_uses_it_up() {
    let (app, event) = setup().await;
    protect(&app, event, json!({"admission_minutes": 2})).await;
    advance(&app, HOUR_MS);
    let mut fan = Buyer::new(&app);
    join(&mut fan, event).await;
    advance(&app, 1_000);
    tick(&app, event).await;
    let admitted = place(&mut fan, event).await;
    assert_eq!(admitted["state"], "admitted");
    assert!(admitted["admission_expires_at"].is_string());
    let seats = first_seats(&app, event, 2).await;
    let hold = fan.held(event, &seats[..1]).await;
    let (status, _) = fan
        .send(
            Method::DELETE,
            &format!("/api/holds/{}", hold.hold_id),
            None,
        )
        .await;
    assert_eq!(status, 204);
    // Released: the admission is used up.
    assert_eq!(place(&mut fan, event).await["state"], "expired");
    let (status, body) = fan.hold(event, &seats[1..]).await;
    assert_eq!(status, 403, "{body}");

    // Joining again goes to the back; its admission then runs out unused.
    let rejoined = join(&mut fan, event).await;
    assert_eq!(rejoined["state"], "waiting");
    advance(&app, 1_000);
    tick(&app, event).await;
    assert_eq!(place(&mut fan, event).await["state"], "admitted");
    advance(&app, 2 * 60_000);
    assert_eq!(place(&mut fan, event).await["state"], "expired");
    let (status, body) = fan.hold(event, &seats[1..]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "queue_required");
}

#[tokio::test]
async fn pause_stops_admissions_and_resume_restarts_them_without_a_burst() {
    let (app, event) = setup().await;
    protect(&app, event, json!({"admit_per_minute": 60})).await;
    let mut fans: Vec<Buyer> = (0..10).map(|_| Buyer::new(&app)).collect();
    for fan in &mut fans {
        join(fan, event).await;
    }
    let mut member = staff(&app).await;
    advance(&app, HOUR_MS);
    tick(&app, event).await;
    let (status, paused) = member
        .send(
            Method::POST,
            &format!("/api/staff/events/{event}/queue/pause"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["paused"], true);
    advance(&app, 30_000);
    assert_eq!(tick(&app, event).await.admitted, 0);
    assert_eq!(place(&mut fans[0], event).await["paused"], true);
    let (status, resumed) = member
        .send(
            Method::POST,
            &format!("/api/staff/events/{event}/queue/resume"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["paused"], false);
    // The paused half minute earned nothing: one second, one admission.
    advance(&app, 1_000);
    assert_eq!(tick(&app, event).await.admitted, 1);
    // The rate changes live: 4 a second (5 with the fraction of one left
    // over and the real time the calls took), where 60 a minute gives 1.
    let (status, body) = member
        .send(
            Method::PUT,
            &format!("/api/staff/events/{event}/queue"),
            Some(json!({"enabled": true, "opens_at": "2000-01-01T00:00:00Z",
                        "admit_per_minute": 240, "max_active": 100})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    advance(&app, 1_000);
    let faster = tick(&app, event).await.admitted;
    assert!((4..=5).contains(&faster), "{faster}");
    let view = staff_view(&app, event).await;
    assert_eq!(view["admitted_last_minute"], 1 + faster);
    let waiting = 9 - faster;
    assert_eq!(view["waiting"], waiting);
    assert_eq!(view["expected_clear_seconds"], (waiting * 60 + 239) / 240);
}

#[tokio::test]
async fn the_pace_over_a_minute_is_within_five_percent_of_the_rate() {
    let (app, event) = setup_on(unlimited(fresh_database_url().await)).await;
    protect(
        &app,
        event,
        json!({"admit_per_minute": 300, "max_active": 100_000}),
    )
    .await;
    for _ in 0..400 {
        join(&mut Buyer::new(&app), event).await;
    }
    advance(&app, HOUR_MS);
    assert!(tick(&app, event).await.drawn);
    let clock = app.state.queue.clock();
    let started = clock.now();
    let mut total = 0;
    // Uneven steps, as real tickers on busy servers take.
    for step in [700, 1_300, 250, 1_750].iter().cycle().take(60) {
        advance(&app, *step);
        total += tick(&app, event).await.admitted;
    }
    // About a minute (60 steps of 1 s on average, and the real time the
    // steps took): 300 a minute, within 5 %.
    let expected = 300.0 * (clock.now() - started) as f64 / 60_000.0;
    let error = (total as f64 - expected).abs() / expected;
    assert!(error <= 0.05, "admitted {total}, expected {expected:.1}");
}

/// Asks for the fan's proof-of-work challenge (checking its difficulty),
/// solves it, and returns the join body that carries the answer.
async fn solved_challenge(fan: &mut Buyer<'_>, event: EventId, bits: u32) -> Value {
    let (status, challenge) = fan
        .send(
            Method::GET,
            &format!("/api/events/{event}/queue/challenge"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{challenge}");
    assert_eq!(challenge["difficulty"], bits);
    let text = challenge["challenge"].as_str().expect("challenge");
    let nonce = app::queue::pow_solve(text, bits, 0, 1 << 24).expect("solved");
    json!({"challenge": text, "nonce": nonce})
}

#[tokio::test]
async fn proof_of_work_is_asked_for_when_the_event_sets_a_difficulty() {
    let (app, event) = setup().await;
    protect(&app, event, json!({"pow_difficulty": 8})).await;
    let mut fan = Buyer::new(&app);
    let (status, body) = try_join(&mut fan, event, None).await;
    assert_eq!(status, 403, "{body}");
    let answer = solved_challenge(&mut fan, event, 8).await;
    // Another browser cannot use this answer.
    let (status, _) = try_join(&mut Buyer::new(&app), event, Some(answer.clone())).await;
    assert_eq!(status, 403);
    let (status, joined) = try_join(&mut fan, event, Some(answer)).await;
    assert_eq!(status, 200, "{joined}");
    // Coming back needs no new proof.
    assert_eq!(join(&mut fan, event).await["queue_id"], joined["queue_id"]);
}

#[tokio::test]
async fn a_place_taken_through_one_server_comes_back_through_another_without_a_new_proof() {
    let url = fresh_database_url().await;
    let config = unlimited(url);
    let (one, event) = setup_on(config.clone()).await;
    let two = spawn_app_with(config).await;
    protect(&one, event, json!({"pow_difficulty": 8})).await;
    let mut fan = Buyer::new(&one);
    let answer = solved_challenge(&mut fan, event, 8).await;
    let (status, joined) = try_join(&mut fan, event, Some(answer)).await;
    assert_eq!(status, 200, "{joined}");
    // The same browser, sent to the other server, which has never seen it.
    let mut same_fan = Buyer {
        app: &two,
        cookie: fan.cookie.clone(),
    };
    let (status, again) = try_join(&mut same_fan, event, None).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["queue_id"], joined["queue_id"]);
    // A newcomer there still has to solve one.
    let (status, _) = try_join(&mut Buyer::new(&two), event, None).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_event_that_requires_sign_in_gives_one_place_per_account() {
    let (app, event) = setup().await;
    protect(&app, event, json!({"require_account": true})).await;
    let (status, body) = Buyer::new(&app)
        .send(Method::POST, &format!("/api/events/{event}/queue"), None)
        .await;
    assert_eq!(status, 401, "{body}");
    let mut phone = Buyer::new(&app);
    let (status, _) = phone
        .send(
            Method::POST,
            "/api/auth/register",
            Some(json!({"email": "one@example.com", "password": PASSWORD, "display_name": "One"})),
        )
        .await;
    assert_eq!(status, 201);
    let mut laptop = Buyer::new(&app);
    let (status, _) = laptop
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": "one@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 200);
    let on_phone = join(&mut phone, event).await;
    let on_laptop = join(&mut laptop, event).await;
    assert_eq!(on_phone["queue_id"], on_laptop["queue_id"]);
}

#[tokio::test]
async fn two_servers_on_one_database_share_one_queue_and_one_pace() {
    let url = fresh_database_url().await;
    // Servers sharing a database share the signing key.
    let config = unlimited(url);
    let (one, event) = setup_on(config.clone()).await;
    let two = spawn_app_with(config).await;
    protect(
        &one,
        event,
        json!({"admit_per_minute": 60, "max_active": 4}),
    )
    .await;
    let mut fans: Vec<(Buyer, usize)> = Vec::new();
    for i in 0..8 {
        let app = if i % 2 == 0 { &one } else { &two };
        let mut fan = Buyer::new(app);
        join(&mut fan, event).await;
        fans.push((fan, i % 2));
    }
    for app in [&one, &two] {
        advance(app, HOUR_MS);
    }
    // Both servers step the same room, each on its own clock, as their
    // tickers would: together they admit at one pace, under one cap.
    let mut admitted = 0;
    for _ in 0..6 {
        for app in [&one, &two] {
            advance(app, 1_000);
        }
        for app in [&one, &two] {
            admitted += tick(app, event).await.admitted;
        }
    }
    assert_eq!(admitted, 4, "6 s at 1 a second, capped at 4");
    let mut positions = Vec::new();
    let mut in_count = 0;
    for (fan, _) in &mut fans {
        let now = place(fan, event).await;
        match now["state"].as_str() {
            Some("admitted") => in_count += 1,
            _ => positions.push(now["position"].as_i64().expect("position")),
        }
    }
    assert_eq!(in_count, 4);
    positions.sort();
    assert_eq!(
        positions,
        [1, 2, 3, 4],
        "one line, whichever server answers"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_waiting_room() {
    let app = spawn_app().await;
    let (status, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    let paths = &doc["paths"];
    for (path, method) in [
        ("/api/staff/events/{id}/queue", "put"),
        ("/api/staff/events/{id}/queue", "get"),
        ("/api/staff/events/{id}/queue/pause", "post"),
        ("/api/staff/events/{id}/queue/resume", "post"),
        ("/api/events/{id}/queue", "post"),
        ("/api/events/{id}/queue", "get"),
        ("/api/events/{id}/queue/draw", "get"),
        ("/api/events/{id}/queue/challenge", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    let hold_403 = &paths["/api/events/{id}/holds"]["post"]["responses"]["403"]["description"];
    assert!(hold_403
        .as_str()
        .is_some_and(|d| d.contains("queue_required")));
    let states = &doc["components"]["schemas"]["QueueState"]["enum"];
    assert_eq!(*states, json!(["waiting", "admitted", "expired"]));
}
