//! How the server holds up against clients that misbehave at the HTTP
//! level: every refusal is the API's JSON error, slow requests are cut off,
//! clients that never finish their headers are dropped, open connections
//! are capped, and shutdown lets requests in flight finish.

use crate::common;

use common::*;
use serde_json::{json, Value};
use server::config::Config;
use server::web::serve::{serve, ServeSettings};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Status and JSON body of a response; fails if the body is not the API's
/// error shape.
async fn json_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_string());
    let text = response.text().await.expect("body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{status}: not JSON ({content_type:?}): {text:?}"));
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_string();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (status, code)
}

#[tokio::test]
async fn the_frameworks_own_refusals_are_json_errors_with_their_status() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let holds = app.url(&format!("/api/events/{event}/holds"));

    // Larger than the body limit, announced by Content-Length...
    let big = json!({"seat_ids": [1], "note": "x".repeat(100 * 1024)}).to_string();
    let response = app
        .client
        .post(&holds)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(
        json_error(response).await,
        (413, "payload_too_large".into())
    );
    // ...or streamed without one.
    let mut stream = TcpStream::connect(app.base_url.trim_start_matches("http://"))
        .await
        .expect("connect");
    let head = format!(
        "POST /api/events/{event}/holds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
        big.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    // The server may answer before reading it all.
    let _ = stream.write_all(big.as_bytes()).await;
    let _ = stream.write_all(b"\r\n0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");

    // JSON without saying so, or something else.
    for content_type in [None, Some("text/plain")] {
        let mut request = app.client.post(&holds).body(r#"{"seat_ids":[1]}"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("request");
        assert_eq!(
            json_error(response).await,
            (415, "unsupported_media_type".into()),
            "{content_type:?}"
        );
    }

    // A method the path does not take.
    let response = app
        .client
        .delete(app.url("/api/events"))
        .send()
        .await
        .expect("request");
    let allow = response.headers().get("allow").cloned();
    assert_eq!(
        json_error(response).await,
        (405, "method_not_allowed".into())
    );
    assert!(allow.is_some_and(|allow| allow.to_str().expect("ascii").contains("GET")));

    // Path parameters that are not ids, or not even UTF-8.
    for path in [
        "/api/events/abc/seats",
        "/api/holds/%FF%FE",
        "/api/events/%00",
    ] {
        let response = app.get(path).await;
        assert_eq!(
            json_error(response).await,
            (400, "bad_request".into()),
            "{path}"
        );
    }

    // The OpenAPI document says so.
    let (_, document) = app.get_json("/api/openapi.json").await;
    let responses = &document["paths"]["/api/events/{id}/holds"]["post"]["responses"];
    for status in ["413", "415", "422", "503"] {
        assert!(responses[status].is_object(), "{status}: {responses}");
    }
    let seats = &document["paths"]["/api/events/{id}/seats"]["get"]["responses"];
    assert!(
        seats["503"].is_object() && seats["413"].is_null(),
        "{seats}"
    );
}

#[tokio::test]
async fn a_request_that_takes_too_long_gets_a_json_503() {
    let mut config = Config::for_database(fresh_database_url().await);
    config.request_timeout_secs = 1;
    config.payment_latency_ms = 3_000;
    let app = spawn_app_with(config).await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let seats = seat_ids(&app, event).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &[seats[0]]).await;
    let started = Instant::now();
    let (status, body) = fan
        .purchase(hold.hold_id, "slow-payment-1", "tok_visa")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2_500),
        "cut off after the limit: {took:?}"
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let mut config = Config::for_database(fresh_database_url().await);
    config.header_read_timeout_secs = 1;
    let app = spawn_app_with(config).await;
    let mut slow = TcpStream::connect(app.base_url.trim_start_matches("http://"))
        .await
        .expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    // Whatever the server says (nothing, or a 408) before it hangs up.
    loop {
        let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buffer))
            .await
            .expect("the server hangs up within the header timeout");
        if matches!(read, Ok(0) | Err(_)) {
            break;
        }
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
    // The server keeps serving everyone else.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// A server of its own (no client has connected yet) with `settings`.
async fn start(
    settings: ServeSettings,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let config = Config::for_database(fresh_database_url().await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (router, _state) = server::web::build_app(&config, server::default_leptos_options(addr))
        .await
        .expect("build app");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router, settings, async {
        let _ = stopped.await;
    }));
    (addr.to_string(), stop, server)
}

/// Sends a health check on `stream` and waits up to `within` for the answer.
async fn health_on(stream: &mut TcpStream, within: Duration) -> Option<String> {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buffer = vec![0u8; 4096];
    match tokio::time::timeout(within, stream.read(&mut buffer)).await {
        Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&buffer[..n]).into_owned()),
        _ => None,
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let (addr, _stop, _server) = start(ServeSettings {
        header_read_timeout: Duration::from_secs(30),
        max_connections: 2,
    })
    .await;
    let mut first = TcpStream::connect(&addr).await.expect("connect");
    let mut second = TcpStream::connect(&addr).await.expect("connect");
    for stream in [&mut first, &mut second] {
        let answer = health_on(stream, Duration::from_secs(10)).await;
        assert!(answer.is_some_and(|a| a.starts_with("HTTP/1.1 200")));
    }
    // Both slots are taken (the connections are kept alive): a third waits.
    let mut third = TcpStream::connect(&addr)
        .await
        .expect("the kernel queues it");
    assert_eq!(
        health_on(&mut third, Duration::from_millis(700)).await,
        None
    );
    drop(first);
    let mut buffer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buffer))
        .await
        .expect("served once a slot frees")
        .expect("read");
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_and_accepts_no_more() {
    let (addr, stop, server) = start(ServeSettings {
        header_read_timeout: Duration::from_secs(30),
        max_connections: 100,
    })
    .await;
    let mut in_flight = TcpStream::connect(&addr).await.expect("connect");
    // Headers sent, body still coming: the request is in flight.
    let body =
        br#"{"email":"a@example.com","password":"correct horse battery","display_name":"A"}"#;
    let head = format!(
        "POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.expect("write");
    in_flight.write_all(&body[..10]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).expect("stop");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        TcpStream::connect(&addr).await.is_err(),
        "no new connections once stopping"
    );
    in_flight.write_all(&body[10..]).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), in_flight.read_to_end(&mut answer))
        .await
        .expect("answered, then closed")
        .expect("read");
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server returns once drained")
        .expect("no panic");
}
