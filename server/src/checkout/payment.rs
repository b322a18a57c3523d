//! Paying for a recorded purchase: create its payment (or find the one it
//! has), record the payment's id, confirm it, and act on the outcome —
//! sell, settle `failed`, or refund a payment whose purchase could not be
//! sold. The reconciler acts on outcomes through the same functions.

use super::store::{self, Completion, PurchaseRow, Timing};
use super::{
    declined, hold_lost, outcome_unknown, processing_error, Checkout, FAILURE_DECLINED,
    FAILURE_HOLD_LOST, FAILURE_PROCESSING,
};
use crate::inventory::writer::purchases::{FailPurchase, RecordPayment, Sell};
use crate::payments::{Confirmation, Intent, IntentRequest, Outcome, PaymentError};
use app::error::{ApiError, ErrorCode};
use app::types::{PurchaseStatus, PurchaseView};

/// The payment a purchase is paid with: the same request every time, from
/// the purchase row alone, so a replay after a crash finds the same one.
pub(super) fn intent_request(purchase: &PurchaseRow) -> IntentRequest {
    IntentRequest {
        amount_cents: purchase.total_cents,
        currency: "usd",
        customer: purchase.processor_customer.clone(),
        idempotency_key: purchase.processor_key.clone(),
        purchase_id: purchase.id,
        description: format!("Tessera purchase {}", purchase.id),
    }
}

/// The failure reason a payment error settles a purchase with.
pub(super) fn failure_of(error: &PaymentError) -> &'static str {
    match error {
        PaymentError::Declined(_) => FAILURE_DECLINED,
        _ => FAILURE_PROCESSING,
    }
}

/// Where a retried purchase's recorded payment stands.
enum Resumed {
    /// Not confirmed yet (or waiting for the buyer): go on paying.
    Open(Intent, Box<PurchaseRow>),
    /// It had an outcome, now acted on: the answer.
    Settled(Box<PurchaseView>),
}

