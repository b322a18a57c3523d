//! A local payment processor in test mode, the embedded default. It follows
//! the same PaymentIntents model as Stripe (see [`super::PaymentGateway`]):
//! payments are created under an idempotency key (the same request again
//! returns the same payment; other parameters are refused), confirmed once
//! (a second confirmation returns the first answer), looked up, canceled
//! and refunded. `tok_visa` (and any other well-formed token) succeeds,
//! `tok_chargeDeclined` is declined, `tok_processing_error` fails
//! transiently. Saved cards are `pm_saved_<card>_<random>`: the reference
//! itself says which test card it stands for, so saved cards survive a
//! restart of this in-memory processor.
//!
//! Latency (for every call, or per kind of call), a random transient-fault
//! rate, lost or undelivered confirmations and refused refunds can be
//! configured to rehearse slow or flaky processors. A call's effect happens
//! after its latency, as a request that travels before it is carried out,
//! and happens even if the caller gives up waiting (or dies) meanwhile.

use super::{
    Confirmation, Intent, IntentRequest, IntentStatus, PaymentError, PaymentGateway, PaymentToken,
    SavedCard,
};
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const TOKEN_DECLINED: &str = "tok_chargeDeclined";
pub const TOKEN_PROCESSING_ERROR: &str = "tok_processing_error";
const SAVED_PREFIX: &str = "pm_saved_";

/// Brand and last four digits of the processor's well-known test cards.
fn test_card(name: &str) -> (&'static str, &'static str) {
    match name {
        "mastercard" => ("mastercard", "4444"),
        "amex" => ("amex", "8431"),
        "discover" => ("discover", "1117"),
        "visa_debit" => ("visa", "5556"),
        _ => ("visa", "4242"),
    }
}

/// The one-off token a saved reference stands for (`pm_saved_visa_ab12` →
/// `tok_visa`); other tokens stand for themselves.
fn effective_token(token: &PaymentToken) -> String {
    match token.expose().strip_prefix(SAVED_PREFIX) {
        Some(rest) => {
            let card = rest.rsplit_once('_').map_or(rest, |(card, _nonce)| card);
            format!("tok_{card}")
        }
        None => token.expose().to_string(),
    }
}

/// The kinds of call, for per-call latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    Create,
    Confirm,
    Retrieve,
    Cancel,
    Refund,
    SaveCard,
}

/// What goes wrong with confirmations while a fault is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The confirmation is carried out, but its reply never arrives.
    LoseReply,
    /// The confirmation never reaches the processor (the caller cannot tell).
    DropRequest,
}

#[derive(Debug)]
pub struct TestGateway {
    latency: Duration,
    call_latency: HashMap<Call, Duration>,
    /// Probability (0..=1) that a confirmation fails transiently.
    fault_rate: f64,
    confirm_fault: Mutex<Option<Fault>>,
    /// Why refunds are refused, while they are.
    refund_refusal: Mutex<Option<String>>,
    confirms_received: AtomicU64,
    /// Shared with the calls in flight, which finish on their own.
    ledger: Arc<Mutex<Ledger>>,
}

impl Default for TestGateway {
    fn default() -> Self {
        let ledger = Ledger {
            // Payment ids differ between processors (and between restarts
            // of this one), as real ones do.
            prefix: format!("pi_test_{:08x}", rand::rng().random::<u32>()),
            ..Ledger::default()
        };
        Self {
            latency: Duration::ZERO,
            call_latency: HashMap::new(),
            fault_rate: 0.0,
            confirm_fault: Mutex::default(),
            refund_refusal: Mutex::default(),
            confirms_received: AtomicU64::new(0),
            ledger: Arc::new(Mutex::new(ledger)),
        }
    }
}

#[derive(Debug, Default)]
struct Ledger {
    prefix: String,
    intents: HashMap<String, Intent>,
    refunded: HashMap<String, bool>,
    /// Idempotency key → the create request's parameters and its first answer.
    created: HashMap<String, (String, Intent)>,
    /// Payment id → the method it was first confirmed with, and the answer.
    confirmed: HashMap<String, (String, Result<Intent, PaymentError>)>,
    /// Saved cards detached from their customer: they charge no more.
    forgotten: HashSet<String>,
    calls: u64,
    next_id: u64,
}

impl TestGateway {
    pub fn new(latency: Duration, fault_rate: f64) -> Self {
        Self {
            latency,
            fault_rate: fault_rate.clamp(0.0, 1.0),
            ..Self::default()
        }
    }

    /// Gives one kind of call its own latency.
    pub fn with_call_latency(mut self, call: Call, latency: Duration) -> Self {
        self.call_latency.insert(call, latency);
        self
    }

