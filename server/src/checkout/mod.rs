//! Checkout: paying for a hold, idempotently, through the payment gateway;
//! refunds; and reconciling purchases whose outcome a crash left unknown.
//!
//! The order of steps is what makes it safe: record `pending` (and extend
//! the hold) → charge with the purchase's idempotency key → sell in one
//! transaction. A charge whose seats could no longer be sold is refunded at
//! once; one whose process died before the sale is settled on restart by
//! asking the processor what happened under that key.

pub mod routes;
pub mod store;

use crate::accounts::{Account, Accounts};
use crate::error::store_error_to_api;
use crate::inventory::clock::Clock;
use crate::payments::{ChargeRequest, PaymentError, PaymentGateway, PaymentToken};
use crate::store::Store;
use crate::tickets::codes::TicketSigner;
use app::error::{ApiError, ErrorCode};
use app::types::{
    EventId, HoldId, PurchaseId, PurchaseRequest, PurchaseStatus, PurchaseView, SeatId, TicketId,
    TicketStatus, TicketView,
};
use std::sync::Arc;
use store::{BeginOutcome, Buyer, Completion, PurchaseRow};

/// How a purchase will be paid, decided (and validated) before it is recorded.
enum PaymentPlan {
    /// A one-off token or a saved card (with its processor customer).
    Charge(PaymentToken, Option<String>),
    /// Save this token to the signed-in account, then charge the saved card.
    SaveThenCharge(PaymentToken),
}

/// How long a hold is guaranteed to outlive the start of its payment.
pub const PAYMENT_GRACE_MS: i64 = 120_000;
/// A charge call that has not answered by then counts as "outcome unknown".
pub const CHARGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Pending purchases older than this are reconciled against the processor:
/// past the charge timeout (so no call is still in flight), and before the
/// payment grace runs out (so a process that died mid-payment and restarts
/// promptly still sells the seats instead of refunding).
pub const RECONCILE_AFTER_MS: i64 = 60_000;

const FAILURE_DECLINED: &str = "declined";
const FAILURE_PROCESSING: &str = "processing_error";
const FAILURE_HOLD_LOST: &str = "hold_lost";

#[derive(Clone)]
pub struct Checkout {
    store: Store,
    clock: Clock,
    gateway: Arc<dyn PaymentGateway>,
    signer: Arc<TicketSigner>,
    accounts: Accounts,
}

impl std::fmt::Debug for Checkout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkout")
            .field("gateway", &self.gateway)
            .finish_non_exhaustive()
    }
}

impl Checkout {
    pub fn new(
        store: Store,
        clock: Clock,
        gateway: Arc<dyn PaymentGateway>,
        signer: Arc<TicketSigner>,
        accounts: Accounts,
    ) -> Self {
        Self {
            store,
            clock,
            gateway,
            signer,
            accounts,
        }
    }

    /// Pays for a hold. The same `idempotency_key` again returns the first
    /// answer and never charges twice. Signed in, the purchase belongs to
    /// the account and may use (or save) its card; as a guest it is
    /// recorded under the given email.
    pub async fn purchase(
        &self,
        hold_id: HoldId,
        session_id: &str,
        account: Option<&Account>,
        idempotency_key: &str,
        request: PurchaseRequest,
    ) -> Result<PurchaseView, ApiError> {
        crate::payments::ensure_configured(self.gateway.as_ref())?;
        validate_idempotency_key(idempotency_key)?;
        let email = validate_email(&request.email)?;
        let plan = Self::payment_plan(account, &request)?;
        let buyer = match account {
            Some(account) => Buyer::Account(account.id),
            None => Buyer::Guest(&email),
        };
        let now = self.clock.now();
        let begun = store::begin_purchase(
            &self.store,
            hold_id.0,
            session_id,
            idempotency_key,
            buyer,
            now,
            PAYMENT_GRACE_MS,
        )
        .await
        .map_err(store_error_to_api)?;
        let (purchase, is_retry) = match begun {
            BeginOutcome::HoldNotFound => {
                return Err(ApiError::not_found(format!("no hold {hold_id}")))
            }
            BeginOutcome::HoldNotActive => {
                return Err(ApiError::new(
                    ErrorCode::HoldNotActive,
                    "this hold has expired, was released or is already paid for",
                ))
            }
            BeginOutcome::TicketLimitExceeded => {
                return Err(crate::inventory::buyer_limit::limit_error())
            }
            BeginOutcome::Existing(existing) => {
                if existing.session_id != session_id || existing.hold_id != hold_id.0 {
                    return Err(ApiError::validation(
                        "this Idempotency-Key was already used for another purchase",
                    ));
                }
                match PurchaseStatus::parse(&existing.status) {
                    // A retry of an attempt that never settled: charge again
                    // under the same key, which the processor de-duplicates.
                    Some(PurchaseStatus::Pending) => (existing, true),
                    _ => return self.settled_answer(existing).await,
                }
            }
            BeginOutcome::Started(purchase) => (purchase, false),
        };
        let (token, customer) = self
            .method_to_charge(plan, account, &purchase, is_retry)
            .await?;
        let request = ChargeRequest {
            amount_cents: purchase.total_cents,
            currency: "usd",
            token,
            customer,
            idempotency_key: purchase.idempotency_key.clone(),
            description: format!("Tessera purchase {}", purchase.id),
        };
        let charge = tokio::time::timeout(CHARGE_TIMEOUT, self.gateway.charge(&request))
            .await
            .unwrap_or_else(|_| {
                Err(PaymentError::Unknown(
                    "the processor did not answer in time".into(),
                ))
            });
        match charge {
            Ok(charge) => self.sell_or_refund(purchase, &charge.id).await,
            Err(PaymentError::Declined(_)) => {
                self.settle(&purchase, PurchaseStatus::Failed, FAILURE_DECLINED, None)
                    .await?;
                Err(declined())
            }
            Err(PaymentError::Transient(_)) => {
                self.settle(&purchase, PurchaseStatus::Failed, FAILURE_PROCESSING, None)
                    .await?;
                Err(processing_error())
            }
            Err(PaymentError::Unknown(reason)) => {
                tracing::warn!(purchase = purchase.id, %reason, "payment outcome unknown; left pending");
                Err(ApiError::new(
                    ErrorCode::Unavailable,
                    "we could not confirm your payment yet; retry with the same Idempotency-Key",
                ))
            }
        }
    }