impl Checkout {
    /// Bounds one processor call: one that has not answered in time has an
    /// unknown outcome.
    pub(super) async fn call<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, PaymentError>>,
    ) -> Result<T, PaymentError> {
        tokio::time::timeout(self.deadlines.processor_timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(PaymentError::Unknown(
                    "the processor did not answer in time".into(),
                ))
            })
    }

    /// Pays a pending purchase this request has taken charge of.
    pub(super) async fn pay(
        &self,
        mut purchase: PurchaseRow,
        confirmation: Confirmation,
        customer: Option<String>,
    ) -> Result<PurchaseView, ApiError> {
        let intent = match purchase.payment_ref.clone() {
            // A retry: the payment may have an outcome already.
            Some(intent_id) => match self.resume(purchase, &intent_id).await? {
                Resumed::Open(intent, row) => {
                    purchase = *row;
                    intent
                }
                Resumed::Settled(view) => return Ok(*view),
            },
            None => {
                if customer != purchase.processor_customer {
                    store::set_customer(&self.store, purchase.id, customer.as_deref()).await?;
                    purchase.processor_customer = customer;
                }
                match self.create_and_record(&purchase, self.timing()).await? {
                    Some(intent) => intent,
                    None => return self.answer(purchase.id).await,
                }
            }
        };
        let confirmed = self
            .call(self.gateway.confirm(&intent.id, &confirmation))
            .await;
        self.conclude(purchase, &intent.id, confirmed).await
    }

    /// Pays a pending purchase in the processor's card form: its payment is
    /// created and recorded here, and confirmed by the buyer's browser
    /// (Stripe.js, 3-D Secure included). The answer carries the payment's
    /// client secret (`202`) until the payment has an outcome; the same
    /// request again then acts on it — sells, or settles `failed`. The
    /// reconciler leaves it to the browser for the payment grace (the hold
    /// lasts that long), then cancels it; a success that beats the cancel
    /// is sold or refunded as any other. Webhooks settle it too.
    pub(super) async fn pay_in_browser(
        &self,
        purchase: PurchaseRow,
    ) -> Result<PurchaseView, ApiError> {
        let (intent, purchase) = match purchase.payment_ref.clone() {
            Some(intent_id) => match self.resume(purchase, &intent_id).await? {
                Resumed::Open(intent, row) => (intent, *row),
                Resumed::Settled(view) => return Ok(*view),
            },
            // The browser has the whole payment grace to confirm (3-D
            // Secure included) before the reconciler looks.
            None => match self
                .create_and_record(&purchase, self.timing_in_browser())
                .await?
            {
                Some(intent) => (intent, purchase),
                None => return self.answer(purchase.id).await,
            },
        };
        let mut view = self.view(purchase.id).await?;
        view.client_secret = Some(intent.client_secret.ok_or_else(ApiError::internal)?);
        Ok(view)
    }

    /// A retry of a purchase whose payment is recorded: the payment as the
    /// processor has it now — still open, or with an outcome, acted on.
    async fn resume(&self, purchase: PurchaseRow, intent_id: &str) -> Result<Resumed, ApiError> {
        match self.call(self.gateway.retrieve(intent_id)).await {
            Ok(intent) if intent.outcome() == Outcome::Open => {
                Ok(Resumed::Open(intent, Box::new(purchase)))
            }
            Ok(intent) => {
                let view = self.conclude(purchase, intent_id, Ok(intent)).await?;
                Ok(Resumed::Settled(Box::new(view)))
            }
            Err(error) => {
                tracing::warn!(purchase = purchase.id, %error, "payment not found yet");
                Err(outcome_unknown())
            }
        }
    }

    /// Creates the purchase's payment (or gets it back by replaying the
    /// creation) and records its id before anything can charge it. `None`
    /// if the purchase was settled meanwhile.
    async fn create_and_record(
        &self,
        purchase: &PurchaseRow,
        timing: Timing,
    ) -> Result<Option<Intent>, ApiError> {
        let intent = match self
            .call(self.gateway.create_intent(&intent_request(purchase)))
            .await
        {
            Ok(intent) => intent,
            Err(PaymentError::Unknown(reason)) => {
                tracing::warn!(purchase = purchase.id, %reason, "payment creation unanswered; left pending");
                return Err(outcome_unknown());
            }
            // Nothing was created, or nothing that was ever confirmed:
            // confirming comes only after the id is recorded.
            Err(error) => {
                tracing::warn!(purchase = purchase.id, %error, "payment could not be created");
                self.fail(purchase, FAILURE_PROCESSING, None).await?;
                return Err(processing_error());
            }
        };
        let recorded = self.record_intent(purchase, &intent.id, timing).await?;
        Ok(recorded.then_some(intent))
    }

    /// Records the payment's id on a pending purchase before the payment is
    /// confirmed: from then on its outcome can always be looked up by id.
    /// The confirmation about to start is a charge in flight, so the
    /// reconciler's next look moves past it. `false` if the purchase is no
    /// longer pending.
    pub(super) async fn record_intent(
        &self,
        purchase: &PurchaseRow,
        intent_id: &str,
        timing: Timing,
    ) -> Result<bool, ApiError> {
        self.seats
            .record_payment(RecordPayment {
                purchase_id: purchase.id,
                event_id: purchase.event_id,
                intent_id: intent_id.to_string(),
                timing,
            })
            .await
    }

    /// Acts on what the processor said about a purchase's payment.
    pub(super) async fn conclude(
        &self,
        purchase: PurchaseRow,
        intent_id: &str,
        answer: Result<Intent, PaymentError>,
    ) -> Result<PurchaseView, ApiError> {
        let outcome = match answer {
            Ok(intent) => intent.outcome(),
            Err(error @ (PaymentError::Declined(_) | PaymentError::Transient(_))) => {
                Outcome::Failed(error)
            }
            // Refused, e.g. canceled by the reconciler meanwhile: see where
            // the payment stands.
            Err(PaymentError::Invalid(_)) => {
                match self.call(self.gateway.retrieve(intent_id)).await {
                    Ok(intent) => intent.outcome(),
                    Err(_) => return Err(outcome_unknown()),
                }
            }
            Err(PaymentError::Unknown(reason)) => {
                tracing::warn!(purchase = purchase.id, %reason, "payment outcome unknown; left pending");
                return Err(outcome_unknown());
            }
        };
        match outcome {
            Outcome::Charged => self.sell_or_refund(purchase, intent_id).await,
            Outcome::Processing => Err(ApiError::new(
                ErrorCode::Unavailable,
                "your payment is still being processed; retry with the same Idempotency-Key",
            )),
            Outcome::Failed(error) => {
                let failure = failure_of(&error);
                self.fail(&purchase, failure, None).await?;
                self.answer(purchase.id).await
            }
            // Waiting for the buyer (3-D Secure), which this checkout does
            // not offer yet: it cannot complete here. The reconciler cancels
            // it (a success that beats the cancel is refunded).
            Outcome::Open => {
                let watch = Some(self.clock.now() + self.late_payment_watch_ms);
                self.fail(&purchase, FAILURE_DECLINED, watch).await?;
                Err(declined())
            }
        }
    }

    /// Settles a pending purchase `failed` on a processor's definite answer
    /// (whatever the attempt), giving the hold its old expiry back.
    pub(super) async fn fail(
        &self,
        purchase: &PurchaseRow,
        reason: &str,
        watch_until: Option<i64>,
    ) -> Result<bool, ApiError> {
        self.settle_failed(purchase, reason, None, watch_until)
            .await
    }

    /// Settles a pending purchase `failed` — only if no retry took it over
    /// since `attempt` was read, when given — and gives the hold back the
    /// expiry it had before the attempt (the payment grace covers a charge
    /// in flight only). `false` if it was no longer pending (or was taken
    /// over). `watch_until`: its payment could still succeed late, and the
    /// reconciler watches it until then.
    pub(super) async fn settle_failed(
        &self,
        purchase: &PurchaseRow,
        reason: &str,
        attempt: Option<i64>,
        watch_until: Option<i64>,
    ) -> Result<bool, ApiError> {
        self.seats
            .fail(FailPurchase {
                purchase: purchase.clone(),
                reason: reason.to_string(),
                attempt,
                watch_until,
                now: self.clock.now(),
            })
            .await
    }

    /// After a successful payment: sell the seats; or, if the hold lost
    /// them or the purchase was settled without this payment, refund it.
    pub(super) async fn sell_or_refund(
        &self,
        purchase: PurchaseRow,
        intent_id: &str,
    ) -> Result<PurchaseView, ApiError> {
        let now = self.clock.now();
        // Purchase `paid`, seats `sold`, tickets `valid`, in one transaction.
        let completion = self
            .seats
            .sell(Sell {
                purchase: purchase.clone(),
                intent_id: intent_id.to_string(),
                signer: self.signer.clone(),
                now,
            })
            .await?;
        match completion {
            Completion::Sold => {
                self.view_of(PurchaseRow {
                    status: PurchaseStatus::Paid,
                    payment_ref: Some(intent_id.to_string()),
                    ..purchase
                })
                .await
            }
            Completion::SeatsLost => {
                tracing::warn!(
                    purchase = purchase.id,
                    "charged but the hold lost its seats; refunding"
                );
                self.refund_unsold(purchase.id, intent_id, FAILURE_HOLD_LOST)
                    .await?;
                Err(hold_lost())
            }
            Completion::AlreadySettled => {
                let settled = store::purchase(&self.store, purchase.id)
                    .await?
                    .ok_or_else(ApiError::internal)?;
                let failed = settled.status == PurchaseStatus::Failed;
                if failed {
                    tracing::warn!(
                        purchase = purchase.id,
                        "a payment succeeded after its purchase failed; refunding"
                    );
                    let reason = settled.failure.clone().unwrap_or_default();
                    self.refund_unsold(purchase.id, intent_id, &reason).await?;
                }
                self.settled_answer(settled).await
            }
        }
    }

    /// Refunds a payment whose purchase was not sold: the decision is
    /// recorded (`refunding`) first, so a crash before the processor has
    /// refunded leaves the reconciler to finish it. Whether it finished now
    /// does not change the buyer's answer.
    pub(super) async fn refund_unsold(
        &self,
        purchase_id: i64,
        intent_id: &str,
        reason: &str,
    ) -> Result<(), ApiError> {
        let now = self.clock.now();
        let decided = store::begin_unsold_refund(
            &self.store,
            purchase_id,
            intent_id,
            reason,
            now,
            self.deadlines.reconcile_after_ms(),
        )
        .await?;
        if !decided {
            // Someone else settled it; whoever did handles its payment.
            return Ok(());
        }
        let refunding = store::purchase(&self.store, purchase_id)
            .await?
            .ok_or_else(ApiError::internal)?;
        self.carry_out_refund(&refunding).await?;
        Ok(())
    }
}
