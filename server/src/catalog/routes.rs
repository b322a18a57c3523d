//! REST handlers of the catalog (`/api/events…`), per `docs/api.md`. The
//! seat map (`/api/events/{id}/seats`) is served by `live`, from memory.

use super::Catalog;
use crate::error::{parse_path_id, ApiPath, ApiQuery, HttpResult};
use app::error::{ApiError, ErrorBody};
use app::types::{EventDetail, EventId, EventList, EventQuery};
use axum::extract::FromRef;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

/// The routes, for any application state that can hand out the services
/// their handlers take.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    crate::catalog::Catalog: FromRef<S>,
{
    Router::new()
        .route("/api/events", get(list_events))
        .route("/api/events/{id}", get(event_detail))
}

/// A path id that is not a positive integer is malformed input (400), not a
/// missing event (404).
pub fn parse_event_id(raw: &str) -> Result<EventId, ApiError> {
    parse_path_id(raw, EventId::parse, "an event")
}

/// Upcoming events, soonest first, with text and date filters.
#[utoipa::path(get, path = "/api/events", tag = "events", params(EventQuery), responses(
    (status = 200, body = EventList),
    (status = 400, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn list_events(
    State(catalog): State<Catalog>,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> HttpResult<Json<EventList>> {
    Ok(Json(catalog.list_events(query).await?))
}

/// One event with its venue, price tiers and availability.
#[utoipa::path(get, path = "/api/events/{id}", tag = "events", params(("id" = i64, Path)), responses(
    (status = 200, body = EventDetail),
    (status = 400, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn event_detail(
    State(catalog): State<Catalog>,
    ApiPath(id): ApiPath<String>,
) -> HttpResult<Json<EventDetail>> {
    Ok(Json(catalog.event_detail(parse_event_id(&id)?).await?))
}
