//! REST handlers for accounts, per `docs/api.md`.

use super::{me_view, Account, Accounts, Registered};
use crate::error::{ApiJson, HttpError, HttpResult};
use crate::net::ClientAddr;
use crate::session::BuyerSession;
use app::error::{ApiError, ErrorBody};
use app::types::{
    ChangePasswordRequest, ClaimLinkSent, ConfirmEmailRequest, LoginRequest, MeView, MyTicketsView,
    PasswordResetConfirm, PasswordResetRequest, RegisterRequest, SavePaymentMethodRequest,
    SavedCardView,
};
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};

/// The routes, for any application state that can hand out the services
/// their handlers take.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    crate::accounts::Accounts: FromRef<S>,
    crate::net::ClientLimits: FromRef<S>,
{
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/confirm", post(confirm))
        .route("/api/auth/password-reset", post(request_password_reset))
        .route("/api/auth/password-reset/confirm", post(reset_password))
        .route("/api/me", get(me))
        .route("/api/me/password", post(change_password))
        .route(
            "/api/me/payment-method",
            put(save_payment_method).delete(delete_payment_method),
        )
        .route("/api/me/tickets", get(my_tickets))
}

/// The signed-in account of the request, or 401.
pub struct SignedIn {
    pub session: BuyerSession,
    pub account: Account,
}

/// The request's session and, if it is signed in, its account.
pub struct MaybeSignedIn {
    pub session: BuyerSession,
    pub account: Option<Account>,
}

impl<S> FromRequestParts<S> for MaybeSignedIn
where
    S: Send + Sync,
    Accounts: FromRef<S>,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = BuyerSession::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let account = Accounts::from_ref(state).signed_in(&session).await?;
        Ok(Self { session, account })
    }
}

impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    Accounts: FromRef<S>,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let MaybeSignedIn { session, account } =
            MaybeSignedIn::from_request_parts(parts, state).await?;
        let account = account.ok_or_else(ApiError::unauthenticated)?;
        Ok(Self { session, account })
    }
}

/// Creates an account and signs in (a fresh session cookie). A
/// confirmation link is emailed; guest purchases with this email join the
/// account once it is followed. An email whose account was never confirmed
/// gets a link to claim that account instead (202; nobody is signed in).
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body(content = RegisterRequest, example = json!({"email": "fan@example.com", "password": "correct horse battery", "display_name": "Sam Fan"})), responses(
    (status = 201, body = MeView),
    (status = 202, body = ClaimLinkSent, description = "the email has an unconfirmed account: a claim link was mailed to it"),
    (status = 409, body = ErrorBody, description = "email_taken (a confirmed account)"),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody, description = "rate_limited: too many registrations from this address (Retry-After)"),
))]
pub async fn register(
    State(accounts): State<Accounts>,
    session: BuyerSession,
    client: ClientAddr,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> HttpResult<Response> {
    Ok(
        match accounts.register(request, client.key, &session).await? {
            Registered::SignedIn(fresh, me) => fresh.attach((StatusCode::CREATED, Json(me))),
            Registered::ClaimLinkSent(email) => (
                StatusCode::ACCEPTED,
                Json(ClaimLinkSent {
                    email,
                    claim_link_sent: true,
                }),
            )
                .into_response(),
        },
    )
}

/// Signs in; the session id is replaced, and the browser's holds move with it.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body(content = LoginRequest, example = json!({"email": "fan@example.com", "password": "correct horse battery"})), responses(
    (status = 200, body = MeView),
    (status = 401, body = ErrorBody, description = "invalid_credentials (unknown email or wrong password alike)"),
    (status = 429, body = ErrorBody, description = "rate_limited: too many failed attempts for this account or from this address (Retry-After)"),
))]
pub async fn login(
    State(accounts): State<Accounts>,
    session: BuyerSession,
    client: ClientAddr,
    ApiJson(request): ApiJson<LoginRequest>,
) -> HttpResult<Response> {
    let (fresh, me) = accounts.login(request, client.key, &session).await?;
    Ok(fresh.attach(Json(me)))
}

/// Signs out on the server and gives the browser a fresh anonymous session.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(
    State(accounts): State<Accounts>,
    session: BuyerSession,
) -> HttpResult<Response> {
    let fresh = accounts.logout(&session).await?;
    Ok(fresh.attach(StatusCode::NO_CONTENT))
}

