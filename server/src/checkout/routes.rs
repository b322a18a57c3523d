//! REST handlers for purchases and refunds, per `docs/api.md`.

use super::Checkout;
use crate::accounts::routes::MaybeSignedIn;
use crate::error::{parse_path_id, ApiJson, ApiPath, ApiQuery, HttpResult};
use crate::queue::Queue;
use app::error::ErrorBody;
use app::types::{
    CardFormConfig, HoldId, PaymentConfig, PurchaseId, PurchaseRequest, PurchaseView,
};
use axum::extract::FromRef;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

/// The routes, for any application state that can hand out the services
/// their handlers take.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    crate::checkout::Checkout: FromRef<S>,
    crate::queue::Queue: FromRef<S>,
    crate::accounts::Accounts: FromRef<S>,
{
    Router::new()
        .route("/api/holds/{id}/purchase", post(purchase))
        .route("/api/purchases/{id}", get(purchase_view))
        .route("/api/purchases/{id}/refund", post(refund))
        .route("/api/payments/config", get(payment_config))
}

/// How the checkout takes cards: with `card_form`, load Stripe.js from
/// `js_url`, mount the Payment Element with `publishable_key`, and pay with
/// `payment: {"element": true}`; without it, send a processor token.
#[utoipa::path(get, path = "/api/payments/config", tag = "purchases", responses(
    (status = 200, body = PaymentConfig),
))]
pub async fn payment_config(State(checkout): State<Checkout>) -> Json<PaymentConfig> {
    Json(PaymentConfig {
        card_form: checkout.card_form().map(|form| CardFormConfig {
            publishable_key: form.publishable_key.clone(),
            js_url: form.js_url.clone(),
        }),
    })
}

/// `?key=`: the key from the ticket email's link, which opens one
/// purchase's tickets without its session or account.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketsKey {
    /// 32 lowercase hexadecimal characters, from the ticket email.
    #[param(pattern = "^[0-9a-f]{32}$")]
    pub key: Option<String>,
}

/// Pays for the caller's hold. Send a fresh `Idempotency-Key` per attempt;
/// the same key again (in the same session, with the same body) returns the
/// same answer without charging twice; with a different body it is refused
/// (`422 idempotency_key_reused`). Keys are scoped to the buyer's session.
#[utoipa::path(post, path = "/api/holds/{id}/purchase", tag = "purchases", security((), ("session" = [])), params(
        ("id" = i64, Path),
        ("Idempotency-Key" = String, Header, min_length = 8, max_length = 200, pattern = "^[!-~]+$",
            description = "8-200 visible ASCII characters, one per purchase attempt", example = "3f1c2a9e-7b1d-4d7e-9a55-0c2f3e1b7d11"),
    ),
    request_body(content = PurchaseRequest, example = json!({"email": "fan@example.com", "payment": {"token": "tok_visa"}})),
    responses(
        (status = 201, body = PurchaseView),
        (status = 202, body = PurchaseView, description = "payment.element: the payment waits for the browser; confirm it with Stripe.js and `client_secret`, then send the same request again"),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody, description = "unauthenticated: paying with a saved card needs a signed-in account"),
        (status = 402, body = ErrorBody, description = "payment_declined; the hold is kept"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "hold_not_active"),
        (status = 422, body = ErrorBody, description = "validation, card_data_refused, idempotency_key_reused, or ticket_limit_exceeded (the email's tickets of the event plus this hold pass the per-buyer limit; nothing is charged)"),
        (status = 503, body = ErrorBody, description = "payments_not_configured, or the outcome is not known yet: retry with the same key"),
    ))]
pub async fn purchase(
    State(checkout): State<Checkout>,
    State(queue): State<Queue>,
    MaybeSignedIn { session, account }: MaybeSignedIn,
    headers: HeaderMap,
    ApiPath(hold_id): ApiPath<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> HttpResult<Response> {
    // A garbled hold id is malformed input (400) whatever the body says.
    let hold_id = parse_path_id(&hold_id, HoldId::parse, "a hold")?;
    let request: PurchaseRequest = serde_json::from_value(body)
        .map_err(|error| app::error::ApiError::validation(error.to_string()))?;
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let view = checkout
        .purchase(hold_id, &session.key, account.as_ref(), key, request)
        .await?;
    // A card-form payment waiting for the browser keeps the hold going.
    if view.client_secret.is_some() {
        return Ok(session.attach((StatusCode::ACCEPTED, Json(view))));
    }
    queue.hold_finished(view.event_id, hold_id).await;
    Ok(session.attach((StatusCode::CREATED, Json(view))))
}

/// The caller's purchase with its tickets; with the `key` from the ticket
/// email, anyone's who holds the link (a guest on another device included).
#[utoipa::path(get, path = "/api/purchases/{id}", tag = "purchases", security((), ("session" = [])), params(("id" = i64, Path), TicketsKey), responses(
    (status = 200, body = PurchaseView),
    (status = 404, body = ErrorBody, description = "no such purchase, not the caller's, or a wrong key"),
))]
pub async fn purchase_view(
    State(checkout): State<Checkout>,
    MaybeSignedIn { session, account }: MaybeSignedIn,
    ApiPath(purchase_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<TicketsKey>,
) -> HttpResult<Json<PurchaseView>> {
    let purchase_id = parse_path_id(&purchase_id, PurchaseId::parse, "a purchase")?;
    Ok(Json(
        checkout
            .purchase_view(
                purchase_id,
                query.key.as_deref(),
                &session.key,
                account.as_ref(),
            )
            .await?,
    ))
}

/// Refunds the caller's purchase (until the event starts); seats go back
/// on sale. Its tickets stop admitting the moment the refund is decided.
#[utoipa::path(post, path = "/api/purchases/{id}/refund", tag = "purchases", security((), ("session" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = PurchaseView),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "not_refundable (a ticket was scanned, the event started, or the processor refused)"),
    (status = 503, body = ErrorBody, description = "the refund is under way (status refunding); ask again to check"),
))]
pub async fn refund(
    State(checkout): State<Checkout>,
    MaybeSignedIn { session, account }: MaybeSignedIn,
    ApiPath(purchase_id): ApiPath<String>,
) -> HttpResult<Json<PurchaseView>> {
    let purchase_id = parse_path_id(&purchase_id, PurchaseId::parse, "a purchase")?;
    Ok(Json(
        checkout
            .refund(purchase_id, &session.key, account.as_ref())
            .await?,
    ))
}
