//! What an event has sold, counted straight from the database: the books a
//! load run (`loadgen`) or a test checks after the fact. Nothing here is on
//! a request path.

use crate::on_pool;
use crate::store::{Store, StoreError};

/// An event's sales as the database records them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SalesTally {
    /// Seats of the event whose status is `sold`.
    pub seats_sold: i64,
    /// Seats of the event in any other status.
    pub seats_unsold: i64,
    /// Live (`valid` or `used`) tickets of the event.
    pub live_tickets: i64,
    /// Distinct users with a paid purchase for the event.
    pub distinct_buyers: i64,
}

async fn count(store: &Store, sql: &str, event_id: i64) -> Result<i64, StoreError> {
    let (n,): (i64,) =
        on_pool!(store, pool => sqlx::query_as(sql).bind(event_id).fetch_one(pool).await)?;
    Ok(n)
}

pub async fn sales_tally(store: &Store, event_id: i64) -> Result<SalesTally, StoreError> {
    Ok(SalesTally {
        seats_sold: count(
            store,
            "SELECT COUNT(*) FROM seats WHERE event_id = $1 AND status = 'sold'",
            event_id,
        )
        .await?,
        seats_unsold: count(
            store,
            "SELECT COUNT(*) FROM seats WHERE event_id = $1 AND status <> 'sold'",
            event_id,
        )
        .await?,
        live_tickets: count(
            store,
            "SELECT COUNT(*) FROM tickets WHERE event_id = $1 AND status IN ('valid', 'used')",
            event_id,
        )
        .await?,
        distinct_buyers: count(
            store,
            "SELECT COUNT(DISTINCT user_id) FROM purchases WHERE event_id = $1 AND status = 'paid'",
            event_id,
        )
        .await?,
    })
}

/// Seats of any event with more than one live ticket: a double sale. The
/// unique index `tickets_one_live_per_seat` should keep this at zero
/// whatever the application does; this is the check that it did.
pub async fn oversold_seats(store: &Store) -> Result<i64, StoreError> {
    let (n,): (i64,) = on_pool!(store, pool => sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT seat_id FROM tickets WHERE status IN ('valid', 'used') \
         GROUP BY event_id, seat_id HAVING COUNT(*) > 1) doubles",
    )
    .fetch_one(pool)
    .await)?;
    Ok(n)
}
