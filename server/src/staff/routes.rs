//! Staff and admin HTTP routes. Roles are checked here, on the server, by
//! the extractors every handler takes: anonymous callers get 401, signed-in
//! fans 403.

use super::{BlockOutcome, Staff, MAX_BLOCK};
use crate::accounts::roles::{AdminOnly, StaffOnly};
use crate::catalog::routes::parse_event_id;
use crate::error::{parse_path_id, ApiJson, ApiPath, ApiQuery, HttpResult};
use crate::inventory::Inventory;
use crate::live::LiveHub;
use app::error::{ApiError, ErrorBody};
use app::staff::{
    BlockSeatsRequest, CreateEventRequest, CreateStaffRequest, CreateVenueRequest, CreatedEvent,
    CreatedVenue, EventStats, ScanRequest, ScanResult, UpdateEventRequest, UpdateUserRequest,
    UserLookup, UserView,
};
use app::types::{PurchaseId, Role};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{FromRef, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The routes, for any application state that can hand out the services
/// their handlers take.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    crate::inventory::Inventory: FromRef<S>,
    crate::live::LiveHub: FromRef<S>,
    crate::staff::Staff: FromRef<S>,
    crate::accounts::Accounts: FromRef<S>,
{
    Router::new()
        .route("/api/staff/events/{id}/stats", get(stats))
        .route("/api/staff/events/{id}/live", get(live))
        .route("/api/staff/events/{id}/seats/block", post(block_seats))
        .route("/api/tickets/scan", post(scan))
        .route(
            "/api/staff/purchases/{id}/resend-tickets",
            post(resend_tickets),
        )
        .route("/api/admin/staff", post(create_staff))
        .route("/api/admin/users", get(find_user))
        .route("/api/admin/users/{id}", patch(update_user))
        .route("/api/staff/venues", post(create_venue))
        .route("/api/staff/events", post(create_event))
        .route("/api/staff/events/{id}", patch(update_event))
}

/// Sold / held / available / blocked (overall and per section), revenue,
/// and sales per minute over the last hour.
#[utoipa::path(get, path = "/api/staff/events/{id}/stats", tag = "staff", security(("staff_session" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = EventStats),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn stats(
    State(staff): State<Staff>,
    _staff_member: StaffOnly,
    ApiPath(event_id): ApiPath<String>,
) -> HttpResult<Json<EventStats>> {
    let event_id = parse_event_id(&event_id)?;
    Ok(Json(staff.stats(event_id).await?))
}

/// How often the live dashboard looks for news. The seat-change pump runs
/// every 40 ms, so a sale reaches the dashboard within about 300 ms.
const LIVE_TICK: Duration = Duration::from_millis(250);

/// A WebSocket of [`EventStats`]: sent at once, then whenever the event's
/// seats change (and when the minute turns, for the sales chart).
#[utoipa::path(get, path = "/api/staff/events/{id}/live", tag = "staff", operation_id = "watch_event_stats", security(("staff_session" = [])), params(("id" = i64, Path)), responses(
    (status = 101, body = EventStats, description = "WebSocket of EventStats messages"),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody),
))]
pub async fn live(
    State(staff): State<Staff>,
    State(hub): State<LiveHub>,
    _staff_member: StaffOnly,
    ApiPath(event_id): ApiPath<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> HttpResult<Response> {
    let event_id = parse_event_id(&event_id)?;
    let upgrade =
        upgrade.map_err(|_| ApiError::bad_request("this endpoint speaks WebSocket only"))?;
    let first = staff.stats(event_id).await?;
    let channel = hub.channel(event_id).await?;
    // Subscribed for as long as the socket is open: the hub drops an event
    // nobody is subscribed to after a minute, and the pump then stops
    // moving its version, so a dashboard watching alone would freeze.
    let mut changes = channel.subscribe();
    Ok(upgrade.on_upgrade(move |mut socket: WebSocket| async move {
        let mut sent = first;
        if send_stats(&mut socket, &sent).await.is_err() {
            return;
        }
        let mut ticker = tokio::time::interval(LIVE_TICK);
        let mut last_minute = staff.clock().now() / 60_000;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                // The figures are read on the tick, however many changes
                // arrived since; the frames only need taking off the queue.
                frame = changes.recv() => match frame {
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                },
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                },
                // The server is stopping: the dashboard reconnects elsewhere.
                () = channel.going_away() => {
                    let _ = socket.send(Message::Close(Some(axum::extract::ws::CloseFrame {
                        code: axum::extract::ws::close_code::AWAY,
                        reason: "server restarting".into(),
                    }))).await;
                    return;
                }
            }
            let minute = staff.clock().now() / 60_000;
            if channel.version() == sent.version && minute == last_minute {
                continue;
            }
            last_minute = minute;
            let Ok(fresh) = staff.stats(event_id).await else {
                continue;
            };
            if fresh != sent {
                if send_stats(&mut socket, &fresh).await.is_err() {
                    return;
                }
                sent = fresh;
            }
        }
    }))
}

