//! What an operator and a browser see of a running server beyond the API:
//! request ids, security and caching headers, readiness, metrics, and live
//! sockets closed with 1001 when the server stops.

use crate::common;

use common::*;
use futures::StreamExt;
use server::config::Config;
use server::web::build_app;
use server::web::serve::{serve, ServeSettings};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn every_response_has_a_request_id_and_the_security_headers() {
    let app = spawn_app().await;
    let response = app.get("/api/events").await;
    let headers = response.headers();
    let id = headers["x-request-id"].to_str().expect("ascii");
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "a fresh id: {id}"
    );
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    for directive in [
        "default-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    assert!(
        headers.get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );

    // A proxy's id is kept; a claim of TLS from an untrusted peer is not believed.
    let response = app
        .client
        .get(app.url("/api/events"))
        .header("x-request-id", "nginx-4f2a")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["x-request-id"], "nginx-4f2a");
    assert!(response
        .headers()
        .get("strict-transport-security")
        .is_none());
}

#[tokio::test]
async fn hsts_is_sent_when_a_trusted_proxy_terminated_tls() {
    let mut config = Config::for_database(fresh_database_url().await);
    config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("CIDR")];
    let app = spawn_app_with(config).await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("request");
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .expect("ascii");
    assert!(hsts.starts_with("max-age=63072000"), "{hsts}");
}

#[tokio::test]
async fn readiness_ends_when_shutdown_begins_and_liveness_does_not() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ready")),
        "{body}"
    );
    app.state.lifecycle.begin_shutdown();
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(
        (status, body["stopping"].as_bool()),
        (503, Some(true)),
        "{body}"
    );
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn the_home_page_may_be_kept_by_a_cdn_as_long_as_the_server_keeps_it() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=0, s-maxage=60, stale-while-revalidate=60"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_the_seat_writer_s_work() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let seats = seat_ids(&app, event).await;
    let mut buyer = Buyer::new(&app);
    buyer.held(event, &[seats[0]]).await;
    let (status, _) = Buyer::new(&app).hold(event, &[seats[0]]).await;
    assert_eq!(status, 409);

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain"));
    let text = response.text().await.expect("body");
    let has = |needle: &str| text.lines().any(|line| line.starts_with(needle));
    for series in [
        "tessera_http_requests_total{method=\"POST\",route=\"/api/events/{id}/holds\",status=\"201\"}",
        "tessera_http_requests_total{method=\"POST\",route=\"/api/events/{id}/holds\",status=\"409\"}",
        "tessera_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/events/{id}/holds\",le=",
        "tessera_holds_total{outcome=\"held\"}",
        "tessera_holds_total{outcome=\"conflict\"}",
        "tessera_seat_writer_batch_size_bucket",
        "tessera_seat_writer_commit_seconds_bucket",
        "tessera_db_pool_connections",
    ] {
        assert!(has(series), "{series} missing from:\n{text}");
    }
    assert!(
        !text.contains(&format!("/api/events/{event}/holds")),
        "raw paths never become labels"
    );
}

#[tokio::test]
async fn the_metrics_listener_serves_metrics_from_its_own_address() {
    let app = spawn_app().await;
    app.get("/api/events").await;
    let any_port = "127.0.0.1:0".parse().expect("address");
    let bound = server::web::observe::spawn_metrics_listener(any_port, app.store().clone())
        .expect("the metrics listener starts");
    let response = reqwest::get(format!("http://{bound}/metrics"))
        .await
        .expect("the metrics listener answers");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    for series in [
        "tessera_http_requests_total{method=\"GET\",route=\"/api/events\"",
        "tessera_db_pool_connections",
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
    let other = reqwest::get(format!("http://{bound}/api/events"))
        .await
        .expect("answers");
    assert_eq!(other.status(), 404, "only /metrics is served there");
}

#[tokio::test]
async fn a_stopping_server_closes_live_sockets_with_going_away() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let url = app
        .url(&format!("/api/events/{event}/live"))
        .replacen("http://", "ws://", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("live socket");
    let first = socket.next().await.expect("a message").expect("ok");
    assert!(matches!(first, Message::Text(_)), "the snapshot first");
    app.state.lifecycle.begin_shutdown();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("closed within 5 s")
    .expect("with a code");
    assert_eq!(u16::from(closed.code), 1001);
    app.state
        .live
        .wait_for_viewers_to_leave(Duration::from_secs(5))
        .await;
    assert_eq!(app.state.live.viewers(), 0);
}

/// `/pkg` serves the `.br` and `.gz` written beside each file, and marks
/// hashed names immutable.
#[tokio::test]
async fn build_files_are_served_precompressed_and_cached_for_ever_when_hashed() {
    let site = std::env::temp_dir().join(format!(
        "tessera-site-{}-{}",
        std::process::id(),
        server::clock::now_ms()
    ));
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg).expect("site dir");
    std::fs::write(pkg.join("tessera.abc123.js"), "plain").expect("file");
    std::fs::write(pkg.join("tessera.abc123.js.br"), "brotli bytes").expect("file");
    std::fs::write(pkg.join("tessera.abc123.js.gz"), "gzip bytes").expect("file");

    let config = Config::for_database(fresh_database_url().await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut options = server::default_leptos_options(addr);
    options.site_root = site.to_string_lossy().into_owned().into();
    options.hash_files = true;
    let (router, _state) = build_app(&config, options).await.expect("app");
    tokio::spawn(serve(
        listener,
        router,
        ServeSettings::from_config(&config),
        std::future::pending(),
    ));
    let client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .expect("client");
    let url = format!("http://{addr}/pkg/tessera.abc123.js");
    for (accept, encoding, body) in [
        ("br, gzip", Some("br"), "brotli bytes"),
        ("gzip", Some("gzip"), "gzip bytes"),
        ("identity", None, "plain"),
    ] {
        let response = client
            .get(&url)
            .header("accept-encoding", accept)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().expect("ascii")),
            encoding,
            "{accept}"
        );
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(response.text().await.expect("body"), body);
    }
    let missing = client
        .get(format!("http://{addr}/pkg/nothing.js"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get("cache-control").is_none());
    let _ = std::fs::remove_dir_all(&site);
}
