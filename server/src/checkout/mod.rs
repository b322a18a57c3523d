//! Checkout: paying for a hold, idempotently, through the payment gateway;
//! refunds; and reconciling purchases whose outcome a crash left unknown.
//!
//! The order of steps is what makes it safe, whatever crashes when:
//! record `pending` (remembering the hold's expiry, extending it for the
//! payment) → create the payment under a key derived from the purchase →
//! record its id, in its own commit → confirm it → sell in one transaction.
//! From the moment a payment could move money its id is on the purchase
//! (or, before that, replaying its creation returns it), so its outcome is
//! always found by asking the processor about that id, never by searching.
//! A payment that succeeds for a purchase that was not sold (seats lost,
//! or already settled `failed`) is refunded. A declined or failed attempt
//! gives the hold back its old expiry: the payment grace covers a charge
//! in flight only. See [`reconcile`] for what happens after a crash and
//! [`refund`] for refunds.

mod payment;
pub mod reconcile;
pub mod refund;
pub mod routes;
pub mod store;
pub mod webhook;

use crate::accounts::{Account, Accounts};
use crate::clock::Clock;
use crate::inventory::batcher::SeatWriter;
use crate::inventory::writer::purchases::TakeOver;
use crate::mail::links::LinkKeys;
use crate::payments::webhook::WebhookSecret;
use crate::payments::{Confirmation, PaymentGateway, PaymentToken};
use crate::store::Store;
use crate::ticket_codes::TicketSigner;
use crate::validation::validate_email;
use app::error::{ApiError, ErrorCode};
use app::types::{
    EventId, HoldId, PurchaseId, PurchaseRequest, PurchaseStatus, PurchaseView, SeatId, TicketId,
    TicketView,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use store::{BeginOutcome, Buyer, NewPurchase, PurchaseRow, Timing};

pub use reconcile::spawn_reconciler;

/// How a purchase will be paid, decided (and validated) before it is recorded.
#[derive(PartialEq, Eq)]
enum PaymentPlan {
    /// A one-off token or a saved card (with its processor customer).
    Charge(PaymentToken, Option<String>),
    /// Save this token to the signed-in account, then charge the saved card.
    SaveThenCharge(PaymentToken),
    /// The processor's card form: the browser confirms the payment.
    CardForm,
}

/// The processor's card form in the browser (Stripe's Payment Element):
/// what the checkout page loads, and what the pages' security policy lets in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardForm {
    pub publishable_key: String,
    /// Stripe.js (or a stand-in for tests).
    pub js_url: String,
    /// Where Stripe.js sends the card data: the processor's API.
    pub api_base: String,
}

/// How long a hold is guaranteed to outlive the start of a charge in flight.
pub const PAYMENT_GRACE_MS: i64 = 120_000;
/// A processor call that has not answered by then counts as "outcome
/// unknown" (the default of [`Deadlines::processor_timeout`]).
pub const PROCESSOR_TIMEOUT: Duration = Duration::from_secs(30);
/// A pending purchase is reconciled this long after its last attempt began
/// (the default of [`Deadlines::reconcile_after`]).
pub const RECONCILE_AFTER_MS: i64 = 60_000;

/// How long a processor call may take, and how long after its last attempt
/// began a pending purchase is left to the reconciler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadlines {
    processor_timeout: Duration,
    reconcile_after: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            processor_timeout: PROCESSOR_TIMEOUT,
            reconcile_after: Duration::from_millis(RECONCILE_AFTER_MS as u64),
        }
    }
}

