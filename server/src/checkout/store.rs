//! Purchases in SQL. A purchase is recorded `pending` before the processor
//! is called, its payment's id is recorded before it is confirmed, and it
//! is settled after; a crash anywhere in between leaves a row that
//! [`super::Checkout::reconcile`] settles later. Every settling statement
//! is conditional on the state it settles from, so of two settlers (a
//! retry, the reconciler, another instance) exactly one wins.
//!
//! The writes that move seats (recording a purchase, which extends its
//! hold; selling; settling failed; finishing a refund) and the recording of
//! a payment's id go through the seat writer
//! ([`crate::inventory::writer::purchases`]), which groups many of them in
//! one commit. Lock order on PostgreSQL: event, then purchase, then hold,
//! then seats (and tickets); a transaction here that does not move seats
//! locks one purchase (and its tickets) only.

use crate::inventory::batcher::SeatWriter;
use crate::inventory::writer::purchases::{self, Payer};
use crate::on_pool;
use crate::store::{BeginWrite, Store, StoreError};
use app::error::ApiError;
use app::types::TicketStatus;

pub use crate::inventory::writer::purchases::{
    BeginOutcome, Completion, PurchaseRow, Timing, PURCHASE_COLUMNS,
};

/// Who is paying: a signed-in account, or a guest giving an email.
#[derive(Clone, Copy, Debug)]
pub enum Buyer<'a> {
    Account(i64),
    Guest(&'a str),
}

/// A purchase about to be recorded.
#[derive(Clone, Copy, Debug)]
pub struct NewPurchase<'a> {
    pub hold_id: i64,
    pub session_id: &'a str,
    pub request_key: &'a str,
    pub fingerprint: &'a str,
    pub processor_key: &'a str,
    pub customer: Option<&'a str>,
    pub buyer: Buyer<'a>,
}

/// The purchase a session made under its `Idempotency-Key`.
pub async fn purchase_by_request(
    store: &Store,
    session_id: &str,
    key: &str,
) -> Result<Option<PurchaseRow>, StoreError> {
    let sql = format!(
        "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE session_id = $1 AND request_key = $2"
    );
    let row = on_pool!(store, pool => sqlx::query_as::<_, PurchaseRow>(&sql)
        .bind(session_id).bind(key).fetch_optional(pool).await)?;
    Ok(row)
}

pub async fn purchase(store: &Store, purchase_id: i64) -> Result<Option<PurchaseRow>, StoreError> {
    let sql = format!("SELECT {PURCHASE_COLUMNS} FROM purchases WHERE id = $1");
    let row = on_pool!(store, pool =>
        sqlx::query_as::<_, PurchaseRow>(&sql).bind(purchase_id).fetch_optional(pool).await)?;
    Ok(row)
}

/// The purchase paid with the processor's payment `intent_id`, if its id
/// was recorded.
pub async fn purchase_by_payment(
    store: &Store,
    intent_id: &str,
) -> Result<Option<PurchaseRow>, StoreError> {
    let sql = format!("SELECT {PURCHASE_COLUMNS} FROM purchases WHERE payment_ref = $1");
    let row = on_pool!(store, pool =>
        sqlx::query_as::<_, PurchaseRow>(&sql).bind(intent_id).fetch_optional(pool).await)?;
    Ok(row)
}

/// Whether the processor's event `id` was handled already.
pub async fn event_handled(store: &Store, id: &str) -> Result<bool, StoreError> {
    let found: Option<(String,)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT id FROM processor_events WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)?;
    Ok(found.is_some())
}

