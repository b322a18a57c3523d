//! `POST /api/webhooks/stripe`: the processor telling us a payment moved.
//!
//! A webhook is one more settler beside the buyer's own request and the
//! reconciler, and it settles through the same functions, so whichever
//! comes first wins and the others find the purchase settled. It never
//! trusts the event's copy of the payment: events arrive late, twice and
//! out of order, so the payment is looked up by its id and acted on as it
//! stands now. It only settles what is decided (charged, or failed for
//! good); a payment still waiting for the buyer (3-D Secure) or for the
//! processor is left to its next event, the buyer, or the reconciler.
//!
//! Answers: `200` once handled (or known already: each event id is acted
//! on once), `400` for a delivery whose signature does not check out,
//! `503` while the payment cannot be looked up (Stripe retries), and `404`
//! when no webhook secret is configured (the endpoint is not set up here:
//! a fault of the deployment, reported without a 5xx for every stray
//! request).

use super::reconcile::Step;
use super::store::{self, PurchaseRow, RefundDecision};
use super::{outcome_unknown, Checkout};
use crate::error::HttpResult;
use crate::payments::webhook::{self, Event, Notice, SignatureError};
use crate::payments::Outcome;
use app::error::{ApiError, ErrorBody, ErrorCode};
use app::types::PurchaseStatus;
use axum::body::Bytes;
use axum::extract::FromRef;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;

/// The routes, for any application state that can hand out the services
/// their handlers take.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    crate::checkout::Checkout: FromRef<S>,
{
    Router::new().route("/api/webhooks/stripe", post(stripe_webhook))
}

/// The acknowledgement Stripe gets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookReceipt {
    pub received: bool,
    /// This event was handled before (a second delivery, or a replay
    /// inside the signature's five minutes): nothing was done again.
    pub duplicate: bool,
}

/// Stripe's webhook endpoint (point an endpoint for
/// `payment_intent.succeeded`, `payment_intent.payment_failed`,
/// `payment_intent.canceled` and `charge.refunded` here, and set
/// `TESSERA_STRIPE_WEBHOOK_SECRET` to its signing secret). Settles the
/// purchase a payment belongs to; a whole refund made at the processor
/// refunds the purchase here too.
#[utoipa::path(post, path = "/api/webhooks/stripe", tag = "webhooks", params(
        ("Stripe-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the endpoint's secret>"),
    ),
    request_body(content = serde_json::Value, description = "a Stripe Event object"),
    responses(
        (status = 200, body = WebhookReceipt),
        (status = 400, body = ErrorBody, description = "the signature is missing, does not match, or is more than five minutes old; or the body is not an event"),
        (status = 404, body = ErrorBody, description = "not_found: webhooks are not set up here (no TESSERA_STRIPE_WEBHOOK_SECRET)"),
        (status = 503, body = ErrorBody, description = "the payment cannot be looked up yet: deliver it again"),
    ))]
pub async fn stripe_webhook(
    State(checkout): State<Checkout>,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Json<WebhookReceipt>> {
    let header = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok());
    // An unsigned request is malformed whether or not webhooks are set up.
    if header.is_none() {
        return Err(refused(SignatureError::Missing).into());
    }
    let secret = checkout.webhook_secret.as_ref().ok_or_else(|| {
        ApiError::not_found(
            "webhooks are not set up here: TESSERA_STRIPE_WEBHOOK_SECRET is not configured",
        )
    })?;
    // The wall clock, not checkout's (which tests move): the tolerance is
    // about when Stripe signed the delivery.
    let now_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64);
    webhook::verify(secret, header, &body, now_secs).map_err(refused)?;
    let event: Event = serde_json::from_slice(&body).map_err(|error| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("not a Stripe event: {error}"),
        )
    })?;
    let duplicate = store::event_handled(&checkout.store, &event.id).await?;
    if !duplicate {
        checkout.on_notice(event.notice()).await?;
        store::remember_event(
            &checkout.store,
            &event.id,
            &event.kind,
            checkout.clock.now(),
        )
        .await?;
    }
    let outcome = if duplicate { "duplicate" } else { "handled" };
    metrics::counter!("tessera_webhooks_total", "outcome" => outcome).increment(1);
    Ok(Json(WebhookReceipt {
        received: true,
        duplicate,
    }))
}

fn refused(error: SignatureError) -> ApiError {
    metrics::counter!("tessera_webhooks_total", "outcome" => "refused").increment(1);
    ApiError::new(ErrorCode::BadRequest, format!("webhook refused: {error}"))
}

impl Checkout {
    /// Acts on what a webhook says about one of our payments.
    pub async fn on_notice(&self, notice: Notice) -> Result<(), ApiError> {
        let (intent_id, whole_refund) = match notice {
            Notice::Payment { intent_id } => (intent_id, false),
            Notice::Refund { intent_id, whole } => (intent_id, whole),
            Notice::Other => return Ok(()),
        };
        let purchase = store::purchase_by_payment(&self.store, &intent_id).await?;
        // Not ours, or created and not recorded yet (the reconciler replays
        // its creation and finds it).
        let Some(purchase) = purchase else {
            return Ok(());
        };
        match purchase.status {
            PurchaseStatus::Pending => self.settle_pending(&purchase, &intent_id).await,
            // A late success of a failed purchase is refunded.
            PurchaseStatus::Failed if purchase.watch_until.is_some() => {
                self.watch_failed(&purchase).await.map(|_: Step| ())
            }
            PurchaseStatus::Refunding => self.carry_out_refund(&purchase).await.map(|_| ()),
            PurchaseStatus::Paid if whole_refund => self.refunded_elsewhere(&purchase).await,
            _ => Ok(()),
        }
    }

    /// Settles a pending purchase if its payment is decided.
    async fn settle_pending(
        &self,
        purchase: &PurchaseRow,
        intent_id: &str,
    ) -> Result<(), ApiError> {
        let intent = self
            .call(self.gateway.retrieve(intent_id))
            .await
            .map_err(|_| outcome_unknown())?;
        match intent.outcome() {
            Outcome::Charged => match self.sell_or_refund(purchase.clone(), intent_id).await {
                // The database failed us: the delivery is answered 500 and
                // Stripe sends it again.
                Err(error) if error.code == ErrorCode::Internal => Err(error),
                // Sold, or refunded because the seats were lost: settled.
                _ => Ok(()),
            },
            Outcome::Failed(error) => {
                // Only if no retry by the buyer took it over meanwhile.
                self.settle_failed(
                    purchase,
                    super::payment::failure_of(&error),
                    Some(purchase.attempt),
                    None,
                )
                .await?;
                Ok(())
            }
            Outcome::Processing | Outcome::Open => Ok(()),
        }
    }

    /// A paid purchase refunded in whole at the processor (from its
    /// dashboard): the money is back with the buyer, so the tickets stop
    /// admitting and the seats go back on sale, as for a refund asked here.
    async fn refunded_elsewhere(&self, purchase: &PurchaseRow) -> Result<(), ApiError> {
        let decision = store::begin_refund(
            &self.store,
            purchase.id,
            self.clock.now(),
            self.deadlines.reconcile_after_ms(),
        )
        .await?;
        match decision {
            // Refunding an already refunded payment is harmless: this only
            // records the processor's answer and frees the seats.
            RefundDecision::Started(refunding) => {
                self.carry_out_refund(&refunding).await?;
            }
            RefundDecision::TicketUsed => tracing::error!(
                purchase = purchase.id,
                "refunded at the processor after a ticket was scanned at the gate; left paid, \
                 needs an operator"
            ),
            RefundDecision::NotPaid => {}
        }
        Ok(())
    }
}