impl Deadlines {
    /// The reconciler must look only once the attempt's own calls have
    /// given up: a retry takes the purchase over and then makes two calls,
    /// one after the other (it looks the payment up, then confirms it), so
    /// `reconcile_after` is at least twice `processor_timeout`. And it must
    /// look before the payment grace runs out, so a process that died
    /// mid-payment and restarts promptly still sells the seats instead of
    /// refunding.
    pub fn new(processor_timeout: Duration, reconcile_after: Duration) -> Result<Self, String> {
        if processor_timeout.is_zero() || reconcile_after < processor_timeout * 2 {
            return Err(format!(
                "the reconciliation delay ({}s) must be at least twice the processor timeout ({}s)",
                reconcile_after.as_secs_f64(),
                processor_timeout.as_secs_f64()
            ));
        }
        if reconcile_after.as_millis() >= PAYMENT_GRACE_MS as u128 {
            return Err(format!(
                "the reconciliation delay ({}s) must be shorter than the payment grace ({}s)",
                reconcile_after.as_secs_f64(),
                PAYMENT_GRACE_MS / 1000
            ));
        }
        Ok(Self {
            processor_timeout,
            reconcile_after,
        })
    }

    fn reconcile_after_ms(&self) -> i64 {
        i64::try_from(self.reconcile_after.as_millis()).unwrap_or(i64::MAX)
    }
}
/// How long a failed purchase whose payment could still succeed late is
/// watched by default (Stripe keeps idempotency keys for 24 hours).
pub const DEFAULT_LATE_PAYMENT_WATCH: Duration = Duration::from_secs(24 * 3600);

const FAILURE_DECLINED: &str = "declined";
const FAILURE_PROCESSING: &str = "processing_error";
const FAILURE_HOLD_LOST: &str = "hold_lost";