    /// From now on, confirmations go wrong this way (`None`: they do not).
    pub fn set_confirm_fault(&self, fault: Option<Fault>) {
        *self
            .confirm_fault
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fault;
    }

    /// From now on, refunds are refused with this reason (as for a
    /// disputed payment); `None`: they are made.
    pub fn set_refund_refusal(&self, reason: Option<&str>) {
        *self
            .refund_refusal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = reason.map(str::to_string);
    }

    /// Confirmations that have set out for the processor, landed or not.
    pub fn confirms_received(&self) -> u64 {
        self.confirms_received.load(Ordering::SeqCst)
    }

    /// How many payments actually moved money (for tests and benchmarks).
    pub fn successful_charges(&self) -> usize {
        let ledger = self.lock();
        ledger
            .intents
            .values()
            .filter(|intent| intent.status == IntentStatus::Succeeded)
            .count()
    }

    /// Every call made, of any kind.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    /// How many payments were refunded.
    pub fn refunds(&self) -> usize {
        self.lock().refunded.values().filter(|r| **r).count()
    }

    pub fn intent(&self, intent_id: &str) -> Option<Intent> {
        self.lock().intents.get(intent_id).cloned()
    }

    pub fn is_refunded(&self, intent_id: &str) -> bool {
        self.lock()
            .refunded
            .get(intent_id)
            .copied()
            .unwrap_or(false)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    /// Carries a call out after its latency, in a task of its own: like a
    /// request that reached the processor, it completes even if the caller
    /// stops waiting.
    async fn carry_out<T: Send + 'static>(
        &self,
        call: Call,
        work: impl FnOnce(&mut Ledger) -> T + Send + 'static,
    ) -> T {
        let latency = self
            .call_latency
            .get(&call)
            .copied()
            .unwrap_or(self.latency);
        let ledger = self.ledger.clone();
        let task = tokio::spawn(async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let mut ledger = lock(&ledger);
            ledger.calls += 1;
            work(&mut ledger)
        });
        match task.await {
            Ok(done) => done,
            // The work itself panicked: nothing to recover, fail the caller too.
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    /// What charging `method` does, by the test card it stands for.
    fn charge_outcome(&self, method: &PaymentToken) -> Result<(), PaymentError> {
        match effective_token(method).as_str() {
            TOKEN_DECLINED => Err(PaymentError::Declined("your card was declined".into())),
            TOKEN_PROCESSING_ERROR => Err(PaymentError::Transient(
                "an error occurred while processing the card".into(),
            )),
            _ if self.fault_rate > 0.0 && rand::rng().random_bool(self.fault_rate) => {
                Err(PaymentError::Transient("simulated processor fault".into()))
            }
            _ => Ok(()),
        }
    }
}

fn lock(ledger: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    // A panic while holding this lock cannot leave the ledger half written
    // (every update is a single insert), so poison is ignored.
    ledger
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn no_such(intent_id: &str) -> PaymentError {
    PaymentError::Invalid(format!("no such payment: {intent_id}"))
}

fn unexpected_state(intent: &Intent) -> PaymentError {
    PaymentError::Invalid(format!("the payment's status is {:?}", intent.status))
}

#[async_trait::async_trait]
impl PaymentGateway for TestGateway {
    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, PaymentError> {
        let key = request.idempotency_key.clone();
        let amount_cents = request.amount_cents;
        let parameters = format!(
            "{} {} {:?} {}",
            request.amount_cents, request.currency, request.customer, request.purchase_id
        );
        self.carry_out(Call::Create, move |ledger| {
            if let Some((first, intent)) = ledger.created.get(&key) {
                return if *first == parameters {
                    Ok(intent.clone())
                } else {
                    Err(PaymentError::Invalid(
                        "idempotency key reused with other parameters".into(),
                    ))
                };
            }
            ledger.next_id += 1;
            let intent = Intent {
                id: format!("{}_{}", ledger.prefix, ledger.next_id),
                amount_cents,
                status: IntentStatus::RequiresPaymentMethod,
                last_error: None,
                client_secret: None,
            };
            ledger.intents.insert(intent.id.clone(), intent.clone());
            ledger.created.insert(key, (parameters, intent.clone()));
            Ok(intent)
        })
        .await
    }

    async fn confirm(
        &self,
        intent_id: &str,
        confirmation: &Confirmation,
    ) -> Result<Intent, PaymentError> {
        self.confirms_received.fetch_add(1, Ordering::SeqCst);
        let fault = *self
            .confirm_fault
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let method = confirmation.method.expose().to_string();
        let outcome = self.charge_outcome(&confirmation.method);
        let intent_id = intent_id.to_string();
        let answer = self
            .carry_out(Call::Confirm, move |ledger| {
                if fault == Some(Fault::DropRequest) {
                    return Err(PaymentError::Unknown("no reply from the processor".into()));
                }
                match ledger.confirmed.get(&intent_id) {
                    Some((first, answer)) if *first == method => answer.clone(),
                    Some(_) => Err(PaymentError::Invalid(
                        "idempotency key reused with other parameters".into(),
                    )),
                    None if ledger.forgotten.contains(&method) => Err(PaymentError::Invalid(
                        "the payment method was detached from its customer".into(),
                    )),
                    None => {
                        let answer = confirm_in(ledger, &intent_id, outcome);
                        ledger.confirmed.insert(intent_id, (method, answer.clone()));
                        answer
                    }
                }
            })
            .await;
        if fault == Some(Fault::LoseReply) {
            return Err(PaymentError::Unknown("the reply was lost".into()));
        }
        answer
    }

    async fn retrieve(&self, intent_id: &str) -> Result<Intent, PaymentError> {
        let intent_id = intent_id.to_string();
        self.carry_out(Call::Retrieve, move |ledger| {
            ledger
                .intents
                .get(&intent_id)
                .cloned()
                .ok_or_else(|| no_such(&intent_id))
        })
        .await
    }

    async fn cancel(&self, intent_id: &str) -> Result<Intent, PaymentError> {
        let intent_id = intent_id.to_string();
        self.carry_out(Call::Cancel, move |ledger| {
            let intent = ledger
                .intents
                .get_mut(&intent_id)
                .ok_or_else(|| no_such(&intent_id))?;
            if matches!(
                intent.status,
                IntentStatus::Succeeded | IntentStatus::Canceled
            ) {
                return Err(unexpected_state(intent));
            }
            intent.status = IntentStatus::Canceled;
            Ok(intent.clone())
        })
        .await
    }

    async fn refund(&self, intent_id: &str) -> Result<(), PaymentError> {
        let refusal = self
            .refund_refusal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let intent_id = intent_id.to_string();
        self.carry_out(Call::Refund, move |ledger| {
            let intent = ledger
                .intents
                .get(&intent_id)
                .ok_or_else(|| no_such(&intent_id))?;
            if intent.status != IntentStatus::Succeeded {
                return Err(unexpected_state(intent));
            }
            if let Some(reason) = refusal {
                return Err(PaymentError::Invalid(reason));
            }
            ledger.refunded.insert(intent_id, true);
            Ok(())
        })
        .await
    }

    async fn save_card(
        &self,
        token: &PaymentToken,
        _email: &str,
        // The built-in gateway keeps no customers.
        _customer: Option<&str>,
    ) -> Result<SavedCard, PaymentError> {
        self.carry_out(Call::SaveCard, |_| ()).await;
        let card = match effective_token(token).as_str() {
            TOKEN_DECLINED => return Err(PaymentError::Declined("your card was declined".into())),
            TOKEN_PROCESSING_ERROR => {
                return Err(PaymentError::Transient(
                    "an error occurred while processing the card".into(),
                ))
            }
            other => other.strip_prefix("tok_").unwrap_or("visa").to_string(),
        };
        let (brand, last4) = test_card(&card);
        let nonce: u64 = rand::rng().random();
        let reference = format!("{SAVED_PREFIX}{card}_{nonce:016x}");
        Ok(SavedCard {
            method: PaymentToken::parse(&reference)
                .ok_or_else(|| PaymentError::Declined("this card cannot be saved".into()))?,
            customer: None,
            brand: brand.to_string(),
            last4: last4.to_string(),
        })
    }

    async fn forget_card(&self, method: &PaymentToken) -> Result<(), PaymentError> {
        let method = method.expose().to_string();
        self.carry_out(Call::SaveCard, move |ledger| {
            ledger.forgotten.insert(method);
        })
        .await;
        Ok(())
    }
}

/// Charges a payment that has not been confirmed before.
fn confirm_in(
    ledger: &mut Ledger,
    intent_id: &str,
    outcome: Result<(), PaymentError>,
) -> Result<Intent, PaymentError> {
    let intent = ledger
        .intents
        .get_mut(intent_id)
        .ok_or_else(|| no_such(intent_id))?;
    if matches!(
        intent.status,
        IntentStatus::Succeeded | IntentStatus::Canceled
    ) {
        return Err(unexpected_state(intent));
    }
    match outcome {
        Ok(()) => {
            intent.status = IntentStatus::Succeeded;
            intent.last_error = None;
            Ok(intent.clone())
        }
        Err(error) => {
            intent.status = IntentStatus::RequiresPaymentMethod;
            intent.last_error = Some(error.clone());
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::Outcome;

    fn request(key: &str) -> IntentRequest {
        IntentRequest {
            amount_cents: 5000,
            currency: "usd",
            customer: None,
            idempotency_key: key.into(),
            purchase_id: 1,
            description: "test".into(),
        }
    }

    fn with(token: &str) -> Confirmation {
        Confirmation {
            method: PaymentToken::parse(token).expect("token"),
            off_session: false,
        }
    }

    #[tokio::test]
    async fn the_same_key_creates_one_payment_and_a_second_confirmation_charges_nothing() {
        let gateway = TestGateway::default();
        let first = gateway
            .create_intent(&request("k1"))
            .await
            .expect("created");
        let again = gateway
            .create_intent(&request("k1"))
            .await
            .expect("replayed");
        assert_eq!(first, again);
        let mut other = request("k1");
        other.amount_cents = 1;
        assert!(matches!(
            gateway.create_intent(&other).await,
            Err(PaymentError::Invalid(_))
        ));
        let paid = gateway
            .confirm(&first.id, &with("tok_visa"))
            .await
            .expect("paid");
        assert_eq!(paid.outcome(), Outcome::Charged);
        assert_eq!(
            gateway.confirm(&first.id, &with("tok_visa")).await,
            Ok(paid)
        );
        assert_eq!(gateway.successful_charges(), 1);
        assert!(gateway.cancel(&first.id).await.is_err());
    }

    #[tokio::test]
    async fn test_tokens_decline_and_fail_like_a_processor() {
        let gateway = TestGateway::default();
        for (key, token) in [("a", TOKEN_DECLINED), ("b", TOKEN_PROCESSING_ERROR)] {
            let intent = gateway.create_intent(&request(key)).await.expect("created");
            let error = gateway
                .confirm(&intent.id, &with(token))
                .await
                .expect_err("fails");
            let now = gateway.retrieve(&intent.id).await.expect("retrieved");
            assert_eq!(now.outcome(), Outcome::Failed(error));
            assert_eq!(
                gateway.cancel(&intent.id).await.map(|i| i.status),
                Ok(IntentStatus::Canceled)
            );
        }
        assert_eq!(gateway.successful_charges(), 0);
    }

    #[tokio::test]
    async fn a_lost_reply_still_charges_and_a_dropped_request_does_not() {
        let gateway = TestGateway::default();
        gateway.set_confirm_fault(Some(Fault::LoseReply));
        let lost = gateway.create_intent(&request("l")).await.expect("created");
        assert!(matches!(
            gateway.confirm(&lost.id, &with("tok_visa")).await,
            Err(PaymentError::Unknown(_))
        ));
        assert_eq!(
            gateway.retrieve(&lost.id).await.map(|i| i.outcome()),
            Ok(Outcome::Charged)
        );
        gateway.set_confirm_fault(Some(Fault::DropRequest));
        let dropped = gateway.create_intent(&request("d")).await.expect("created");
        assert!(gateway
            .confirm(&dropped.id, &with("tok_visa"))
            .await
            .is_err());
        assert_eq!(
            gateway.retrieve(&dropped.id).await.map(|i| i.outcome()),
            Ok(Outcome::Open)
        );
    }

    #[tokio::test]
    async fn saved_cards_charge_like_the_card_they_were_saved_from() {
        let gateway = TestGateway::default();
        let token = |raw: &str| PaymentToken::parse(raw).expect("token");
        let card = gateway
            .save_card(&token("tok_mastercard"), "fan@example.com", None)
            .await
            .expect("saved");
        assert_eq!(
            (card.brand.as_str(), card.last4.as_str()),
            ("mastercard", "4444")
        );
        assert!(card.method.expose().starts_with("pm_saved_mastercard_"));
        let intent = gateway.create_intent(&request("s")).await.expect("created");
        let saved = Confirmation {
            method: card.method.clone(),
            off_session: true,
        };
        assert!(gateway.confirm(&intent.id, &saved).await.is_ok());
        assert!(matches!(
            gateway
                .save_card(&token(TOKEN_DECLINED), "fan@example.com", None)
                .await,
            Err(PaymentError::Declined(_))
        ));
    }

    #[tokio::test]
    async fn only_a_successful_payment_is_refunded_and_twice_is_harmless() {
        let gateway = TestGateway::default();
        let intent = gateway.create_intent(&request("r")).await.expect("created");
        assert!(gateway.refund(&intent.id).await.is_err());
        gateway
            .confirm(&intent.id, &with("tok_visa"))
            .await
            .expect("paid");
        gateway.refund(&intent.id).await.expect("refunded");
        gateway.refund(&intent.id).await.expect("again");
        assert!(gateway.is_refunded(&intent.id));
        assert_eq!(gateway.refunds(), 1);
        assert!(gateway.refund("pi_nope").await.is_err());
    }
}
