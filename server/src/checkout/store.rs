//! Purchases in SQL. A purchase is recorded `pending` before the processor
//! is called, its payment's id is recorded before it is confirmed, and it
//! is settled after; a crash anywhere in between leaves a row that
//! [`super::Checkout::reconcile`] settles later. Every settling statement
//! is conditional on the state it settles from, so of two settlers (a
//! retry, the reconciler, another instance) exactly one wins.
//!
//! Lock order on PostgreSQL: purchase, then hold, then seats (and tickets),
//! in every transaction here.

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
    pub request_key: String,
    pub request_fingerprint: Option<String>,
    pub processor_key: String,
    pub processor_customer: Option<String>,
    pub status: String,
    pub total_cents: i64,
    pub payment_ref: Option<String>,
    pub failure: Option<String>,
    pub user_id: i64,
    /// Bought while signed in to the account `user_id`.
    pub by_account: bool,
    pub hold_expires_before: Option<i64>,
    pub attempt: i64,
    pub check_failures: i64,
    pub watch_until: Option<i64>,
}

pub(super) const PURCHASE_COLUMNS: &str = "id, event_id, hold_id, session_id, request_key, \
     request_fingerprint, processor_key, processor_customer, status, total_cents, payment_ref, \
     failure, user_id, by_account, hold_expires_before, attempt, check_failures, watch_until";

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

/// Times that [`begin_purchase`] and [`take_over`] set.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub now: i64,
    /// The hold lasts at least until `now` plus this while a charge is in flight.
    pub payment_grace_ms: i64,
    /// The reconciler looks at a pending purchase this long after its last attempt.
    pub reconcile_after_ms: i64,
}

