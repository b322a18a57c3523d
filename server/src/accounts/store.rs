//! Accounts and signed-in sessions in SQL.

use crate::mail::outbox::{self, Letter};
use crate::on_pool;
use crate::payments::PaymentToken;
use crate::store::{BeginWrite, Store, StoreError};
use app::staff::RefundPolicy;
use app::types::{PurchaseStatus, Role, TicketStatus};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub password_hash: Option<String>,
    pub email_confirmed_at: Option<i64>,
    pub payment_token: Option<String>,
    pub payment_customer: Option<String>,
    pub payment_brand: Option<String>,
    pub payment_last4: Option<String>,
}

impl Account {
    /// The saved card's payment method, if the account has one.
    pub fn saved_card_method(&self) -> Option<PaymentToken> {
        self.payment_token.as_deref().and_then(PaymentToken::parse)
    }
}

const ACCOUNT_COLUMNS: &str = "u.id, u.email, u.display_name, u.role, u.password_hash, \
     u.email_confirmed_at, u.payment_token, u.payment_customer, u.payment_brand, u.payment_last4";

/// How long a sign-in lasts without signing in again.
pub const SESSION_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

/// The account to sign in with this email. A disabled account is not
/// found: signing in to it fails as for an unknown email.
pub async fn by_email(store: &Store, email: &str) -> Result<Option<Account>, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM users u WHERE u.email = $1 AND u.disabled_at IS NULL"
    );
    Ok(on_pool!(store, pool =>
        sqlx::query_as::<_, Account>(&sql).bind(email).fetch_optional(pool).await)?)
}

/// What is stored under a session key, read in one query.
// Returned and matched at once, never kept: the size is of no matter.
#[allow(clippy::large_enum_variant)]
pub enum StoredSession {
    /// No sign-in was ever stored under this key (or it was removed): a
    /// guest's session.
    Guest,
    /// A sign-in is stored; `None` once it has expired or an admin has
    /// disabled the account.
    SignIn(Option<Account>),
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    expires_at: i64,
    disabled: bool,
    #[sqlx(flatten)]
    account: Account,
}

/// The sign-in stored under `session_key`, if any, and whether its account
/// may act now. One read answers both questions a request asks of a
/// session it has not seen before.
pub async fn session(
    store: &Store,
    session_key: &str,
    now: i64,
) -> Result<StoredSession, StoreError> {
    let sql = format!(
        "SELECT a.expires_at, u.disabled_at IS NOT NULL AS disabled, {ACCOUNT_COLUMNS} \
         FROM auth_sessions a JOIN users u ON u.id = a.user_id WHERE a.token_hash = $1"
    );
    let row: Option<SessionRow> = on_pool!(store, pool =>
        sqlx::query_as(&sql).bind(session_key).fetch_optional(pool).await)?;
    Ok(match row {
        None => StoredSession::Guest,
        Some(row) => StoredSession::SignIn(
            (row.expires_at > now && row.account.password_hash.is_some() && !row.disabled)
                .then_some(row.account),
        ),
    })
}

/// What [`create`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    /// A new account, or a guest record (earlier guest checkouts) given a
    /// password. Either way unconfirmed: guest purchases stay hidden.
    Account(i64),
    /// The email already belongs to an account with a password.
    HasPassword,
}

/// Creates an account, or gives a guest record a password. A guest record's
/// earlier purchases stay hidden from the account until the email is
/// confirmed, and confirming from a browser not signed in to the account
/// replaces the password (see [`claim_with_password`]), so registering
/// someone else's address reveals nothing, now or later. The account
/// link (`token_hash`, expiring when `letter`'s link does) and the letter
/// that mails it are written with the account.
pub async fn create(
    store: &Store,
    password_hash: &str,
    display_name: &str,
    token_hash: &str,
    letter: &Letter,
) -> Result<Created, StoreError> {
    let (email, now) = (letter.recipient.as_str(), letter.now);
    let created = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let upgraded = sqlx::query(
            "UPDATE users SET password_hash = $1, display_name = $2, confirm_token_hash = $3, \
             confirm_token_expires_at = $4 WHERE email = $5 AND password_hash IS NULL",
        )
        .bind(password_hash)
        .bind(display_name)
        .bind(token_hash)
        .bind(letter.link_expires_at)
        .bind(email)
        .execute(&mut *tx)
        .await?;
        if upgraded.rows_affected() == 0 {
            let inserted = sqlx::query(
                "INSERT INTO users (email, password_hash, display_name, confirm_token_hash, \
                 confirm_token_expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (email) DO NOTHING",
            )
            .bind(email)
            .bind(password_hash)
            .bind(display_name)
            .bind(token_hash)
            .bind(letter.link_expires_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(Created::HasPassword);
            }
        }
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(&mut *tx)
            .await?;
        outbox::insert(letter).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(Created::Account(id))
    }.await)?;
    Ok(created)
}