async fn send_stats(socket: &mut WebSocket, stats: &EventStats) -> Result<(), axum::Error> {
    let text = serde_json::to_string(stats).unwrap_or_default();
    socket.send(Message::Text(text.into())).await
}

/// Sends a paid purchase's ticket email again, to the buyer's address
/// (the same links as the first; nothing else changes).
#[utoipa::path(post, path = "/api/staff/purchases/{id}/resend-tickets", tag = "staff", security(("staff_session" = [])), params(("id" = i64, Path)),
    responses(
        (status = 202, description = "the ticket email is queued"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no paid purchase with this id"),
    ))]
pub async fn resend_tickets(
    State(staff): State<Staff>,
    StaffOnly(member): StaffOnly,
    ApiPath(purchase_id): ApiPath<String>,
) -> HttpResult<StatusCode> {
    let purchase_id = parse_path_id(&purchase_id, PurchaseId::parse, "a purchase")?;
    staff.resend_tickets(purchase_id).await?;
    tracing::info!(
        staff = member.id,
        purchase = purchase_id.0,
        "ticket email resent"
    );
    Ok(StatusCode::ACCEPTED)
}

/// Takes seats off sale (`blocked: true`, e.g. camera positions) or puts
/// them back, all or none; open seat maps see it at once.
#[utoipa::path(post, path = "/api/staff/events/{id}/seats/block", tag = "staff", security(("staff_session" = [])), params(("id" = i64, Path)),
    request_body = BlockSeatsRequest,
    responses(
        (status = 200, body = EventStats),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "seats_unavailable: held or sold (or not blocked, to unblock)"),
        (status = 422, body = ErrorBody),
    ))]
pub async fn block_seats(
    State(staff): State<Staff>,
    StaffOnly(member): StaffOnly,
    ApiPath(event_id): ApiPath<String>,
    ApiJson(request): ApiJson<BlockSeatsRequest>,
) -> HttpResult<Json<EventStats>> {
    let event_id = parse_event_id(&event_id)?;
    let ids = crate::inventory::validate_seat_ids(&request.seat_ids, MAX_BLOCK)?;
    match staff.set_blocked(event_id, &ids, request.blocked).await? {
        BlockOutcome::Changed { version } => {
            tracing::info!(
                staff = member.id,
                event = event_id.0,
                seats = ids.len(),
                blocked = request.blocked,
                version,
                "seats blocked or unblocked"
            );
        }
        BlockOutcome::Conflict(seats) => {
            let mut error =
                ApiError::seats_unavailable(seats.into_iter().map(app::types::SeatId).collect());
            error.message = if request.blocked {
                "some seats are held or sold; release or refund them first".into()
            } else {
                "some seats are not blocked".into()
            };
            return Err(error.into());
        }
        BlockOutcome::Unknown(seats) => {
            return Err(ApiError::not_found(format!("not seats of this event: {seats:?}")).into());
        }
    }
    Ok(Json(staff.stats(event_id).await?))
}

/// Longer than any ticket code (they are about 180 characters).
const MAX_SCAN_CODE_CHARS: usize = 512;

/// Checks a ticket at the gate: `valid` the first time, `already_used`
/// after, `invalid` for forged, refunded or other-event codes.
#[utoipa::path(post, path = "/api/tickets/scan", tag = "staff", security(("staff_session" = [])), request_body = ScanRequest, responses(
    (status = 200, body = ScanResult),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody),
))]
pub async fn scan(
    State(staff): State<Staff>,
    _staff_member: StaffOnly,
    ApiJson(request): ApiJson<ScanRequest>,
) -> HttpResult<Json<ScanResult>> {
    if request.code.chars().count() > MAX_SCAN_CODE_CHARS {
        return Err(ApiError::validation("code is too long to be a ticket").into());
    }
    if request.event_id.is_some_and(|event| event.0 <= 0) {
        return Err(ApiError::validation("event_id is not an event id").into());
    }
    Ok(Json(staff.scan(&request.code, request.event_id).await?))
}

