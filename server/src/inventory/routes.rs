//! REST handlers for holds, per `docs/api.md`.

use super::{Holder, Inventory};
use crate::accounts::routes::MaybeSignedIn;
use crate::catalog::routes::parse_event_id;
use crate::error::{parse_path_id, ApiJson, ApiPath, HttpResult};
use crate::net::ClientAddr;
use crate::queue::Queue;
use crate::session::BuyerSession;
use app::error::ErrorBody;
use app::types::{HoldId, HoldRequest, HoldView};
use axum::extract::FromRef;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

/// The routes, for any application state that can hand out the services
/// their handlers take.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    crate::inventory::Inventory: FromRef<S>,
    crate::queue::Queue: FromRef<S>,
    crate::net::ClientLimits: FromRef<S>,
    crate::accounts::Accounts: FromRef<S>,
{
    Router::new()
        .route("/api/events/{id}/holds", post(create_hold))
        .route("/api/holds/{id}", get(get_hold).delete(release_hold))
        .route("/api/holds/{id}/extend", post(extend_hold))
}

/// Holds seats for the caller's session: all requested seats or none. The
/// event's per-buyer limit counts the session's seats and, signed in, the
/// account's across all its browsers. Per client address, the seats held
/// at once in one event and the rates of new holds and new sessions are
/// capped (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/events/{id}/holds", tag = "holds", security((), ("session" = [])), params(("id" = i64, Path)),
    request_body(content = HoldRequest, example = json!({"seat_ids": [1, 2]})),
    responses(
        (status = 201, body = HoldView),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "queue_required: the event runs a waiting room and the caller has no valid admission (queue_url says where to join)"),
        (status = 409, body = ErrorBody, description = "seats_unavailable (lists seat_ids) or not_on_sale"),
        (status = 422, body = ErrorBody, description = "ticket_limit_exceeded, or invalid input"),
        (status = 429, body = ErrorBody, description = "rate_limited: this address holds its cap of seats for the event, or starts holds or sessions too fast (Retry-After)"),
    ))]
pub async fn create_hold(
    State(inventory): State<Inventory>,
    State(queue): State<Queue>,
    MaybeSignedIn { session, account }: MaybeSignedIn,
    client: ClientAddr,
    ApiPath(event_id): ApiPath<String>,
    ApiJson(request): ApiJson<HoldRequest>,
) -> HttpResult<Response> {
    let event_id = parse_event_id(&event_id)?;
    queue
        .require_admission(event_id, &session.key, account.as_ref().map(|a| a.id))
        .await?;
    let holder = Holder {
        session_id: &session.key,
        new_session: session.is_new,
        account_id: account.map(|account| account.id),
        client: client.key,
    };
    let hold = inventory.hold(event_id, holder, request).await?;
    Ok(session.attach((StatusCode::CREATED, Json(hold))))
}

/// The caller's hold, with its status and seconds left.
#[utoipa::path(get, path = "/api/holds/{id}", tag = "holds", security((), ("session" = [])), params(("id" = i64, Path)), responses(
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
#[utoipa::path(delete, path = "/api/holds/{id}", tag = "holds", security((), ("session" = [])), params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody),
))]
pub async fn release_hold(
    State(inventory): State<Inventory>,
    State(queue): State<Queue>,
    session: BuyerSession,
    ApiPath(hold_id): ApiPath<String>,
) -> HttpResult<StatusCode> {
    let hold_id = parse_path_id(&hold_id, HoldId::parse, "a hold")?;
    let event_id = inventory.release(hold_id, &session.key).await?;
    queue.hold_finished(event_id, hold_id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Extends the caller's active hold once: it then expires the event's hold
/// length from now (never past the event's start). A second extension is
/// refused with `extension_used`; a hold that ended, with `hold_not_active`.
#[utoipa::path(post, path = "/api/holds/{id}/extend", tag = "holds", security((), ("session" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = HoldView, description = "the hold with its new expiry; extensions_left is 0"),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "extension_used (already extended once) or hold_not_active"),
))]
pub async fn extend_hold(
    State(inventory): State<Inventory>,
    session: BuyerSession,
    ApiPath(hold_id): ApiPath<String>,
) -> HttpResult<Json<HoldView>> {
    Ok(Json(
        inventory
            .extend(
                parse_path_id(&hold_id, HoldId::parse, "a hold")?,
                &session.key,
            )
            .await?,
    ))
}
