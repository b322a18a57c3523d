//! `GET /api/events/{id}/live`, the seat map over a WebSocket, and
//! `GET /api/events/{id}/seats`, the same map in one response; both are
//! served from the live channel's memory.

use super::socket::{self, LiveUpgrade, NotAnUpgrade};
use super::viewer::serve_viewer;
use super::LiveHub;
use crate::catalog::routes::parse_event_id;
use crate::error::{ApiPath, HttpResult};
use crate::gzip::accepts_gzip;
use crate::state::AppState;
use app::error::{ApiError, ErrorBody};
use app::types::{LiveMessage, SeatMap};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/events/{id}/live", get(live))
        .route("/api/events/{id}/seats", get(seat_map))
}

/// Upgrades to a WebSocket that sends `{"type":"snapshot",…}` and then
/// `{"type":"delta",…}` messages in version order.
#[utoipa::path(get, path = "/api/events/{id}/live", tag = "events", operation_id = "watch_seat_map", params(("id" = i64, Path)), responses(
    (status = 101, body = LiveMessage, description = "WebSocket: one snapshot, then deltas in version order"),
    (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody, description = "a WebSocket handshake from another site"),
    (status = 404, body = ErrorBody),
))]
pub async fn live(
    State(hub): State<LiveHub>,
    ApiPath(event_id): ApiPath<String>,
    upgrade: Result<LiveUpgrade, NotAnUpgrade>,
) -> HttpResult<Response> {
    let event_id = parse_event_id(&event_id)?;
    let upgrade =
        upgrade.map_err(|_| ApiError::bad_request("this endpoint speaks WebSocket only"))?;
    let channel = hub.channel(event_id).await?;
    Ok(
        upgrade.on_upgrade(hub.send_timeout(), move |socket| async move {
            let (sink, stream) = socket::split(socket);
            serve_viewer(channel, sink, stream).await;
        }),
    )
}

/// Every seat of an event with its current status, at one version; it
/// includes every change committed before the request. Gzipped when the
/// client accepts it.
#[utoipa::path(get, path = "/api/events/{id}/seats", tag = "events", params(("id" = i64, Path)), responses(
    (status = 200, body = SeatMap),
    (status = 400, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn seat_map(
    State(hub): State<LiveHub>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> HttpResult<Response> {
    let gzip = accepts_gzip(&headers);
    let body = hub.seat_map(parse_event_id(&id)?, gzip).await?;
    let mut response = body.into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}