    /// Checks how the buyer wants to pay, before anything is recorded.
    fn payment_plan(
        account: Option<&Account>,
        request: &PurchaseRequest,
    ) -> Result<PaymentPlan, ApiError> {
        match (request.payment.token.as_deref(), request.payment.saved) {
            (Some(token), None | Some(false)) => {
                let token = PaymentToken::parse(token)
                    .ok_or_else(|| ApiError::validation("payment.token is not a payment token"))?;
                match (account, request.save_payment_method) {
                    (Some(_), true) => Ok(PaymentPlan::SaveThenCharge(token)),
                    (None, true) => Err(ApiError::new(
                        ErrorCode::Unauthenticated,
                        "sign in to save a card",
                    )),
                    (_, false) => Ok(PaymentPlan::Charge(token, None)),
                }
            }
            (None, Some(true)) => {
                let account = account.ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::Unauthenticated,
                        "sign in to pay with a saved card",
                    )
                })?;
                let token = account
                    .payment_token
                    .as_deref()
                    .and_then(PaymentToken::parse)
                    .ok_or_else(|| {
                        ApiError::validation("there is no saved payment method on this account")
                    })?;
                Ok(PaymentPlan::Charge(token, account.payment_customer.clone()))
            }
            _ => Err(ApiError::validation(
                "give payment.token or payment.saved: true",
            )),
        }
    }

    /// The method to charge for a recorded purchase. Saving a card happens
    /// here, once: a retry of the same purchase charges the card the first
    /// attempt saved (a processor token can be used only once). A card the
    /// processor will not save settles the purchase as failed.
    async fn method_to_charge(
        &self,
        plan: PaymentPlan,
        account: Option<&Account>,
        purchase: &PurchaseRow,
        is_retry: bool,
    ) -> Result<(PaymentToken, Option<String>), ApiError> {
        let token = match plan {
            PaymentPlan::Charge(token, customer) => return Ok((token, customer)),
            PaymentPlan::SaveThenCharge(token) => token,
        };
        let account = account.ok_or_else(ApiError::internal)?;
        if is_retry {
            if let Some(saved) = account
                .payment_token
                .as_deref()
                .and_then(PaymentToken::parse)
            {
                return Ok((saved, account.payment_customer.clone()));
            }
        }
        match self.accounts.save_card(account, token.expose()).await {
            Ok((card, _)) => Ok((card.method, card.customer)),
            Err(error) => {
                let failure = if error.code == ErrorCode::PaymentDeclined {
                    FAILURE_DECLINED
                } else {
                    FAILURE_PROCESSING
                };
                self.settle(purchase, PurchaseStatus::Failed, failure, None)
                    .await?;
                Err(error)
            }
        }
    }

    /// After a successful charge: sell the seats, or refund at once if the
    /// hold lost them.
    async fn sell_or_refund(
        &self,
        purchase: PurchaseRow,
        charge_id: &str,
    ) -> Result<PurchaseView, ApiError> {
        let now = self.clock.now();
        let completion =
            store::complete_purchase(&self.store, &purchase, charge_id, &self.signer, now)
                .await
                .map_err(store_error_to_api)?;
        match completion {
            Completion::Sold => return self.view(purchase.id).await,
            Completion::AlreadySettled => {
                let settled = store::purchase(&self.store, purchase.id)
                    .await
                    .map_err(store_error_to_api)?
                    .ok_or_else(ApiError::internal)?;
                return self.settled_answer(settled).await;
            }
            Completion::SeatsLost => {}
        }
        tracing::warn!(
            purchase = purchase.id,
            "charged but the hold lost its seats; refunding"
        );
        self.gateway.refund(charge_id).await.map_err(|error| {
            // Stays pending with no sale: reconciliation retries the refund.
            tracing::error!(purchase = purchase.id, %error, "automatic refund failed");
            ApiError::new(
                ErrorCode::Unavailable,
                "your seats were lost; the refund is being retried",
            )
        })?;
        self.settle(
            &purchase,
            PurchaseStatus::Refunded,
            FAILURE_HOLD_LOST,
            Some(charge_id),
        )
        .await?;
        Err(hold_lost())
    }

    async fn settle(
        &self,
        purchase: &PurchaseRow,
        status: PurchaseStatus,
        failure: &str,
        payment_ref: Option<&str>,
    ) -> Result<(), ApiError> {
        store::settle_unsold(
            &self.store,
            purchase.id,
            status.as_str(),
            failure,
            payment_ref,
            self.clock.now(),
        )
        .await
        .map_err(store_error_to_api)
    }

    /// The answer a settled purchase gave the first time.
    async fn settled_answer(&self, purchase: PurchaseRow) -> Result<PurchaseView, ApiError> {
        match purchase.failure.as_deref() {
            Some(FAILURE_DECLINED) => Err(declined()),
            Some(FAILURE_PROCESSING) => Err(processing_error()),
            Some(FAILURE_HOLD_LOST) => Err(hold_lost()),
            _ => self.view(purchase.id).await,
        }
    }

    /// A purchase with its tickets, for its own session or account only.
    pub async fn purchase_view(
        &self,
        purchase_id: PurchaseId,
        session_id: &str,
        account: Option<&Account>,
    ) -> Result<PurchaseView, ApiError> {
        self.owned(purchase_id, session_id, account).await?;
        self.view(purchase_id.0).await
    }

    /// Refunds a paid purchase before its event starts; its seats go back on sale.
    pub async fn refund(
        &self,
        purchase_id: PurchaseId,
        session_id: &str,
        account: Option<&Account>,
    ) -> Result<PurchaseView, ApiError> {
        let purchase = self.owned(purchase_id, session_id, account).await?;
        let not_refundable = |message: &str| ApiError::new(ErrorCode::NotRefundable, message);
        match PurchaseStatus::parse(&purchase.status) {
            Some(PurchaseStatus::Paid) => {}
            Some(PurchaseStatus::Refunded) => return self.view(purchase.id).await,
            _ => return Err(not_refundable("only a paid purchase can be refunded")),
        }
        let rules = crate::inventory::holds::event_rules(&self.store, purchase.event_id)
            .await
            .map_err(store_error_to_api)?
            .ok_or_else(ApiError::internal)?;
        if rules.refund_policy == "none" {
            return Err(not_refundable("this event's tickets are not refundable"));
        }
        if self.clock.now() >= rules.starts_at {
            return Err(not_refundable("refunds close when the event starts"));
        }
        let tickets = store::tickets_of(&self.store, purchase.id)
            .await
            .map_err(store_error_to_api)?;
        if tickets.iter().any(|t| t.status == "used") {
            return Err(not_refundable(
                "a ticket of this purchase was already scanned at the gate",
            ));
        }
        let charge_id = purchase
            .payment_ref
            .clone()
            .ok_or_else(ApiError::internal)?;
        self.gateway.refund(&charge_id).await.map_err(|error| {
            tracing::warn!(purchase = purchase.id, %error, "refund failed at the processor");
            ApiError::new(
                ErrorCode::Unavailable,
                "the refund could not be made right now; try again",
            )
        })?;
        store::refund_purchase(&self.store, &purchase, self.clock.now())
            .await
            .map_err(store_error_to_api)?;
        self.view(purchase.id).await
    }

    /// Settles purchases left pending by a crash or a lost processor reply:
    /// sold if the processor charged and the seats are still held, refunded
    /// if it charged but the seats are gone, failed if it never charged.
    /// Returns how many it settled.
    pub async fn reconcile_pending(&self, older_than_ms: i64) -> Result<usize, ApiError> {
        let cutoff = self.clock.now() - older_than_ms;
        let stale = store::stale_pending(&self.store, cutoff)
            .await
            .map_err(store_error_to_api)?;
        let mut settled = 0;
        for purchase in stale {
            let charge = match self.gateway.find_charge(&purchase.idempotency_key).await {
                Ok(charge) => charge,
                Err(error) => {
                    tracing::warn!(purchase = purchase.id, %error, "cannot reconcile yet");
                    continue;
                }
            };
            match charge {
                Some(charge) => {
                    let id = purchase.id;
                    match self.sell_or_refund(purchase, &charge.id).await {
                        Ok(_) => tracing::info!(purchase = id, "reconciled: sold"),
                        Err(error) => tracing::info!(purchase = id, %error, "reconciled: not sold"),
                    }
                }
                None => {
                    self.settle(&purchase, PurchaseStatus::Failed, FAILURE_PROCESSING, None)
                        .await?;
                    tracing::info!(purchase = purchase.id, "reconciled: never charged");
                }
            }
            settled += 1;
        }
        Ok(settled)
    }

    /// The purchase if the caller may see it: made in this session, or
    /// belonging to the signed-in account (bought signed in, or a guest
    /// checkout with the account's email once that email is confirmed).
    /// Anyone else gets the same 404 as for a purchase that does not exist.
    pub async fn owned(
        &self,
        purchase_id: PurchaseId,
        session_id: &str,
        account: Option<&Account>,
    ) -> Result<PurchaseRow, ApiError> {
        store::purchase(&self.store, purchase_id.0)
            .await
            .map_err(store_error_to_api)?
            .filter(|p| {
                p.session_id == session_id
                    || account.is_some_and(|account| {
                        p.user_id == account.id
                            && (p.by_account || account.email_confirmed_at.is_some())
                    })
            })
            .ok_or_else(|| ApiError::not_found(format!("no purchase {purchase_id}")))
    }

    async fn view(&self, purchase_id: i64) -> Result<PurchaseView, ApiError> {
        let purchase = store::purchase(&self.store, purchase_id)
            .await
            .map_err(store_error_to_api)?
            .ok_or_else(ApiError::internal)?;
        let tickets = store::tickets_of(&self.store, purchase_id)
            .await
            .map_err(store_error_to_api)?;
        Ok(PurchaseView {
            purchase_id: PurchaseId(purchase.id),
            event_id: EventId(purchase.event_id),
            hold_id: HoldId(purchase.hold_id),
            status: PurchaseStatus::parse(&purchase.status).ok_or_else(ApiError::internal)?,
            total_cents: purchase.total_cents,
            tickets: tickets
                .into_iter()
                .map(|t| TicketView {
                    id: TicketId(t.id),
                    seat_id: SeatId(t.seat_id),
                    section: t.section,
                    row: t.row_label,
                    number: t.number,
                    price_cents: t.price_cents,
                    status: match t.status.as_str() {
                        "used" => TicketStatus::Used,
                        "refunded" => TicketStatus::Refunded,
                        _ => TicketStatus::Valid,
                    },
                    code: t.code,
                })
                .collect(),
        })
    }
}

