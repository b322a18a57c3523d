//! Reading holds and the change log. Every write of seat state goes
//! through the seat writer ([`super::writer`]); its request types are
//! re-exported here, where holds' callers look for them.

use crate::catalog::queries::SeatFields;
use crate::on_pool;
use crate::store::{Store, StoreError};
use app::staff::RefundPolicy;

pub use super::writer::{
    write_batch, ClaimOutcome, ClaimRequest, ClientCap, EndRequest, Ending, HoldRow, SeatWrite,
    WriteOutcome, HOLD_COLUMNS,
};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EventRules {
    pub hold_seconds: i64,
    pub max_tickets_per_buyer: i64,
    pub starts_at: i64,
    pub onsale_at: i64,
    #[sqlx(try_from = "String")]
    pub refund_policy: RefundPolicy,
}

pub async fn event_rules(store: &Store, event_id: i64) -> Result<Option<EventRules>, StoreError> {
    let rules = on_pool!(store, pool => sqlx::query_as::<_, EventRules>(
        "SELECT hold_seconds, max_tickets_per_buyer, starts_at, onsale_at, refund_policy \
         FROM events WHERE id = $1",
    )
    .bind(event_id)
    .fetch_optional(pool)
    .await)?;
    Ok(rules)
}

pub async fn hold(store: &Store, hold_id: i64) -> Result<Option<HoldRow>, StoreError> {
    let sql = format!("SELECT {HOLD_COLUMNS} FROM holds WHERE id = $1");
    let row = on_pool!(store, pool => sqlx::query_as::<_, HoldRow>(&sql)
    .bind(hold_id)
    .fetch_optional(pool)
    .await)?;
    Ok(row)
}

/// The seats a hold asked for, as they are now.
pub async fn hold_seats(store: &Store, hold_id: i64) -> Result<Vec<SeatFields>, StoreError> {
    let rows = on_pool!(store, pool => sqlx::query_as::<_, SeatFields>(
        "SELECT s.id, sec.name AS section, s.row_label, s.number, s.x, s.y, t.name AS tier, \
         t.price_cents, s.status, s.held_until \
         FROM hold_seats hs JOIN seats s ON s.id = hs.seat_id \
         JOIN sections sec ON sec.id = s.section_id JOIN price_tiers t ON t.id = s.tier_id \
         WHERE hs.hold_id = $1 ORDER BY s.id",
    )
    .bind(hold_id)
    .fetch_all(pool)
    .await)?;
    Ok(rows)
}

/// Active holds whose time has run out, oldest first. Holds with a payment
/// still pending are left to the checkout's reconciliation, which can sell
/// them if the processor charged (lazy reclaim by another buyer still wins
/// once their time is up).
pub async fn expired_holds(
    store: &Store,
    now: i64,
    limit: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let sql = format!(
        "SELECT id, event_id FROM holds WHERE status = 'active' AND expires_at <= $1 \
         AND {} ORDER BY expires_at LIMIT $2",
        super::writer::NO_PENDING_PURCHASE
    );
    let rows = on_pool!(store, pool => sqlx::query_as::<_, (i64, i64)>(&sql)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await)?;
    Ok(rows)
}
