//! `GET /api/events/{id}/live`: the seat map over a WebSocket.

use super::socket::{self, LiveUpgrade, NotAnUpgrade};
use super::viewer::serve_viewer;
use super::LiveHub;
use crate::catalog::routes::parse_event_id;
use crate::error::{ApiPath, HttpResult};
use crate::state::AppState;
use app::error::{ApiError, ErrorBody};
use app::types::LiveMessage;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events/{id}/live", get(live))
}

/// Upgrades to a WebSocket that sends `{"type":"snapshot",…}` and then
/// `{"type":"delta",…}` messages in version order.
#[utoipa::path(get, path = "/api/events/{id}/live", params(("id" = i64, Path)), responses(
    (status = 101, body = LiveMessage, description = "WebSocket: one snapshot, then deltas in version order"),
    (status = 400, body = ErrorBody),
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
    Ok(upgrade.on_upgrade(move |socket| async move {
        let (sink, stream) = socket::split(socket);
        serve_viewer(channel, sink, stream).await;
    }))
}
