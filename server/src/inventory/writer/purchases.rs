//! The seat side of checkout: recording a purchase of a hold (which
//! extends the hold for the payment; in runs: [`super::begins`]), taking
//! one over for a retry,
//! recording its payment, selling (in runs: [`super::sales`]), settling
//! it failed (which gives the hold its old expiry back), and finishing a
//! refund (which puts the seats back on sale). Each is decided alone, by
//! statements conditional on the state it settles from, so of two
//! settlers (a retry, the reconciler, another server) exactly one wins;
//! many of them share one commit.
//!
//! Lock order on PostgreSQL: event (the batch's first step), then
//! purchase, then hold, then seats and tickets.

use super::{Batch, SeatWrite};
use crate::mail::outbox::{self, LetterKind};
use crate::on_tx;
use crate::store::{push_id_list, AnyWriteTx};
use crate::ticket_codes::TicketSigner;
use app::types::{PurchaseStatus, SeatStatus};
use sqlx::QueryBuilder;
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PurchaseRow {
    pub id: i64,
    pub event_id: i64,
    pub hold_id: i64,
    pub session_id: String,
    pub request_key: String,
    pub request_fingerprint: Option<String>,
    pub processor_key: String,
    pub processor_customer: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: PurchaseStatus,
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

pub const PURCHASE_COLUMNS: &str = "id, event_id, hold_id, session_id, request_key, \
     request_fingerprint, processor_key, processor_customer, status, total_cents, payment_ref, \
     failure, user_id, by_account, hold_expires_before, attempt, check_failures, watch_until";

/// Times that recording and taking over a purchase set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub now: i64,
    /// The hold lasts at least until `now` plus this while a charge is in flight.
    pub payment_grace_ms: i64,
    /// The reconciler looks at a pending purchase this long after its last attempt.
    pub reconcile_after_ms: i64,
}

impl Timing {
    /// When the payment grace of a charge starting now ends.
    pub(super) fn payment_grace_end(&self) -> i64 {
        self.now + self.payment_grace_ms
    }
}

/// Who pays: a signed-in account, or a guest's email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payer {
    Account(i64),
    Guest(String),
}

/// Record a pending purchase of the hold `hold_id` of `event_id`.
#[derive(Clone, Debug)]
pub struct BeginPurchase {
    pub hold_id: i64,
    pub event_id: i64,
    pub session_id: String,
    pub request_key: String,
    pub fingerprint: String,
    pub processor_key: String,
    pub customer: Option<String>,
    pub payer: Payer,
    pub timing: Timing,
}

#[derive(Debug, PartialEq)]
pub enum BeginOutcome {
    /// A purchase under this key exists already in this session (a retry).
    /// Checkout's answer after the writer refused: the writer itself never
    /// looks the key up, a refused retry finds its hold being paid for.
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

/// A retry takes a pending purchase over.
#[derive(Clone, Debug)]
pub struct TakeOver {
    pub purchase_id: i64,
    pub event_id: i64,
    pub timing: Timing,
}

/// Record the payment's id on a pending purchase.
#[derive(Clone, Debug)]
pub struct RecordPayment {
    pub purchase_id: i64,
    pub event_id: i64,
    pub intent_id: String,
    pub timing: Timing,
}

/// Sell a charged purchase's seats.
#[derive(Clone, Debug)]
pub struct Sell {
    pub purchase: PurchaseRow,
    pub intent_id: String,
    pub signer: Arc<TicketSigner>,
    pub now: i64,
}

/// What selling did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Seats sold, tickets issued, purchase paid.
    Sold,
    /// It is no longer pending: someone else settled it first.
    AlreadySettled,
    /// The hold no longer has all its seats; nothing was changed.
    SeatsLost,
}

/// Settle a pending purchase `failed`.
#[derive(Clone, Debug)]
pub struct FailPurchase {
    pub purchase: PurchaseRow,
    pub reason: String,
    /// Settle only if no retry took it over since this attempt was read
    /// (the reconciler's guesses); `None`: whatever the attempt.
    pub attempt: Option<i64>,
    /// Its payment could still succeed late: the reconciler watches it
    /// until then.
    pub watch_until: Option<i64>,
    pub now: i64,
}

/// Finish a refund the processor has made.
#[derive(Clone, Debug)]
pub struct FinishRefund {
    pub purchase: PurchaseRow,
    pub now: i64,
}

