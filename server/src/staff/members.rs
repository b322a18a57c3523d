//! Accounts as admins manage them: creating staff and admin accounts (also
//! from the operator command `server admin create`), looking an account up
//! by email, changing its role and disabling it. Whatever changes, at least
//! one enabled admin remains, so the site is never left without one.

use crate::accounts::passwords;
use crate::error::sqlx_error_to_api;
use crate::on_pool;
use crate::store::{BeginWrite, Store};
use crate::validation::{validate_display_name, validate_email, validate_password};
use app::error::{ApiError, ErrorCode};
use app::staff::{UpdateUserRequest, UserView};
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

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    display_name: String,
    #[sqlx(try_from = "String")]
    role: Role,
    disabled_at: Option<i64>,
    email_confirmed_at: Option<i64>,
}

impl From<UserRow> for UserView {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            role: row.role,
            disabled: row.disabled_at.is_some(),
            email_confirmed: row.email_confirmed_at.is_some(),
        }
    }
}

/// Guest records (checkouts without an account) have no password and are
/// not accounts: they are neither found nor changed here.
const USER_COLUMNS: &str =
    "SELECT id, email, display_name, role, disabled_at, email_confirmed_at FROM users \
     WHERE password_hash IS NOT NULL AND ";

/// The account with this email.
pub async fn find_by_email(store: &Store, email: &str) -> Result<UserView, ApiError> {
    let email = email.trim().to_lowercase();
    let sql = format!("{USER_COLUMNS} email = $1");
    let found: Option<UserRow> = on_pool!(store, pool =>
        sqlx::query_as::<_, UserRow>(&sql).bind(&email).fetch_optional(pool).await)
    .map_err(sqlx_error_to_api)?;
    found
        .map(UserView::from)
        .ok_or_else(|| ApiError::not_found("no account has this email"))
}

async fn find_by_id(store: &Store, id: i64) -> Result<UserView, ApiError> {
    let sql = format!("{USER_COLUMNS} id = $1");
    let found: Option<UserRow> = on_pool!(store, pool =>
        sqlx::query_as::<_, UserRow>(&sql).bind(id).fetch_optional(pool).await)
    .map_err(sqlx_error_to_api)?;
    found
        .map(UserView::from)
        .ok_or_else(|| ApiError::not_found(format!("no account {id}")))
}

/// What [`update`] found.
enum Updated {
    Done,
    NoSuchAccount,
    WouldLeaveNoAdmin,
}

/// Changes an account's role and whether it is disabled, in one
/// transaction that is undone if no enabled admin would remain. Disabling
/// ends every session of the account. Only the fields sent change: a
/// change naming neither answers the account as it is.
pub async fn update(
    store: &Store,
    now: i64,
    id: i64,
    change: &UpdateUserRequest,
) -> Result<UserView, ApiError> {
    let role = change.role.map(Role::as_str);
    let outcome = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        // Lock every enabled admin first. On PostgreSQL two admins demoting
        // each other at the same moment would otherwise each still see the
        // other as admin, and both succeed; SQLite's write transaction
        // already excludes other writers.
        sqlx::query("UPDATE users SET role = role WHERE role = 'admin' AND disabled_at IS NULL")
            .execute(&mut *tx)
            .await?;
        let exists: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM users WHERE id = $1 AND password_hash IS NOT NULL")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            tx.rollback().await?;
            return Ok(Updated::NoSuchAccount);
        }
        if let Some(role) = role {
            sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                .bind(role)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        match change.disabled {
            Some(true) => {
                sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM auth_sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            Some(false) => {
                sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {}
        }
        let (admins,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
        )
        .fetch_one(&mut *tx)
        .await?;
        if admins == 0 {
            tx.rollback().await?;
            return Ok(Updated::WouldLeaveNoAdmin);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(Updated::Done)
    }.await)
    .map_err(sqlx_error_to_api)?;
    match outcome {
        Updated::Done => find_by_id(store, id).await,
        Updated::NoSuchAccount => Err(ApiError::not_found(format!("no account {id}"))),
        Updated::WouldLeaveNoAdmin => Err(ApiError::new(
            ErrorCode::LastAdmin,
            "this would leave no enabled admin; make another account admin first",
        )),
    }
}
