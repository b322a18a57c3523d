//! Payments behind one trait. The embedded default is [`test_gateway`], a
//! local processor in test mode; [`stripe`] is Stripe's adapter. Both follow
//! the PaymentIntents model: a payment is created under an idempotency key
//! derived from the purchase, its id is recorded, and only then is it
//! confirmed, so a payment whose reply was lost is found again by its id
//! (or by replaying its creation), never by searching. Card numbers and
//! CVVs never reach this server: buyers pay with a token the processor's
//! own form issued.

pub mod card_guard;
pub mod stripe;
pub mod test_gateway;
pub mod unconfigured;
pub mod webhook;

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

/// A payment to set up at the processor, not yet confirmed (nothing is
/// charged until [`PaymentGateway::confirm`]).
#[derive(Clone, Debug)]
pub struct IntentRequest {
    pub amount_cents: i64,
    pub currency: &'static str,
    /// The processor's customer a saved card belongs to.
    pub customer: Option<String>,
    /// Derived from the purchase, never a client's key: the same request
    /// under it again returns the same payment instead of a second one.
    pub idempotency_key: String,
    pub purchase_id: i64,
    pub description: String,
}

/// How to pay a created payment.
#[derive(Clone, Debug)]
pub struct Confirmation {
    /// A one-off token, or a saved card's method reference.
    pub method: PaymentToken,
    /// A saved card charged without the buyer re-entering it.
    pub off_session: bool,
}

/// Where a payment stands, by the processor's own statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentStatus {
    /// No payment method yet, or the last confirmation failed (see
    /// [`Intent::last_error`]).
    RequiresPaymentMethod,
    RequiresConfirmation,
    /// The buyer must act in the browser (3-D Secure).
    RequiresAction,
    /// Confirmed; the processor has not decided yet.
    Processing,
    RequiresCapture,
    Succeeded,
    Canceled,
}

impl IntentStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "requires_payment_method" => Self::RequiresPaymentMethod,
            "requires_confirmation" => Self::RequiresConfirmation,
            "requires_action" => Self::RequiresAction,
            "processing" => Self::Processing,
            "requires_capture" => Self::RequiresCapture,
            "succeeded" => Self::Succeeded,
            "canceled" => Self::Canceled,
            _ => return None,
        })
    }
}

/// A payment as the processor reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub amount_cents: i64,
    pub status: IntentStatus,
    /// Why the last confirmation failed, if it did.
    pub last_error: Option<PaymentError>,
    /// What the buyer's browser confirms the payment with (Stripe.js and
    /// the publishable key); only processors with a card form have one.
    pub client_secret: Option<String>,
}

/// What an [`Intent`] means for the purchase it pays for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The money moved.
    Charged,
    /// Confirmed and not decided yet: ask again later.
    Processing,
    /// No money moved, and none will unless it is confirmed again (the
    /// last confirmation failed, or it was canceled).
    Failed(PaymentError),
    /// Never confirmed as far as the processor knows, or waiting for the
    /// buyer: no money has moved, but a confirmation still on its way
    /// could yet move it. Canceling settles it for good.
    Open,
}

impl Intent {
    pub fn outcome(&self) -> Outcome {
        match (self.status, &self.last_error) {
            (IntentStatus::Succeeded, _) => Outcome::Charged,
            (IntentStatus::Processing | IntentStatus::RequiresCapture, _) => Outcome::Processing,
            (IntentStatus::Canceled, _) => {
                Outcome::Failed(PaymentError::Invalid("the payment was canceled".into()))
            }
            (IntentStatus::RequiresPaymentMethod, Some(error)) => Outcome::Failed(error.clone()),
            _ => Outcome::Open,
        }
    }
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
    /// The processor did not act (it failed before charging, or was never
    /// reached); a new attempt may succeed.
    #[error("payment processor unavailable: {0}")]
    Transient(String),
    /// We do not know whether the processor acted (timeout, lost reply).
    #[error("payment outcome unknown: {0}")]
    Unknown(String),
    /// The processor refused the request itself (no such payment, a state
    /// that does not allow it, an idempotency key reused with other
    /// parameters); asking again will not help.
    #[error("payment request refused: {0}")]
    Invalid(String),
}

/// A card processor, by the PaymentIntents model: create a payment, then
/// confirm it, and look it up by id whenever its outcome is in doubt.
/// Every call that changes something is safe to repeat.
#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync + fmt::Debug {
    /// Creates a payment, unconfirmed. The same request under the same
    /// idempotency key returns the same payment (for a day at least).
    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, PaymentError>;
    /// Charges the payment with this method. Confirming it again with the
    /// same method returns the first answer instead of charging again.
    async fn confirm(
        &self,
        intent_id: &str,
        confirmation: &Confirmation,
    ) -> Result<Intent, PaymentError>;
    /// The payment as the processor sees it now.
    async fn retrieve(&self, intent_id: &str) -> Result<Intent, PaymentError>;
    /// Makes sure an unconfirmed payment can never be charged. Refused
    /// (`Invalid`) once it has succeeded or was canceled before.
    async fn cancel(&self, intent_id: &str) -> Result<Intent, PaymentError>;
    /// Refunds a successful payment in full; refunding twice is harmless.
    async fn refund(&self, intent_id: &str) -> Result<(), PaymentError>;
    /// Turns a one-off token into a reusable card saved for `email`,
    /// attached to `customer` if the account has one already (one customer
    /// per account however often its card changes), or to a new one.
    async fn save_card(
        &self,
        token: &PaymentToken,
        email: &str,
        customer: Option<&str>,
    ) -> Result<SavedCard, PaymentError>;
    /// Detaches a saved card from its customer, so it can never be charged
    /// again. Forgetting a card that is not attached (any more) is harmless.
    async fn forget_card(&self, method: &PaymentToken) -> Result<(), PaymentError>;
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
