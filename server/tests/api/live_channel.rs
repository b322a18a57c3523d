//! The live seat-map channel: snapshot then ordered deltas over a real
//! WebSocket, resynchronisation of a viewer that fell behind, and fan-out
//! across two server processes sharing one database.

use crate::common;

use app::types::{EventId, LiveMessage, SeatStatus};
use common::*;
use futures::StreamExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(base_url: &str, event: EventId) -> Socket {
    let url = format!(
        "{}/api/events/{event}/live",
        base_url.replacen("http://", "ws://", 1)
    );
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket")
        .0
}

/// The next JSON message, or a failure after `within`.
async fn next_message(socket: &mut Socket, within: Duration) -> LiveMessage {
    loop {
        let frame = tokio::time::timeout(within, socket.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("live message");
        }
    }
}

async fn hall_event(app: &TestApp) -> (EventId, Vec<i64>) {
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    (event, seat_ids(app, event).await)
}

#[tokio::test]
async fn a_viewer_gets_a_snapshot_then_every_change_in_order() {
    let app = spawn_app().await;
    let (event, seats) = hall_event(&app).await;
    let mut viewer = connect(&app.base_url, event).await;
    let LiveMessage::Snapshot {
        version,
        seats: snapshot,
    } = next_message(&mut viewer, Duration::from_secs(5)).await
    else {
        panic!("snapshot first");
    };
    assert_eq!(version, 0);
    assert_eq!(snapshot.len(), 20);

    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..2]).await;
    let delta = next_message(&mut viewer, Duration::from_secs(2)).await;
    let LiveMessage::Delta {
        prev_version,
        version,
        changes,
    } = delta
    else {
        panic!("delta")
    };
    assert_eq!((prev_version, version), (0, 1));
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| c.status == SeatStatus::Held));

    fan.send(
        reqwest::Method::DELETE,
        &format!("/api/holds/{}", hold.hold_id),
        None,
    )
    .await;
    let LiveMessage::Delta {
        prev_version,
        version,
        changes,
    } = next_message(&mut viewer, Duration::from_secs(2)).await
    else {
        panic!("delta")
    };
    assert_eq!((prev_version, version), (1, 2));
    assert!(changes.iter().all(|c| c.status == SeatStatus::Available));

    // A viewer joining now starts from the current version.
    let mut late = connect(&app.base_url, event).await;
    let LiveMessage::Snapshot { version, seats } =
        next_message(&mut late, Duration::from_secs(5)).await
    else {
        panic!("snapshot")
    };
    assert_eq!(version, 2);
    assert!(seats.iter().all(|s| s.status == SeatStatus::Available));
    viewer.close(None).await.expect("close");
}

#[tokio::test]
async fn a_burst_of_changes_arrives_batched_and_complete() {
    let app = spawn_app().await;
    let (event, seats) = hall_event(&app).await;
    let mut viewer = connect(&app.base_url, event).await;
    next_message(&mut viewer, Duration::from_secs(5)).await;
    for seat in &seats {
        Buyer::new(&app).held(event, &[*seat]).await;
    }
    // Twenty holds: fewer frames than changes, yet every seat shows held and
    // versions chain without a gap.
    let (mut frames, mut held, mut at) = (0, std::collections::HashSet::new(), 0);
    while held.len() < seats.len() {
        let LiveMessage::Delta {
            prev_version,
            version,
            changes,
        } = next_message(&mut viewer, Duration::from_secs(3)).await
        else {
            panic!("delta")
        };
        assert_eq!(prev_version, at, "no gap");
        at = version;
        frames += 1;
        held.extend(
            changes
                .into_iter()
                .filter(|c| c.status == SeatStatus::Held)
                .map(|c| c.seat_id),
        );
    }
    assert_eq!(at, 20);
    assert!(frames <= 20, "{frames} frames");
}

#[tokio::test]
async fn bad_live_requests_get_json_errors() {
    let app = spawn_app().await;
    let (event, _) = hall_event(&app).await;
    let (status, body) = app.get_json(&format!("/api/events/{event}/live")).await;
    assert_eq!(status, 400, "plain GET without upgrade: {body}");
    let url = format!(
        "{}/api/events/424242/live",
        app.base_url.replacen("http://", "ws://", 1)
    );
    let error = tokio_tungstenite::connect_async(url)
        .await
        .expect_err("no such event");
    assert!(error.to_string().contains("404"), "{error}");
}

