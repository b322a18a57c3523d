//! Payments behind one trait. The embedded default is [`test_gateway`], a
//! local processor in test mode; a real processor's adapter implements the
//! same trait. Card numbers and CVVs never reach this server: buyers pay
//! with a token the processor's own form issued.

pub mod card_guard;
pub mod stripe;
pub mod test_gateway;
pub mod unconfigured;

use app::error::{ApiError, ErrorCode};
use std::fmt;

/// A payment method token issued by the processor (`tok_…`, `pm_…`).
/// Deliberately not `Serialize`, and `Debug` shows only its prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentToken(String);

impl PaymentToken {
    /// Accepts processor token shapes only: a short prefix, an underscore,
    /// then letters, digits and underscores, at most 255 characters.
    pub fn parse(raw: &str) -> Option<Self> {
        let (prefix, rest) = raw.split_once('_')?;
        let well_formed = raw.len() <= 255
            && matches!(prefix, "tok" | "pm" | "card" | "cus")
            && !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        well_formed.then(|| Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PaymentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = self.0.split('_').next().unwrap_or("");
        write!(f, "PaymentToken({prefix}_***)")
    }
}

#[derive(Clone, Debug)]
pub struct ChargeRequest {
    pub amount_cents: i64,
    pub currency: &'static str,
    /// A one-off token, or a saved card's method reference.
    pub token: PaymentToken,
    /// The processor's customer a saved card belongs to.
    pub customer: Option<String>,
    /// The purchase's idempotency key: the processor charges at most once per key.
    pub idempotency_key: String,
    pub description: String,
}

/// A successful charge as the processor reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    pub id: String,
    pub amount_cents: i64,
    pub refunded: bool,
}

/// A card saved at the processor for later one-click purchases. We keep
/// only the processor's references and what the buyer needs to recognise
/// the card (brand and last four digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedCard {
    /// The reusable payment method reference (`pm_…`).
    pub method: PaymentToken,
    /// The processor's customer the method is attached to (`cus_…`).
    pub customer: Option<String>,
    pub brand: String,
    pub last4: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The card was declined; retrying the same payment will not help.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The processor failed before charging; a new attempt may succeed.
    #[error("payment processor unavailable: {0}")]
    Transient(String),
    /// We do not know whether the charge happened (timeout, lost reply).
    /// The purchase stays pending and is reconciled against the processor.
    #[error("payment outcome unknown: {0}")]
    Unknown(String),
}

#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync + fmt::Debug {
    /// Charges once per idempotency key: the same key again returns the
    /// first outcome without a second charge.
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError>;
    /// Refunds a charge in full; refunding twice is harmless.
    async fn refund(&self, charge_id: &str) -> Result<(), PaymentError>;
    /// The successful charge made under this idempotency key, if any, for
    /// reconciling purchases whose outcome we never learned.
    async fn find_charge(&self, idempotency_key: &str) -> Result<Option<Charge>, PaymentError>;
    /// Turns a one-off token into a reusable card saved for `email`.
    async fn save_card(&self, token: &PaymentToken, email: &str)
        -> Result<SavedCard, PaymentError>;
    /// False only for [`unconfigured::Unconfigured`]: no processor is set up.
    fn is_configured(&self) -> bool {
        true
    }
}

/// Refuses, before anything is recorded, what needs a payment processor
/// when none is configured: a production server without one sells nothing.
pub fn ensure_configured(gateway: &dyn PaymentGateway) -> Result<(), ApiError> {
    if gateway.is_configured() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::PaymentsNotConfigured,
            "this site cannot take payments yet: no payment processor is configured",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_token_shapes_are_accepted_and_debug_hides_them() {
        let token = PaymentToken::parse("tok_visa").expect("token");
        assert_eq!(format!("{token:?}"), "PaymentToken(tok_***)");
        for bad in [
            "4242424242424242",
            "tok_",
            "visa",
            "tok_42 42",
            "tok-visa",
            &format!("tok_{}", "a".repeat(300)),
        ] {
            assert!(PaymentToken::parse(bad).is_none(), "{bad}");
        }
    }
}
