//! Refunds. A refund and a gate scan never both succeed: the refund is
//! decided in one transaction first (purchase `refunding`, its tickets no
//! longer admit; refused if one already did), then the processor is asked,
//! outside any lock, then the seats go back on sale (`refunded`).
//!
//! If the processor refuses a buyer's refund (a disputed payment, say),
//! asking again will not help and the seats must not stay in limbo, so it
//! is taken back: `paid` again, tickets valid again, and the buyer is told
//! why. If the processor cannot be reached or its answer is lost, the
//! decision stands and the reconciler (or the buyer asking again) finishes
//! it; refunding the same payment twice is harmless. An automatic refund
//! (a payment for seats that were not sold) is never taken back: it is
//! retried with backoff and logged as an error for an operator.

use super::store::{self, PurchaseRow, RefundDecision};
use super::Checkout;
use crate::accounts::Account;
use crate::payments::PaymentError;
use app::error::{ApiError, ErrorCode};
use app::staff::RefundPolicy;
use app::types::{PurchaseId, PurchaseStatus, PurchaseView};

/// What the processor made of a refund.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refunded {
    /// Done: the purchase is `refunded`, its seats on sale again.
    Done,
    /// Refused for good; a buyer's refund was taken back.
    Refused(String),
    /// Not known yet; it stays `refunding` for the reconciler.
    Later,
}

fn not_refundable(message: &str) -> ApiError {
    ApiError::new(ErrorCode::NotRefundable, message)
}

impl Checkout {
    /// Refunds a paid purchase before its event starts; its seats go back
    /// on sale. Asking again while a refund is under way finishes it.
    pub async fn refund(
        &self,
        purchase_id: PurchaseId,
        session_id: &str,
        account: Option<&Account>,
    ) -> Result<PurchaseView, ApiError> {
        let purchase = self.owned(purchase_id, session_id, account).await?;
        let refunding = match purchase.status {
            PurchaseStatus::Paid => self.decide_refund(&purchase).await?,
            PurchaseStatus::Refunding => purchase,
            PurchaseStatus::Refunded => return self.view(purchase.id).await,
            _ => return Err(not_refundable("only a paid purchase can be refunded")),
        };
        match self.carry_out_refund(&refunding).await? {
            Refunded::Done => self.view(refunding.id).await,
            Refunded::Refused(reason) => Err(not_refundable(&format!(
                "the payment processor refused the refund ({reason}); your tickets are still valid"
            ))),
            Refunded::Later => Err(ApiError::new(
                ErrorCode::Unavailable,
                "your refund is under way and your tickets no longer admit; \
                 it completes shortly (ask again to check)",
            )),
        }
    }

    /// Checks the event's refund rules and records the decision.
    async fn decide_refund(&self, purchase: &PurchaseRow) -> Result<PurchaseRow, ApiError> {
        let rules = crate::inventory::holds::event_rules(&self.store, purchase.event_id)
            .await?
            .ok_or_else(ApiError::internal)?;
        if rules.refund_policy == RefundPolicy::None {
            return Err(not_refundable("this event's tickets are not refundable"));
        }
        let now = self.clock.now();
        if now >= rules.starts_at {
            return Err(not_refundable("refunds close when the event starts"));
        }
        let decision = store::begin_refund(
            &self.store,
            purchase.id,
            now,
            self.deadlines.reconcile_after_ms(),
        )
        .await?;
        match decision {
            RefundDecision::Started(refunding) => Ok(*refunding),
            RefundDecision::TicketUsed => Err(not_refundable(
                "a ticket of this purchase was already scanned at the gate",
            )),
            // Refunded (or refunding) by a concurrent request: answer as it.
            RefundDecision::NotPaid => {
                let now = store::purchase(&self.store, purchase.id)
                    .await?
                    .ok_or_else(ApiError::internal)?;
                match now.status {
                    PurchaseStatus::Refunding | PurchaseStatus::Refunded => Ok(now),
                    _ => Err(not_refundable("only a paid purchase can be refunded")),
                }
            }
        }
    }

    /// Asks the processor to refund a purchase whose refund is decided,
    /// outside any lock, and records its answer.
    pub(super) async fn carry_out_refund(
        &self,
        purchase: &PurchaseRow,
    ) -> Result<Refunded, ApiError> {
        if purchase.status == PurchaseStatus::Refunded {
            return Ok(Refunded::Done);
        }
        let intent_id = purchase
            .payment_ref
            .as_deref()
            .ok_or_else(ApiError::internal)?;
        let answer = self.call(self.gateway.refund(intent_id)).await;
        let now = self.clock.now();
        match answer {
            Ok(()) => {
                store::finish_refund(&self.seats, purchase, now).await?;
                Ok(Refunded::Done)
            }
            Err(PaymentError::Declined(reason) | PaymentError::Invalid(reason)) => {
                if purchase.failure.is_none() {
                    tracing::warn!(purchase = purchase.id, %reason, "refund refused; taken back");
                    store::revert_refund(&self.store, purchase.id, now).await?;
                } else {
                    tracing::error!(
                        purchase = purchase.id,
                        %reason,
                        "the processor refuses to refund a payment for seats that were not \
                         sold; retrying with backoff, needs an operator"
                    );
                }
                Ok(Refunded::Refused(reason))
            }
            Err(error) => {
                tracing::warn!(purchase = purchase.id, %error, "refund not confirmed yet");
                Ok(Refunded::Later)
            }
        }
    }
}
