//! Tickets over HTTP: a ticket's code as a QR image, for its owner, and
//! the public key gates verify codes with (the codes: `crate::ticket_codes`).

use crate::accounts::routes::MaybeSignedIn;
use crate::checkout::routes::TicketsKey;
use crate::checkout::Checkout;
use crate::error::{parse_path_id, sqlx_error_to_api, ApiPath, ApiQuery, HttpResult};
use crate::on_pool;
use crate::store::Store;
use crate::ticket_codes::TicketSigner;
use app::error::{ApiError, ErrorBody};
use app::types::{PurchaseId, TicketId};
use axum::extract::FromRef;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// The routes, for any application state that can hand out the services
/// their handlers take.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    crate::store::Store: FromRef<S>,
    crate::checkout::Checkout: FromRef<S>,
    crate::accounts::Accounts: FromRef<S>,
    std::sync::Arc<crate::ticket_codes::TicketSigner>: FromRef<S>,
{
    Router::new()
        .route("/api/tickets/public-key", get(public_key))
        .route("/api/tickets/{id}/qr.svg", get(qr_code))
}

/// The Ed25519 public key that verifies ticket codes, for offline gates.
#[utoipa::path(get, path = "/api/tickets/public-key", tag = "tickets", responses(
    (status = 200, description = "`{\"algorithm\":\"Ed25519\",\"public_key\":\"<base64url>\"}`"),
))]
pub async fn public_key(State(signer): State<Arc<TicketSigner>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "algorithm": "Ed25519",
        "public_key": signer.public_key_base64(),
        "code_format": "TK1.base64url(event_id:u64be seat_id:u64be purchase_id:u64be signature:64)",
    }))
}

/// The ticket's code as a QR image (SVG), for its owner only: the buyer's
/// session or account, or the `key` of its purchase's ticket email link.
#[utoipa::path(get, path = "/api/tickets/{id}/qr.svg", tag = "tickets", security((), ("session" = [])), params(("id" = i64, Path), TicketsKey), responses(
    (status = 200, content_type = "image/svg+xml"),
    (status = 404, body = ErrorBody),
))]
pub async fn qr_code(
    State(store): State<Store>,
    State(checkout): State<Checkout>,
    MaybeSignedIn { session, account }: MaybeSignedIn,
    ApiPath(ticket_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<TicketsKey>,
) -> HttpResult<impl IntoResponse> {
    let ticket_id = parse_path_id(&ticket_id, TicketId::parse, "a ticket")?;
    let not_found = || ApiError::not_found(format!("no ticket {ticket_id}"));
    let (purchase_id, code): (i64, String) = on_pool!(&store, pool =>
        sqlx::query_as("SELECT purchase_id, code FROM tickets WHERE id = $1")
            .bind(ticket_id.0)
            .fetch_optional(pool)
            .await)
    .map_err(sqlx_error_to_api)?
    .ok_or_else(not_found)?;
    checkout
        .visible(
            PurchaseId(purchase_id),
            query.key.as_deref(),
            &session.key,
            account.as_ref(),
        )
        .await
        .map_err(|_| not_found())?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        qr_svg(&code).ok_or_else(ApiError::internal)?,
    ))
}

/// An SVG QR code of `text`, medium error correction, with a quiet zone.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_ticket_code_fits_in_a_qr_image() {
        let signer = crate::ticket_codes::TicketSigner::generate();
        let code = signer.sign(crate::ticket_codes::TicketClaim {
            event_id: 1,
            seat_id: 2,
            purchase_id: 3,
        });
        let svg = super::qr_svg(&code).expect("svg");
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{}",
            &svg[..60]
        );
    }
}
