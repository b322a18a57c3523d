//! HTTP face of the waiting room (the calls are listed in `docs/api.md`).

use super::{Queue, Visitor};
use crate::accounts::roles::StaffOnly;
use crate::accounts::routes::MaybeSignedIn;
use crate::catalog::routes::parse_event_id;
use crate::error::{json_body, ApiJson, ApiPath, HttpResult};
use crate::net::ClientAddr;
use app::error::{ApiError, ErrorBody};
use app::queue::{
    DrawAudit, JoinRequest, PowChallenge, QueueSettings, QueueSettingsRequest, QueueStatus,
};
use axum::body::Bytes;
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
    crate::queue::Queue: FromRef<S>,
    crate::net::ClientLimits: FromRef<S>,
    crate::accounts::Accounts: FromRef<S>,
{
    Router::new()
        .route(
            "/api/staff/events/{id}/queue",
            get(staff_settings).put(configure),
        )
        .route("/api/staff/events/{id}/queue/pause", post(pause))
        .route("/api/staff/events/{id}/queue/resume", post(resume))
        .route("/api/events/{id}/queue", get(status).post(join))
        .route("/api/events/{id}/queue/draw", get(draw_audit))
        .route("/api/events/{id}/queue/challenge", get(challenge))
}

/// Sets up or changes the event's waiting room. The seed of its draw is
/// chosen when it is first set up and never changes.
#[utoipa::path(put, path = "/api/staff/events/{id}/queue", tag = "staff", security(("staff_session" = [])), operation_id = "configure_queue", params(("id" = i64, Path)),
    request_body = QueueSettingsRequest,
    responses(
        (status = 200, body = QueueSettings),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn configure(
    State(queue): State<Queue>,
    _staff_member: StaffOnly,
    ApiPath(event_id): ApiPath<String>,
    ApiJson(request): ApiJson<QueueSettingsRequest>,
) -> HttpResult<Json<QueueSettings>> {
    let event_id = parse_event_id(&event_id)?;
    Ok(Json(queue.configure(event_id, request).await?))
}

/// The waiting room's settings with live figures: `waiting`, `active`,
/// `admitted_last_minute`, `paused`, `expected_clear_seconds`.
#[utoipa::path(get, path = "/api/staff/events/{id}/queue", tag = "staff", security(("staff_session" = [])), operation_id = "queue_settings", params(("id" = i64, Path)),
    responses(
        (status = 200, body = QueueSettings),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn staff_settings(
    State(queue): State<Queue>,
    _staff_member: StaffOnly,
    ApiPath(event_id): ApiPath<String>,
) -> HttpResult<Json<QueueSettings>> {
    let event_id = parse_event_id(&event_id)?;
    Ok(Json(queue.settings(event_id).await?))
}

/// Stops admitting (the line keeps its order).
#[utoipa::path(post, path = "/api/staff/events/{id}/queue/pause", tag = "staff", security(("staff_session" = [])), operation_id = "pause_queue", params(("id" = i64, Path)),
    responses(
        (status = 200, body = QueueSettings),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn pause(
    State(queue): State<Queue>,
    _staff_member: StaffOnly,
    ApiPath(event_id): ApiPath<String>,
) -> HttpResult<Json<QueueSettings>> {
    let event_id = parse_event_id(&event_id)?;
    queue.set_paused(event_id, true).await?;
    Ok(Json(queue.settings(event_id).await?))
}

/// Admits again at the configured pace.
#[utoipa::path(post, path = "/api/staff/events/{id}/queue/resume", tag = "staff", security(("staff_session" = [])), operation_id = "resume_queue", params(("id" = i64, Path)),
    responses(
        (status = 200, body = QueueSettings),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn resume(
    State(queue): State<Queue>,
    _staff_member: StaffOnly,
    ApiPath(event_id): ApiPath<String>,
) -> HttpResult<Json<QueueSettings>> {
    let event_id = parse_event_id(&event_id)?;
    queue.set_paused(event_id, false).await?;
    Ok(Json(queue.settings(event_id).await?))
}

/// Joins the event's queue, or returns the caller's place: one place per
/// browser session, or per account when signed in. Before the onsale the
/// place is in the pre-queue (no position until the draw). The body may be
/// empty; when the event asks for a proof of work it carries `challenge`
/// and `nonce`. New joins per client address are rate limited.
#[utoipa::path(post, path = "/api/events/{id}/queue", tag = "waiting_room", security((), ("session" = [])), operation_id = "join_queue", params(("id" = i64, Path)),
    request_body(content = JoinRequest, description = "optional: the proof-of-work answer"),
    responses(
        (status = 200, body = QueueStatus),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody, description = "the queue needs a signed-in account"),
        (status = 403, body = ErrorBody, description = "forbidden: proof of work missing or wrong"),
        (status = 404, body = ErrorBody, description = "no such event, or it has no waiting room"),
        (status = 409, body = ErrorBody, description = "not_on_sale: the waiting room is not open yet"),
        (status = 429, body = ErrorBody),
    ))]
pub async fn join(
    State(queue): State<Queue>,
    MaybeSignedIn { session, account }: MaybeSignedIn,
    client: ClientAddr,
    ApiPath(event_id): ApiPath<String>,
    body: Bytes,
) -> HttpResult<Response> {
    let event_id = parse_event_id(&event_id)?;
    // No body (a form or a script-free client) is a join without an answer.
    let request: JoinRequest = if body.iter().all(u8::is_ascii_whitespace) {
        JoinRequest::default()
    } else {
        let value = serde_json::from_slice(&body)
            .map_err(|error| ApiError::bad_request(error.to_string()))?;
        json_body(value)?
    };
    let visitor = Visitor {
        session_key: session.key.clone(),
        account_id: account.map(|account| account.id),
        client: client.key,
    };
    let status = queue.join(event_id, &visitor, request).await?;
    Ok(session.attach((StatusCode::OK, Json(status))))
}

/// The caller's place: `waiting` (with `position` and
/// `estimated_wait_seconds` after the draw), `admitted` (may hold seats
/// until `admission_expires_at`) or `expired` (ran out, or used by a
/// purchase or release; joining again goes to the back). Ask again after
/// `poll_after_seconds`.
#[utoipa::path(get, path = "/api/events/{id}/queue", tag = "waiting_room", security((), ("session" = [])), operation_id = "queue_status", params(("id" = i64, Path)),
    responses(
        (status = 200, body = QueueStatus),
        (status = 404, body = ErrorBody, description = "not in this queue"),
    ))]
