//! Purchases and refunds in SQL. A purchase is recorded `pending` before
//! the processor is called and settled after, so a crash in between leaves
//! a row that [`super::Checkout::reconcile_pending`] can settle later.

use crate::on_pool;
use crate::store::{push_id_list, BeginWrite, Store, StoreError};
use crate::tickets::codes::{TicketClaim, TicketSigner};
use app::types::SeatStatus;
use sqlx::QueryBuilder;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PurchaseRow {
    pub id: i64,
    pub event_id: i64,
    pub hold_id: i64,
    pub session_id: String,
    pub idempotency_key: String,
    pub status: String,
    pub total_cents: i64,
    pub payment_ref: Option<String>,
    pub failure: Option<String>,
    pub user_id: i64,
    /// Bought while signed in to the account `user_id`.
    pub by_account: bool,
}

const PURCHASE_COLUMNS: &str = "id, event_id, hold_id, session_id, idempotency_key, status, \
     total_cents, payment_ref, failure, user_id, by_account";

/// Who is paying: a signed-in account, or a guest giving an email.
#[derive(Clone, Copy, Debug)]
pub enum Buyer<'a> {
    Account(i64),
    Guest(&'a str),
}

#[derive(Debug)]
pub enum BeginOutcome {
    /// A purchase under this key exists already (a retry).
    Existing(PurchaseRow),
    /// No such hold for this session.
    HoldNotFound,
    /// The hold expired, was released, or is already being paid for.
    HoldNotActive,
    /// The buyer's email already has so many tickets of the event (bought
    /// or being paid for) that this hold would pass the per-buyer limit.
    TicketLimitExceeded,
    /// Recorded as pending; the hold now lasts at least until the grace ends.
    Started(PurchaseRow),
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub async fn purchase_by_key(store: &Store, key: &str) -> Result<Option<PurchaseRow>, StoreError> {
    let sql = format!("SELECT {PURCHASE_COLUMNS} FROM purchases WHERE idempotency_key = $1");
    let row = on_pool!(store, pool =>
        sqlx::query_as::<_, PurchaseRow>(&sql).bind(key).fetch_optional(pool).await)?;
    Ok(row)
}

pub async fn purchase(store: &Store, purchase_id: i64) -> Result<Option<PurchaseRow>, StoreError> {
    let sql = format!("SELECT {PURCHASE_COLUMNS} FROM purchases WHERE id = $1");
    let row = on_pool!(store, pool =>
        sqlx::query_as::<_, PurchaseRow>(&sql).bind(purchase_id).fetch_optional(pool).await)?;
    Ok(row)
}

/// Records a pending purchase of an active hold and extends the hold so it
/// cannot expire while the processor is charging.
///
/// Lock order matters on PostgreSQL: the purchase row is inserted before the
/// hold and its seats are touched, the order [`complete_purchase`] uses
/// (purchase, hold, seats), so a retry racing a settling purchase waits
/// instead of deadlocking.
pub async fn begin_purchase(
    store: &Store,
    hold_id: i64,
    session_id: &str,
    key: &str,
    buyer: Buyer<'_>,
    now: i64,
    payment_grace_ms: i64,
) -> Result<BeginOutcome, StoreError> {
    if let Some(existing) = purchase_by_key(store, key).await? {
        return Ok(BeginOutcome::Existing(existing));
    }
    let attempt = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let hold: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
            "SELECT event_id, session_id, status, expires_at, total_cents FROM holds WHERE id = $1",
        )
        .bind(hold_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((event_id, owner, status, expires_at, total_cents)) = hold else {
            return Ok(BeginOutcome::HoldNotFound);
        };
        if owner != session_id {
            return Ok(BeginOutcome::HoldNotFound);
        }
        if status != "active" || expires_at <= now {
            return Ok(BeginOutcome::HoldNotActive);
        }
        let (user_id, by_account) = match buyer {
            Buyer::Account(user_id) => (user_id, true),
            Buyer::Guest(email) => {
                // A guest purchase records (or reuses) a user row for its
                // email. The no-op update makes RETURNING give the id of an
                // existing row too, in one statement.
                let (user_id,): (i64,) = sqlx::query_as(
                    "INSERT INTO users (email, created_at) VALUES ($1, $2) \
                     ON CONFLICT (email) DO UPDATE SET email = excluded.email RETURNING id",
                )
                .bind(email)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                (user_id, false)
            }
        };
        if crate::inventory::buyer_limit::over_limit_at_purchase(&mut tx, user_id, hold_id)
            .await?
            .is_some()
        {
            return Ok(BeginOutcome::TicketLimitExceeded);
        }
        let sql = format!(
            "INSERT INTO purchases (event_id, hold_id, user_id, session_id, idempotency_key, status, \
             total_cents, created_at, updated_at, by_account) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $7, $8) \
             RETURNING {PURCHASE_COLUMNS}"
        );
        let inserted = sqlx::query_as::<_, PurchaseRow>(&sql)
            .bind(event_id)
            .bind(hold_id)
            .bind(user_id)
            .bind(session_id)
            .bind(key)
            .bind(total_cents)
            .bind(now)
            .bind(by_account)
            .fetch_one(&mut *tx)
            .await;
        match inserted {
            Ok(row) => {
                let until = expires_at.max(now + payment_grace_ms);
                sqlx::query("UPDATE holds SET expires_at = $1 WHERE id = $2")
                    .bind(until)
                    .bind(hold_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE seats SET held_until = $1 WHERE hold_id = $2 AND status = 'held'")
                    .bind(until)
                    .bind(hold_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(BeginOutcome::Started(row))
            }
            // Same key raced us, or another key is already paying this hold.
            Err(error) if is_unique_violation(&error) => {
                tx.rollback().await?;
                Ok(BeginOutcome::HoldNotActive)
            }
            Err(error) => Err(error),
        }
    }.await);
    match attempt {
        Ok(BeginOutcome::HoldNotActive) => match purchase_by_key(store, key).await? {
            Some(existing) => Ok(BeginOutcome::Existing(existing)),
            None => Ok(BeginOutcome::HoldNotActive),
        },
        other => Ok(other?),
    }
}

/// What [`complete_purchase`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Completion {
    /// Seats sold, tickets issued, purchase paid.
    Sold,
    /// Someone else (a concurrent retry or reconciler) settled it first.
    AlreadySettled,
    /// The hold no longer has all its seats; nothing was changed.
    SeatsLost,
}