/// Confirms the account's email with the token from the link (valid for
/// `TESSERA_CONFIRM_LINK_HOURS`, once). From a browser not signed in to
/// that account, `new_password` is required: it becomes the password, the
/// account's other sessions are signed out, and this browser is signed in
/// (a fresh session cookie).
#[utoipa::path(post, path = "/api/auth/confirm", tag = "auth", request_body = ConfirmEmailRequest, responses(
    (status = 204),
    (status = 404, body = ErrorBody, description = "unknown, expired or used link"),
    (status = 422, body = ErrorBody, description = "new_password_required, or a password of the wrong length"),
))]
pub async fn confirm(
    State(accounts): State<Accounts>,
    session: BuyerSession,
    ApiJson(request): ApiJson<ConfirmEmailRequest>,
) -> HttpResult<Response> {
    Ok(match accounts.confirm_email(request, &session).await? {
        Some((fresh, _)) => fresh.attach(StatusCode::NO_CONTENT),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Mails a password reset link (valid one hour, once) to the address if it
/// has an account. The answer is the same whether it has or not.
#[utoipa::path(post, path = "/api/auth/password-reset", tag = "auth", request_body(content = PasswordResetRequest, example = json!({"email": "fan@example.com"})), responses(
    (status = 202, description = "if the address has an account, a reset link is on its way"),
    (status = 422, body = ErrorBody, description = "not an email address"),
    (status = 429, body = ErrorBody, description = "rate_limited: too many account emails from this address (Retry-After)"),
))]
pub async fn request_password_reset(
    State(accounts): State<Accounts>,
    client: ClientAddr,
    ApiJson(request): ApiJson<PasswordResetRequest>,
) -> HttpResult<StatusCode> {
    accounts.request_password_reset(request, client.key).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with the token from a reset link. The link is used
/// up, and every session of the account is signed out: sign in again with
/// the new password.
#[utoipa::path(post, path = "/api/auth/password-reset/confirm", tag = "auth", request_body = PasswordResetConfirm, responses(
    (status = 204),
    (status = 404, body = ErrorBody, description = "unknown, expired or used link"),
    (status = 422, body = ErrorBody, description = "a password of the wrong length"),
))]
pub async fn reset_password(
    State(accounts): State<Accounts>,
    ApiJson(request): ApiJson<PasswordResetConfirm>,
) -> HttpResult<StatusCode> {
    accounts.reset_password(request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/me", tag = "account", security(("session" = [])), responses(
    (status = 200, body = MeView),
    (status = 401, body = ErrorBody),
))]
pub async fn me(signed_in: SignedIn) -> Json<MeView> {
    Json(me_view(&signed_in.account))
}

/// Changes the signed-in account's password; the current one is required.
/// Every other session of the account is signed out, this one stays.
#[utoipa::path(post, path = "/api/me/password", tag = "account", security(("session" = [])), request_body = ChangePasswordRequest, responses(
    (status = 204),
    (status = 401, body = ErrorBody, description = "unauthenticated, or invalid_credentials: the current password is not right"),
    (status = 422, body = ErrorBody, description = "the new password is too short or too long"),
    (status = 429, body = ErrorBody, description = "too many wrong passwords"),
))]
pub async fn change_password(
    State(accounts): State<Accounts>,
    signed_in: SignedIn,
    client: ClientAddr,
    ApiJson(request): ApiJson<ChangePasswordRequest>,
) -> HttpResult<StatusCode> {
    accounts
        .change_password(&signed_in.account, &signed_in.session, request, client.key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Saves a card for one-click purchases: send the token from the
/// processor's card form; only the processor's reference, the brand and
/// the last four digits are kept.
#[utoipa::path(put, path = "/api/me/payment-method", tag = "account", security(("session" = [])), request_body = SavePaymentMethodRequest, responses(
    (status = 200, body = SavedCardView),
    (status = 401, body = ErrorBody),
    (status = 402, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "not a token, or card data in the request"),
))]
pub async fn save_payment_method(
    State(accounts): State<Accounts>,
    signed_in: SignedIn,
    ApiJson(request): ApiJson<SavePaymentMethodRequest>,
) -> HttpResult<Json<SavedCardView>> {
    let (_, view) = accounts
        .save_card(&signed_in.account, &request.token)
        .await?;
    Ok(Json(view))
}

/// Removes the saved card: detached from the account's customer at the
/// processor (it can never be charged again), then forgotten here.
#[utoipa::path(delete, path = "/api/me/payment-method", tag = "account", security(("session" = [])), responses(
    (status = 204),
    (status = 401, body = ErrorBody),
    (status = 503, body = ErrorBody, description = "the processor could not be reached (the card is kept; try again), or none is configured"),
))]
pub async fn delete_payment_method(
    State(accounts): State<Accounts>,
    signed_in: SignedIn,
) -> HttpResult<StatusCode> {
    accounts.delete_card(&signed_in.account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account's tickets: upcoming (soonest first) and past.
#[utoipa::path(get, path = "/api/me/tickets", tag = "account", security(("session" = [])), responses(
    (status = 200, body = MyTicketsView),
    (status = 401, body = ErrorBody),
))]
pub async fn my_tickets(
    State(accounts): State<Accounts>,
    signed_in: SignedIn,
) -> HttpResult<Json<MyTicketsView>> {
    Ok(Json(accounts.my_tickets(&signed_in.account).await?))
}