#[tokio::test]
async fn changes_made_on_one_server_process_reach_viewers_on_another() {
    // Two real server processes on one database (PostgreSQL in the
    // PostgreSQL run, one SQLite file otherwise).
    let database_url = fresh_database_url().await;
    let seed_app = spawn_app_with(server::config::Config::for_database(database_url.clone())).await;
    let (event, seats) = hall_event(&seed_app).await;
    let a = ServerProcess::start(&database_url).await;
    let b = ServerProcess::start(&database_url).await;

    let mut viewer_on_b = connect(&b.base_url, event).await;
    next_message(&mut viewer_on_b, Duration::from_secs(5)).await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/events/{event}/holds", a.base_url))
        .json(&serde_json::json!({"seat_ids": [seats[3]]}))
        .send()
        .await
        .expect("hold on A");
    assert_eq!(response.status(), 201);
    let LiveMessage::Delta { changes, .. } =
        next_message(&mut viewer_on_b, Duration::from_secs(2)).await
    else {
        panic!("delta on B")
    };
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].seat_id.0, seats[3]);
    assert_eq!(changes[0].status, SeatStatus::Held);
}

/// The real `server` binary, started on a free port and killed on drop.
struct ServerProcess {
    base_url: String,
    child: std::process::Child,
}

impl ServerProcess {
    #[expect(
        clippy::zombie_processes,
        reason = "the Drop impl kills and reaps the child on every path"
    )]
    async fn start(database_url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .env("DATABASE_URL", database_url)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            // Both servers sign tickets with one key, as a deployment must.
            .env("TESSERA_TICKET_KEY", "7".repeat(64))
            .env("LEPTOS_OUTPUT_NAME", "tessera")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start server");
        let base_url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client
                .get(format!("{base_url}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Self { base_url, child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server process did not become healthy");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_websocket_handshake_from_another_site_is_refused() {
    let app = spawn_app().await;
    let (event, _) = hall_event(&app).await;
    let url = format!(
        "{}/api/events/{event}/live",
        app.base_url.replacen("http://", "ws://", 1)
    );
    let with_origin = |origin: &str| {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                url.clone(),
            )
            .expect("request");
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header"));
        request
    };
    let refused = tokio_tungstenite::connect_async(with_origin("https://elsewhere.example"))
        .await
        .expect_err("refused");
    assert!(refused.to_string().contains("403"), "{refused}");
    let (mut viewer, _) = tokio_tungstenite::connect_async(with_origin(&app.base_url))
        .await
        .expect("our own pages connect");
    assert!(matches!(
        next_message(&mut viewer, Duration::from_secs(5)).await,
        LiveMessage::Snapshot { .. }
    ));
}

/// A viewer that upgrades and then never reads cannot pin a stadium
/// snapshot in memory: once its socket has been blocked for the send
/// timeout, it is dropped, while viewers that read are served as before.
#[tokio::test]
async fn a_viewer_that_stops_reading_is_dropped_after_the_send_timeout() {
    let mut config = server::config::Config::for_database(fresh_database_url().await);
    config.live_send_timeout_secs = 1;
    let app = spawn_app_with(config).await;
    let (venue_spec, section_tiers) = server::demo::stadium();
    let venue = server::catalog::create::create_venue(app.store(), &venue_spec)
        .await
        .expect("stadium");
    let mut tier_names: Vec<&str> = section_tiers.iter().map(|(_, tier)| *tier).collect();
    tier_names.sort_unstable();
    tier_names.dedup();
    let starts = server::clock::now_ms() + 5 * DAY_MS;
    let event = add_event_with(app.store(), venue, "Final", starts, |spec| {
        spec.tiers = tier_names
            .iter()
            .map(|name| server::catalog::create::TierSpec {
                name: name.to_string(),
                price_cents: 5000,
            })
            .collect();
        spec.section_tiers = section_tiers
            .iter()
            .map(|(section, tier)| (section.clone(), tier.to_string()))
            .collect();
    })
    .await;
    let channel = app.state.live.channel(event).await.expect("channel");
    let viewers_become = |count: usize| {
        let channel = channel.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(15), async {
                while channel.viewer_count() != count {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .is_ok()
        }
    };

    // A client with a tiny receive window that upgrades, then never reads:
    // the 5 MB snapshot fills both sides' buffers and the send blocks.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small window");
    let addr = app
        .base_url
        .trim_start_matches("http://")
        .parse()
        .expect("addr");
    let mut stalled = socket.connect(addr).await.expect("connect");
    let handshake = format!(
        "GET /api/events/{event}/live HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut stalled, handshake.as_bytes())
        .await
        .expect("handshake");
    assert!(viewers_become(1).await, "the viewer joins");
    let joined = std::time::Instant::now();

    // Deltas keep flowing meanwhile, and a reading viewer gets them.
    let seats = seat_ids(&app, event).await;
    let mut reader = connect(&app.base_url, event).await;
    assert!(matches!(
        next_message(&mut reader, Duration::from_secs(15)).await,
        LiveMessage::Snapshot { .. }
    ));
    Buyer::new(&app).held(event, &[seats[0]]).await;
    assert!(matches!(
        next_message(&mut reader, Duration::from_secs(5)).await,
        LiveMessage::Delta { .. }
    ));

    assert!(viewers_become(1).await, "the stalled viewer is dropped");
    let took = joined.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
    drop(stalled);
}