/// Sells the hold's seats to a charged purchase: purchase `paid`, seats
/// `sold`, tickets `valid`, in one transaction.
pub async fn complete_purchase(
    store: &Store,
    purchase: &PurchaseRow,
    charge_id: &str,
    signer: &TicketSigner,
    now: i64,
) -> Result<Completion, StoreError> {
    let completion = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let version = crate::bump_event_version!(tx, purchase.event_id);
        // Claim the purchase first: of two settlers, the second blocks here
        // (PostgreSQL row lock, SQLite write lock) and then finds it settled.
        let paid = sqlx::query(
            "UPDATE purchases SET status = 'paid', payment_ref = $1, updated_at = $2 \
             WHERE id = $3 AND status = 'pending'",
        )
        .bind(charge_id)
        .bind(now)
        .bind(purchase.id)
        .execute(&mut *tx)
        .await?;
        if paid.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Completion::AlreadySettled);
        }
        let (seat_count,): (i64,) =
            sqlx::query_as("UPDATE holds SET status = 'purchased' WHERE id = $1 RETURNING seat_count")
                .bind(purchase.hold_id)
                .fetch_one(&mut *tx)
                .await?;
        let sold: Vec<(i64,)> = sqlx::query_as(
            "UPDATE seats SET status = 'sold', held_until = NULL, version = $1 \
             WHERE hold_id = $2 AND status = 'held' RETURNING id",
        )
        .bind(version)
        .bind(purchase.hold_id)
        .fetch_all(&mut *tx)
        .await?;
        if sold.len() as i64 != seat_count {
            tx.rollback().await?;
            return Ok(Completion::SeatsLost);
        }
        let mut tickets = QueryBuilder::new(
            "INSERT INTO tickets (purchase_id, event_id, seat_id, status, code, created_at) ",
        );
        tickets.push_values(&sold, |mut row, (seat_id,)| {
            row.push_bind(purchase.id)
                .push_bind(purchase.event_id)
                .push_bind(*seat_id)
                .push_bind("valid")
                .push_bind(signer.sign(TicketClaim {
                    event_id: purchase.event_id,
                    seat_id: *seat_id,
                    purchase_id: purchase.id,
                }))
                .push_bind(now);
        });
        tickets.build().execute(&mut *tx).await?;
        crate::insert_changes!(tx, purchase.event_id, version, sold.iter().map(|(id,)| *id), SeatStatus::Sold, now);
        tx.commit().await?;
        Ok::<_, sqlx::Error>(Completion::Sold)
    }.await)?;
    Ok(completion)
}

