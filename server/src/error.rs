//! HTTP face of [`ApiError`]: every error leaves as
//! `{"error":{"code","message"}}` with the status its code documents. 5xx
//! details are logged here and never sent to the client.

use crate::payments::card_guard::json_contains_card_number;
use crate::store::StoreError;
use app::error::{ApiError, ErrorBody, ErrorCode};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An [`ApiError`] on its way out as an HTTP response.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

pub type HttpResult<T> = Result<T, HttpError>;

impl From<ApiError> for HttpError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl From<StoreError> for HttpError {
    fn from(error: StoreError) -> Self {
        Self(store_error_to_api(error))
    }
}

/// Maps a store failure to what a client may see. Pool exhaustion is a 503
/// (retry later); everything else is a bug or an outage, logged in full here.
pub fn store_error_to_api(error: StoreError) -> ApiError {
    match &error {
        StoreError::Database(sqlx::Error::PoolTimedOut) => {
            tracing::warn!("database pool exhausted");
            ApiError::new(ErrorCode::Unavailable, "the service is busy; please retry")
        }
        _ => {
            tracing::error!(%error, "store error");
            ApiError::internal()
        }
    }
}

/// So `?` turns a store failure into the API's answer: see
/// [`store_error_to_api`].
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        store_error_to_api(error)
    }
}

/// [`store_error_to_api`] for a query run directly with sqlx.
pub fn sqlx_error_to_api(error: sqlx::Error) -> ApiError {
    store_error_to_api(error.into())
}

impl From<JsonRejection> for HttpError {
    /// The status axum gives each rejection (413 too large, 415 not JSON,
    /// 422 wrong fields, 400 otherwise) with the code that documents it.
    fn from(rejection: JsonRejection) -> Self {
        let error = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                framework_error(rejection.status())
            }
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::validation(rejection.body_text()),
            _ => ApiError::bad_request(rejection.body_text()),
        };
        Self(error)
    }
}

impl From<QueryRejection> for HttpError {
    fn from(rejection: QueryRejection) -> Self {
        Self(ApiError::bad_request(rejection.body_text()))
    }
}

impl From<PathRejection> for HttpError {
    fn from(rejection: PathRejection) -> Self {
        Self(ApiError::bad_request(rejection.body_text()))
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.0.retry_after_seconds;
        let mut response = (status, Json(ErrorBody { error: self.0 })).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// `Json<T>` whose rejection is our JSON error instead of axum's plain text.
/// Every field of every body is first searched for card numbers: one is
/// refused (422 `card_data_refused`) before anything is parsed, stored or
/// logged, so no client mistake can put card data in our database or logs.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = HttpError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, HttpError> {
        let Json(value) = Json::<serde_json::Value>::from_request(request, state).await?;
        json_body(value).map(ApiJson)
    }
}

/// Reads a request body already parsed as JSON, with [`ApiJson`]'s rules:
/// an object, no card number, no integer past [`MAX_REQUEST_INTEGER`], and
/// whole-number floats read as integers.
pub fn json_body<T: serde::de::DeserializeOwned>(
    mut value: serde_json::Value,
) -> Result<T, HttpError> {
    // Every body of the API is an object; serde would otherwise read a
    // struct from an array of its fields' values.
    if !value.is_object() {
        return Err(ApiError::validation("the body must be a JSON object").into());
    }
    if json_contains_card_number(&value) {
        return Err(ApiError::new(
            ErrorCode::CardDataRefused,
            "card numbers are never accepted here; pay with the token from the card form",
        )
        .into());
    }
    if json_has_oversized_integer(&value) {
        return Err(ApiError::validation(format!(
            "numbers in a request are at most {MAX_REQUEST_INTEGER} in size"
        ))
        .into());
    }
    integral_floats_as_integers(&mut value);
    serde_json::from_value(value).map_err(|error| ApiError::validation(error.to_string()).into())
}

/// The largest integer (in size) a request body may carry: 12 digits.
/// Every id, count and amount of the API fits, and a number of 13 or more
/// digits, which could be a card number, is never stored.
pub const MAX_REQUEST_INTEGER: i64 = 999_999_999_999;

/// Any number in the JSON value is an integer past ±[`MAX_REQUEST_INTEGER`].
fn json_has_oversized_integer(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(n), _) => n.unsigned_abs() > MAX_REQUEST_INTEGER.unsigned_abs(),
            (None, Some(_)) => true,
            (None, None) => false,
        },
        serde_json::Value::Array(items) => items.iter().any(json_has_oversized_integer),
        serde_json::Value::Object(fields) => fields.values().any(json_has_oversized_integer),
        _ => false,
    }
}

/// `7.0` is the integer 7 in JSON Schema (and in JavaScript, which sends
/// it so): every whole number in range is read as an integer.
fn integral_floats_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) => {
            let whole = number.as_f64().filter(|n| {
                number.is_f64() && n.fract() == 0.0 && n.abs() <= MAX_REQUEST_INTEGER as f64
            });
            if let Some(whole) = whole {
                *number = serde_json::Number::from(whole as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(integral_floats_as_integers)
        }
        _ => {}
    }
}

/// `Query<T>` whose rejection is our JSON error.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(HttpError))]
pub struct ApiQuery<T>(pub T);

/// `Path<T>` whose rejection is our JSON error.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(HttpError))]
pub struct ApiPath<T>(pub T);

/// Parses an id from a URL path: anything but a positive integer is
/// malformed input (400), not a missing thing (404). `what` reads "an event",
/// "a hold", …
pub fn parse_path_id<T>(
    raw: &str,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, ApiError> {
    parse(raw).ok_or_else(|| ApiError::bad_request(format!("{raw:?} is not {what} id")))
}

/// What the API says for a refusal the framework made itself: the status is
/// kept, the code is the one documenting it.
fn framework_error(status: StatusCode) -> ApiError {
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this path does not take this method; the Allow header lists those it takes",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::PayloadTooLarge,
            "the request body is larger than this server accepts",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON, with Content-Type: application/json",
        ),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such API endpoint"),
        StatusCode::UNAUTHORIZED => (ErrorCode::Unauthenticated, "sign in first"),
        StatusCode::FORBIDDEN => (ErrorCode::Forbidden, "this request was refused"),
        StatusCode::TOO_MANY_REQUESTS => (ErrorCode::RateLimited, "too many requests; retry later"),
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => (
            ErrorCode::Unavailable,
            "the service is busy or the request took too long; please retry",
        ),
        status if status.is_client_error() => (ErrorCode::BadRequest, "the request was refused"),
        _ => (ErrorCode::Internal, "internal error"),
    };
    ApiError::new(code, message)
}

/// Gives the framework's own refusals under `/api/` the API's error shape:
/// 405 from the router, 413 from the body limit, and any other error
/// response that is not JSON already. The status (and `Allow`) is kept;
/// the framework's plain-text body is dropped.
pub async fn json_framework_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let mut replaced = HttpError(framework_error(status)).into_response();
    *replaced.status_mut() = status;
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            replaced.headers_mut().insert(name, value.clone());
        }
    }
    replaced
}

/// Fallback for unknown `/api/...` paths.
pub async fn api_not_found() -> HttpError {
    HttpError(ApiError::not_found("no such API endpoint"))
}
