//! Reconciliation: settling what a crash, a lost reply or a slow processor
//! left open, by asking the processor about each payment by its id.
//!
//! Every purchase with something left to check carries `next_check_at`:
//! a pending one a minute (`TESSERA_RECONCILE_AFTER_SECONDS`) after its
//! last attempt began (a retry taking it over pushes that back, so a
//! charge in flight is never settled under it); a `refunding` one until
//! the processor has refunded; a `failed` one whose payment could still
//! succeed late, until it can no longer (a late success is refunded). The
//! reconciler takes what is due, soonest first; what it cannot settle yet
//! is looked at again later, with exponential backoff, so a purchase it
//! can never settle (an unknown payment, a refused refund) does not hold
//! up newer ones.
//!
//! A pending purchase's payment:
//! - not recorded (the process died between creating and recording it):
//!   its creation is replayed under the same key, which returns the same
//!   payment, and its id is recorded; it was never confirmed;
//! - succeeded: sold, or refunded if the seats are gone;
//! - failed or canceled: settled `failed`;
//! - processing: asked again later;
//! - never confirmed as far as the processor knows: settled `failed`
//!   (only if no retry took it over meanwhile) and then canceled, so a
//!   confirmation still on its way cannot charge; one that lands before
//!   the cancel is refunded.

use super::payment::{failure_of, intent_request};
use super::refund::Refunded;
use super::store::{self, PurchaseRow};
use super::{Checkout, FAILURE_PROCESSING};
use crate::payments::{Intent, Outcome, PaymentError};
use app::error::{ApiError, ErrorCode};
use app::types::PurchaseStatus;
use std::time::Duration;

/// Purchases read per query.
const BATCH: i64 = 100;
/// Queries per pass at most; the rest waits for the next pass.
const MAX_BATCHES: usize = 20;
/// First wait after a look that settled nothing; doubled each time, up to
/// the cap.
const BACKOFF_FIRST_MS: i64 = 15_000;
const BACKOFF_MAX_MS: i64 = 3_600_000;

/// What one look at a purchase achieved.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Settled, or taken out of the reconciler's hands (by a retry, say).
    Done,
    /// Nothing settled: look again after a backoff.
    Later,
}

fn backoff_ms(failures: i64) -> i64 {
    let doublings = u32::try_from(failures.clamp(0, 20)).unwrap_or(20);
    BACKOFF_FIRST_MS
        .saturating_mul(1_i64 << doublings)
        .min(BACKOFF_MAX_MS)
}

impl Checkout {
    /// One pass over the purchases due for a look. Returns how many it settled.
    pub async fn reconcile(&self) -> Result<usize, ApiError> {
        let mut settled = 0;
        for _ in 0..MAX_BATCHES {
            let due = store::due(&self.store, self.clock.now(), BATCH).await?;
            let last_batch = (due.len() as i64) < BATCH;
            for purchase in due {
                let step = self.look_at(&purchase).await.unwrap_or_else(|error| {
                    tracing::warn!(purchase = purchase.id, %error, "reconciliation failed");
                    Step::Later
                });
                match step {
                    Step::Done => settled += 1,
                    Step::Later => self.defer(&purchase).await?,
                }
            }
            if last_batch {
                break;
            }
        }
        Ok(settled)
    }

    /// Looks at `purchase` again after its backoff (unless it changed since
    /// it was read: whatever changed it set its next look).
    async fn defer(&self, purchase: &PurchaseRow) -> Result<(), ApiError> {
        let at = self.clock.now() + backoff_ms(purchase.check_failures);
        store::defer(&self.store, purchase, at)
            .await
            .map_err(ApiError::from)
    }

    async fn look_at(&self, purchase: &PurchaseRow) -> Result<Step, ApiError> {
        match purchase.status {
            PurchaseStatus::Pending => self.reconcile_pending(purchase).await,
            PurchaseStatus::Failed => self.watch_failed(purchase).await,
            PurchaseStatus::Refunding => match self.carry_out_refund(purchase).await? {
                Refunded::Done => Ok(Step::Done),
                // A buyer's refused refund was taken back; an automatic one
                // keeps being retried.
                Refunded::Refused(_) if purchase.failure.is_none() => Ok(Step::Done),
                Refunded::Refused(_) | Refunded::Later => Ok(Step::Later),
            },
            _ => {
                store::done_checking(&self.store, purchase).await?;
                Ok(Step::Done)
            }
        }
    }

