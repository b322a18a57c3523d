//! Optional accounts: register, sign in and out, a saved card (the
//! processor's reference, brand and last four only), email confirmation
//! that attaches earlier guest purchases, and "my tickets".
//!
//! A signed-in browser is its ordinary buyer session plus a row in
//! `auth_sessions` keyed by the session's hash; the session id is replaced
//! at sign-in and sign-out, and the holds and purchases of the browser move
//! with it.

pub mod limiter;
pub mod mail;
pub mod passwords;
pub mod routes;
pub mod store;

use crate::checkout::validate_email;
use crate::error::store_error_to_api;
use crate::inventory::clock::Clock;
use crate::payments::{PaymentError, PaymentGateway, PaymentToken, SavedCard};
use crate::session::{random_hex_128, sha256_hex, BuyerSession};
use crate::store::Store;
use app::error::{ApiError, ErrorCode};
use app::types::{
    ChangePasswordRequest, EventId, LoginRequest, MeView, MyTicket, MyTicketsView, PurchaseId,
    RegisterRequest, Role, SavedCardView, TicketId, TicketStatus,
};
use limiter::LoginLimiter;
use mail::{Mail, Mailer};
use std::sync::Arc;
use std::time::Instant;
pub use store::Account;

#[derive(Clone)]
pub struct Accounts {
    store: Store,
    clock: Clock,
    gateway: Arc<dyn PaymentGateway>,
    limiter: Arc<LoginLimiter>,
    mailer: Arc<Mailer>,
}

