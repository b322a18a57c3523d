//! The outbox table: what is to be mailed, written in the transaction of
//! what it announces, taken by one worker at a time under a lease.

use crate::on_pool;
use crate::store::{push_id_list, BeginWrite, BindList, Store, StoreError};
use sqlx::{Database, Encode, QueryBuilder, Type};

/// What a message announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LetterKind {
    /// A sale: the tickets, with the link that opens them.
    Tickets,
    /// A refund decided and made.
    Refund,
    /// A new account's confirmation link.
    ConfirmEmail,
    /// A link to claim an account that was never confirmed.
    ClaimAccount,
    /// A password reset link.
    PasswordReset,
}

app::text_enum!(LetterKind {
    Tickets => "tickets",
    Refund => "refund",
    ConfirmEmail => "confirm_email",
    ClaimAccount => "claim_account",
    PasswordReset => "password_reset",
});

/// One message to send: what it is about, never its text or a link key.
#[derive(Clone, Debug)]
pub struct Letter {
    pub kind: LetterKind,
    pub recipient: String,
    pub purchase_id: Option<i64>,
    pub link_expires_at: Option<i64>,
    pub now: i64,
}

/// Adds a letter to the outbox, to be sent once the caller's transaction
/// commits (for SQL that takes the recipient from the purchase, see
/// [`purchase_letters`]).
pub fn insert<'q, DB: Database>(
    letter: &'q Letter,
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    &'q str: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(
        "INSERT INTO outbox (kind, recipient, purchase_id, link_expires_at, created_at, \
         next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(letter.kind.as_str())
    .bind(letter.recipient.as_str())
    .bind(letter.purchase_id)
    .bind(letter.link_expires_at)
    .bind(letter.now)
}

/// Letters of `kind` about the purchases, each to its purchase's buyer, at
/// `now`: `INSERT … SELECT … WHERE p.id IN (…)`, which the caller may
/// narrow (`AND …`) or order before running it.
pub fn purchase_letters<'q, DB: BindList>(
    kind: LetterKind,
    purchase_ids: &[i64],
    now: i64,
) -> QueryBuilder<'q, DB>
where
    &'q str: Encode<'q, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
{
    let mut letters = QueryBuilder::new(
        "INSERT INTO outbox (kind, recipient, purchase_id, created_at, next_attempt_at) SELECT ",
    );
    letters
        .push_bind(kind.as_str())
        .push(", u.email, p.id, ")
        .push_bind(now)
        .push(", ")
        .push_bind(now)
        .push(" FROM purchases p JOIN users u ON u.id = p.user_id WHERE p.id IN (");
    push_id_list(&mut letters, purchase_ids);
    letters
}

/// Adds the ticket email of a paid purchase again (staff resending it).
/// False if there is no such paid purchase.
pub async fn resend_tickets(store: &Store, purchase_id: i64, now: i64) -> Result<bool, StoreError> {
    let added = on_pool!(store, pool => {
        let mut letter = purchase_letters(LetterKind::Tickets, &[purchase_id], now);
        letter.push(" AND p.status = 'paid'");
        letter.build().execute(pool).await.map(|done| done.rows_affected())
    })?;
    Ok(added == 1)
}

/// A letter taken by this worker.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub purchase_id: Option<i64>,
    pub link_expires_at: Option<i64>,
    pub created_at: i64,
    pub attempts: i64,
}

/// Takes up to `limit` due letters for `lease_ms`: until then no other
/// worker (on this server or another) takes them. A worker that dies
/// mid-send leaves its letters to be taken again when the lease ends.
pub async fn take_due(
    store: &Store,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    // A read first: in WAL mode it takes no lock, so a server with nothing
    // to send does not take SQLite's write lock every poll.
    let due: Option<(i64,)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL \
         AND next_attempt_at <= $1 LIMIT 1",
    )
    .bind(now)
    .fetch_optional(pool)
    .await)?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    // One statement: the rows it moves past `now` are this worker's alone.
    let sql = "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL \
         AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3) \
         AND next_attempt_at <= $2 \
         RETURNING id, kind, recipient, purchase_id, link_expires_at, created_at, attempts";
    // Through the store's write transaction, so on SQLite the sender waits
    // its turn behind the seat writer instead of sleeping in SQLite's busy
    // handler (see `BeginWrite`).
    let taken = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let taken = sqlx::query_as::<_, OutboxRow>(sql)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(taken)
    }.await)?;
    Ok(taken)
}

/// Records a letter as sent (in the store's write transaction, see
/// [`take_due`]).
pub async fn mark_sent(store: &Store, id: i64, now: i64) -> Result<(), StoreError> {
    on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        sqlx::query("UPDATE outbox SET sent_at = $1, last_error = NULL WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }.await)?;
    Ok(())
}

/// Records a failed attempt: tried again at `retry_at`, or with `None`
/// given up (the row stays, with its error, for an operator).
pub async fn mark_failed(
    store: &Store,
    id: i64,
    error: &str,
    retry_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        sqlx::query(
            "UPDATE outbox SET last_error = $1, next_attempt_at = COALESCE($2, next_attempt_at), \
             failed_at = CASE WHEN $2 IS NULL THEN $3 ELSE NULL END WHERE id = $4",
        )
        .bind(error)
        .bind(retry_at)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }.await)?;
    Ok(())
}

/// Letters not yet sent (due, leased or waiting for a retry), for health
/// checks and tests.
pub async fn unsent(store: &Store) -> Result<i64, StoreError> {
    let (count,): (i64,) = on_pool!(store, pool => sqlx::query_as(
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
    )
    .fetch_one(pool)
    .await)?;
    Ok(count)
}
