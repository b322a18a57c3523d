//! Cross-site request forgery protection for every state-changing request
//! (REST calls and server functions alike).
//!
//! Browsers mark each request with where it came from: `Sec-Fetch-Site`
//! (all current browsers) and `Origin` (on every cross-origin request and
//! on same-origin POST, PUT, PATCH and DELETE). A state-changing request
//! that either header says came from another site is refused with 403
//! before it reaches a handler. Requests without the headers are not from
//! a browser page (loadgen, curl, gates) and cannot carry a victim's
//! cookies by a forgery, so they pass. The session cookie's
//! `SameSite=Lax` is the second line.
//!
//! A WebSocket handshake is a GET, yet the browser sends the session
//! cookie with it (from a sibling subdomain even `SameSite` lets it
//! through), and the socket then speaks for the session: the staff live
//! figures. So every WebSocket handshake is held to the same rule, and one
//! from another site is refused before it is upgraded.

use app::error::{ApiError, ErrorCode};
use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    let guarded = is_state_changing(request.method())
        || super::limits::is_websocket_upgrade(request.headers());
    if guarded && is_cross_site(&request) {
        tracing::warn!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
        return crate::error::HttpError(ApiError::new(
            ErrorCode::Forbidden,
            "this request came from another site and was refused",
        ))
        .into_response();
    }
    next.run(request).await
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_cross_site(request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        // "same-site" is a sibling subdomain: still another application.
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    // `null` (sandboxed frames, some redirects) is never our own page.
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'));
    origin_host != Some(host) || host.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method(method).uri("/api/me");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).expect("request")
    }

    #[tokio::test]
    async fn websocket_handshakes_from_other_sites_are_refused() {
        let app = axum::Router::new()
            .route("/live", axum::routing::get(|| async { "upgraded" }))
            .layer(axum::middleware::from_fn(refuse_cross_site));
        let handshake = |origin: &str| {
            Request::builder()
                .uri("/live")
                .header("host", "tickets.example.com")
                .header("upgrade", "websocket")
                .header("connection", "upgrade")
                .header("origin", origin)
                .body(Body::empty())
                .expect("request")
        };
        use tower::ServiceExt;
        let foreign = app
            .clone()
            .oneshot(handshake("https://evil.example.com"))
            .await
            .expect("response");
        assert_eq!(foreign.status(), 403);
        let own = app
            .oneshot(handshake("https://tickets.example.com"))
            .await
            .expect("response");
        assert_eq!(own.status(), 200);
    }

    #[test]
    fn other_sites_cannot_change_state_but_our_pages_and_api_clients_can() {
        let host = ("host", "tickets.example.com");
        let cases = [
            (
                Method::POST,
                vec![host, ("origin", "https://evil.example")],
                true,
            ),
            (
                Method::DELETE,
                vec![host, ("sec-fetch-site", "cross-site")],
                true,
            ),
            (
                Method::PUT,
                vec![host, ("sec-fetch-site", "same-site")],
                true,
            ),
            (Method::POST, vec![host, ("origin", "null")], true),
            (
                Method::POST,
                vec![host, ("origin", "https://tickets.example.com")],
                false,
            ),
            (
                Method::POST,
                vec![
                    host,
                    ("sec-fetch-site", "same-origin"),
                    ("origin", "https://tickets.example.com"),
                ],
                false,
            ),
            (Method::POST, vec![host], false),
            (
                Method::GET,
                vec![host, ("sec-fetch-site", "cross-site")],
                false,
            ),
        ];
        for (method, headers, refused) in cases {
            let request = request(method.clone(), &headers);
            assert_eq!(
                is_state_changing(request.method()) && is_cross_site(&request),
                refused,
                "{method} {headers:?}"
            );
        }
    }
}
