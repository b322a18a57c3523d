//! REST handlers for accounts, per `shared/API.md`.

use super::{me_view, Account, Accounts};
use crate::error::{ApiJson, HttpError, HttpResult};
use crate::session::BuyerSession;
use crate::state::AppState;
use app::error::{ApiError, ErrorBody};
use app::types::{
    ChangePasswordRequest, ConfirmEmailRequest, LoginRequest, MeView, MyTicketsView,
    RegisterRequest, SavePaymentMethodRequest, SavedCardView,
};
use axum::extract::{ConnectInfo, FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/confirm", post(confirm))
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

/// The client's address, for throttling. Behind a load balancer this is the
/// balancer's address unless the deployment terminates connections here.
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string())
                .unwrap_or_default(),
        ))
    }
}

/// Creates an account and signs in (a fresh session cookie). A
/// confirmation link is emailed; guest purchases with this email join the
/// account once it is followed.
#[utoipa::path(post, path = "/api/auth/register", request_body = RegisterRequest, responses(
    (status = 201, body = MeView),
    (status = 409, body = ErrorBody, description = "email_taken"),
    (status = 422, body = ErrorBody),
))]
pub async fn register(
    State(accounts): State<Accounts>,
    session: BuyerSession,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> HttpResult<Response> {
    let (fresh, me) = accounts.register(request, &session).await?;
    Ok(fresh.attach((StatusCode::CREATED, Json(me))))
}

/// Signs in; the session id is replaced, and the browser's holds move with it.
#[utoipa::path(post, path = "/api/auth/login", request_body = LoginRequest, responses(
    (status = 200, body = MeView),
    (status = 401, body = ErrorBody, description = "invalid_credentials (unknown email or wrong password alike)"),
    (status = 429, body = ErrorBody, description = "too many failed attempts"),
))]
pub async fn login(
    State(accounts): State<Accounts>,
    session: BuyerSession,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<LoginRequest>,
) -> HttpResult<Response> {
    let (fresh, me) = accounts.login(request, &address, &session).await?;
    Ok(fresh.attach(Json(me)))
}

/// Signs out on the server and gives the browser a fresh anonymous session.
#[utoipa::path(post, path = "/api/auth/logout", responses((status = 204)))]
pub async fn logout(
    State(accounts): State<Accounts>,
    session: BuyerSession,
) -> HttpResult<Response> {
    let fresh = accounts.logout(&session).await?;
    Ok(fresh.attach(StatusCode::NO_CONTENT))
}

/// Confirms the account's email with the token from the confirmation link.
#[utoipa::path(post, path = "/api/auth/confirm", request_body = ConfirmEmailRequest, responses(
    (status = 204),
    (status = 404, body = ErrorBody),
))]
pub async fn confirm(
    State(accounts): State<Accounts>,
    ApiJson(request): ApiJson<ConfirmEmailRequest>,
) -> HttpResult<StatusCode> {
    accounts.confirm_email(&request.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/me", responses(
    (status = 200, body = MeView),
    (status = 401, body = ErrorBody),
))]
pub async fn me(signed_in: SignedIn) -> Json<MeView> {
    Json(me_view(&signed_in.account))
}

/// Changes the signed-in account's password; the current one is required.
/// Every other session of the account is signed out, this one stays.
#[utoipa::path(post, path = "/api/me/password", request_body = ChangePasswordRequest, responses(
    (status = 204),
    (status = 401, body = ErrorBody, description = "unauthenticated, or invalid_credentials: the current password is not right"),
    (status = 422, body = ErrorBody, description = "the new password is too short or too long"),
    (status = 429, body = ErrorBody, description = "too many wrong passwords"),
))]
pub async fn change_password(
    State(accounts): State<Accounts>,
    signed_in: SignedIn,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<ChangePasswordRequest>,
) -> HttpResult<StatusCode> {
    accounts
        .change_password(&signed_in.account, &signed_in.session, request, &address)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Saves a card for one-click purchases: send the token from the
/// processor's card form; only the processor's reference, the brand and
/// the last four digits are kept.
#[utoipa::path(put, path = "/api/me/payment-method", request_body = SavePaymentMethodRequest, responses(
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

/// Forgets the saved card.
#[utoipa::path(delete, path = "/api/me/payment-method", responses(
    (status = 204),
    (status = 401, body = ErrorBody),
))]
pub async fn delete_payment_method(
    State(accounts): State<Accounts>,
    signed_in: SignedIn,
) -> HttpResult<StatusCode> {
    accounts.delete_card(&signed_in.account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account's tickets: upcoming (soonest first) and past.
#[utoipa::path(get, path = "/api/me/tickets", responses(
    (status = 200, body = MyTicketsView),
    (status = 401, body = ErrorBody),
))]
pub async fn my_tickets(
    State(accounts): State<Accounts>,
    signed_in: SignedIn,
) -> HttpResult<Json<MyTicketsView>> {
    Ok(Json(accounts.my_tickets(&signed_in.account).await?))
}
