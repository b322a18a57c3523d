//! `GET /api/events/{id}/live`, the seat map over a WebSocket,
//! `GET /api/events/{id}/seats`, the same map in one response, and the
//! event's layout (`GET /api/events/{id}/layout`, redirecting to the
//! immutable `GET /api/layouts/{hash}`); all served from the live channel's
//! memory.

use super::socket::{self, LiveUpgrade, NotAnUpgrade};
use super::viewer::serve_viewer;
use super::{LiveFormat, LiveHub};
use crate::catalog::routes::parse_event_id;
use crate::error::{ApiPath, ApiQuery, HttpResult};
use crate::gzip::accepts_gzip;
use app::error::{ApiError, ErrorBody};
use app::layout::{CompactMessage, SeatLayout};
use app::types::{LiveMessage, SeatMap};
use axum::extract::FromRef;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The routes, for any application state that can hand out the services
/// their handlers take.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    crate::live::LiveHub: FromRef<S>,
{
    Router::new()
        .route("/api/events/{id}/live", get(live))
        .route("/api/events/{id}/seats", get(seat_map))
        .route("/api/events/{id}/layout", get(event_layout))
        .route("/api/layouts/{hash}", get(layout))
}

/// `?format=json` (the default) or `?format=compact`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (default): one object per seat; `compact`: statuses packed
    /// two bits per seat in layout order (see `app::layout::CompactMessage`).
    #[param(inline)]
    pub format: Option<WireFormat>,
}

/// `json` or `compact`, as a query spells it (a [`LiveFormat`] for the live
/// channel and the seat map; for a layout, the JSON or the binary form).
#[derive(Clone, Copy, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WireFormat {
    Json,
    Compact,
}

/// What `GET /api/events/{id}/seats` answers, by `format` (for the
/// OpenAPI document: the handler writes the bytes itself).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SeatMapAnswer {
    Json(SeatMap),
    Compact(CompactMessage),
}

impl FormatQuery {
    fn parse(&self) -> LiveFormat {
        match self.format {
            None | Some(WireFormat::Json) => LiveFormat::Json,
            Some(WireFormat::Compact) => LiveFormat::Compact,
        }
    }
}

/// Upgrades to a WebSocket that sends `{"type":"snapshot",…}` and then
/// `{"type":"delta",…}` messages in version order, as JSON per seat
/// ([`LiveMessage`]) or compact ([`app::layout::CompactMessage`], `?format=compact`).
#[utoipa::path(get, path = "/api/events/{id}/live", tag = "events", operation_id = "watch_seat_map", params(("id" = i64, Path), FormatQuery), responses(
    (status = 101, body = LiveMessage, description = "WebSocket: one snapshot, then deltas in version order (CompactMessage with format=compact)"),
    (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody, description = "a WebSocket handshake from another site"),
    (status = 404, body = ErrorBody),
))]
pub async fn live(
    State(hub): State<LiveHub>,
    ApiPath(event_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<FormatQuery>,
    upgrade: Result<LiveUpgrade, NotAnUpgrade>,
) -> HttpResult<Response> {
    let event_id = parse_event_id(&event_id)?;
    let format = query.parse();
    let upgrade =
        upgrade.map_err(|_| ApiError::bad_request("this endpoint speaks WebSocket only"))?;
    let channel = hub.channel(event_id).await?;
    Ok(
        upgrade.on_upgrade(hub.send_timeout(), move |socket| async move {
            let (sink, stream) = socket::split(socket);
            serve_viewer(channel, format, sink, stream).await;
        }),
    )
}

/// Every seat of an event with its current status, at one version; it
/// includes every change committed before the request. Gzipped when the
/// client accepts it. With `?format=compact`, only the statuses, packed in
/// layout order (a compact snapshot message).
#[utoipa::path(get, path = "/api/events/{id}/seats", tag = "events", params(("id" = i64, Path), FormatQuery), responses(
    (status = 200, body = SeatMapAnswer, description = "SeatMap, or CompactMessage with format=compact"),
    (status = 400, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn seat_map(
    State(hub): State<LiveHub>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<FormatQuery>,
    headers: HeaderMap,
) -> HttpResult<Response> {
    let event_id = parse_event_id(&id)?;
    let gzip = accepts_gzip(&headers);
    let body = match query.parse() {
        LiveFormat::Json => hub.seat_map(event_id, gzip).await?,
        LiveFormat::Compact => {
            let body = hub.seat_status(event_id).await?;
            return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
        }
    };
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

/// Redirects to the event's layout under its content hash, which browsers
/// keep for good; the redirect itself is never cached, so a changed layout
/// is found at once. `?format=compact` is kept on the way.
#[utoipa::path(get, path = "/api/events/{id}/layout", tag = "events", operation_id = "event_layout", params(("id" = i64, Path), LayoutQuery), responses(
    (status = 307, description = "to /api/layouts/{hash} (with ?format=compact if asked)"),
    (status = 400, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn event_layout(
    State(hub): State<LiveHub>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<LayoutQuery>,
) -> HttpResult<Response> {
    let layout = hub.layout(parse_event_id(&id)?).await?;
    let location = match query.format {
        None | Some(WireFormat::Json) => format!("/api/layouts/{}", layout.hash),
        Some(WireFormat::Compact) => format!("/api/layouts/{}?format=compact", layout.hash),
    };
    Ok((
        axum::http::StatusCode::TEMPORARY_REDIRECT,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
    )
        .into_response())
}

/// `?format=json` (the default) or `?format=compact` for a layout.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LayoutQuery {
    /// `json` (default): the `SeatLayout` document; `compact`: the same
    /// layout in binary (`application/octet-stream`), as the fans' map
    /// reads it (`app::layout::SeatLayout::from_packed`).
    #[param(inline)]
    pub format: Option<WireFormat>,
}

/// An event's layout by its hash (lowercase hex SHA-256 of the JSON):
/// immutable, with the hash as its ETag (the binary form's ends in
/// `-compact`); gzipped when the client accepts it.
#[utoipa::path(get, path = "/api/layouts/{hash}", tag = "events", operation_id = "layout_by_hash", params(("hash" = String, Path), LayoutQuery), responses(
    (status = 200, description = "SeatLayout, or its binary form with format=compact", content((SeatLayout = "application/json"), ("application/octet-stream"))),
    (status = 400, body = ErrorBody),
    (status = 304, description = "the client's copy (If-None-Match) is current"),
    (status = 404, body = ErrorBody),
))]
pub async fn layout(
    State(hub): State<LiveHub>,
    ApiPath(hash): ApiPath<String>,
    ApiQuery(query): ApiQuery<LayoutQuery>,
    headers: HeaderMap,
) -> HttpResult<Response> {
    let well_formed =
        hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !well_formed {
        return Err(ApiError::not_found(format!("no layout {hash:?}")).into());
    }
    let layout = hub.layout_by_hash(&hash).await?;
    let (body, gzipped, content_type, etag) = match query.format {
        None | Some(WireFormat::Json) => (
            &layout.json,
            &layout.gzip,
            "application/json",
            format!("\"{}\"", layout.hash),
        ),
        Some(WireFormat::Compact) => (
            &layout.packed,
            &layout.packed_gzip,
            "application/octet-stream",
            format!("\"{}-compact\"", layout.hash),
        ),
    };
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*");
    let gzip = accepts_gzip(&headers);
    let mut response = if matches {
        axum::http::StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        let mut response = gzipped.clone().into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        body.clone().into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, etag);
    }
    Ok(response)
}
