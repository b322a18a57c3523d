//! Optional accounts: register, sign in and out, a saved card (the
//! processor's reference, brand and last four only), email confirmation
//! that attaches earlier guest purchases, and "my tickets".
//!
//! A signed-in browser is its ordinary buyer session plus a row in
//! `auth_sessions` keyed by the session's hash; the session id is replaced
//! at sign-in and sign-out, and the holds and purchases of the browser move
//! with it.

pub mod guests;
pub mod limiter;
pub mod passwords;
pub mod roles;
pub mod routes;
pub mod store;

use crate::clock::Clock;
use crate::mail::links::LinkKeys;
use crate::mail::outbox::{Letter, LetterKind};
use crate::net::{ClientKey, ClientLimits};
use crate::payments::{PaymentError, PaymentGateway, PaymentToken, SavedCard};
use crate::session::{sha256_hex, BuyerSession};
use crate::store::Store;
use crate::validation::{validate_display_name, validate_email, validate_password};
use app::error::{ApiError, ErrorCode};
use app::staff::RefundPolicy;
use app::types::{
    ChangePasswordRequest, ConfirmEmailRequest, EventId, LoginRequest, MeView, MyTicket,
    MyTicketsView, PasswordResetConfirm, PasswordResetRequest, PurchaseId, PurchaseStatus,
    RegisterRequest, SavedCardView, TicketId, TicketStatus,
};
use limiter::LoginLimiter;
use std::sync::Arc;
use std::time::Instant;
pub use store::Account;

/// The accounts' policies, from the configuration.
#[derive(Clone, Debug)]
pub struct AccountPolicy {
    /// How long a confirmation or claim link works.
    pub link_lifetime_ms: i64,
    pub sign_in_failures_per_account: u32,
    pub sign_in_failures_per_address: u32,
    /// Registrations and password resets per address (and the
    /// trusted-proxy list).
    pub limits: ClientLimits,
    /// Derives the emailed links' tokens.
    pub links: LinkKeys,
}

/// How long a password reset link works: short, as it signs everyone out.
const RESET_LINK_LIFETIME_MS: i64 = 3_600_000;

#[derive(Clone)]
pub struct Accounts {
    store: Store,
    clock: Clock,
    gateway: Arc<dyn PaymentGateway>,
    limiter: Arc<LoginLimiter>,
    limits: ClientLimits,
    links: LinkKeys,
    link_lifetime_ms: i64,
    guests: Arc<guests::GuestSessions>,
}

/// What a registration did.
pub enum Registered {
    /// A new account, signed in on a fresh session; a confirmation link
    /// was mailed.
    SignedIn(BuyerSession, MeView),
    /// The email has an account that was never confirmed: a link to claim
    /// it was mailed to the address; nothing else changed.
    ClaimLinkSent(String),
}

impl Accounts {
    pub fn new(
        store: Store,
        clock: Clock,
        gateway: Arc<dyn PaymentGateway>,
        policy: AccountPolicy,
    ) -> Self {
        Self {
            store,
            clock,
            gateway,
            limiter: Arc::new(LoginLimiter::new(
                policy.sign_in_failures_per_account,
                policy.sign_in_failures_per_address,
                limiter::MAX_KEYS,
            )),
            limits: policy.limits,
            links: policy.links,
            link_lifetime_ms: policy.link_lifetime_ms,
            guests: Arc::default(),
        }
    }

    /// The account signed in on this session, if any.
    pub async fn signed_in(&self, session: &BuyerSession) -> Result<Option<Account>, ApiError> {
        if session.is_new || self.guests.known(&session.key) {
            return Ok(None);
        }
        match store::session(&self.store, &session.key, self.clock.now()).await? {
            store::StoredSession::Guest => {
                self.guests.remember(&session.key);
                Ok(None)
            }
            store::StoredSession::SignIn(account) => Ok(account),
        }
    }

    /// A fresh link for `email` lasting `lifetime_ms`: what the database
    /// keeps (the SHA-256 of its token, and its expiry) and the letter
    /// that mails it. The token itself is derived again when the letter is
    /// sent (see [`LinkKeys::account_link`]).
    fn new_link(&self, kind: LetterKind, email: &str, lifetime_ms: i64) -> (String, Letter) {
        let now = self.clock.now();
        let expires_at = now + lifetime_ms;
        let token_hash = sha256_hex(&self.links.account_link(email, expires_at));
        let letter = Letter {
            kind,
            recipient: email.to_string(),
            purchase_id: None,
            link_expires_at: Some(expires_at),
            now,
        };
        (token_hash, letter)
    }