#[derive(Clone)]
pub struct Checkout {
    store: Store,
    seats: SeatWriter,
    clock: Clock,
    gateway: Arc<dyn PaymentGateway>,
    signer: Arc<TicketSigner>,
    accounts: Accounts,
    late_payment_watch_ms: i64,
    deadlines: Deadlines,
    /// Stripe's webhook signing secret; without it webhooks are refused.
    webhook_secret: Option<WebhookSecret>,
    /// Checks the keys of ticket email links.
    links: LinkKeys,
    /// Set when payments may be confirmed in the browser.
    card_form: Option<CardForm>,
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
        seats: SeatWriter,
        clock: Clock,
        gateway: Arc<dyn PaymentGateway>,
        signer: Arc<TicketSigner>,
        accounts: Accounts,
    ) -> Self {
        Self {
            store,
            seats,
            clock,
            gateway,
            links: LinkKeys::from_signer(&signer),
            card_form: None,
            signer,
            accounts,
            late_payment_watch_ms: DEFAULT_LATE_PAYMENT_WATCH.as_millis() as i64,
            deadlines: Deadlines::default(),
            webhook_secret: None,
        }
    }

    /// Accepts Stripe's webhooks signed with `secret`.
    pub fn with_webhook_secret(mut self, secret: Option<WebhookSecret>) -> Self {
        self.webhook_secret = secret;
        self
    }

    /// Lets buyers pay in the processor's card form.
    pub fn with_card_form(mut self, card_form: Option<CardForm>) -> Self {
        self.card_form = card_form;
        self
    }

    pub fn card_form(&self) -> Option<&CardForm> {
        self.card_form.as_ref()
    }

    /// The processor timeout and the reconciliation delay.
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// How long a failed purchase whose payment might still succeed is
    /// watched (a late success is refunded).
    pub fn with_late_payment_watch(mut self, watch: Duration) -> Self {
        self.late_payment_watch_ms = i64::try_from(watch.as_millis()).unwrap_or(i64::MAX);
        self
    }

    fn timing(&self) -> Timing {
        Timing {
            now: self.clock.now(),
            payment_grace_ms: PAYMENT_GRACE_MS,
            reconcile_after_ms: self.deadlines.reconcile_after_ms(),
        }
    }

    /// [`Self::timing`] for a payment the browser confirms: the reconciler
    /// waits the whole payment grace, as long as the hold is kept for it.
    fn timing_in_browser(&self) -> Timing {
        Timing {
            reconcile_after_ms: PAYMENT_GRACE_MS,
            ..self.timing()
        }
    }

    /// Pays for a hold. The same `idempotency_key` again in the same
    /// session returns the first answer and never charges twice; with a
    /// different request it is refused. Signed in, the purchase belongs to
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
        if plan == PaymentPlan::CardForm && self.card_form.is_none() {
            return Err(ApiError::validation(
                "this site takes payment tokens: the processor's card form is not configured",
            ));
        }
        let fingerprint = fingerprint(hold_id, &email, &request);
        let processor_key = new_processor_key();
        let new = NewPurchase {
            hold_id: hold_id.0,
            session_id,
            request_key: idempotency_key,
            fingerprint: &fingerprint,
            processor_key: &processor_key,
            customer: match &plan {
                PaymentPlan::Charge(_, customer) => customer.as_deref(),
                PaymentPlan::SaveThenCharge(_) | PaymentPlan::CardForm => None,
            },
            buyer: match account {
                Some(account) => Buyer::Account(account.id),
                None => Buyer::Guest(&email),
            },
        };
        let begun = store::begin_purchase(&self.store, &self.seats, new, self.timing()).await?;
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
                if existing
                    .request_fingerprint
                    .as_deref()
                    .is_some_and(|first| first != fingerprint)
                    || existing.hold_id != hold_id.0
                {
                    return Err(ApiError::new(
                        ErrorCode::IdempotencyKeyReused,
                        "this Idempotency-Key was already used for a different purchase request",
                    ));
                }
                match self.take_over(&existing).await? {
                    Some(purchase) => (purchase, true),
                    None => return self.answer(existing.id).await,
                }
            }
            BeginOutcome::Started(purchase) => (purchase, false),
        };
        if plan == PaymentPlan::CardForm {
            return self.pay_in_browser(purchase).await;
        }
        let (method, customer) = self
            .method_to_charge(plan, account, &purchase, is_retry)
            .await?;
        let confirmation = Confirmation {
            method,
            off_session: customer.is_some(),
        };
        self.pay(purchase, confirmation, customer).await
    }

    /// A retry takes a pending purchase over (its payment is then looked up
    /// and finished); `None` if it is settled already.
    async fn take_over(&self, existing: &PurchaseRow) -> Result<Option<PurchaseRow>, ApiError> {
        if existing.status != PurchaseStatus::Pending {
            return Ok(None);
        }
        self.seats
            .take_over(TakeOver {
                purchase_id: existing.id,
                event_id: existing.event_id,
                timing: self.timing(),
            })
            .await
    }

    /// Checks how the buyer wants to pay, before anything is recorded.
    fn payment_plan(
        account: Option<&Account>,
        request: &PurchaseRequest,
    ) -> Result<PaymentPlan, ApiError> {
        if request.payment.element == Some(true) {
            return match (request.payment.token.is_some(), request.payment.saved) {
                (false, None) if !request.save_payment_method => Ok(PaymentPlan::CardForm),
                _ => Err(ApiError::validation(
                    "payment.element goes alone: the card form neither takes a token nor saves a card",
                )),
            };
        }
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
                let token = account.saved_card_method().ok_or_else(|| {
                    ApiError::not_found("there is no saved payment method on this account")
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
            PaymentPlan::CardForm => return Err(ApiError::internal()),
        };
        let account = account.ok_or_else(ApiError::internal)?;
        if is_retry {
            if let Some(saved) = account.saved_card_method() {
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
                self.fail(purchase, failure, None).await?;
                Err(error)
            }
        }
    }

    /// The answer a settled purchase gives, read afresh.
    async fn answer(&self, purchase_id: i64) -> Result<PurchaseView, ApiError> {
        let purchase = store::purchase(&self.store, purchase_id)
            .await?
            .ok_or_else(ApiError::internal)?;
        self.settled_answer(purchase).await
    }

    /// The answer a settled purchase gave the first time: the error it
    /// failed with, or the purchase (paid, or refunded since).
    async fn settled_answer(&self, purchase: PurchaseRow) -> Result<PurchaseView, ApiError> {
        if purchase.status == PurchaseStatus::Pending {
            return Err(outcome_unknown());
        }
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
        key: Option<&str>,
        session_id: &str,
        account: Option<&Account>,
    ) -> Result<PurchaseView, ApiError> {
        self.visible(purchase_id, key, session_id, account).await?;
        self.view(purchase_id.0).await
    }

    /// The purchase if the caller may see it: with `key` (from its ticket
    /// email's link), if the key opens it; without, as [`Self::owned`]
    /// decides.
    pub async fn visible(
        &self,
        purchase_id: PurchaseId,
        key: Option<&str>,
        session_id: &str,
        account: Option<&Account>,
    ) -> Result<PurchaseRow, ApiError> {
        match key {
            Some(key) => self.owned_by_key(purchase_id, key).await,
            None => self.owned(purchase_id, session_id, account).await,
        }
    }

    /// The purchase if `key` (from its ticket email) opens it; otherwise
    /// the same 404 as for a purchase that does not exist.
    async fn owned_by_key(
        &self,
        purchase_id: PurchaseId,
        key: &str,
    ) -> Result<PurchaseRow, ApiError> {
        let not_found = || ApiError::not_found(format!("no purchase {purchase_id}"));
        if !self.links.opens_tickets(purchase_id.0, key) {
            return Err(not_found());
        }
        store::purchase(&self.store, purchase_id.0)
            .await?
            .ok_or_else(not_found)
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
            .await?
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
            .await?
            .ok_or_else(ApiError::internal)?;
        self.view_of(purchase).await
    }

    /// [`Self::view`] of a purchase row in hand (one just sold, whose
    /// state the sale decided).
    async fn view_of(&self, purchase: PurchaseRow) -> Result<PurchaseView, ApiError> {
        let tickets = store::tickets_of(&self.store, purchase.id).await?;
        Ok(PurchaseView {
            purchase_id: PurchaseId(purchase.id),
            event_id: EventId(purchase.event_id),
            hold_id: HoldId(purchase.hold_id),
            status: purchase.status,
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
                    status: t.status,
                    code: t.code,
                })
                .collect(),
            client_secret: None,
        })
    }
}