#[derive(Debug)]
pub enum BeginOutcome {
    /// A purchase under this key exists already in this session (a retry).
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

/// Extends an active hold and its held seats to at least `$until`, inside `$tx`.
macro_rules! extend_hold {
    ($tx:expr, $hold_id:expr, $until:expr) => {{
        let until: i64 = $until;
        sqlx::query(
            "UPDATE holds SET expires_at = $1 WHERE id = $2 AND status = 'active' AND expires_at < $1",
        )
        .bind(until)
        .bind($hold_id)
        .execute(&mut *$tx)
        .await?;
        sqlx::query(
            "UPDATE seats SET held_until = $1 \
             WHERE hold_id = $2 AND status = 'held' AND held_until < $1",
        )
        .bind(until)
        .bind($hold_id)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// The user a purchase is recorded for, and whether it was bought signed
/// in, inside `$tx`. A guest purchase records (or reuses) a user row for
/// its email; the no-op update makes RETURNING give the id of an existing
/// row too, in one statement.
macro_rules! buyer_user {
    ($tx:expr, $buyer:expr, $now:expr) => {
        match $buyer {
            Buyer::Account(user_id) => (user_id, true),
            Buyer::Guest(email) => {
                let (user_id,): (i64,) = sqlx::query_as(
                    "INSERT INTO users (email, created_at) VALUES ($1, $2) \
                     ON CONFLICT (email) DO UPDATE SET email = excluded.email RETURNING id",
                )
                .bind(email)
                .bind($now)
                .fetch_one(&mut *$tx)
                .await?;
                (user_id, false)
            }
        }
    };
}

/// Records a pending purchase of an active hold, remembering the hold's
/// expiry, and extends the hold so it cannot expire while the processor
/// is charging.
///
/// The purchase row is inserted before the hold and its seats are
/// touched, the lock order of this module, so a retry racing a settling
/// purchase waits instead of deadlocking.
pub async fn begin_purchase(
    store: &Store,
    new: NewPurchase<'_>,
    timing: Timing,
) -> Result<BeginOutcome, StoreError> {
    if let Some(existing) = purchase_by_request(store, new.session_id, new.request_key).await? {
        return Ok(BeginOutcome::Existing(existing));
    }
    let attempt = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let hold: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
            "SELECT event_id, session_id, status, expires_at, total_cents FROM holds WHERE id = $1",
        )
        .bind(new.hold_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((event_id, owner, status, expires_at, total_cents)) = hold else {
            return Ok(BeginOutcome::HoldNotFound);
        };
        if owner != new.session_id {
            return Ok(BeginOutcome::HoldNotFound);
        }
        if status != "active" || expires_at <= timing.now {
            return Ok(BeginOutcome::HoldNotActive);
        }
        let (user_id, by_account) = buyer_user!(tx, new.buyer, timing.now);
        if crate::inventory::buyer_limit::over_limit_at_purchase(&mut tx, user_id, new.hold_id)
            .await?
            .is_some()
        {
            return Ok(BeginOutcome::TicketLimitExceeded);
        }
        let sql = format!(
            "INSERT INTO purchases (event_id, hold_id, user_id, session_id, request_key, \
             request_fingerprint, processor_key, processor_customer, status, total_cents, \
             hold_expires_before, next_check_at, created_at, updated_at, by_account) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11, $12, $12, $13) \
             RETURNING {PURCHASE_COLUMNS}"
        );
        let inserted = sqlx::query_as::<_, PurchaseRow>(&sql)
            .bind(event_id)
            .bind(new.hold_id)
            .bind(user_id)
            .bind(new.session_id)
            .bind(new.request_key)
            .bind(new.fingerprint)
            .bind(new.processor_key)
            .bind(new.customer)
            .bind(total_cents)
            .bind(expires_at)
            .bind(timing.now + timing.reconcile_after_ms)
            .bind(timing.now)
            .bind(by_account)
            .fetch_one(&mut *tx)
            .await;
        match inserted {
            Ok(row) => {
                extend_hold!(tx, new.hold_id, timing.now + timing.payment_grace_ms);
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
        Ok(BeginOutcome::HoldNotActive) => {
            match purchase_by_request(store, new.session_id, new.request_key).await? {
                Some(existing) => Ok(BeginOutcome::Existing(existing)),
                None => Ok(BeginOutcome::HoldNotActive),
            }
        }
        other => Ok(other?),
    }
}

/// A retry takes a pending purchase over: a new attempt number and a fresh
/// reconciliation time, so the reconciler leaves alone a purchase whose
/// charge is in flight again, and the payment grace for that charge.
/// `None` if it is no longer pending.
pub async fn take_over(
    store: &Store,
    purchase_id: i64,
    timing: Timing,
) -> Result<Option<PurchaseRow>, StoreError> {
    let sql = format!(
        "UPDATE purchases SET attempt = attempt + 1, updated_at = $1, next_check_at = $2, \
         check_failures = 0 WHERE id = $3 AND status = 'pending' RETURNING {PURCHASE_COLUMNS}"
    );
    let row = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let row = sqlx::query_as::<_, PurchaseRow>(&sql)
            .bind(timing.now)
            .bind(timing.now + timing.reconcile_after_ms)
            .bind(purchase_id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = &row {
            extend_hold!(tx, row.hold_id, timing.now + timing.payment_grace_ms);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(row)
    }.await)?;
    Ok(row)
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

/// Records the payment's id on a pending purchase, in its own commit,
/// before the payment is confirmed: from then on its outcome can always be
/// looked up by id. The confirmation about to start is a charge in flight,
/// so the reconciler's next look moves past it. `false` if the purchase is
/// no longer pending (or, which should not happen, has another payment).
pub async fn record_intent(
    store: &Store,
    purchase_id: i64,
    intent_id: &str,
    timing: Timing,
) -> Result<bool, StoreError> {
    let updated = on_pool!(store, pool => sqlx::query(
        "UPDATE purchases SET payment_ref = $1, next_check_at = $2 \
         WHERE id = $3 AND status = 'pending' AND (payment_ref IS NULL OR payment_ref = $1)",
    )
    .bind(intent_id)
    .bind(timing.now + timing.reconcile_after_ms)
    .bind(purchase_id)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(updated == 1)
}

/// What [`complete_purchase`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Completion {
    /// Seats sold, tickets issued, purchase paid.
    Sold,
    /// It is no longer pending: someone else settled it first.
    AlreadySettled,
    /// The hold no longer has all its seats; nothing was changed.
    SeatsLost,
}

/// Sells the hold's seats to a charged purchase: purchase `paid`, seats
/// `sold`, tickets `valid`, in one transaction.
pub async fn complete_purchase(
    store: &Store,
    purchase: &PurchaseRow,
    intent_id: &str,
    signer: &TicketSigner,
    now: i64,
) -> Result<Completion, StoreError> {
    let completion = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let version = crate::bump_event_version!(tx, purchase.event_id);
        // Claim the purchase first: of two settlers, the second blocks here
        // (PostgreSQL row lock, SQLite write lock) and then finds it settled.
        let paid = sqlx::query(
            "UPDATE purchases SET status = 'paid', payment_ref = $1, updated_at = $2, \
             next_check_at = NULL, check_failures = 0 WHERE id = $3 AND status = 'pending'",
        )
        .bind(intent_id)
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

/// How a pending purchase is settled as `failed`.
#[derive(Clone, Copy, Debug)]
pub struct Failure<'a> {
    pub reason: &'a str,
    /// Settle only if no retry took it over since this attempt was read
    /// (the reconciler's guesses); `None`: whatever the attempt (a
    /// processor's definite answer).
    pub attempt: Option<i64>,
    /// Its payment could still succeed late: the reconciler watches it
    /// until then.
    pub watch_until: Option<i64>,
}

/// Settles a pending purchase as `failed`, and gives the hold back the
/// expiry it had before the attempt (the payment grace covers a charge in
/// flight only). `false` if it was no longer pending (or was taken over).
pub async fn settle_failed(
    store: &Store,
    purchase: &PurchaseRow,
    failure: Failure<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let settled = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE purchases SET status = 'failed', failure = $1, updated_at = $2, \
             watch_until = $3, next_check_at = CASE WHEN $3 IS NULL THEN NULL ELSE $2 END, \
             check_failures = 0 \
             WHERE id = $4 AND status = 'pending' AND ($5 IS NULL OR attempt = $5)",
        )
        .bind(failure.reason)
        .bind(now)
        .bind(failure.watch_until)
        .bind(purchase.id)
        .bind(failure.attempt)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(before) = purchase.hold_expires_before {
            sqlx::query("UPDATE holds SET expires_at = $1 WHERE id = $2 AND status = 'active'")
                .bind(before)
                .bind(purchase.hold_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE seats SET held_until = $1 WHERE hold_id = $2 AND status = 'held'")
                .bind(before)
                .bind(purchase.hold_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(true)
    }.await)?;
    Ok(settled)
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
    .bind(&purchase.status)
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
    .bind(&purchase.status)
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
    store: &Store,
    purchase: &PurchaseRow,
    now: i64,
) -> Result<bool, StoreError> {
    let finished = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        // The event first, as in complete_purchase: one lock order.
        let version = crate::bump_event_version!(tx, purchase.event_id);
        let updated = sqlx::query(
            "UPDATE purchases SET status = 'refunded', updated_at = $1, next_check_at = NULL, \
             check_failures = 0 WHERE id = $2 AND status = 'refunding'",
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
            "SELECT seat_id FROM tickets WHERE purchase_id = $1 AND status = 'refunded'",
        )
        .bind(purchase.id)
        .fetch_all(&mut *tx)
        .await?;
        let seat_ids: Vec<i64> = seats.iter().map(|(id,)| *id).collect();
        if !seat_ids.is_empty() {
            let mut release = QueryBuilder::new(
                "UPDATE seats SET status = 'available', hold_id = NULL, held_until = NULL, version = ",
            );
            release.push_bind(version).push(" WHERE status = 'sold' AND id IN (");
            push_id_list(&mut release, &seat_ids);
            release.build().execute(&mut *tx).await?;
            crate::insert_changes!(tx, purchase.event_id, version, seat_ids.iter().copied(), SeatStatus::Available, now);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(true)
    }.await)?;
    Ok(finished)
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