    /// Creates the account (or gives a guest record a password), mails the
    /// confirmation link, and signs the browser in on a fresh session. An
    /// email whose account was never confirmed gets a claim link instead:
    /// whoever can read that mailbox may take the account over. Throttled
    /// per client address before any password is hashed.
    pub async fn register(
        &self,
        request: RegisterRequest,
        client: ClientKey,
        session: &BuyerSession,
    ) -> Result<Registered, ApiError> {
        let email = validate_email(&request.email)?;
        validate_password(&request.password)?;
        let display_name = validate_display_name(&request.display_name)?;
        self.limits.check_registration(client)?;
        let existing = store::by_email(&self.store, &email).await?;
        if existing.is_some_and(|account| account.password_hash.is_some()) {
            return self.send_claim_link(email).await;
        }
        let hash = passwords::hash(request.password)
            .await
            .ok_or_else(ApiError::internal)?;
        let (token_hash, letter) =
            self.new_link(LetterKind::ConfirmEmail, &email, self.link_lifetime_ms);
        let created =
            store::create(&self.store, &hash, &display_name, &token_hash, &letter).await?;
        let user_id = match created {
            store::Created::Account(id) => id,
            // Someone set a password on it a moment ago.
            store::Created::HasPassword => return self.send_claim_link(email).await,
        };
        tracing::info!(
            user = user_id,
            "account registered; confirmation link mailed"
        );
        let (fresh, me) = self.start_session(user_id, session).await?;
        Ok(Registered::SignedIn(fresh, me))
    }

    /// Mails a claim link for an account that has a password but was never
    /// confirmed; a confirmed one is taken (409).
    async fn send_claim_link(&self, email: String) -> Result<Registered, ApiError> {
        let (token_hash, letter) =
            self.new_link(LetterKind::ClaimAccount, &email, self.link_lifetime_ms);
        if !store::renew_link(&self.store, &token_hash, &letter).await? {
            return Err(ApiError::new(
                ErrorCode::EmailTaken,
                "an account with this email already exists; sign in instead",
            ));
        }
        tracing::info!("claim link mailed for an unconfirmed account");
        Ok(Registered::ClaimLinkSent(email))
    }

