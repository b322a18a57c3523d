//! Browser-side calls to the public API (same origin, so the session cookie
//! travels with them), one function per endpoint the pages use, and the
//! only place in the crate that spells an `/api` path. On the server these
//! are never reached: pages call them only from event handlers and effects,
//! which run in the browser.

#[cfg(feature = "hydrate")]
use crate::error::ErrorBody;
use crate::error::{ApiError, ErrorCode};
use crate::queue::{
    queue_path, JoinRequest, PowChallenge, QueueSettings, QueueSettingsRequest, QueueStatus,
};
use crate::staff::{
    BlockSeatsRequest, CreateEventRequest, CreateStaffRequest, CreateVenueRequest, CreatedEvent,
    CreatedVenue, EventStats, ScanRequest, ScanResult, UpdateEventRequest, UpdateUserRequest,
    UserView,
};
use crate::types::{
    ChangePasswordRequest, ClaimLinkSent, ConfirmEmailRequest, EventDetail, EventId, EventList,
    HoldId, HoldRequest, HoldView, LoginRequest, MeView, MyTicketsView, PasswordResetConfirm,
    PasswordResetRequest, PaymentConfig, PurchaseId, PurchaseRequest, PurchaseView,
    RegisterRequest, SavePaymentMethodRequest, SavedCardView, SeatMap, TicketId,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Display;

// Events.

pub async fn events(limit: u32) -> Result<EventList, ApiError> {
    let path = format!("/api/events?limit={limit}");
    call_json(Method::Get, &path, NO_BODY, None).await
}

/// `event_id` is an [`EventId`] or, from the staff edit page, the route
/// segment as typed: a garbled one then gets the API's own 400 message.
pub async fn event(event_id: impl Display) -> Result<EventDetail, ApiError> {
    let path = format!("/api/events/{event_id}");
    call_json(Method::Get, &path, NO_BODY, None).await
}

pub async fn seat_map(event_id: EventId) -> Result<SeatMap, ApiError> {
    let path = format!("/api/events/{event_id}/seats");
    call_json(Method::Get, &path, NO_BODY, None).await
}

/// Fetched by the seat map itself: it reads the layout's binary form
/// (`SeatLayout::from_packed`) and needs the address it was redirected to.
pub fn layout_path(event_id: EventId) -> String {
    format!("/api/events/{event_id}/layout?format=compact")
}

/// The fans' live seat map, for [`crate::live_socket::run`].
pub fn seat_map_live_path(event_id: EventId) -> String {
    format!("/api/events/{event_id}/live?format=compact")
}

// Holds and checkout.

pub async fn hold(event_id: EventId, request: &HoldRequest) -> Result<HoldView, ApiError> {
    let path = format!("/api/events/{event_id}/holds");
    call_json(Method::Post, &path, Some(request), None).await
}

fn hold_path(hold_id: HoldId) -> String {
    format!("/api/holds/{hold_id}")
}

pub async fn get_hold(hold_id: HoldId) -> Result<HoldView, ApiError> {
    call_json(Method::Get, &hold_path(hold_id), NO_BODY, None).await
}

pub async fn extend_hold(hold_id: HoldId) -> Result<HoldView, ApiError> {
    let path = format!("/api/holds/{hold_id}/extend");
    call_json(Method::Post, &path, NO_BODY, None).await
}

pub async fn release_hold(hold_id: HoldId) -> Result<(), ApiError> {
    call_discarding_body(Method::Delete, &hold_path(hold_id), NO_BODY).await
}

pub async fn payment_config() -> Result<PaymentConfig, ApiError> {
    call_json(Method::Get, "/api/payments/config", NO_BODY, None).await
}

pub async fn purchase(
    hold_id: HoldId,
    request: &PurchaseRequest,
    idempotency_key: &str,
) -> Result<PurchaseView, ApiError> {
    let path = format!("/api/holds/{hold_id}/purchase");
    call_json(Method::Post, &path, Some(request), Some(idempotency_key)).await
}

/// `purchase_id` is the page's route segment as typed and `key` the one
/// from the ticket email, both sent as they are: the API decides whether
/// they open a purchase.
pub async fn purchase_view(
    purchase_id: impl Display,
    key: Option<&str>,
) -> Result<PurchaseView, ApiError> {
    let path = with_key(format!("/api/purchases/{purchase_id}"), key);
    call_json(Method::Get, &path, NO_BODY, None).await
}

/// The refunded purchase comes back too, but the page asks for its whole
/// list again instead.
pub async fn refund(purchase_id: PurchaseId) -> Result<(), ApiError> {
    let path = format!("/api/purchases/{purchase_id}/refund");
    call_discarding_body(Method::Post, &path, NO_BODY).await
}

/// For an `<img>`: the browser fetches it, with the email's `key` when the
/// page was opened from one.
pub fn ticket_qr_url(ticket_id: TicketId, key: Option<&str>) -> String {
    with_key(format!("/api/tickets/{ticket_id}/qr.svg"), key)
}

/// The ticket email's `key`, added as the page read it from its own link.
fn with_key(path: String, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("{path}?key={key}"),
        None => path,
    }
}

