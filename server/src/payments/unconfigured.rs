//! The gateway of a production server with no payment processor
//! configured. Checkout and saving a card refuse up front
//! ([`super::ensure_configured`]), so these calls are never reached for a
//! new payment; should anything else call them (a refund, reconciling an
//! older purchase), they fail as a processor that cannot be reached, and
//! nothing is charged.

use super::{Charge, ChargeRequest, PaymentError, PaymentGateway, PaymentToken, SavedCard};

#[derive(Debug, Default)]
pub struct Unconfigured;

fn unavailable() -> PaymentError {
    PaymentError::Transient("no payment processor is configured".into())
}

#[async_trait::async_trait]
impl PaymentGateway for Unconfigured {
    async fn charge(&self, _request: &ChargeRequest) -> Result<Charge, PaymentError> {
        Err(unavailable())
    }

    async fn refund(&self, _charge_id: &str) -> Result<(), PaymentError> {
        Err(unavailable())
    }

    async fn find_charge(&self, _idempotency_key: &str) -> Result<Option<Charge>, PaymentError> {
        Err(unavailable())
    }

    async fn save_card(
        &self,
        _token: &PaymentToken,
        _email: &str,
    ) -> Result<SavedCard, PaymentError> {
        Err(unavailable())
    }

    fn is_configured(&self) -> bool {
        false
    }
}
