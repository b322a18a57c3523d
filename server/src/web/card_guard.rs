//! The card-number guard at the door: a request whose URL or headers carry
//! a card number is refused before anything logs it (what counts as one is
//! [`crate::payments::card_guard`]'s to say; bodies are checked by
//! [`crate::error::ApiJson`]).

use crate::error::HttpError;
use crate::payments::card_guard::{headers_carry_card_number, url_carries_card_number};
use app::error::{ApiError, ErrorCode};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Refuses (422 `card_data_refused`) a request whose URL or headers carry a
/// card number. It runs before the request is traced; bodies are checked by
/// the JSON extractor ([`crate::error::ApiJson`]).
pub async fn refuse_card_numbers(request: Request, next: Next) -> Response {
    if url_carries_card_number(request.uri()) || headers_carry_card_number(request.headers()) {
        return HttpError(ApiError::new(
            ErrorCode::CardDataRefused,
            "card numbers are never accepted here; pay with the token from the card form",
        ))
        .into_response();
    }
    next.run(request).await
}