impl Accounts {
    pub fn new(store: Store, clock: Clock, gateway: Arc<dyn PaymentGateway>) -> Self {
        Self {
            store,
            clock,
            gateway,
            limiter: Arc::default(),
            mailer: Arc::default(),
        }
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// The account signed in on this session, if any.
    pub async fn signed_in(&self, session: &BuyerSession) -> Result<Option<Account>, ApiError> {
        if session.is_new {
            return Ok(None);
        }
        store::by_session(&self.store, &session.key, self.clock.now())
            .await
            .map_err(store_error_to_api)
    }

    /// Creates the account (or gives a guest record a password), mails the
    /// confirmation link, and signs the browser in on a fresh session.
    pub async fn register(
        &self,
        request: RegisterRequest,
        session: &BuyerSession,
    ) -> Result<(BuyerSession, MeView), ApiError> {
        let email = validate_email(&request.email)?;
        validate_password(&request.password)?;
        let display_name = validate_display_name(&request.display_name)?;
        let hash = passwords::hash(request.password)
            .await
            .ok_or_else(ApiError::internal)?;
        let token = random_hex_128();
        let created = store::create(
            &self.store,
            &email,
            &hash,
            &display_name,
            &sha256_hex(&token),
            self.clock.now(),
        )
        .await
        .map_err(store_error_to_api)?;
        let user_id = match created {
            store::Created::Account(id) => id,
            store::Created::EmailTaken => {
                return Err(ApiError::new(
                    ErrorCode::EmailTaken,
                    "an account with this email already exists; sign in instead",
                ))
            }
        };
        self.mailer.send(Mail {
            to: email.clone(),
            subject: "Confirm your Tessera email".into(),
            body: format!(
                "Open /account/confirm?token={token} to confirm this address. \
                 Tickets bought as a guest with it will then appear under My tickets."
            ),
        });
        tracing::info!(user = user_id, "account registered");
        self.start_session(user_id, session).await
    }

    /// Signs in. Unknown email and wrong password get the same answer in
    /// the same time; repeated failures are throttled per account and per
    /// client address.
    pub async fn login(
        &self,
        request: LoginRequest,
        client_address: &str,
        session: &BuyerSession,
    ) -> Result<(BuyerSession, MeView), ApiError> {
        let email = request.email.trim().to_lowercase();
        if let Some(wait) = self
            .limiter
            .retry_after(&email, client_address, Instant::now())
        {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "too many failed sign-ins; try again in {} minutes",
                    wait.as_secs().div_ceil(60)
                ),
            ));
        }
        let account = store::by_email(&self.store, &email)
            .await
            .map_err(store_error_to_api)?;
        let stored_hash = account.as_ref().and_then(|a| a.password_hash.clone());
        let matches = passwords::verify(request.password, stored_hash).await;
        match account {
            Some(account) if matches => {
                self.limiter.record_success(&email);
                self.start_session(account.id, session).await
            }
            _ => {
                self.limiter
                    .record_failure(&email, client_address, Instant::now());
                Err(ApiError::new(
                    ErrorCode::InvalidCredentials,
                    "that email and password do not match an account",
                ))
            }
        }
    }

    async fn start_session(
        &self,
        user_id: i64,
        previous: &BuyerSession,
    ) -> Result<(BuyerSession, MeView), ApiError> {
        let fresh = previous.rotated();
        store::start_session(
            &self.store,
            user_id,
            &previous.key,
            &fresh.key,
            self.clock.now(),
        )
        .await
        .map_err(store_error_to_api)?;
        let account = self
            .signed_in(&BuyerSession {
                is_new: false,
                ..fresh.clone()
            })
            .await?
            .ok_or_else(ApiError::internal)?;
        Ok((fresh, me_view(&account)))
    }

    /// Ends the sign-in server-side; the browser gets a fresh anonymous session.
    pub async fn logout(&self, session: &BuyerSession) -> Result<BuyerSession, ApiError> {
        store::end_session(&self.store, &session.key)
            .await
            .map_err(store_error_to_api)?;
        Ok(session.rotated())
    }

    /// Changes the password, given the current one (throttled like
    /// sign-in, so a stolen session cannot guess it). Every other session
    /// of the account is signed out; this one stays signed in.
    pub async fn change_password(
        &self,
        account: &Account,
        session: &BuyerSession,
        request: ChangePasswordRequest,
        client_address: &str,
    ) -> Result<(), ApiError> {
        if let Some(wait) = self
            .limiter
            .retry_after(&account.email, client_address, Instant::now())
        {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "too many wrong passwords; try again in {} minutes",
                    wait.as_secs().div_ceil(60)
                ),
            ));
        }
        validate_password(&request.new_password)?;
        let current = account.password_hash.clone();
        if !passwords::verify(request.current_password, current).await {
            self.limiter
                .record_failure(&account.email, client_address, Instant::now());
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "the current password is not right",
            ));
        }
        let hash = passwords::hash(request.new_password)
            .await
            .ok_or_else(ApiError::internal)?;
        store::set_password(&self.store, account.id, &hash, &session.key)
            .await
            .map_err(store_error_to_api)?;
        tracing::info!(
            user = account.id,
            "password changed; other sessions signed out"
        );
        Ok(())
    }

    pub async fn confirm_email(&self, token: &str) -> Result<(), ApiError> {
        let well_formed = token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit());
        let confirmed = well_formed
            && store::confirm_email(&self.store, &sha256_hex(token), self.clock.now())
                .await
                .map_err(store_error_to_api)?;
        if confirmed {
            Ok(())
        } else {
            Err(ApiError::not_found(
                "this confirmation link is unknown or was already used",
            ))
        }
    }

    /// Saves a card at the processor and keeps only its references.
    pub async fn save_card(
        &self,
        account: &Account,
        token: &str,
    ) -> Result<(SavedCard, SavedCardView), ApiError> {
        crate::payments::ensure_configured(self.gateway.as_ref())?;
        let token = PaymentToken::parse(token)
            .ok_or_else(|| ApiError::validation("token is not a payment token"))?;
        let card = self
            .gateway
            .save_card(&token, &account.email)
            .await
            .map_err(|error| match error {
                PaymentError::Declined(_) => {
                    ApiError::new(ErrorCode::PaymentDeclined, "this card was declined")
                }
                _ => ApiError::new(
                    ErrorCode::Unavailable,
                    "the payment processor could not save the card; try again",
                ),
            })?;
        store::set_payment_method(
            &self.store,
            account.id,
            Some((
                card.method.expose(),
                card.customer.as_deref(),
                &card.brand,
                &card.last4,
            )),
        )
        .await
        .map_err(store_error_to_api)?;
        let view = SavedCardView {
            brand: card.brand.clone(),
            last4: card.last4.clone(),
        };
        Ok((card, view))
    }

    pub async fn delete_card(&self, account: &Account) -> Result<(), ApiError> {
        store::set_payment_method(&self.store, account.id, None)
            .await
            .map_err(store_error_to_api)
    }

    pub async fn my_tickets(&self, account: &Account) -> Result<MyTicketsView, ApiError> {
        let now = self.clock.now();
        let rows = store::tickets_of_account(&self.store, account.id)
            .await
            .map_err(store_error_to_api)?;
        let mut view = MyTicketsView::default();
        for row in rows {
            let status = match row.status.as_str() {
                "used" => TicketStatus::Used,
                "refunded" => TicketStatus::Refunded,
                _ => TicketStatus::Valid,
            };
            let upcoming = row.starts_at > now;
            let ticket = MyTicket {
                ticket_id: TicketId(row.ticket_id),
                purchase_id: PurchaseId(row.purchase_id),
                event_id: EventId(row.event_id),
                event_name: row.event_name,
                venue: row.venue,
                city: row.city,
                starts_at: crate::catalog::format_ms(row.starts_at),
                section: row.section,
                row: row.row_label,
                number: row.number,
                price_cents: row.price_cents,
                status,
                code: row.code,
                refundable: upcoming
                    && row.refund_policy != "none"
                    && row.purchase_status == "paid"
                    && status == TicketStatus::Valid,
            };
            if upcoming {
                view.upcoming.push(ticket);
            } else {
                view.past.push(ticket);
            }
        }
        view.past.reverse();
        Ok(view)
    }
}

pub fn me_view(account: &Account) -> MeView {
    MeView {
        email: account.email.clone(),
        display_name: account.display_name.clone(),
        role: Role::parse(&account.role).unwrap_or(Role::Fan),
        email_confirmed: account.email_confirmed_at.is_some(),
        payment_method: match (&account.payment_brand, &account.payment_last4) {
            (Some(brand), Some(last4)) if account.payment_token.is_some() => Some(SavedCardView {
                brand: brand.clone(),
                last4: last4.clone(),
            }),
            _ => None,
        },
    }
}

pub fn validate_password(password: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if (passwords::MIN_LEN..=passwords::MAX_LEN).contains(&length) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "password must be {} to {} characters",
            passwords::MIN_LEN,
            passwords::MAX_LEN
        )))
    }
}

pub fn validate_display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if (1..=80).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(name.to_string())
    } else {
        Err(ApiError::validation(
            "display_name must be 1 to 80 characters, without control characters",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_names_are_checked() {
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("1234567").is_err());
        assert!(validate_password(&"x".repeat(129)).is_err());
        assert_eq!(validate_display_name("  Ada  ").ok(), Some("Ada".into()));
        assert!(validate_display_name("   ").is_err());
        assert!(validate_display_name("a\u{0}b").is_err());
    }
}