    /// Signs in. Unknown email and wrong password get the same answer in
    /// the same time. Each attempt takes its place in the per-account and
    /// per-address counts before the password is checked, so concurrent
    /// guesses cannot slip past the limit together.
    pub async fn login(
        &self,
        request: LoginRequest,
        client: ClientKey,
        session: &BuyerSession,
    ) -> Result<(BuyerSession, MeView), ApiError> {
        let email = request.email.trim().to_lowercase();
        let attempt = self
            .limiter
            .reserve(&email, client, Instant::now())
            .map_err(|wait| {
                ApiError::rate_limited(
                    format!(
                        "too many failed sign-ins; try again in {} minutes",
                        wait.as_secs().div_ceil(60).max(1)
                    ),
                    wait,
                )
            })?;
        let account = store::by_email(&self.store, &email).await?;
        let stored_hash = account.as_ref().and_then(|a| a.password_hash.clone());
        let matches = passwords::verify(request.password, stored_hash).await;
        match account {
            Some(account) if matches => {
                self.limiter.succeeded(attempt);
                self.start_session(account.id, session).await
            }
            // The attempt stays counted.
            _ => Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "that email and password do not match an account",
            )),
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
        .await?;
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
        store::end_session(&self.store, &session.key).await?;
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
        client: ClientKey,
    ) -> Result<(), ApiError> {
        validate_password(&request.new_password)?;
        let attempt = self
            .limiter
            .reserve(&account.email, client, Instant::now())
            .map_err(|wait| {
                ApiError::rate_limited(
                    format!(
                        "too many wrong passwords; try again in {} minutes",
                        wait.as_secs().div_ceil(60).max(1)
                    ),
                    wait,
                )
            })?;
        let current = account.password_hash.clone();
        if !passwords::verify(request.current_password, current).await {
            // The attempt stays counted.
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "the current password is not right",
            ));
        }
        self.limiter.succeeded(attempt);
        let hash = passwords::hash(request.new_password)
            .await
            .ok_or_else(ApiError::internal)?;
        store::set_password(&self.store, account.id, &hash, &session.key).await?;
        tracing::info!(
            user = account.id,
            "password changed; other sessions signed out"
        );
        Ok(())
    }

    /// Follows a confirmation or claim link (unexpired, once). From a
    /// browser signed in to the link's account, that confirms the email.
    /// From any other browser the clicker must choose a new password: the
    /// account becomes theirs (its other sessions end, a saved card is
    /// forgotten) and this browser is signed in, returned as a fresh
    /// session. So only someone who proved the mailbox ever sees the guest
    /// purchases made with it.
    pub async fn confirm_email(
        &self,
        request: ConfirmEmailRequest,
        session: &BuyerSession,
    ) -> Result<Option<(BuyerSession, MeView)>, ApiError> {
        let unknown = || {
            ApiError::not_found(
                "this link is unknown, expired or was already used; register again for a new one",
            )
        };
        let token_hash = link_token_hash(&request.token).ok_or_else(unknown)?;
        let now = self.clock.now();
        let owner = store::link_owner(&self.store, &token_hash, now)
            .await?
            .ok_or_else(unknown)?;
        if self
            .signed_in(session)
            .await?
            .is_some_and(|a| a.id == owner)
        {
            return if store::confirm_email(&self.store, &token_hash, owner, now).await? {
                Ok(None)
            } else {
                Err(unknown())
            };
        }
        let Some(password) = request.new_password else {
            return Err(ApiError::new(
                ErrorCode::NewPasswordRequired,
                "choose a password for this account to confirm the email from this browser",
            ));
        };
        validate_password(&password)?;
        let hash = passwords::hash(password)
            .await
            .ok_or_else(ApiError::internal)?;
        let (user_id, email) = store::claim_with_password(&self.store, &token_hash, &hash, now)
            .await?
            .ok_or_else(unknown)?;
        self.limiter.forget_account(&email);
        tracing::info!(
            user = user_id,
            "email confirmed from a new browser; password replaced"
        );
        self.start_session(user_id, session).await.map(Some)
    }

    /// Mails a password reset link to `email` if it has an account with a
    /// password. The answer is the same whether it has or not, so it tells
    /// nobody which addresses have accounts. Throttled per client address
    /// like registration.
    pub async fn request_password_reset(
        &self,
        request: PasswordResetRequest,
        client: ClientKey,
    ) -> Result<(), ApiError> {
        let email = validate_email(&request.email)?;
        self.limits.check_registration(client)?;
        let (token_hash, letter) =
            self.new_link(LetterKind::PasswordReset, &email, RESET_LINK_LIFETIME_MS);
        if store::start_password_reset(&self.store, &token_hash, &letter).await? {
            tracing::info!("password reset link mailed");
        }
        Ok(())
    }

    /// Follows a password reset link (unexpired, once): the password is
    /// replaced, the email counts as confirmed (the link reached it), and
    /// every session of the account ends. A card saved while the email was
    /// unconfirmed is forgotten, as when an account is claimed.
    pub async fn reset_password(&self, request: PasswordResetConfirm) -> Result<(), ApiError> {
        let unknown = || {
            ApiError::not_found(
                "this link is unknown, expired or was already used; ask for a new one",
            )
        };
        let token_hash = link_token_hash(&request.token).ok_or_else(unknown)?;
        validate_password(&request.new_password)?;
        let hash = passwords::hash(request.new_password)
            .await
            .ok_or_else(ApiError::internal)?;
        let (user_id, email) =
            store::reset_password(&self.store, &token_hash, &hash, self.clock.now())
                .await?
                .ok_or_else(unknown)?;
        self.limiter.forget_account(&email);
        tracing::info!(user = user_id, "password reset; every session signed out");
        Ok(())
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
            .save_card(&token, &account.email, account.payment_customer.as_deref())
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
        .await?;
        // The card it replaces can no longer be charged; if the processor
        // cannot be reached, it stays attached but unused (we keep no
        // reference to it), which is logged.
        if let Some(old) = account.saved_card_method() {
            if let Err(error) = self.gateway.forget_card(&old).await {
                tracing::warn!(account = account.id, %error, "replaced card not detached");
            }
        }
        let view = SavedCardView {
            brand: card.brand.clone(),
            last4: card.last4.clone(),
        };
        Ok((card, view))
    }

    /// Detaches the saved card at the processor, then forgets it here (the
    /// account keeps its processor customer for the next card). If the
    /// processor cannot be reached the card stays, so a retry can finish.
    pub async fn delete_card(&self, account: &Account) -> Result<(), ApiError> {
        if let Some(method) = account.saved_card_method() {
            crate::payments::ensure_configured(self.gateway.as_ref())?;
            match self.gateway.forget_card(&method).await {
                // Invalid: the processor does not know the card (deleted
                // there): it cannot be charged either.
                Ok(()) | Err(PaymentError::Invalid(_)) => {}
                Err(_) => {
                    return Err(ApiError::new(
                        ErrorCode::Unavailable,
                        "the payment processor could not remove the card; try again",
                    ))
                }
            }
        }
        store::set_payment_method(&self.store, account.id, None)
            .await
            .map_err(ApiError::from)
    }

    pub async fn my_tickets(&self, account: &Account) -> Result<MyTicketsView, ApiError> {
        let now = self.clock.now();
        let rows = store::tickets_of_account(&self.store, account.id).await?;
        let mut view = MyTicketsView::default();
        for row in rows {
            let status = row.status;
            let upcoming = row.starts_at > now;
            let ticket = MyTicket {
                ticket_id: TicketId(row.ticket_id),
                purchase_id: PurchaseId(row.purchase_id),
                event_id: EventId(row.event_id),
                event_name: row.event_name,
                venue: row.venue,
                city: row.city,
                starts_at: crate::clock::format_ms(row.starts_at),
                section: row.section,
                row: row.row_label,
                number: row.number,
                price_cents: row.price_cents,
                status,
                code: row.code,
                refundable: upcoming
                    && row.refund_policy != RefundPolicy::None
                    && row.purchase_status == PurchaseStatus::Paid
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

/// What the database keeps of an emailed link's token (its SHA-256), for
/// a token of the right shape: 32 hexadecimal characters, any case,
/// surrounding spaces ignored (as mail clients copy them).
fn link_token_hash(raw: &str) -> Option<String> {
    let token = raw.trim();
    (token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| sha256_hex(&token.to_ascii_lowercase()))
}

pub fn me_view(account: &Account) -> MeView {
    MeView {
        email: account.email.clone(),
        display_name: account.display_name.clone(),
        role: account.role,
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