// Account.

/// What registering answers; both carry a body.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum RegisterAnswer {
    /// 201: a new account, and this browser is signed in to it.
    SignedIn(MeView),
    /// 202: the email has an account that was never confirmed; a link to
    /// claim it was mailed instead and nobody is signed in.
    ClaimLinkSent(ClaimLinkSent),
}

pub async fn register(request: &RegisterRequest) -> Result<RegisterAnswer, ApiError> {
    call_json(Method::Post, "/api/auth/register", Some(request), None).await
}

pub async fn login(request: &LoginRequest) -> Result<MeView, ApiError> {
    call_json(Method::Post, "/api/auth/login", Some(request), None).await
}

pub async fn logout() -> Result<(), ApiError> {
    call_discarding_body(Method::Post, "/api/auth/logout", NO_BODY).await
}

pub async fn confirm_email(request: &ConfirmEmailRequest) -> Result<(), ApiError> {
    call_discarding_body(Method::Post, "/api/auth/confirm", Some(request)).await
}

pub async fn request_password_reset(request: &PasswordResetRequest) -> Result<(), ApiError> {
    call_discarding_body(Method::Post, "/api/auth/password-reset", Some(request)).await
}

pub async fn reset_password(request: &PasswordResetConfirm) -> Result<(), ApiError> {
    let path = "/api/auth/password-reset/confirm";
    call_discarding_body(Method::Post, path, Some(request)).await
}

pub async fn me() -> Result<MeView, ApiError> {
    call_json(Method::Get, "/api/me", NO_BODY, None).await
}

/// The signed-in account, or `None` for a guest (the API's 401 is the
/// ordinary answer for a browser without an account, not a failure).
pub async fn current_account() -> Result<Option<MeView>, ApiError> {
    match me().await {
        Ok(me) => Ok(Some(me)),
        Err(error) if error.code == ErrorCode::Unauthenticated => Ok(None),
        Err(error) => Err(error),
    }
}

pub async fn change_password(request: &ChangePasswordRequest) -> Result<(), ApiError> {
    call_discarding_body(Method::Post, "/api/me/password", Some(request)).await
}

const PAYMENT_METHOD_PATH: &str = "/api/me/payment-method";

pub async fn save_payment_method(
    request: &SavePaymentMethodRequest,
) -> Result<SavedCardView, ApiError> {
    call_json(Method::Put, PAYMENT_METHOD_PATH, Some(request), None).await
}

pub async fn delete_payment_method() -> Result<(), ApiError> {
    call_discarding_body(Method::Delete, PAYMENT_METHOD_PATH, NO_BODY).await
}

pub async fn my_tickets() -> Result<MyTicketsView, ApiError> {
    call_json(Method::Get, "/api/me/tickets", NO_BODY, None).await
}

// Staff.

