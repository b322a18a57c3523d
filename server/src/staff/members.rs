//! Accounts as admins manage them: creating staff and admin accounts (also
//! from the operator command `server admin create`).

use crate::accounts::{passwords, validate_display_name, validate_password};
use crate::checkout::validate_email;
use crate::error::sqlx_error_to_api;
use crate::on_pool;
use crate::store::Store;
use app::error::{ApiError, ErrorCode};
use app::types::Role;

/// Creates a staff or admin account with a confirmed email. Refuses an
/// email that already has an account (or a guest record) rather than
/// taking it over.
pub async fn create_account(
    store: &Store,
    now: i64,
    email: &str,
    password: String,
    display_name: &str,
    role: Role,
) -> Result<i64, ApiError> {
    let email = validate_email(email)?;
    validate_password(&password)?;
    let display_name = validate_display_name(display_name)?;
    let hash = passwords::hash(password)
        .await
        .ok_or_else(ApiError::internal)?;
    let inserted: Option<(i64,)> = on_pool!(store, pool => sqlx::query_as(
        "INSERT INTO users (email, password_hash, display_name, role, email_confirmed_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(&email)
    .bind(&hash)
    .bind(&display_name)
    .bind(role.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await)
    .map_err(sqlx_error_to_api)?;
    match inserted {
        Some((id,)) => {
            tracing::info!(user = id, role = role.as_str(), "staff account created");
            Ok(id)
        }
        None => Err(ApiError::new(
            ErrorCode::EmailTaken,
            "an account with this email already exists",
        )),
    }
}
