//! The one error type of the API and the pages. Its JSON form is the API's
//! `{"error":{"code","message"}}`; server functions carry it typed, so a page
//! can say "that seat was just taken" instead of a generic failure.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Machine-readable error codes. Each documents the HTTP status it maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request could not be parsed.
    BadRequest,
    /// 405: the path exists but not with this method (see `Allow`).
    MethodNotAllowed,
    /// 413: the request body is larger than the server accepts.
    PayloadTooLarge,
    /// 415: the body is not JSON (`Content-Type: application/json`).
    UnsupportedMediaType,
    /// 404: no such thing, or not yours.
    NotFound,
    /// 409: one or more requested seats are not free.
    SeatsUnavailable,
    /// 409: the hold expired, was released or was already purchased.
    HoldNotActive,
    /// 409: the hold was already extended; a hold is extended once.
    ExtensionUsed,
    /// 409: the event is not on sale (not yet, or it has started).
    NotOnSale,
    /// 422: the buyer would exceed the event's per-buyer ticket limit.
    TicketLimitExceeded,
    /// 409: the purchase cannot be refunded (not paid, used, or the event started).
    NotRefundable,
    /// 422: the request carried something that looks like a card number.
    CardDataRefused,
    /// 402: the payment was declined.
    PaymentDeclined,
    /// 422: this `Idempotency-Key` was already used in this session for a
    /// different request (another hold, email or payment choice).
    IdempotencyKeyReused,
    /// 422: the request parsed but its values are not acceptable.
    Validation,
    /// 422: a companion seat was asked for without a wheelchair space in
    /// the same hold; it is sold only together with one.
    CompanionSeatAlone,
    /// 401: this needs a signed-in account.
    Unauthenticated,
    /// 401: the email and password do not match an account (which of the
    /// two is wrong is deliberately not said).
    InvalidCredentials,
    /// 403: a state-changing request from another site (CSRF), or a role
    /// this account does not have.
    Forbidden,
    /// 403: this event's onsale runs through a waiting room and the caller
    /// has no valid admission: join the queue (`queue_url`) first.
    QueueRequired,
    /// 409: an account with this email already exists.
    EmailTaken,
    /// 409: the change would leave no enabled admin account.
    LastAdmin,
    /// 429: too many requests; `retry_after_seconds` (and the
    /// `Retry-After` header) say when to try again.
    RateLimited,
    /// 422: confirming this email from a browser not signed in to its
    /// account also sets the account's password: send `new_password`.
    NewPasswordRequired,
    /// 503: a dependency (database, payment provider) is unavailable, or the
    /// request took longer than the server allows; retry.
    Unavailable,
    /// 503: this server has no payment processor configured, so nothing can
    /// be bought or saved; nothing was charged or recorded.
    PaymentsNotConfigured,
    /// 500: a bug or an unexpected failure; details are in the server log only.
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::NotFound => 404,
            Self::SeatsUnavailable
            | Self::HoldNotActive
            | Self::ExtensionUsed
            | Self::NotOnSale
            | Self::NotRefundable
            | Self::EmailTaken
            | Self::LastAdmin => 409,
            Self::Unauthenticated | Self::InvalidCredentials => 401,
            Self::Forbidden | Self::QueueRequired => 403,
            Self::PaymentDeclined => 402,
            Self::Validation
            | Self::CompanionSeatAlone
            | Self::TicketLimitExceeded
            | Self::CardDataRefused
            | Self::NewPasswordRequired
            | Self::IdempotencyKeyReused => 422,
            Self::RateLimited => 429,
            Self::Unavailable | Self::PaymentsNotConfigured => 503,
            Self::Internal => 500,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// With `seats_unavailable`: the requested seats that were not free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_ids: Option<Vec<crate::types::SeatId>>,
    /// With `rate_limited`: seconds until a retry can succeed (also sent as
    /// the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// With `queue_required`: where to join the event's queue (the API
    /// call; the page is the same path without `/api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            seat_ids: None,
            retry_after_seconds: None,
            queue_url: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Validation, message)
    }
    pub fn seats_unavailable(seat_ids: Vec<crate::types::SeatId>) -> Self {
        Self {
            code: ErrorCode::SeatsUnavailable,
            message: "some of those seats were just taken; pick others".into(),
            seat_ids: Some(seat_ids),
            retry_after_seconds: None,
            queue_url: None,
        }
    }
    /// 429 `rate_limited`: retry after `wait` (rounded up to whole seconds,
    /// at least one).
    pub fn rate_limited(message: impl Into<String>, wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self {
            retry_after_seconds: Some(seconds.max(1)),
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }
    /// 403 `queue_required` for event `event_id`.
    pub fn queue_required(event_id: crate::types::EventId) -> Self {
        Self {
            queue_url: Some(crate::queue::queue_path(event_id)),
            ..Self::new(
                ErrorCode::QueueRequired,
                "this onsale runs through a waiting room: join the queue, and hold seats once \
                 it is your turn",
            )
        }
    }
    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "sign in first")
    }
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

/// The API's error envelope: `{"error": {...}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ApiError,
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                Self::bad_request(message)
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => Self::new(
                ErrorCode::Unavailable,
                "could not reach the server; check your connection",
            ),
            other => Self::new(ErrorCode::Internal, other.to_string()),
        }
    }
}