pub async fn status(
    State(queue): State<Queue>,
    MaybeSignedIn { session, account }: MaybeSignedIn,
    client: ClientAddr,
    ApiPath(event_id): ApiPath<String>,
) -> HttpResult<Json<QueueStatus>> {
    let event_id = parse_event_id(&event_id)?;
    let visitor = Visitor {
        session_key: session.key.clone(),
        account_id: account.map(|account| account.id),
        client: client.key,
    };
    Ok(Json(queue.status(event_id, &visitor).await?))
}

/// The audit of the draw: `seed_hash` (lowercase hex SHA-256 of the seed's
/// bytes) from the start; after the draw the `seed` (lowercase hex) and
/// the `order` of the pre-queue's anonymous ids, which anyone can
/// recompute: sort the ids by HMAC-SHA256(seed, id) (README, "Waiting room").
#[utoipa::path(get, path = "/api/events/{id}/queue/draw", tag = "waiting_room", operation_id = "queue_draw", params(("id" = i64, Path)),
    responses(
        (status = 200, body = DrawAudit),
        (status = 404, body = ErrorBody),
    ))]
pub async fn draw_audit(
    State(queue): State<Queue>,
    ApiPath(event_id): ApiPath<String>,
) -> HttpResult<Json<DrawAudit>> {
    let event_id = parse_event_id(&event_id)?;
    Ok(Json(queue.audit(event_id).await?))
}

/// A proof-of-work challenge for the caller (bound to its session or
/// account, valid ten minutes) and the event's difficulty.
#[utoipa::path(get, path = "/api/events/{id}/queue/challenge", tag = "waiting_room", security((), ("session" = [])), operation_id = "queue_challenge", params(("id" = i64, Path)),
    responses(
        (status = 200, body = PowChallenge),
        (status = 404, body = ErrorBody),
    ))]
pub async fn challenge(
    State(queue): State<Queue>,
    MaybeSignedIn { session, account }: MaybeSignedIn,
    client: ClientAddr,
    ApiPath(event_id): ApiPath<String>,
) -> HttpResult<Response> {
    let event_id = parse_event_id(&event_id)?;
    let visitor = Visitor {
        session_key: session.key.clone(),
        account_id: account.map(|account| account.id),
        client: client.key,
    };
    let challenge = queue.challenge(event_id, &visitor).await?;
    Ok(session.attach(Json(challenge)))
}