/// Gives an account that has a password but was never confirmed a new
/// link (the previous one stops working), and mails it with `letter`.
/// False if there is no such account: none, a guest record, or already
/// confirmed.
pub async fn renew_link(
    store: &Store,
    token_hash: &str,
    letter: &Letter,
) -> Result<bool, StoreError> {
    set_link(
        store,
        token_hash,
        letter,
        "password_hash IS NOT NULL AND email_confirmed_at IS NULL",
    )
    .await
}

/// Gives the account with `letter`'s recipient a password reset link (any
/// earlier link stops working) and mails it. False if no account with a
/// password and that email can sign in.
pub async fn start_password_reset(
    store: &Store,
    token_hash: &str,
    letter: &Letter,
) -> Result<bool, StoreError> {
    set_link(
        store,
        token_hash,
        letter,
        "password_hash IS NOT NULL AND disabled_at IS NULL",
    )
    .await
}

/// Sets the link of the account with `letter`'s recipient, if it matches
/// `condition` (fixed SQL, never input), and adds the letter, in one
/// transaction.
async fn set_link(
    store: &Store,
    token_hash: &str,
    letter: &Letter,
    condition: &'static str,
) -> Result<bool, StoreError> {
    let sql = format!(
        "UPDATE users SET confirm_token_hash = $1, confirm_token_expires_at = $2 \
         WHERE email = $3 AND {condition}"
    );
    let set = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let set = sqlx::query(&sql)
            .bind(token_hash)
            .bind(letter.link_expires_at)
            .bind(&letter.recipient)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if set {
            outbox::insert(letter).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(set)
    }.await)?;
    Ok(set)
}

/// The account an unexpired link belongs to.
pub async fn link_owner(
    store: &Store,
    token_hash: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let owner: Option<(i64,)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT id FROM users WHERE confirm_token_hash = $1 AND confirm_token_expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await)?;
    Ok(owner.map(|(id,)| id))
}

/// Confirms `user_id`'s email with its unexpired link, once. False if the
/// link is unknown, used, expired, or another account's.
pub async fn confirm_email(
    store: &Store,
    token_hash: &str,
    user_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let done = on_pool!(store, pool => sqlx::query(
        "UPDATE users SET email_confirmed_at = $1, confirm_token_hash = NULL, \
         confirm_token_expires_at = NULL \
         WHERE confirm_token_hash = $2 AND confirm_token_expires_at > $1 AND id = $3",
    )
    .bind(now)
    .bind(token_hash)
    .bind(user_id)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// Whoever followed an unexpired link takes the account: the email is
/// confirmed, the password becomes `password_hash`, every session of the
/// account ends, and a saved card (maybe someone else's) is forgotten.
/// Returns the account's id and email; `None` if the link is unknown,
/// used or expired.
pub async fn claim_with_password(
    store: &Store,
    token_hash: &str,
    password_hash: &str,
    now: i64,
) -> Result<Option<(i64, String)>, StoreError> {
    let sql =
        "UPDATE users SET password_hash = $1, email_confirmed_at = $2, confirm_token_hash = NULL, \
             confirm_token_expires_at = NULL, payment_token = NULL, payment_customer = NULL, \
             payment_brand = NULL, payment_last4 = NULL \
             WHERE confirm_token_hash = $3 AND confirm_token_expires_at > $2 RETURNING id, email";
    replace_password_by_link(store, sql, token_hash, password_hash, now).await
}

/// Follows a password reset link: the password becomes `password_hash`,
/// the email counts as confirmed, the link is used up and every session of
/// the account ends. A card saved while the email was unconfirmed (perhaps
/// by someone else) is forgotten. Returns the account's id and email;
/// `None` if the link is unknown, used or expired.
pub async fn reset_password(
    store: &Store,
    token_hash: &str,
    password_hash: &str,
    now: i64,
) -> Result<Option<(i64, String)>, StoreError> {
    let sql = "UPDATE users SET password_hash = $1, confirm_token_hash = NULL, \
             confirm_token_expires_at = NULL, \
             payment_token = CASE WHEN email_confirmed_at IS NULL THEN NULL ELSE payment_token END, \
             payment_customer = CASE WHEN email_confirmed_at IS NULL THEN NULL ELSE payment_customer END, \
             payment_brand = CASE WHEN email_confirmed_at IS NULL THEN NULL ELSE payment_brand END, \
             payment_last4 = CASE WHEN email_confirmed_at IS NULL THEN NULL ELSE payment_last4 END, \
             email_confirmed_at = COALESCE(email_confirmed_at, $2) \
             WHERE confirm_token_hash = $3 AND confirm_token_expires_at > $2 \
             AND password_hash IS NOT NULL AND disabled_at IS NULL RETURNING id, email";
    replace_password_by_link(store, sql, token_hash, password_hash, now).await
}

/// Runs `sql` — an `UPDATE users … WHERE confirm_token_hash = $3 AND
/// confirm_token_expires_at > $2 RETURNING id, email` that sets the
/// password to `$1` — and, if a link matched, ends every session of its
/// account, in one transaction.
async fn replace_password_by_link(
    store: &Store,
    sql: &'static str,
    token_hash: &str,
    password_hash: &str,
    now: i64,
) -> Result<Option<(i64, String)>, StoreError> {
    let replaced = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let replaced: Option<(i64, String)> = sqlx::query_as(sql)
            .bind(password_hash)
            .bind(now)
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((user_id, _)) = &replaced {
            sqlx::query("DELETE FROM auth_sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(replaced)
    }.await)?;
    Ok(replaced)
}

/// Signs `user_id` in on the session `new_key`, moving what the browser's
/// previous session (`old_key`) had — its holds and purchases — over to it,
/// and ending any sign-in the previous session carried.
pub async fn start_session(
    store: &Store,
    user_id: i64,
    old_key: &str,
    new_key: &str,
    now: i64,
) -> Result<(), StoreError> {
    on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        sqlx::query("DELETE FROM auth_sessions WHERE token_hash = $1 OR expires_at <= $2")
            .bind(old_key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO auth_sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(new_key)
        .bind(user_id)
        .bind(now)
        .bind(now + SESSION_LIFETIME_MS)
        .execute(&mut *tx)
        .await?;
        // Purchase before hold: the lock order checkout uses.
        sqlx::query("UPDATE purchases SET session_id = $1 WHERE session_id = $2")
            .bind(new_key)
            .bind(old_key)
            .execute(&mut *tx)
            .await?;
        // The browser's holds now count towards the account's limit too.
        sqlx::query("UPDATE holds SET session_id = $1, user_id = $3 WHERE session_id = $2")
            .bind(new_key)
            .bind(old_key)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }.await)?;
    Ok(())
}

pub async fn end_session(store: &Store, session_key: &str) -> Result<(), StoreError> {
    on_pool!(store, pool => sqlx::query("DELETE FROM auth_sessions WHERE token_hash = $1")
        .bind(session_key)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(())
}

/// Replaces the account's password hash and ends every sign-in of the
/// account except the session stored as `keep_session`.
pub async fn set_password(
    store: &Store,
    user_id: i64,
    password_hash: &str,
    keep_session: &str,
) -> Result<(), StoreError> {
    on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM auth_sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep_session)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }.await)?;
    Ok(())
}