/// Remembers that the processor's event `id` was handled (a second
/// delivery of it, or a replay, is then acknowledged without acting).
pub async fn remember_event(
    store: &Store,
    id: &str,
    kind: &str,
    now: i64,
) -> Result<(), StoreError> {
    on_pool!(store, pool => sqlx::query(
        "INSERT INTO processor_events (id, kind, received_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(kind)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Records a pending purchase of an active hold, remembering the hold's
/// expiry, and extends the hold so it cannot expire while the processor
/// is charging (through the seat writer: the hold's seats move).
pub async fn begin_purchase(
    store: &Store,
    seats: &SeatWriter,
    new: NewPurchase<'_>,
    timing: Timing,
) -> Result<BeginOutcome, ApiError> {
    // The hold's event, whose lock the writer takes; the writer checks the
    // rest again under it.
    let hold = crate::inventory::holds::hold(store, new.hold_id).await?;
    let Some(hold) = hold.filter(|hold| hold.session_id == new.session_id) else {
        return existing_or(store, new, BeginOutcome::HoldNotFound).await;
    };
    let begun = seats
        .begin_purchase(purchases::BeginPurchase {
            hold_id: new.hold_id,
            event_id: hold.event_id,
            session_id: new.session_id.to_string(),
            request_key: new.request_key.to_string(),
            fingerprint: new.fingerprint.to_string(),
            processor_key: new.processor_key.to_string(),
            customer: new.customer.map(str::to_string),
            payer: match new.buyer {
                Buyer::Account(id) => Payer::Account(id),
                Buyer::Guest(email) => Payer::Guest(email.to_string()),
            },
            timing,
        })
        .await?;
    match begun {
        BeginOutcome::Started(row) => Ok(BeginOutcome::Started(row)),
        refused => existing_or(store, new, refused).await,
    }
}

/// A refused purchase may be a retry (its hold is being paid for or was
/// sold, perhaps by another server): then the purchase already recorded
/// under its key, else the refusal. Looked up only after a refusal, so a
/// first attempt does not pay for the lookup.
async fn existing_or(
    store: &Store,
    new: NewPurchase<'_>,
    refused: BeginOutcome,
) -> Result<BeginOutcome, ApiError> {
    match purchase_by_request(store, new.session_id, new.request_key).await? {
        Some(existing) => Ok(BeginOutcome::Existing(existing)),
        None => Ok(refused),
    }
}

/// Remembers the processor customer a purchase's payment is made for,
/// before the payment is created (a replay must send the same).
pub async fn set_customer(
    store: &Store,
    purchase_id: i64,
    customer: Option<&str>,
) -> Result<(), StoreError> {
    on_pool!(store, pool => sqlx::query(
        "UPDATE purchases SET processor_customer = $1 WHERE id = $2 AND status = 'pending'",
    )
    .bind(customer)
    .bind(purchase_id)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Purchases the reconciler should look at now, soonest due first.
pub async fn due(store: &Store, now: i64, limit: i64) -> Result<Vec<PurchaseRow>, StoreError> {
    let sql = format!(
        "SELECT {PURCHASE_COLUMNS} FROM purchases \
         WHERE next_check_at IS NOT NULL AND next_check_at <= $1 \
         ORDER BY next_check_at, id LIMIT $2"
    );
    let rows = on_pool!(store, pool =>
        sqlx::query_as::<_, PurchaseRow>(&sql).bind(now).bind(limit).fetch_all(pool).await)?;
    Ok(rows)
}

/// Looks at a purchase again at `at`, one more failure into its backoff;
/// unless it changed since it was read (a retry took it over, or it was
/// settled), which has set its own next look.
pub async fn defer(store: &Store, purchase: &PurchaseRow, at: i64) -> Result<(), StoreError> {
    on_pool!(store, pool => sqlx::query(
        "UPDATE purchases SET next_check_at = $1, check_failures = check_failures + 1 \
         WHERE id = $2 AND status = $3 AND attempt = $4",
    )
    .bind(at)
    .bind(purchase.id)
    .bind(purchase.status.as_str())
    .bind(purchase.attempt)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Nothing left to check on this purchase (unless it changed since it
/// was read).
pub async fn done_checking(store: &Store, purchase: &PurchaseRow) -> Result<(), StoreError> {
    on_pool!(store, pool => sqlx::query(
        "UPDATE purchases SET next_check_at = NULL, watch_until = NULL \
         WHERE id = $1 AND status = $2 AND attempt = $3",
    )
    .bind(purchase.id)
    .bind(purchase.status.as_str())
    .bind(purchase.attempt)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// What [`begin_refund`] decided.
#[derive(Debug)]
pub enum RefundDecision {
    /// Recorded: `refunding`, its tickets no longer admit anyone.
    Started(Box<PurchaseRow>),
    /// A ticket was already admitted at the gate; nothing changed.
    TicketUsed,
    /// It is not paid (any more); nothing changed.
    NotPaid,
}

/// Decides the refund of a paid purchase before the processor is asked:
/// purchase `refunding`, its `valid` tickets `refunded` (no gate admits
/// them), refused if one was already admitted. A scan admits only a
/// `valid` ticket, in one conditional UPDATE, so it lands either before
/// this (and the refund is refused) or after (and the ticket is), never
/// both.
pub async fn begin_refund(
    store: &Store,
    purchase_id: i64,
    now: i64,
    reconcile_after_ms: i64,
) -> Result<RefundDecision, StoreError> {
    let sql = format!(
        "UPDATE purchases SET status = 'refunding', updated_at = $1, next_check_at = $2, \
         check_failures = 0 WHERE id = $3 AND status = 'paid' RETURNING {PURCHASE_COLUMNS}"
    );
    let decision = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let Some(row) = sqlx::query_as::<_, PurchaseRow>(&sql)
            .bind(now)
            .bind(now + reconcile_after_ms)
            .bind(purchase_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(RefundDecision::NotPaid);
        };
        // Tickets before the check: on PostgreSQL this waits for a scan
        // holding a ticket's row, and the count below then sees its `used`.
        sqlx::query("UPDATE tickets SET status = 'refunded' WHERE purchase_id = $1 AND status = 'valid'")
            .bind(purchase_id)
            .execute(&mut *tx)
            .await?;
        let (used,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM tickets WHERE purchase_id = $1 AND status = 'used'",
        )
        .bind(purchase_id)
        .fetch_one(&mut *tx)
        .await?;
        if used > 0 {
            tx.rollback().await?;
            return Ok(RefundDecision::TicketUsed);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(RefundDecision::Started(Box::new(row)))
    }.await)?;
    Ok(decision)
}

/// Decides the refund of a payment whose purchase was not sold (its hold
/// lost its seats, or it had failed by the time the payment succeeded):
/// `refunding` with that payment's id and the reason, before the
/// processor is asked. `false` if it is neither pending nor failed.
pub async fn begin_unsold_refund(
    store: &Store,
    purchase_id: i64,
    intent_id: &str,
    failure: &str,
    now: i64,
    reconcile_after_ms: i64,
) -> Result<bool, StoreError> {
    let updated = on_pool!(store, pool => sqlx::query(
        "UPDATE purchases SET status = 'refunding', payment_ref = $1, \
         failure = COALESCE(failure, $2), updated_at = $3, next_check_at = $4, \
         check_failures = 0, watch_until = NULL \
         WHERE id = $5 AND status IN ('pending', 'failed')",
    )
    .bind(intent_id)
    .bind(failure)
    .bind(now)
    .bind(now + reconcile_after_ms)
    .bind(purchase_id)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(updated == 1)
}

/// Finishes a refund the processor has made: purchase `refunded`, the
/// seats of its tickets back on sale. `false` if it was not refunding.
pub async fn finish_refund(
    seats: &SeatWriter,
    purchase: &PurchaseRow,
    now: i64,
) -> Result<bool, ApiError> {
    seats
        .finish_refund(purchases::FinishRefund {
            purchase: purchase.clone(),
            now,
        })
        .await
}

/// Takes back a buyer's refund the processor refused: `paid` again, its
/// tickets valid again. Automatic refunds (with a failure reason) are never
/// taken back. `false` if there was nothing to take back.
pub async fn revert_refund(store: &Store, purchase_id: i64, now: i64) -> Result<bool, StoreError> {
    let reverted = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE purchases SET status = 'paid', updated_at = $1, next_check_at = NULL, \
             check_failures = 0 WHERE id = $2 AND status = 'refunding' AND failure IS NULL",
        )
        .bind(now)
        .bind(purchase_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE tickets SET status = 'valid' WHERE purchase_id = $1 AND status = 'refunded'")
            .bind(purchase_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(true)
    }.await)?;
    Ok(reverted)
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

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TicketRow {
    pub id: i64,
    pub seat_id: i64,
    pub section: String,
    pub row_label: String,
    pub number: i64,
    pub price_cents: i64,
    #[sqlx(try_from = "String")]
    pub status: TicketStatus,
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
