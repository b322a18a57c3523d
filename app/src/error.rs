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
    /// 404: no such thing, or not yours.
    NotFound,
    /// 409: one or more requested seats are not free.
    SeatsUnavailable,
    /// 409: the hold expired, was released or was already purchased.
    HoldNotActive,
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
    /// 401: this needs a signed-in account.
    Unauthenticated,
    /// 401: the email and password do not match an account (which of the
    /// two is wrong is deliberately not said).
    InvalidCredentials,
    /// 403: a state-changing request from another site (CSRF), or a role
    /// this account does not have.
    Forbidden,
    /// 409: an account with this email already exists.
    EmailTaken,
    /// 429: too many requests.
    RateLimited,
    /// 503: a dependency (database, payment provider) is unavailable; retry.
    Unavailable,
    /// 500: a bug or an unexpected failure; details are in the server log only.
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::NotFound => 404,
            Self::SeatsUnavailable
            | Self::HoldNotActive
            | Self::NotOnSale
            | Self::NotRefundable
            | Self::EmailTaken => 409,
            Self::Unauthenticated | Self::InvalidCredentials => 401,
            Self::Forbidden => 403,
            Self::PaymentDeclined => 402,
            Self::Validation
            | Self::TicketLimitExceeded
            | Self::CardDataRefused
            | Self::IdempotencyKeyReused => 422,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
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
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            seat_ids: None,
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
