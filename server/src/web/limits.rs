//! Per-request limits.

use crate::error::HttpError;
use crate::openapi::error_response;
use crate::payments::card_guard::loggable_path;
use app::error::{ApiError, ErrorCode};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// The largest request body accepted (the API's bodies are small JSON).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A WebSocket handshake (`Upgrade: websocket`).
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .any(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// Answers `503 unavailable` when a request takes longer than `limit` to
/// produce its response, so a stuck dependency cannot pile requests up
/// without bound. A WebSocket handshake is let through: its answer is
/// immediate, and the socket it opens lives as long as it is watched.
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    if is_websocket_upgrade(request.headers()) {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let path = loggable_path(request.uri().path()).into_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, %path, ?limit, "request timed out");
            HttpError(ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "the request took longer than {} seconds; please retry",
                    limit.as_secs_f64()
                ),
            ))
            .into_response()
        }
    }
}

/// Documents, on every operation of the OpenAPI document, the answers any
/// request can get from these limits and guards: `422 card_data_refused`
/// (a card number in the URL or a header), `503 unavailable` (the request
/// timed out), and for those with a body `413` and `415`.
pub struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let has_body = operation.request_body.is_some();
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(description).into());
                };
                add(
                    "422",
                    "card_data_refused: a card number in the URL, a header or the body",
                );
                add(
                    "503",
                    "unavailable: the service is busy or the request took too long",
                );
                if has_body {
                    add("413", "payload_too_large: the body is over 64 KiB");
                    add(
                        "415",
                        "unsupported_media_type: the body is not application/json",
                    );
                }
            }
        }
    }
}