    /// The payment of a pending purchase, by its recorded id, or by
    /// replaying its creation (and recording it) if the id never was.
    async fn payment_of(&self, purchase: &PurchaseRow) -> Option<Intent> {
        let found = match &purchase.payment_ref {
            Some(intent_id) => self.call(self.gateway.retrieve(intent_id)).await,
            None => {
                let replayed = self
                    .call(self.gateway.create_intent(&intent_request(purchase)))
                    .await;
                if let Ok(intent) = &replayed {
                    let recorded = self
                        .record_intent(purchase, &intent.id, self.timing())
                        .await;
                    if !matches!(recorded, Ok(true)) {
                        return None;
                    }
                }
                replayed
            }
        };
        found
            .inspect_err(|error| match error {
                // An unknown payment id, or a creation the processor will
                // not replay (made with other parameters, or more than a day
                // ago): nothing here will settle it.
                PaymentError::Invalid(_) => tracing::error!(
                    purchase = purchase.id,
                    %error,
                    "the processor refuses to look up this purchase's payment; \
                     retrying with backoff, needs an operator"
                ),
                _ => tracing::warn!(purchase = purchase.id, %error, "cannot reconcile yet"),
            })
            .ok()
    }

    async fn reconcile_pending(&self, purchase: &PurchaseRow) -> Result<Step, ApiError> {
        let Some(intent) = self.payment_of(purchase).await else {
            return Ok(Step::Later);
        };
        // Settled only if no retry took it over since it was read.
        let attempt = Some(purchase.attempt);
        let now = self.clock.now();
        match intent.outcome() {
            Outcome::Charged => match self.sell_or_refund(purchase.clone(), &intent.id).await {
                // The database failed us: try again later.
                Err(error) if error.code == ErrorCode::Internal => Ok(Step::Later),
                sold => {
                    tracing::info!(
                        purchase = purchase.id,
                        sold = sold.is_ok(),
                        "reconciled a payment that succeeded"
                    );
                    Ok(Step::Done)
                }
            },
            Outcome::Processing => Ok(Step::Later),
            Outcome::Failed(error) => {
                self.settle_failed(purchase, failure_of(&error), attempt, None)
                    .await?;
                tracing::info!(purchase = purchase.id, "reconciled: not charged");
                Ok(Step::Done)
            }
            Outcome::Open => {
                let watch = Some(now + self.late_payment_watch_ms);
                if !self
                    .settle_failed(purchase, FAILURE_PROCESSING, attempt, watch)
                    .await?
                {
                    return Ok(Step::Done);
                }
                tracing::info!(
                    purchase = purchase.id,
                    "reconciled: never confirmed; canceling"
                );
                let failed = store::purchase(&self.store, purchase.id)
                    .await?
                    .ok_or_else(ApiError::internal)?;
                if self.watch_failed(&failed).await? == Step::Later {
                    self.defer(&failed).await?;
                }
                Ok(Step::Done)
            }
        }
    }

    /// A failed purchase whose payment could still succeed: cancel it so
    /// it never can, and refund it if it already did.
    pub(super) async fn watch_failed(&self, purchase: &PurchaseRow) -> Result<Step, ApiError> {
        let Some(intent_id) = purchase.payment_ref.as_deref() else {
            return self.stop_watching(purchase).await;
        };
        if purchase
            .watch_until
            .is_some_and(|until| until <= self.clock.now())
        {
            tracing::error!(
                purchase = purchase.id,
                payment = intent_id,
                "gave up watching a failed purchase's payment; check it at the processor"
            );
            return self.stop_watching(purchase).await;
        }
        let mut intent = self.call(self.gateway.retrieve(intent_id)).await;
        if matches!(&intent, Ok(found) if found.outcome() == Outcome::Open) {
            // Whatever the cancel says, the payment's state afterwards decides.
            let _ = self.call(self.gateway.cancel(intent_id)).await;
            intent = self.call(self.gateway.retrieve(intent_id)).await;
        }
        match intent.map(|found| found.outcome()) {
            Ok(Outcome::Charged) => {
                tracing::warn!(
                    purchase = purchase.id,
                    "a payment succeeded after its purchase failed; refunding"
                );
                let reason = purchase.failure.as_deref().unwrap_or(FAILURE_PROCESSING);
                self.refund_unsold(purchase.id, intent_id, reason).await?;
                Ok(Step::Done)
            }
            Ok(Outcome::Failed(_)) => self.stop_watching(purchase).await,
            Ok(Outcome::Processing | Outcome::Open) | Err(_) => Ok(Step::Later),
        }
    }

    async fn stop_watching(&self, purchase: &PurchaseRow) -> Result<Step, ApiError> {
        store::done_checking(&self.store, purchase).await?;
        Ok(Step::Done)
    }
}

/// Reconciles at start-up (a previous process may have died mid-payment)
/// and then every `every`.
pub fn spawn_reconciler(checkout: Checkout, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            metrics::counter!("tessera_reconcile_passes_total").increment(1);
            match checkout.reconcile().await {
                Ok(0) => {}
                Ok(settled) => {
                    metrics::counter!("tessera_reconcile_settled_total").increment(settled as u64);
                    tracing::info!(settled, "reconciled purchases");
                }
                Err(error) => {
                    metrics::counter!("tessera_reconcile_failed_passes_total").increment(1);
                    tracing::warn!(%error, "reconciliation pass failed");
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_ms(0), 15_000);
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(3), 120_000);
        assert_eq!(backoff_ms(100), 3_600_000);
        assert_eq!(backoff_ms(-1), 15_000);
    }
}