impl From<BeginPurchase> for SeatWrite {
    fn from(begin: BeginPurchase) -> Self {
        Self::BeginPurchase(Box::new(begin))
    }
}

/// Extends an active hold and its held seats to at least the end of the
/// payment grace.
async fn extend_for_payment(
    tx: &mut AnyWriteTx,
    hold_id: i64,
    timing: Timing,
) -> Result<(), sqlx::Error> {
    set_hold_expiries(
        tx,
        &[(hold_id, timing.payment_grace_end())],
        ExpiryMove::LaterOnly,
    )
    .await
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ExpiryMove {
    /// Only if it ends earlier now (a payment grace).
    LaterOnly,
    /// Whatever it is now (back to its expiry before a failed payment).
    Any,
}

/// Moves active holds' expiries, and their held seats', each to its
/// `until` (pairs of hold id and time, of distinct holds).
pub(super) async fn set_hold_expiries(
    tx: &mut AnyWriteTx,
    untils: &[(i64, i64)],
    how: ExpiryMove,
) -> Result<(), sqlx::Error> {
    if untils.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = untils.iter().map(|(hold_id, _)| *hold_id).collect();
    // The holds, then their held seats.
    for (table, column, key, status) in [
        ("holds", "expires_at", "id", "active"),
        ("seats", "held_until", "hold_id", "held"),
    ] {
        on_tx!(tx, conn => {
            let mut update = QueryBuilder::new(format!("UPDATE {table} SET {column} = "));
            push_case_of(&mut update, key, untils);
            update.push(format!(" WHERE status = '{status}'"));
            if how == ExpiryMove::LaterOnly {
                update.push(format!(" AND {column} < "));
                push_case_of(&mut update, key, untils);
            }
            update.push(format!(" AND {key} IN ("));
            push_id_list(&mut update, &ids);
            update.build().execute(&mut *conn).await.map(|done| done.rows_affected())
        })?;
    }
    Ok(())
}

/// A retry takes a pending purchase over: a new attempt number and a fresh
/// reconciliation time, so the reconciler leaves alone a purchase whose
/// charge is in flight again, and the payment grace for that charge.
/// `None` if it is no longer pending.
pub(super) async fn take_over(
    tx: &mut AnyWriteTx,
    take_over: &TakeOver,
) -> Result<Option<PurchaseRow>, sqlx::Error> {
    let sql = format!(
        "UPDATE purchases SET attempt = attempt + 1, updated_at = $1, next_check_at = $2, \
         check_failures = 0 WHERE id = $3 AND status = 'pending' RETURNING {PURCHASE_COLUMNS}"
    );
    let timing = take_over.timing;
    let row: Option<PurchaseRow> = on_tx!(tx, conn => sqlx::query_as(&sql)
        .bind(timing.now)
        .bind(timing.now + timing.reconcile_after_ms)
        .bind(take_over.purchase_id)
        .fetch_optional(&mut *conn)
        .await)?;
    if let Some(row) = &row {
        extend_for_payment(tx, row.hold_id, timing).await?;
    }
    Ok(row)
}

/// Records the payments' ids on pending purchases before the payments are
/// confirmed: from then on each outcome can always be looked up by id.
/// For each, `false` if the purchase is no longer pending (or, which
/// should not happen, has another payment). The purchases are distinct
/// (the caller's runs end at a repeat), so one statement decides each
/// alone.
pub(super) async fn record_payments(
    tx: &mut AnyWriteTx,
    records: &[&RecordPayment],
) -> Result<Vec<bool>, sqlx::Error> {
    let intents: Vec<(i64, &str)> = records
        .iter()
        .map(|record| (record.purchase_id, record.intent_id.as_str()))
        .collect();
    let checks: Vec<(i64, i64)> = records
        .iter()
        .map(|record| {
            let timing = record.timing;
            (record.purchase_id, timing.now + timing.reconcile_after_ms)
        })
        .collect();
    let ids: Vec<i64> = records.iter().map(|record| record.purchase_id).collect();
    let recorded: Vec<(i64,)> = on_tx!(tx, conn => {
        let mut update = QueryBuilder::new("UPDATE purchases SET payment_ref = ");
        push_case_of(&mut update, "id", &intents);
        update.push(", next_check_at = ");
        push_case_of(&mut update, "id", &checks);
        update.push(" WHERE status = 'pending' AND (payment_ref IS NULL OR payment_ref = ");
        push_case_of(&mut update, "id", &intents);
        update.push(") AND id IN (");
        push_id_list(&mut update, &ids);
        update.push(" RETURNING id");
        update.build_query_as().fetch_all(&mut *conn).await
    })?;
    let recorded: HashSet<i64> = recorded.into_iter().map(|(id,)| id).collect();
    Ok(ids.iter().map(|id| recorded.contains(id)).collect())
}

/// Appends `CASE <column> WHEN <id> THEN <value> … END`: one value per row
/// of a multi-row update, chosen by the row's `column` (an id).
pub(super) fn push_case_of<'a, DB, T>(
    query: &mut QueryBuilder<'a, DB>,
    column: &str,
    values: &[(i64, T)],
) where
    DB: sqlx::Database,
    for<'e> i64: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    T: 'a + Clone + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query.push("CASE ").push(column);
    for (id, value) in values {
        query
            .push(" WHEN ")
            .push_bind(*id)
            .push(" THEN ")
            .push_bind(value.clone());
    }
    query.push(" END");
}