pub async fn event_stats(event_id: EventId) -> Result<EventStats, ApiError> {
    let path = format!("/api/staff/events/{event_id}/stats");
    call_json(Method::Get, &path, NO_BODY, None).await
}

pub async fn block_seats(
    event_id: EventId,
    request: &BlockSeatsRequest,
) -> Result<EventStats, ApiError> {
    let path = format!("/api/staff/events/{event_id}/seats/block");
    call_json(Method::Post, &path, Some(request), None).await
}

/// The staff dashboard's live figures, for [`crate::live_socket::run`].
pub fn staff_live_path(event_id: EventId) -> String {
    format!("/api/staff/events/{event_id}/live")
}

pub async fn scan(request: &ScanRequest) -> Result<ScanResult, ApiError> {
    call_json(Method::Post, "/api/tickets/scan", Some(request), None).await
}

pub async fn create_venue(request: &CreateVenueRequest) -> Result<CreatedVenue, ApiError> {
    call_json(Method::Post, "/api/staff/venues", Some(request), None).await
}

pub async fn create_event(request: &CreateEventRequest) -> Result<CreatedEvent, ApiError> {
    call_json(Method::Post, "/api/staff/events", Some(request), None).await
}

/// `event_id` as for [`event`]: the edit page's route segment.
pub async fn update_event(
    event_id: impl Display,
    request: &UpdateEventRequest,
) -> Result<(), ApiError> {
    let path = format!("/api/staff/events/{event_id}");
    call_discarding_body(Method::Patch, &path, Some(request)).await
}

// Admin.

pub async fn create_staff(request: &CreateStaffRequest) -> Result<(), ApiError> {
    call_discarding_body(Method::Post, "/api/admin/staff", Some(request)).await
}

pub async fn find_user(email: &str) -> Result<UserView, ApiError> {
    let path = format!("/api/admin/users?email={}", query_value(email));
    call_json(Method::Get, &path, NO_BODY, None).await
}

pub async fn update_user(id: i64, request: &UpdateUserRequest) -> Result<UserView, ApiError> {
    let path = format!("/api/admin/users/{id}");
    call_json(Method::Patch, &path, Some(request), None).await
}

// Queue.

pub async fn join_queue(event_id: EventId, request: &JoinRequest) -> Result<QueueStatus, ApiError> {
    call_json(Method::Post, &queue_path(event_id), Some(request), None).await
}

pub async fn queue_status(event_id: EventId) -> Result<QueueStatus, ApiError> {
    call_json(Method::Get, &queue_path(event_id), NO_BODY, None).await
}

pub async fn queue_challenge(event_id: EventId) -> Result<PowChallenge, ApiError> {
    let path = format!("/api/events/{event_id}/queue/challenge");
    call_json(Method::Get, &path, NO_BODY, None).await
}

/// The staff side of the waiting room; its functions take `event_id` as
/// [`event`] does, for the edit page's route segment.
fn staff_queue_path(event_id: impl Display) -> String {
    format!("/api/staff/events/{event_id}/queue")
}

pub async fn queue_settings(event_id: impl Display) -> Result<QueueSettings, ApiError> {
    call_json(Method::Get, &staff_queue_path(event_id), NO_BODY, None).await
}

pub async fn configure_queue(
    event_id: impl Display,
    request: &QueueSettingsRequest,
) -> Result<QueueSettings, ApiError> {
    let path = staff_queue_path(event_id);
    call_json(Method::Put, &path, Some(request), None).await
}

pub async fn pause_queue(event_id: impl Display) -> Result<QueueSettings, ApiError> {
    let path = format!("/api/staff/events/{event_id}/queue/pause");
    call_json(Method::Post, &path, NO_BODY, None).await
}

pub async fn resume_queue(event_id: impl Display) -> Result<QueueSettings, ApiError> {
    let path = format!("/api/staff/events/{event_id}/queue/resume");
    call_json(Method::Post, &path, NO_BODY, None).await
}

// Transport.

enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// For the calls that send no body; `()` only gives the `None` a type.
const NO_BODY: Option<&()> = None;

