//! The change log (`seat_changes`) as the live channel reads it: every seat
//! status change of an event, in version order. The seat writer appends to
//! it in the transaction of each change (`inventory::writer::log`); the
//! pump reads it here.

use crate::on_pool;
use crate::store::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SeatChangeRow {
    pub version: i64,
    pub seat_id: i64,
    pub status: String,
}

/// The change log of an event after `after_version`, in order.
pub async fn changes_since(
    store: &Store,
    event_id: i64,
    after_version: i64,
) -> Result<Vec<SeatChangeRow>, StoreError> {
    let rows = on_pool!(store, pool => sqlx::query_as::<_, SeatChangeRow>(
        "SELECT version, seat_id, status FROM seat_changes WHERE event_id = $1 AND version > $2 \
         ORDER BY version, seat_id",
    )
    .bind(event_id)
    .bind(after_version)
    .fetch_all(pool)
    .await)?;
    Ok(rows)
}
