//! The per-buyer limit at purchase time, per email. Holds count a
//! session's and an account's seats; a guest's email is known only when
//! they pay, so a guest buying from several sessions with one email is
//! stopped here: the email's live tickets of the event, plus the seats of
//! its purchases still being paid, plus this hold, may not pass the event's
//! limit. Checked before any charge, inside the transaction that records
//! the purchase.

use crate::on_tx;
use crate::store::AnyWriteTx;
use sqlx::QueryBuilder;
use std::collections::HashSet;

/// Of the purchases wanted (pairs of the buyer's user row, of the
/// purchase's email, guest or account, and the hold), the holds whose
/// purchase would pass the event's limit, counting what each buyer already
/// has of the event.
///
/// Run it inside the purchases' write transaction, before they are
/// recorded, with the buyers' user rows locked (on PostgreSQL; SQLite's
/// write transaction is already exclusive), so two purchases with one email
/// are decided one after the other, each seeing the other's pending row;
/// the buyers of one call are distinct, for the same reason.
pub async fn over_limit_at_purchase(
    tx: &mut AnyWriteTx,
    wanted: &[(i64, i64)],
) -> Result<HashSet<i64>, sqlx::Error> {
    if wanted.is_empty() {
        return Ok(HashSet::new());
    }
    // (the hold, its seats, the event's limit, what the email already has).
    // Counted from the buyer's purchases, never from the event's tickets:
    // an index on the event would walk every ticket sold so far, so each
    // purchase of an onsale would cost more than the one before.
    let rows: Vec<(i64, i64, i64, i64)> = on_tx!(tx, conn => {
        let mut read = QueryBuilder::new("WITH wanted (user_id, hold_id) AS (");
        read.push_values(wanted, |mut row, (user_id, hold_id)| {
            row.push_bind(*user_id).push_bind(*hold_id);
        });
        read.push(
            ") SELECT h.id, h.seat_count, e.max_tickets_per_buyer, \
             (SELECT COUNT(*) FROM purchases p JOIN tickets t ON t.purchase_id = p.id \
              WHERE p.user_id = w.user_id AND p.event_id = h.event_id \
              AND t.status IN ('valid', 'used')) \
             + (SELECT CAST(COALESCE(SUM(ph.seat_count), 0) AS BIGINT) \
              FROM purchases p JOIN holds ph ON ph.id = p.hold_id \
              WHERE p.user_id = w.user_id AND p.event_id = h.event_id \
              AND p.status = 'pending' AND p.hold_id <> h.id) \
             FROM wanted w JOIN holds h ON h.id = w.hold_id JOIN events e ON e.id = h.event_id",
        );
        read.build_query_as().fetch_all(&mut *conn).await
    })?;
    Ok(rows
        .into_iter()
        .filter(|(_, wanted, limit, already)| already + wanted > *limit)
        .map(|(hold_id, ..)| hold_id)
        .collect())
}

/// The refusal when a purchase would pass the per-buyer limit. It does not
/// say how many tickets the email has: whoever types an email is not
/// necessarily its owner.
pub fn limit_error() -> app::error::ApiError {
    app::error::ApiError::new(
        app::error::ErrorCode::TicketLimitExceeded,
        "this email already has as many tickets for this event as one buyer may have; \
         release some of these seats, or pay with another email",
    )
}
