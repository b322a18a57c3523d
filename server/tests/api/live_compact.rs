//! The layout document and the compact live format: the layout is served
//! under its content hash, immutable and cached; a client that applies a
//! snapshot and then deltas, in either format, ends with every seat's
//! status equal to the database's after a random workload.

use crate::common;

use app::layout::{unpack_statuses, CompactMessage, SeatLayout};
use app::types::{EventId, HoldId, LiveMessage, SeatStatus};
use base64::Engine;
use common::*;
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, event: EventId, query: &str) -> Socket {
    let url = format!(
        "{}/api/events/{event}/live{query}",
        app.base_url.replacen("http://", "ws://", 1)
    );
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket")
        .0
}

async fn next_text(socket: &mut Socket) -> String {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return text.to_string();
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn layout(app: &TestApp, event: EventId) -> (String, SeatLayout) {
    // reqwest follows the redirect to the hashed copy.
    let response = app.get(&format!("/api/events/{event}/layout")).await;
    assert_eq!(response.status(), 200);
    let path = response.url().path().to_string();
    let body = response.bytes().await.expect("body");
    let hash = path.strip_prefix("/api/layouts/").expect("hashed path");
    assert_eq!(
        hash,
        hex(&Sha256::digest(&body)),
        "the hash names the bytes"
    );
    (
        hash.to_string(),
        serde_json::from_slice(&body).expect("layout"),
    )
}

/// A GET that does not follow redirects, with the given headers.
async fn get_as_is(app: &TestApp, path: &str, headers: &[(&str, String)]) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut request = client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn the_layout_is_served_immutable_under_its_hash() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;

    let redirect = get_as_is(&app, &format!("/api/events/{event}/layout"), &[]).await;
    assert_eq!(redirect.status(), 307);
    assert_eq!(redirect.headers()["cache-control"], "no-cache");
    let location = redirect.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();

    let (hash, layout) = layout(&app, event).await;
    assert_eq!(location, format!("/api/layouts/{hash}"));
    assert_eq!(layout.event_id, event);
    assert_eq!(layout.seat_count(), 20);
    let names: Vec<&str> = layout.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Front", "Back"]);
    assert_eq!(layout.sections[0].rows.len(), 2);
    assert_eq!(layout.tiers.len(), 2);

    let plain = get_as_is(&app, &location, &[]).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(
        plain.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = plain.headers()["etag"].to_str().expect("etag").to_string();
    assert_eq!(etag, format!("\"{hash}\""));
    let revalidated = get_as_is(&app, &location, &[("if-none-match", etag.clone())]).await;
    assert_eq!(revalidated.status(), 304);
    let gzipped = get_as_is(&app, &location, &[("accept-encoding", "gzip".into())]).await;
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");

    // A hash this server never made, or not a hash at all: JSON 404.
    for path in [
        format!("/api/layouts/{}", "0".repeat(64)),
        "/api/layouts/nope".into(),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    // An unknown format is refused, not guessed.
    let (status, body) = app
        .get_json(&format!("/api/events/{event}/seats?format=xml"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request");
}

#[tokio::test]
async fn the_maps_binary_layout_is_the_json_layout_under_the_same_hash() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let (hash, json_layout) = layout(&app, event).await;

    let redirect = get_as_is(
        &app,
        &format!("/api/events/{event}/layout?format=compact"),
        &[],
    )
    .await;
    assert_eq!(redirect.status(), 307);
    let location = redirect.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    assert_eq!(location, format!("/api/layouts/{hash}?format=compact"));

    let plain = get_as_is(&app, &location, &[]).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        plain.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = plain.headers()["etag"].to_str().expect("etag").to_string();
    assert_eq!(etag, format!("\"{hash}-compact\""));
    let bytes = plain.bytes().await.expect("body");
    assert_eq!(
        SeatLayout::from_packed(&bytes),
        Some(json_layout),
        "the same layout, seat by seat"
    );

    let revalidated = get_as_is(&app, &location, &[("if-none-match", etag)]).await;
    assert_eq!(revalidated.status(), 304);
    let json_etag = get_as_is(&app, &location, &[("if-none-match", format!("\"{hash}\""))]).await;
    assert_eq!(
        json_etag.status(),
        200,
        "the JSON's ETag is not this form's"
    );
    let gzipped = get_as_is(&app, &location, &[("accept-encoding", "gzip".into())]).await;
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzipped.bytes().await.expect("body")[..])
        .read_to_end(&mut unzipped)
        .expect("gzip");
    assert_eq!(unzipped, bytes);

    // An unknown format is refused on both addresses, with a JSON error.
    for path in [
        format!("/api/events/{event}/layout?format=xml"),
        format!("/api/layouts/{hash}?format=xml"),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"]["code"], "bad_request");
    }
}

/// What a client keeps: one status per seat id.
#[derive(Default)]
struct Replica {
    version: i64,
    statuses: HashMap<i64, SeatStatus>,
}

impl Replica {
    fn apply_json(&mut self, text: &str) {
        match serde_json::from_str::<LiveMessage>(text).expect("live message") {
            LiveMessage::Snapshot { version, seats } => {
                self.version = version;
                self.statuses = seats.into_iter().map(|s| (s.id.0, s.status)).collect();
            }
            LiveMessage::Delta {
                prev_version,
                version,
                changes,
            } => {
                assert_eq!(prev_version, self.version, "no gap");
                self.version = version;
                for change in changes {
                    self.statuses.insert(change.seat_id.0, change.status);
                }
            }
        }
    }

    fn apply_compact(&mut self, text: &str, layout: &SeatLayout, hash: &str) {
        let ids: Vec<i64> = layout.seats().map(|(_, _, seat)| seat.id.0).collect();
        match serde_json::from_str::<CompactMessage>(text).expect("compact message") {
            CompactMessage::Snapshot {
                version,
                layout_hash,
                seats,
                status,
            } => {
                assert_eq!(layout_hash, hash);
                assert_eq!(seats, ids.len());
                let packed = base64::engine::general_purpose::STANDARD
                    .decode(status)
                    .expect("base64");
                let statuses = unpack_statuses(&packed, seats).expect("packed statuses");
                self.version = version;
                self.statuses = ids.iter().copied().zip(statuses).collect();
            }
            CompactMessage::Delta {
                prev_version,
                version,
                changes,
            } => {
                assert_eq!(prev_version, self.version, "no gap");
                self.version = version;
                for (index, code) in changes {
                    let id = ids[index as usize];
                    self.statuses
                        .insert(id, app::layout::status_from_code(code));
                }
            }
        }
    }
}

async fn database_statuses(app: &TestApp, event: EventId) -> (i64, HashMap<i64, SeatStatus>) {
    let rows: Vec<(i64, String)> = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT id, status FROM seats WHERE event_id = $1")
            .bind(event.0)
            .fetch_all(pool)
            .await)
    .expect("seats");
    let (version,): (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT version FROM events WHERE id = $1")
            .bind(event.0)
            .fetch_one(pool)
            .await)
    .expect("version");
    let statuses = rows
        .into_iter()
        .map(|(id, status)| (id, SeatStatus::parse(&status).expect("status")))
        .collect();
    (version, statuses)
}

#[tokio::test]
async fn both_formats_replay_a_random_workload_to_the_databases_statuses() {
    let gateway = Arc::new(server::payments::test_gateway::TestGateway::default());
    let app = spawn_app_with_gateway(fresh_database_url().await, gateway).await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let (hash, layout) = layout(&app, event).await;
    let seat_ids: Vec<i64> = layout.seats().map(|(_, _, seat)| seat.id.0).collect();

    let mut json_viewer = connect(&app, event, "").await;
    let mut compact_viewer = connect(&app, event, "?format=compact").await;
    let (mut json, mut compact) = (Replica::default(), Replica::default());
    json.apply_json(&next_text(&mut json_viewer).await);
    compact.apply_compact(&next_text(&mut compact_viewer).await, &layout, &hash);

    // Holds, releases and purchases by several buyers, at random.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5ea7);
    let mut buyers: Vec<Buyer> = (0..4).map(|_| Buyer::new(&app)).collect();
    let mut holds: Vec<(usize, HoldId)> = Vec::new();
    for step in 0..60 {
        let who = rng.random_range(0..buyers.len());
        match rng.random_range(0..4) {
            0 | 1 => {
                let count = rng.random_range(1..=3);
                let picked: Vec<i64> = (0..count)
                    .map(|_| seat_ids[rng.random_range(0..seat_ids.len())])
                    .collect();
                let (status, hold) = buyers[who].hold(event, &picked).await;
                if status == 201 {
                    holds.push((who, HoldId(hold["hold_id"].as_i64().expect("hold id"))));
                }
            }
            2 if !holds.is_empty() => {
                let (owner, hold_id) = holds.swap_remove(rng.random_range(0..holds.len()));
                buyers[owner]
                    .send(
                        reqwest::Method::DELETE,
                        &format!("/api/holds/{hold_id}"),
                        None,
                    )
                    .await;
            }
            3 if !holds.is_empty() => {
                let (owner, hold_id) = holds.swap_remove(rng.random_range(0..holds.len()));
                // One email per purchase: the per-email ticket limit is not under test.
                let body = serde_json::json!({
                    "email": format!("fan-{step}@example.com"),
                    "payment": {"token": "tok_visa"},
                });
                let (status, body) = buyers[owner]
                    .purchase_with(hold_id, &format!("key-{step:04}-random"), body)
                    .await;
                assert_eq!(status, 201, "{body}");
            }
            _ => {}
        }
    }

    // End with one seat surely held, whatever the draw left: a held seat
    // must travel too.
    let (_, before) = database_statuses(&app, event).await;
    let free = before
        .iter()
        .find(|(_, status)| **status == SeatStatus::Available)
        .map(|(seat, _)| *seat)
        .expect("a seat left available");
    Buyer::new(&app).held(event, &[free]).await;

    let (version, expected) = database_statuses(&app, event).await;
    assert!(version > 10, "the workload changed seats ({version})");
    assert!(expected.values().any(|s| *s == SeatStatus::Sold));
    assert!(expected.values().any(|s| *s == SeatStatus::Held));
    while json.version < version {
        json.apply_json(&next_text(&mut json_viewer).await);
    }
    while compact.version < version {
        compact.apply_compact(&next_text(&mut compact_viewer).await, &layout, &hash);
    }
    assert_eq!(json.statuses, expected, "the JSON client");
    assert_eq!(compact.statuses, expected, "the compact client");

    // A late compact viewer, and the compact seat-status read, agree too.
    let mut late = Replica::default();
    late.apply_compact(
        &next_text(&mut connect(&app, event, "?format=compact").await).await,
        &layout,
        &hash,
    );
    assert_eq!((late.version, &late.statuses), (version, &expected));
    let read = app
        .get(&format!("/api/events/{event}/seats?format=compact"))
        .await
        .text()
        .await
        .expect("body");
    let mut from_read = Replica::default();
    from_read.apply_compact(&read, &layout, &hash);
    assert_eq!(from_read.statuses, expected);
}

/// The stadium's status on connect fits in a few frames: two bits a seat.
#[test]
fn a_stadium_snapshot_is_under_sixty_four_kilobytes() {
    let statuses = std::iter::repeat_n(SeatStatus::Sold, 50_000);
    let frame = server::live::compact::snapshot_frame(1, &"a".repeat(64), statuses);
    assert!(frame.len() < 64 * 1024, "{} bytes", frame.len());
    assert!(frame.len() < 17_000, "{} bytes", frame.len());
}
