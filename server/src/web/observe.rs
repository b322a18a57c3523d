//! What an operator sees of the HTTP surface: one INFO line per request
//! with a request id (sent back in `x-request-id`), the request metrics, and
//! `GET /metrics` in the Prometheus text format.
//!
//! Labels are bounded so a scrape stays cheap however many requests and
//! viewers there are: a route is its template (`/api/events/{id}/holds`),
//! never the raw path; requests that match no route are `unmatched`.

use crate::payments::card_guard::loggable_path;
use crate::store::Store;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// An incoming id longer than this, or with other characters than
/// `[A-Za-z0-9._-]`, is replaced (it would otherwise go into every log line).
const MAX_REQUEST_ID: usize = 64;

/// Latency buckets in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Batch-size buckets of the seat writer (operations per commit).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The process's metrics recorder, installed on first use. A process has
/// one recorder; tests build many routers and all share it.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full("tessera_seat_writer_batch_size".into()),
                    BATCH_BUCKETS,
                )
            })
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        if let Err(error) = metrics::set_global_recorder(recorder) {
            tracing::warn!(%error, "a metrics recorder was already installed");
        }
        // Histograms are drained into their buckets by upkeep; without it
        // their samples would pile up between scrapes.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            })
            .ok();
        handle
    })
}

/// `GET /metrics`: every metric in the Prometheus text format. Gauges that
/// are cheaper to read than to track (the database pool) are read here.
pub async fn metrics_endpoint(State(store): State<Store>) -> Response {
    let (open, idle, max) = store.pool_use();
    metrics::gauge!("tessera_db_pool_connections").set(f64::from(open));
    metrics::gauge!("tessera_db_pool_idle_connections").set(idle as f64);
    metrics::gauge!("tessera_db_pool_max_connections").set(f64::from(max));
    let body = metrics_handle().render();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// Serves `GET /metrics` on `addr` from a thread of its own, with its own
/// single-threaded runtime, and returns the address it listens on. A scrape
/// on the main listener waits behind the runtime's work: with 10,000 live
/// viewers and seats changing, its p99 was about 100 ms (BENCHMARKS.md).
/// This thread is asleep until a scrape arrives, so the operating system
/// runs it at once whatever the runtime's queue holds.
pub fn spawn_metrics_listener(addr: SocketAddr, store: Store) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("metrics-listener".into())
        .spawn(move || {
            runtime.block_on(async move {
                let app = Router::new()
                    .route("/metrics", get(metrics_endpoint))
                    .with_state(store);
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        if let Err(error) = axum::serve(listener, app).await {
                            tracing::error!(%error, "the metrics listener stopped");
                        }
                    }
                    Err(error) => tracing::error!(%error, "the metrics listener did not start"),
                }
            });
        })?;
    Ok(local)
}

/// The route template a request matched, carried from inside the router
/// (where axum knows it) to [`access_log`] outside it.
#[derive(Clone)]
struct Route(MatchedPath);

/// Added with `route_layer`: records the matched route on the response.
pub async fn record_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(Route(route));
    }
    response
}

/// The request's id: the one a proxy in front sent (nginx sets
/// `X-Request-Id`), if it is a plain token, or a fresh one.
fn request_id(request: &Request) -> HeaderValue {
    request
        .headers()
        .get(&REQUEST_ID)
        .filter(|value| {
            let bytes = value.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= MAX_REQUEST_ID
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .cloned()
        .unwrap_or_else(|| {
            let id: u128 = rand::random();
            // 32 hex digits are always a valid header value.
            HeaderValue::from_str(&format!("{id:032x}")).unwrap_or(HeaderValue::from_static("-"))
        })
}

/// One INFO line per request (method, route, path, status, duration, id),
/// the request metrics, and the id in the response's `x-request-id`. Log
/// lines written while the request runs carry the id too (its span).
pub async fn access_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let method = request.method().clone();
    let path = loggable_path(request.uri().path()).into_owned();
    let id_text = id.to_str().unwrap_or("-").to_owned();
    let span = tracing::info_span!("request", id = %id_text);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let route = response
        .extensions()
        .get::<Route>()
        .map(|route| route.0.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    response.headers_mut().insert(REQUEST_ID, id);
    span.in_scope(|| {
        tracing::info!(
            target: "tessera::access",
            %method,
            %route,
            %path,
            status,
            // Whole microseconds: a float's shortest form can run to 16
            // digits (0.007693470000000002), which reads as a card number.
            duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request"
        );
    });
    let labels = [
        ("method", method.as_str().to_owned()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("tessera_http_requests_total", &labels).increment(1);
    metrics::histogram!("tessera_http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn with_id(value: &str) -> Request {
        Request::builder()
            .header(REQUEST_ID, value)
            .body(Body::empty())
            .expect("request")
    }

    #[test]
    fn a_proxys_plain_request_id_is_kept() {
        assert_eq!(request_id(&with_id("abc-123_x.y")), "abc-123_x.y");
    }

    #[test]
    fn a_request_id_that_could_forge_log_lines_is_replaced() {
        for bad in ["a b", "x\"y", &"a".repeat(65), "a\tb"] {
            let id = request_id(&with_id(bad));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32, "a fresh 128-bit id in hex");
        }
    }
}
