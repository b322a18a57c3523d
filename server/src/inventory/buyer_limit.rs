//! The per-buyer limit at purchase time, per email. Holds count a
//! session's and an account's seats; a guest's email is known only when
//! they pay, so a guest buying from several sessions with one email is
//! stopped here: the email's live tickets of the event, plus the seats of
//! its purchases still being paid, plus this hold, may not pass the event's
//! limit. Checked before any charge, inside the transaction that records
//! the purchase.

use crate::on_tx;
use crate::store::AnyWriteTx;

/// How many seats the buyer `user_id` (the user row of the purchase's
/// email, guest or account) already has of the hold's event, if buying
/// the hold would pass the event's limit; `None` if it fits.
///
/// Run it inside the purchase's write transaction, before the purchase is
/// recorded, with the buyer's user row locked (on PostgreSQL; SQLite's
/// write transaction is already exclusive), so two purchases with one email
/// are decided one after the other, each seeing the other's pending row.
pub async fn over_limit_at_purchase(
    tx: &mut AnyWriteTx,
    user_id: i64,
    hold_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    // (this hold's seats, the event's limit, what the email already has).
    // Counted from the buyer's purchases, never from the event's tickets:
    // an index on the event would walk every ticket sold so far, so each
    // purchase of an onsale would cost more than the one before.
    let (wanted, limit, already): (i64, i64, i64) = on_tx!(tx, conn => sqlx::query_as(
        "SELECT h.seat_count, e.max_tickets_per_buyer, \
         (SELECT COUNT(*) FROM purchases p JOIN tickets t ON t.purchase_id = p.id \
          WHERE p.user_id = $1 AND p.event_id = h.event_id AND t.status IN ('valid', 'used')) \
         + (SELECT CAST(COALESCE(SUM(ph.seat_count), 0) AS BIGINT) FROM purchases p JOIN holds ph ON ph.id = p.hold_id \
          WHERE p.user_id = $1 AND p.event_id = h.event_id AND p.status = 'pending' AND p.hold_id <> h.id) \
         FROM holds h JOIN events e ON e.id = h.event_id WHERE h.id = $2",
    )
    .bind(user_id)
    .bind(hold_id)
    .fetch_one(&mut *conn)
    .await)?;
    Ok((already + wanted > limit).then_some(already))
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