/// An admin creates a staff or admin account.
#[utoipa::path(post, path = "/api/admin/staff", tag = "admin", security(("staff_session" = [])), request_body = CreateStaffRequest, responses(
    (status = 201),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody),
    (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn create_staff(
    State(staff): State<Staff>,
    _admin: AdminOnly,
    ApiJson(request): ApiJson<CreateStaffRequest>,
) -> HttpResult<StatusCode> {
    if request.role == Role::Fan {
        return Err(ApiError::validation("role must be staff or admin").into());
    }
    staff
        .create_account(
            &request.email,
            request.password,
            &request.display_name,
            request.role,
        )
        .await?;
    Ok(StatusCode::CREATED)
}

/// An admin looks an account up by email.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", security(("staff_session" = [])), params(UserLookup), responses(
    (status = 200, body = UserView),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn find_user(
    State(staff): State<Staff>,
    _admin: AdminOnly,
    ApiQuery(lookup): ApiQuery<UserLookup>,
) -> HttpResult<Json<UserView>> {
    Ok(Json(staff.find_user(&lookup.email).await?))
}

/// An admin changes an account's role, or disables it (it cannot sign in,
/// and its sessions end at once) or enables it again. Refused when no
/// enabled admin would remain.
#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin", security(("staff_session" = [])), params(("id" = i64, Path)),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, body = UserView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "last_admin: no enabled admin would remain"),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update_user(
    State(staff): State<Staff>,
    AdminOnly(admin): AdminOnly,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<UpdateUserRequest>,
) -> HttpResult<Json<UserView>> {
    let id = parse_path_id(
        &id,
        |raw| raw.parse::<i64>().ok().filter(|id| *id > 0),
        "an account",
    )?;
    let user = staff.update_user(id, &change).await?;
    tracing::info!(
        admin = admin.id,
        user = id,
        role = user.role.as_str(),
        disabled = user.disabled,
        "account changed by an admin"
    );
    Ok(Json(user))
}

/// Creates a venue from a layout: sections facing a stage (straight or
/// curved rows) or tiers of sections around a pitch.
#[utoipa::path(post, path = "/api/staff/venues", tag = "staff", security(("staff_session" = [])), request_body = CreateVenueRequest, responses(
    (status = 201, body = CreatedVenue),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn create_venue(
    State(staff): State<Staff>,
    _staff_member: StaffOnly,
    ApiJson(request): ApiJson<CreateVenueRequest>,
) -> HttpResult<(StatusCode, Json<CreatedVenue>)> {
    Ok((
        StatusCode::CREATED,
        Json(staff.create_venue(request).await?),
    ))
}

/// Creates an event with its price tiers; every section names its tier.
#[utoipa::path(post, path = "/api/staff/events", tag = "staff", security(("staff_session" = [])), request_body = CreateEventRequest, responses(
    (status = 201, body = CreatedEvent),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn create_event(
    State(staff): State<Staff>,
    _staff_member: StaffOnly,
    ApiJson(request): ApiJson<CreateEventRequest>,
) -> HttpResult<(StatusCode, Json<CreatedEvent>)> {
    Ok((
        StatusCode::CREATED,
        Json(staff.create_event(request).await?),
    ))
}

/// Edits an event's details and sale rules; only the fields sent change.
#[utoipa::path(patch, path = "/api/staff/events/{id}", tag = "staff", security(("staff_session" = [])), params(("id" = i64, Path)),
    request_body = UpdateEventRequest,
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update_event(
    State(staff): State<Staff>,
    State(inventory): State<Inventory>,
    _staff_member: StaffOnly,
    ApiPath(event_id): ApiPath<String>,
    ApiJson(request): ApiJson<UpdateEventRequest>,
) -> HttpResult<StatusCode> {
    let event_id = parse_event_id(&event_id)?;
    staff.update_event(event_id, request).await?;
    inventory.forget_rules(event_id);
    Ok(StatusCode::NO_CONTENT)
}
