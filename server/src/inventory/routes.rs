//! REST handlers for holds, per `shared/API.md`.

use super::Inventory;
use crate::catalog::routes::parse_event_id;
use crate::error::{parse_path_id, ApiJson, ApiPath, HttpResult};
use crate::session::BuyerSession;
use crate::state::AppState;
use app::error::ErrorBody;
use app::types::{HoldId, HoldRequest, HoldView};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/events/{id}/holds", post(create_hold))
        .route("/api/holds/{id}", get(get_hold).delete(release_hold))
}

/// Holds seats for the caller's session: all requested seats or none.
#[utoipa::path(post, path = "/api/events/{id}/holds", params(("id" = i64, Path)),
    request_body = HoldRequest,
    responses(
        (status = 201, body = HoldView),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "seats_unavailable (lists seat_ids) or not_on_sale"),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create_hold(
    State(inventory): State<Inventory>,
    session: BuyerSession,
    ApiPath(event_id): ApiPath<String>,
    ApiJson(request): ApiJson<HoldRequest>,
) -> HttpResult<Response> {
    let event_id = parse_event_id(&event_id)?;
    let hold = inventory.hold(event_id, &session.key, request).await?;
    Ok(session.attach((StatusCode::CREATED, Json(hold))))
}

/// The caller's hold, with its status and seconds left.
#[utoipa::path(get, path = "/api/holds/{id}", params(("id" = i64, Path)), responses(
    (status = 200, body = HoldView),
    (status = 404, body = ErrorBody),
))]
pub async fn get_hold(
    State(inventory): State<Inventory>,
    session: BuyerSession,
    ApiPath(hold_id): ApiPath<String>,
) -> HttpResult<Json<HoldView>> {
    Ok(Json(
        inventory
            .hold_view(
                parse_path_id(&hold_id, HoldId::parse, "a hold")?,
                &session.key,
            )
            .await?,
    ))
}

/// Releases the caller's hold; its seats are available at once.
#[utoipa::path(delete, path = "/api/holds/{id}", params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody),
))]
pub async fn release_hold(
    State(inventory): State<Inventory>,
    session: BuyerSession,
    ApiPath(hold_id): ApiPath<String>,
) -> HttpResult<StatusCode> {
    inventory
        .release(
            parse_path_id(&hold_id, HoldId::parse, "a hold")?,
            &session.key,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