/// Settles a pending purchase as `failed`, and gives the hold back the
/// expiry it had before the attempt (the payment grace covers a charge in
/// flight only). `false` if it was no longer pending (or was taken over).
pub(super) async fn fail(tx: &mut AnyWriteTx, fail: &FailPurchase) -> Result<bool, sqlx::Error> {
    let purchase = &fail.purchase;
    let updated = on_tx!(tx, conn => sqlx::query(
        "UPDATE purchases SET status = 'failed', failure = $1, updated_at = $2, \
         watch_until = $3, next_check_at = CASE WHEN $3 IS NULL THEN NULL ELSE $2 END, \
         check_failures = 0 \
         WHERE id = $4 AND status = 'pending' AND ($5 IS NULL OR attempt = $5)",
    )
    .bind(&fail.reason)
    .bind(fail.now)
    .bind(fail.watch_until)
    .bind(purchase.id)
    .bind(fail.attempt)
    .execute(&mut *conn)
    .await.map(|done| done.rows_affected()))?;
    if updated != 1 {
        return Ok(false);
    }
    if let Some(before) = purchase.hold_expires_before {
        set_hold_expiries(tx, &[(purchase.hold_id, before)], ExpiryMove::Any).await?;
    }
    Ok(true)
}

/// Finishes a refund the processor has made: purchase `refunded`, the
/// seats of its tickets back on sale. `false` if it was not refunding.
pub(super) async fn finish_refund(
    tx: &mut AnyWriteTx,
    batch: &mut Batch<'_>,
    finish: &FinishRefund,
    version: i64,
) -> Result<bool, sqlx::Error> {
    let purchase = &finish.purchase;
    let updated = on_tx!(tx, conn => sqlx::query(
        "UPDATE purchases SET status = 'refunded', updated_at = $1, next_check_at = NULL, \
         check_failures = 0 WHERE id = $2 AND status = 'refunding'",
    )
    .bind(finish.now)
    .bind(purchase.id)
    .execute(&mut *conn)
    .await.map(|done| done.rows_affected()))?;
    if updated != 1 {
        return Ok(false);
    }
    let freed: Vec<(i64,)> = on_tx!(tx, conn => sqlx::query_as(
        "UPDATE seats SET status = 'available', hold_id = NULL, held_until = NULL, version = $1 \
         WHERE status = 'sold' AND id IN \
         (SELECT seat_id FROM tickets WHERE purchase_id = $2 AND status = 'refunded') \
         RETURNING id",
    )
    .bind(version)
    .bind(purchase.id)
    .fetch_all(&mut *conn)
    .await)?;
    let seat_ids: Vec<i64> = freed.into_iter().map(|(id,)| id).collect();
    mail_buyers(tx, LetterKind::Refund, &[purchase.id], finish.now).await?;
    batch.changed(
        purchase.event_id,
        &seat_ids,
        SeatStatus::Available,
        finish.now,
    );
    Ok(true)
}

/// Adds a letter of `kind` about each purchase to its buyer, in the
/// batch's transaction.
pub(super) async fn mail_buyers(
    tx: &mut AnyWriteTx,
    kind: LetterKind,
    purchase_ids: &[i64],
    now: i64,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        let mut letters = outbox::purchase_letters(kind, purchase_ids, now);
        letters.push(" ORDER BY p.id");
        letters.build().execute(&mut *conn).await.map(|done| done.rows_affected())
    })?;
    Ok(())
}
