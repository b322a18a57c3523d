//! The gateway of a production server with no payment processor
//! configured. Checkout and saving a card refuse up front
//! ([`super::ensure_configured`]), so these calls are never reached for a
//! new payment; should anything else call them (a refund, reconciling an
//! older purchase), they fail as a processor that cannot be reached, and
//! nothing is charged.

use super::{
    Confirmation, Intent, IntentRequest, PaymentError, PaymentGateway, PaymentToken, SavedCard,
};

#[derive(Debug, Default)]
pub struct Unconfigured;

fn unavailable() -> PaymentError {
    PaymentError::Transient("no payment processor is configured".into())
}

#[async_trait::async_trait]
impl PaymentGateway for Unconfigured {
    async fn create_intent(&self, _request: &IntentRequest) -> Result<Intent, PaymentError> {
        Err(unavailable())
    }

    async fn confirm(
        &self,
        _intent_id: &str,
        _confirmation: &Confirmation,
    ) -> Result<Intent, PaymentError> {
        Err(unavailable())
    }

    async fn retrieve(&self, _intent_id: &str) -> Result<Intent, PaymentError> {
        Err(unavailable())
    }

    async fn cancel(&self, _intent_id: &str) -> Result<Intent, PaymentError> {
        Err(unavailable())
    }

    async fn refund(&self, _intent_id: &str) -> Result<(), PaymentError> {
        Err(unavailable())
    }

    async fn save_card(
        &self,
        _token: &PaymentToken,
        _email: &str,
        _customer: Option<&str>,
    ) -> Result<SavedCard, PaymentError> {
        Err(unavailable())
    }

    async fn forget_card(&self, _method: &PaymentToken) -> Result<(), PaymentError> {
        Err(unavailable())
    }

    fn is_configured(&self) -> bool {
        false
    }
}
