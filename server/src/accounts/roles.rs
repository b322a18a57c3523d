//! Extractors that require a role: every staff and admin handler takes one,
//! so the role is checked on the server; anonymous callers get 401,
//! signed-in accounts of another role 403.

use super::routes::SignedIn;
use super::{Account, Accounts};
use crate::error::HttpError;
use app::error::{ApiError, ErrorCode};
use app::types::Role;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

/// A signed-in staff member or admin.
pub struct StaffOnly(pub Account);

/// A signed-in admin.
pub struct AdminOnly(pub Account);

/// The signed-in account if its role is one of `allowed`: 401 when signed
/// out, 403 for any other role.
async fn signed_in_as<S>(
    parts: &mut Parts,
    state: &S,
    allowed: &[Role],
    refusal: &str,
) -> Result<Account, HttpError>
where
    S: Send + Sync,
    Accounts: FromRef<S>,
{
    let SignedIn { account, .. } = SignedIn::from_request_parts(parts, state).await?;
    if allowed.contains(&account.role) {
        Ok(account)
    } else {
        Err(ApiError::new(ErrorCode::Forbidden, refusal).into())
    }
}

impl<S> FromRequestParts<S> for StaffOnly
where
    S: Send + Sync,
    Accounts: FromRef<S>,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        signed_in_as(
            parts,
            state,
            &[Role::Staff, Role::Admin],
            "venue staff only",
        )
        .await
        .map(Self)
    }
}

impl<S> FromRequestParts<S> for AdminOnly
where
    S: Send + Sync,
    Accounts: FromRef<S>,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        signed_in_as(parts, state, &[Role::Admin], "admins only")
            .await
            .map(Self)
    }
}
