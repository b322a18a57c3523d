//! A local payment processor in test mode, the embedded default. It behaves
//! like a card processor's test mode: `tok_visa` (and any other well-formed
//! token) succeeds, `tok_chargeDeclined` is declined, `tok_processing_error`
//! fails transiently; charges are idempotent per key and refundable.
//! Saved cards are `pm_saved_<card>_<random>`: the reference itself says
//! which test card it stands for, so saved cards survive a restart of this
//! in-memory processor.
//! Latency and a random transient-fault rate can be configured to rehearse
//! slow or flaky processors.

use super::{Charge, ChargeRequest, PaymentError, PaymentGateway, PaymentToken, SavedCard};
use rand::Rng;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
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

#[derive(Debug, Default)]
pub struct TestGateway {
    latency: Duration,
    /// Probability (0..=1) that a charge fails transiently before charging.
    fault_rate: f64,
    ledger: Mutex<Ledger>,
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Outcome per idempotency key, replayed for repeated keys.
    by_key: HashMap<String, Result<Charge, PaymentError>>,
    charges: HashMap<String, Charge>,
    charge_calls: u64,
}

impl TestGateway {
    pub fn new(latency: Duration, fault_rate: f64) -> Self {
        Self {
            latency,
            fault_rate: fault_rate.clamp(0.0, 1.0),
            ..Self::default()
        }
    }

    /// How many charges actually moved money (for tests and benchmarks).
    pub fn successful_charges(&self) -> usize {
        self.lock().charges.len()
    }

    pub fn charge_calls(&self) -> u64 {
        self.lock().charge_calls
    }

    pub fn charge_by_id(&self, charge_id: &str) -> Option<Charge> {
        self.lock().charges.get(charge_id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        // A panic while holding this lock cannot leave the ledger half
        // written (every update is a single insert), so poison is ignored.
        self.ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn delay(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

#[async_trait::async_trait]
impl PaymentGateway for TestGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        self.delay().await;
        let mut ledger = self.lock();
        ledger.charge_calls += 1;
        if let Some(outcome) = ledger.by_key.get(&request.idempotency_key) {
            return outcome.clone();
        }
        let outcome = match effective_token(&request.token).as_str() {
            TOKEN_DECLINED => Err(PaymentError::Declined("your card was declined".into())),
            TOKEN_PROCESSING_ERROR => Err(PaymentError::Transient(
                "an error occurred while processing the card".into(),
            )),
            _ if self.fault_rate > 0.0 && rand::rng().random_bool(self.fault_rate) => {
                Err(PaymentError::Transient("simulated processor fault".into()))
            }
            _ => {
                let id = format!(
                    "ch_test_{}",
                    self.next_id.fetch_add(1, Ordering::Relaxed) + 1
                );
                let charge = Charge {
                    id: id.clone(),
                    amount_cents: request.amount_cents,
                    refunded: false,
                };
                ledger.charges.insert(id, charge.clone());
                Ok(charge)
            }
        };
        ledger
            .by_key
            .insert(request.idempotency_key.clone(), outcome.clone());
        outcome
    }

    async fn refund(&self, charge_id: &str) -> Result<(), PaymentError> {
        self.delay().await;
        let mut ledger = self.lock();
        let charge = ledger
            .charges
            .get_mut(charge_id)
            .ok_or_else(|| PaymentError::Declined(format!("no charge {charge_id}")))?;
        charge.refunded = true;
        Ok(())
    }

    async fn find_charge(&self, idempotency_key: &str) -> Result<Option<Charge>, PaymentError> {
        self.delay().await;
        let ledger = self.lock();
        Ok(match ledger.by_key.get(idempotency_key) {
            Some(Ok(charge)) => ledger.charges.get(&charge.id).cloned(),
            _ => None,
        })
    }

    async fn save_card(
        &self,
        token: &PaymentToken,
        _email: &str,
    ) -> Result<SavedCard, PaymentError> {
        self.delay().await;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::PaymentToken;

    fn request(token: &str, key: &str) -> ChargeRequest {
        ChargeRequest {
            amount_cents: 5000,
            currency: "usd",
            token: PaymentToken::parse(token).expect("token"),
            customer: None,
            idempotency_key: key.into(),
            description: "test".into(),
        }
    }

    #[tokio::test]
    async fn the_same_key_never_charges_twice() {
        let gateway = TestGateway::default();
        let first = gateway
            .charge(&request("tok_visa", "k1"))
            .await
            .expect("charged");
        let again = gateway
            .charge(&request("tok_visa", "k1"))
            .await
            .expect("replayed");
        assert_eq!(first, again);
        assert_eq!(gateway.successful_charges(), 1);
        assert_eq!(gateway.find_charge("k1").await, Ok(Some(first)));
        assert_eq!(gateway.find_charge("k2").await, Ok(None));
    }

    #[tokio::test]
    async fn test_tokens_decline_and_fail_like_a_processor() {
        let gateway = TestGateway::default();
        assert!(matches!(
            gateway.charge(&request(TOKEN_DECLINED, "a")).await,
            Err(PaymentError::Declined(_))
        ));
        assert!(matches!(
            gateway.charge(&request(TOKEN_PROCESSING_ERROR, "b")).await,
            Err(PaymentError::Transient(_))
        ));
        assert_eq!(gateway.successful_charges(), 0);
    }

    #[tokio::test]
    async fn saved_cards_charge_like_the_card_they_were_saved_from() {
        let gateway = TestGateway::default();
        let token = |raw: &str| PaymentToken::parse(raw).expect("token");
        let visa = gateway
            .save_card(&token("tok_mastercard"), "fan@example.com")
            .await
            .expect("saved");
        assert_eq!(
            (visa.brand.as_str(), visa.last4.as_str()),
            ("mastercard", "4444")
        );
        assert!(visa.method.expose().starts_with("pm_saved_mastercard_"));
        let mut charge = request("tok_visa", "saved-1");
        charge.token = visa.method.clone();
        assert!(gateway.charge(&charge).await.is_ok());
        assert!(matches!(
            gateway
                .save_card(&token(TOKEN_DECLINED), "fan@example.com")
                .await,
            Err(PaymentError::Declined(_))
        ));
    }

    #[tokio::test]
    async fn refunds_mark_the_charge_refunded() {
        let gateway = TestGateway::default();
        let charge = gateway
            .charge(&request("tok_visa", "r"))
            .await
            .expect("charged");
        gateway.refund(&charge.id).await.expect("refunded");
        assert!(gateway.charge_by_id(&charge.id).is_some_and(|c| c.refunded));
        assert!(gateway.refund("ch_nope").await.is_err());
    }
}
