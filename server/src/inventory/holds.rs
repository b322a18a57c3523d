//! Reading holds and the change log. Every write of seat state goes
//! through the seat writer ([`super::writer`]); its request types are
//! re-exported here, where holds' callers look for them.

use crate::catalog::queries::SeatFields;
use crate::on_pool;
use crate::store::{Store, StoreError};
use app::staff::RefundPolicy;
use app::types::HoldStatus;

pub use super::writer::{
    write_batch, ClaimOutcome, ClaimRequest, ClientCap, EndRequest, Ending, SeatWrite, WriteOutcome,
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

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct HoldRow {
    pub id: i64,
    pub event_id: i64,
    pub session_id: String,
    #[sqlx(try_from = "String")]
    pub status: HoldStatus,
    pub expires_at: i64,
    pub seat_count: i64,
    pub total_cents: i64,
    /// How many times the buyer extended it.
    pub extensions: i64,
}

pub async fn hold(store: &Store, hold_id: i64) -> Result<Option<HoldRow>, StoreError> {
    let row = on_pool!(store, pool => sqlx::query_as::<_, HoldRow>(
        "SELECT id, event_id, session_id, status, expires_at, seat_count, total_cents, extensions \
         FROM holds WHERE id = $1",
    )
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