/// `text` as a query-string value.
fn query_value(text: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        js_sys::encode_uri_component(text).into()
    }
    // Calls only run in the browser.
    #[cfg(not(feature = "hydrate"))]
    {
        text.to_string()
    }
}

/// A call whose answer is a JSON body. An empty answer is an error here,
/// so no page has to decide what one would mean.
async fn call_json<B: Serialize, R: DeserializeOwned>(
    method: Method,
    path: &str,
    body: Option<&B>,
    idempotency_key: Option<&str>,
) -> Result<R, ApiError> {
    #[cfg(feature = "hydrate")]
    {
        let response = send(method, path, body, idempotency_key).await?;
        let text = response.text().await.map_err(|_| network_error())?;
        if text.is_empty() {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "the server sent an empty answer; please try again",
            ));
        }
        serde_json::from_str(&text).map_err(|_| network_error())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (method, path, body, idempotency_key);
        Err(browser_only())
    }
}

/// A call whose answer body the page does not need: any 2xx is success.
async fn call_discarding_body<B: Serialize>(
    method: Method,
    path: &str,
    body: Option<&B>,
) -> Result<(), ApiError> {
    #[cfg(feature = "hydrate")]
    {
        send(method, path, body, None).await.map(|_| ())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (method, path, body);
        Err(browser_only())
    }
}

/// Sends the request; a 2xx answer comes back to be read, any other turns
/// into the API's error body.
#[cfg(feature = "hydrate")]
async fn send<B: Serialize>(
    method: Method,
    path: &str,
    body: Option<&B>,
    idempotency_key: Option<&str>,
) -> Result<gloo_net::http::Response, ApiError> {
    use gloo_net::http::RequestBuilder;
    let method = match method {
        Method::Get => gloo_net::http::Method::GET,
        Method::Post => gloo_net::http::Method::POST,
        Method::Put => gloo_net::http::Method::PUT,
        Method::Patch => gloo_net::http::Method::PATCH,
        Method::Delete => gloo_net::http::Method::DELETE,
    };
    let mut builder = RequestBuilder::new(path).method(method);
    if let Some(key) = idempotency_key {
        builder = builder.header("idempotency-key", key);
    }
    let request = match body {
        Some(body) => builder.json(body),
        None => builder.build(),
    }
    .map_err(|_| network_error())?;
    let response = request.send().await.map_err(|_| network_error())?;
    if response.ok() {
        return Ok(response);
    }
    let error: ErrorBody = response.json().await.map_err(|_| network_error())?;
    Err(error.error)
}

#[cfg(feature = "hydrate")]
fn network_error() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "could not reach Tessera; check your connection",
    )
}

#[cfg(not(feature = "hydrate"))]
fn browser_only() -> ApiError {
    ApiError::new(ErrorCode::Internal, "browser-only call")
}

// Browser helpers.

/// A fresh random key for one purchase attempt (128 bits, hex).
pub fn new_idempotency_key() -> String {
    #[cfg(feature = "hydrate")]
    {
        let mut bytes = [0u8; 16];
        if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
            let _ = crypto.get_random_values_with_u8_array(&mut bytes);
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

/// `ws://host/path` or `wss://host/path` for the current page.
#[cfg(feature = "hydrate")]
pub fn websocket_url(path: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}{path}", location.host().ok()?))
}

/// Milliseconds since the epoch, in the browser.
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_code_carries_the_email_key_only_when_there_is_one() {
        assert_eq!(ticket_qr_url(TicketId(7), None), "/api/tickets/7/qr.svg");
        assert_eq!(
            ticket_qr_url(TicketId(7), Some("k1")),
            "/api/tickets/7/qr.svg?key=k1"
        );
    }

    #[test]
    fn a_queue_required_error_points_where_the_page_joins() {
        let error = ApiError::queue_required(EventId(3));
        assert_eq!(error.queue_url, Some(queue_path(EventId(3))));
        assert_eq!(queue_path(EventId(3)), "/api/events/3/queue");
    }
}