/// Settles a pending purchase as `failed` or `refunded`, with the reason.
pub async fn settle_unsold(
    store: &Store,
    purchase_id: i64,
    status: &str,
    failure: &str,
    payment_ref: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    on_pool!(store, pool => sqlx::query(
        "UPDATE purchases SET status = $1, failure = $2, payment_ref = COALESCE($3, payment_ref), \
         updated_at = $4 WHERE id = $5 AND status = 'pending'",
    )
    .bind(status)
    .bind(failure)
    .bind(payment_ref)
    .bind(now)
    .bind(purchase_id)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Purchases left pending since before `cutoff` (their process died, or
/// the processor never answered).
pub async fn stale_pending(store: &Store, cutoff: i64) -> Result<Vec<PurchaseRow>, StoreError> {
    let sql = format!(
        "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE status = 'pending' AND updated_at <= $1 \
         ORDER BY id LIMIT 100"
    );
    let rows = on_pool!(store, pool =>
        sqlx::query_as::<_, PurchaseRow>(&sql).bind(cutoff).fetch_all(pool).await)?;
    Ok(rows)
}

/// Whether a payment for the hold is under way (its seats must stay held).
pub async fn hold_has_pending_purchase(store: &Store, hold_id: i64) -> Result<bool, StoreError> {
    let (count,): (i64,) = on_pool!(store, pool => sqlx::query_as(
        "SELECT COUNT(*) FROM purchases WHERE hold_id = $1 AND status = 'pending'",
    )
    .bind(hold_id)
    .fetch_one(pool)
    .await)?;
    Ok(count > 0)
}

/// Refunds a paid purchase in the database: tickets `refunded`, their seats
/// back on sale. Returns `false` if it was not paid (already refunded).
pub async fn refund_purchase(
    store: &Store,
    purchase: &PurchaseRow,
    now: i64,
) -> Result<bool, StoreError> {
    let refunded = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let version = crate::bump_event_version!(tx, purchase.event_id);
        let updated = sqlx::query(
            "UPDATE purchases SET status = 'refunded', updated_at = $1 WHERE id = $2 AND status = 'paid'",
        )
        .bind(now)
        .bind(purchase.id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let seats: Vec<(i64,)> = sqlx::query_as(
            "UPDATE tickets SET status = 'refunded' WHERE purchase_id = $1 AND status = 'valid' RETURNING seat_id",
        )
        .bind(purchase.id)
        .fetch_all(&mut *tx)
        .await?;
        let mut release = QueryBuilder::new(
            "UPDATE seats SET status = 'available', hold_id = NULL, held_until = NULL, version = ",
        );
        release.push_bind(version).push(" WHERE status = 'sold' AND id IN (");
        let seat_ids: Vec<i64> = seats.iter().map(|(id,)| *id).collect();
        push_id_list(&mut release, &seat_ids);
        if !seats.is_empty() {
            release.build().execute(&mut *tx).await?;
            crate::insert_changes!(tx, purchase.event_id, version, seat_ids.iter().copied(), SeatStatus::Available, now);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(true)
    }.await)?;
    Ok(refunded)
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TicketRow {
    pub id: i64,
    pub seat_id: i64,
    pub section: String,
    pub row_label: String,
    pub number: i64,
    pub price_cents: i64,
    pub status: String,
    pub code: String,
}

pub async fn tickets_of(store: &Store, purchase_id: i64) -> Result<Vec<TicketRow>, StoreError> {
    let rows = on_pool!(store, pool => sqlx::query_as::<_, TicketRow>(
        "SELECT tk.id, tk.seat_id, sec.name AS section, s.row_label, s.number, t.price_cents, \
         tk.status, tk.code FROM tickets tk JOIN seats s ON s.id = tk.seat_id \
         JOIN sections sec ON sec.id = s.section_id JOIN price_tiers t ON t.id = s.tier_id \
         WHERE tk.purchase_id = $1 ORDER BY tk.id",
    )
    .bind(purchase_id)
    .fetch_all(pool)
    .await)?;
    Ok(rows)
}