/// Settles stale pending purchases at start-up (a previous process may have
/// died mid-payment) and then every `every`.
pub fn spawn_reconciler(
    checkout: Checkout,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            if let Ok(settled @ 1..) = checkout.reconcile_pending(RECONCILE_AFTER_MS).await {
                tracing::info!(settled, "reconciled pending purchases");
            }
        }
    })
}

fn declined() -> ApiError {
    ApiError::new(
        ErrorCode::PaymentDeclined,
        "your card was declined; your seats are still held",
    )
}

fn processing_error() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "the payment processor had a problem; try again with a new Idempotency-Key",
    )
}

fn hold_lost() -> ApiError {
    ApiError::new(
        ErrorCode::HoldNotActive,
        "your seats were released before the payment completed; the charge was refunded",
    )
}

fn validate_idempotency_key(key: &str) -> Result<(), ApiError> {
    let ok = (8..=200).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "an Idempotency-Key header of 8 to 200 visible ASCII characters is required",
        ))
    }
}

/// A plausible address: one `@`, something before it, a dot after it, no
/// spaces, at most 254 characters. Stored lower-cased.
pub fn validate_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(ApiError::validation("email is not a valid address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_normalised() {
        assert_eq!(
            validate_email(" Fan@Example.COM ").ok(),
            Some("fan@example.com".into())
        );
        for bad in [
            "",
            "fan",
            "fan@",
            "@example.com",
            "fan@example",
            "a b@example.com",
            "a@b@c.com",
            "fan@.com",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_must_be_reasonable() {
        assert!(validate_idempotency_key("3f1c2a9e-7b1d-4d7e-9a55-0c2f3e1b7d11").is_ok());
        assert!(validate_idempotency_key("short").is_err());
        assert!(validate_idempotency_key("has a space in it").is_err());
        assert!(validate_idempotency_key(&"k".repeat(201)).is_err());
    }
}