/// Saves the account's card, or with `None` forgets it (the processor's
/// customer stays, for the next card).
pub async fn set_payment_method(
    store: &Store,
    user_id: i64,
    card: Option<(&str, Option<&str>, &str, &str)>,
) -> Result<(), StoreError> {
    let Some((token, customer, brand, last4)) = card else {
        on_pool!(store, pool => sqlx::query(
            "UPDATE users SET payment_token = NULL, payment_brand = NULL, payment_last4 = NULL \
             WHERE id = $1",
        )
        .bind(user_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        return Ok(());
    };
    on_pool!(store, pool => sqlx::query(
        "UPDATE users SET payment_token = $1, payment_customer = $2, payment_brand = $3, \
         payment_last4 = $4 WHERE id = $5",
    )
    .bind(token)
    .bind(customer)
    .bind(brand)
    .bind(last4)
    .bind(user_id)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub struct MyTicketRow {
    pub ticket_id: i64,
    pub purchase_id: i64,
    #[sqlx(try_from = "String")]
    pub purchase_status: PurchaseStatus,
    pub event_id: i64,
    pub event_name: String,
    pub venue: String,
    pub city: String,
    pub starts_at: i64,
    #[sqlx(try_from = "String")]
    pub refund_policy: RefundPolicy,
    pub section: String,
    pub row_label: String,
    pub number: i64,
    pub price_cents: i64,
    #[sqlx(try_from = "String")]
    pub status: TicketStatus,
    pub code: String,
}

/// Tickets of the account's purchases: those made signed in, and guest
/// checkouts with its email once that email is confirmed.
pub async fn tickets_of_account(
    store: &Store,
    user_id: i64,
) -> Result<Vec<MyTicketRow>, StoreError> {
    Ok(on_pool!(store, pool => sqlx::query_as::<_, MyTicketRow>(
        "SELECT tk.id AS ticket_id, p.id AS purchase_id, p.status AS purchase_status, \
         e.id AS event_id, e.name AS event_name, v.name AS venue, v.city, e.starts_at, e.refund_policy, \
         sec.name AS section, s.row_label, s.number, t.price_cents, tk.status, tk.code \
         FROM purchases p JOIN users u ON u.id = p.user_id \
         JOIN tickets tk ON tk.purchase_id = p.id \
         JOIN events e ON e.id = p.event_id JOIN venues v ON v.id = e.venue_id \
         JOIN seats s ON s.id = tk.seat_id JOIN sections sec ON sec.id = s.section_id \
         JOIN price_tiers t ON t.id = s.tier_id \
         WHERE p.user_id = $1 AND (p.by_account OR u.email_confirmed_at IS NOT NULL) \
         ORDER BY e.starts_at, tk.id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)?)
}