fn declined() -> ApiError {
    ApiError::new(
        ErrorCode::PaymentDeclined,
        "your card was declined; your seats stay held until your hold expires",
    )
}

fn outcome_unknown() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "we could not confirm your payment yet; retry with the same Idempotency-Key",
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

/// What a purchase request asked for (hold, email, payment choice), so the
/// same key with a different request is recognised. Hashed: the token it
/// names is not kept.
fn fingerprint(hold_id: HoldId, email: &str, request: &PurchaseRequest) -> String {
    let mut asked = format!(
        "hold={hold_id}\nemail={email}\ntoken={}\nsaved={}\nsave={}",
        request.payment.token.as_deref().unwrap_or_default(),
        request.payment.saved.unwrap_or(false),
        request.save_payment_method,
    );
    // Appended only when set, so purchases recorded before the card form
    // existed keep their fingerprints.
    if request.payment.element == Some(true) {
        asked.push_str("\nelement=true");
    }
    crate::session::hex(&Sha256::digest(asked.as_bytes()))
}

/// The key the processor sees for a purchase's payment: random, so it
/// never collides with another database's purchases at the same processor
/// account, and never a client's key.
fn new_processor_key() -> String {
    format!(
        "tessera-{}",
        crate::session::hex(&rand::random::<[u8; 16]>())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reconciler_waits_for_a_retrys_two_calls_and_not_past_the_grace() {
        let secs = Duration::from_secs;
        assert!(Deadlines::new(PROCESSOR_TIMEOUT, secs(60)).is_ok());
        assert!(Deadlines::new(secs(2), secs(5)).is_ok());
        assert!(Deadlines::new(secs(3), secs(5)).is_err());
        assert!(Deadlines::new(secs(30), secs(120)).is_err());
        assert!(Deadlines::new(Duration::ZERO, secs(5)).is_err());
    }

    #[test]
    fn idempotency_keys_must_be_reasonable() {
        assert!(validate_idempotency_key("3f1c2a9e-7b1d-4d7e-9a55-0c2f3e1b7d11").is_ok());
        assert!(validate_idempotency_key("short").is_err());
        assert!(validate_idempotency_key("has a space in it").is_err());
        assert!(validate_idempotency_key(&"k".repeat(201)).is_err());
    }
}
