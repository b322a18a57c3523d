//! The hold state machine in SQL. Every seat change happens in one
//! transaction that first bumps the event's version (taking the event row's
//! lock on PostgreSQL, the database write lock on SQLite, always in that
//! order, so writers of one event queue instead of deadlocking), then
//! changes the seats by compare-and-set, then records the change in
//! `seat_changes` under that version.

use crate::catalog::queries::SeatFields;
use crate::on_pool;
use crate::store::{BeginWrite, Store, StoreError};
use app::types::SeatStatus;
use sqlx::QueryBuilder;

/// A seat that was requested but could not be held.
#[derive(Debug, PartialEq)]
pub enum ClaimOutcome {
    Claimed {
        hold_id: i64,
        version: i64,
    },
    /// Some requested seats are held, sold or blocked right now.
    Unavailable(Vec<i64>),
    /// Some requested seat ids are not seats of this event.
    Unknown(Vec<i64>),
    /// The buyer already has this many seats of the event; more would pass the limit.
    LimitExceeded {
        already: i64,
    },
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EventRules {
    pub hold_seconds: i64,
    pub max_tickets_per_buyer: i64,
    pub starts_at: i64,
    pub onsale_at: i64,
    pub refund_policy: String,
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

/// Seats a session has for an event: in active, unexpired holds, plus live
/// tickets it bought. The per-buyer limit counts both. `+t.event_id` makes
/// the planner start from the session's purchases, not from every ticket
/// of the event.
const SEATS_OF_SESSION: &str = "SELECT \
    (SELECT COUNT(*) FROM seats s JOIN holds h ON h.id = s.hold_id \
      WHERE h.session_id = $1 AND h.event_id = $2 AND h.status = 'active' \
      AND s.status = 'held' AND s.held_until > $3) + \
    (SELECT COUNT(*) FROM tickets t JOIN purchases p ON p.id = t.purchase_id \
      WHERE p.session_id = $1 AND +t.event_id = $2 AND t.status IN ('valid', 'used'))";

/// The statements of one claim, inside the batch's transaction `$tx`
/// (a savepoint): evaluates to the claim's [`ClaimOutcome`]. A macro
/// because it runs on either backend's connection type.
macro_rules! claim_one {
    ($tx:ident, $request:expr, $version:expr) => {{
        let request: &ClaimRequest = $request;
        let version: i64 = $version;
        let (event_id, seat_ids, now) = (request.event_id, &request.seat_ids, request.now);
        // Counted after the version bump serialised this event's writers,
        // so two parallel requests of one buyer cannot both pass the limit.
        let (already,): (i64,) = sqlx::query_as(SEATS_OF_SESSION)
            .bind(&request.session_id)
            .bind(event_id)
            .bind(now)
            .fetch_one(&mut *$tx)
            .await?;
        if already + seat_ids.len() as i64 > request.max_per_buyer {
            ClaimOutcome::LimitExceeded { already }
        } else {
            let (total_cents,): (i64,) = {
                let mut sum = QueryBuilder::new(
                    "SELECT CAST(COALESCE(SUM(t.price_cents), 0) AS BIGINT) FROM seats s \
                     JOIN price_tiers t ON t.id = s.tier_id WHERE s.event_id = ",
                );
                sum.push_bind(event_id).push(" AND s.id IN (");
                let mut ids = sum.separated(", ");
                for id in seat_ids {
                    ids.push_bind(*id);
                }
                sum.push(")");
                sum.build_query_as().fetch_one(&mut *$tx).await?
            };
            let (hold_id,): (i64,) = sqlx::query_as(
                "INSERT INTO holds (event_id, session_id, status, expires_at, seat_count, total_cents, created_at) \
                 VALUES ($1, $2, 'active', $3, $4, $5, $6) RETURNING id",
            )
            .bind(event_id)
            .bind(&request.session_id)
            .bind(request.expires_at)
            .bind(seat_ids.len() as i64)
            .bind(total_cents)
            .bind(now)
            .fetch_one(&mut *$tx)
            .await?;
            let mut claim = QueryBuilder::new("UPDATE seats SET status = 'held', hold_id = ");
            claim
                .push_bind(hold_id)
                .push(", held_until = ")
                .push_bind(request.expires_at)
                .push(", version = ")
                .push_bind(version)
                // `+event_id`: a unary plus keeps the planner off the
                // (event, status) index, which for an OR of statuses means
                // walking every seat of the event; the ids are looked up by
                // primary key instead (SQLite picked the index, at 50,000
                // seats, and spent most of each claim there).
                .push(" WHERE +event_id = ")
                .push_bind(event_id)
                .push(" AND (status = 'available' OR (status = 'held' AND held_until <= ")
                .push_bind(now)
                .push(")) AND id IN (");
            let mut ids = claim.separated(", ");
            for id in seat_ids {
                ids.push_bind(*id);
            }
            claim.push(") RETURNING id");
            let claimed: Vec<(i64,)> = claim.build_query_as().fetch_all(&mut *$tx).await?;
            if claimed.len() != seat_ids.len() {
                let claimed: Vec<i64> = claimed.into_iter().map(|(id,)| id).collect();
                let mut existing = QueryBuilder::new("SELECT id FROM seats WHERE +event_id = ");
                existing.push_bind(event_id).push(" AND id IN (");
                let mut ids = existing.separated(", ");
                for id in seat_ids {
                    ids.push_bind(*id);
                }
                existing.push(")");
                let existing: Vec<(i64,)> = existing.build_query_as().fetch_all(&mut *$tx).await?;
                let existing: Vec<i64> = existing.into_iter().map(|(id,)| id).collect();
                let unknown: Vec<i64> = seat_ids.iter().copied().filter(|id| !existing.contains(id)).collect();
                if unknown.is_empty() {
                    ClaimOutcome::Unavailable(seat_ids.iter().copied().filter(|id| !claimed.contains(id)).collect())
                } else {
                    ClaimOutcome::Unknown(unknown)
                }
            } else {
                let mut links = QueryBuilder::new("INSERT INTO hold_seats (hold_id, seat_id) ");
                links.push_values(seat_ids, |mut row, seat_id| {
                    row.push_bind(hold_id).push_bind(*seat_id);
                });
                links.build().execute(&mut *$tx).await?;
                crate::insert_changes!($tx, event_id, version, seat_ids.iter().copied(), SeatStatus::Held, now);
                ClaimOutcome::Claimed { hold_id, version }
            }
        }
    }};
}

/// The statements that end one hold inside the batch's transaction `$tx`:
/// evaluates to the seats it put back on sale (none if the hold was not
/// active, or for an expiry not yet due, or its seats were reclaimed).
macro_rules! end_one {
    ($tx:ident, $request:expr, $version:expr) => {{
        let request: &EndRequest = $request;
        // Only an expiry waits for the hold's time to run out.
        let due_before = if request.new_status == "expired" {
            request.now
        } else {
            i64::MAX
        };
        let ended = sqlx::query(
            "UPDATE holds SET status = $1 WHERE id = $2 AND status = 'active' AND expires_at <= $3",
        )
        .bind(request.new_status)
        .bind(request.hold_id)
        .bind(due_before)
        .execute(&mut *$tx)
        .await?;
        if ended.rows_affected() == 0 {
            Vec::new()
        } else {
            let freed: Vec<(i64,)> = sqlx::query_as(
                "UPDATE seats SET status = 'available', hold_id = NULL, held_until = NULL, version = $1 \
                 WHERE hold_id = $2 AND status = 'held' RETURNING id",
            )
            .bind($version)
            .bind(request.hold_id)
            .fetch_all(&mut *$tx)
            .await?;
            let freed: Vec<i64> = freed.into_iter().map(|(id,)| id).collect();
            if !freed.is_empty() {
                crate::insert_changes!($tx, request.event_id, $version, freed.iter().copied(), SeatStatus::Available, request.now);
            }
            freed
        }
    }};
}

/// Ending a hold: `released` by its buyer or `expired` by the sweeper.
#[derive(Clone, Debug)]
pub struct EndRequest {
    pub hold_id: i64,
    pub event_id: i64,
    pub new_status: &'static str,
    pub now: i64,
}

/// A change of seat state that goes through the batch writer.
#[derive(Clone, Debug)]
pub enum SeatWrite {
    Claim(ClaimRequest),
    End(EndRequest),
}

impl SeatWrite {
    fn event_id(&self) -> i64 {
        match self {
            Self::Claim(claim) => claim.event_id,
            Self::End(end) => end.event_id,
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum WriteOutcome {
    Claim(ClaimOutcome),
    /// The seats an ended hold put back on sale.
    Ended(Vec<i64>),
}

/// One buyer's request to hold exactly `seat_ids` (distinct, non-empty).
#[derive(Clone, Debug)]
pub struct ClaimRequest {
    pub event_id: i64,
    pub session_id: String,
    pub seat_ids: Vec<i64>,
    pub max_per_buyer: i64,
    pub now: i64,
    pub expires_at: i64,
}

/// Runs many claims and hold endings in one write transaction (group
/// commit): one commit, one fsync and one version per event for the whole
/// batch, instead of one each. Each write is all-or-none on its own, inside
/// a savepoint, and sees the writes before it, so the batch is exactly those
/// writes run one after another. One conditional UPDATE claims a claim's
/// seats: a seat is claimable if it is available or its hold has expired
/// (lazy reclaim), never by a read followed by a write.
///
/// The outer error is a failure of the batch (nothing committed); the inner
/// ones are failures of single writes (only those undone).
pub async fn write_batch(
    store: &Store,
    requests: &[SeatWrite],
) -> Result<Vec<Result<WriteOutcome, sqlx::Error>>, StoreError> {
    use sqlx::Connection;
    let outcomes = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        // Every claim of one event in this batch shares the event's next
        // version: the batch commits as one change of the seat map. The
        // event row is locked (a no-op UPDATE: the same statement on both
        // backends) at its first claim, and the version is written only if
        // a claim succeeded, so refused claims leave no trace.
        let mut versions: std::collections::HashMap<i64, (i64, bool)> =
            std::collections::HashMap::new();
        let mut outcomes = Vec::with_capacity(requests.len());
        for request in requests {
            let event_id = request.event_id();
            let version = match versions.get(&event_id) {
                Some((version, _)) => *version,
                None => {
                    let current: Option<(i64,)> = sqlx::query_as(
                        "UPDATE events SET version = version WHERE id = $1 RETURNING version",
                    )
                    .bind(event_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((current,)) = current else {
                        outcomes.push(Err(sqlx::Error::RowNotFound));
                        continue;
                    };
                    versions.insert(event_id, (current + 1, false));
                    current + 1
                }
            };
            let mut write_tx = tx.begin().await?;
            let outcome = async {
                Ok::<_, sqlx::Error>(match request {
                    SeatWrite::Claim(claim) => WriteOutcome::Claim(claim_one!(write_tx, claim, version)),
                    SeatWrite::End(end) => WriteOutcome::Ended(end_one!(write_tx, end, version)),
                })
            }
            .await;
            // Kept: a successful claim, and any ending (a hold whose seats
            // were already reclaimed still ends). Undone: refused claims.
            let (keep, changed_seats) = match &outcome {
                Ok(WriteOutcome::Claim(ClaimOutcome::Claimed { .. })) => (true, true),
                Ok(WriteOutcome::Ended(freed)) => (true, !freed.is_empty()),
                _ => (false, false),
            };
            if keep {
                write_tx.commit().await?;
            } else {
                write_tx.rollback().await?;
            }
            if changed_seats {
                if let Some((_, changed)) = versions.get_mut(&event_id) {
                    *changed = true;
                }
            }
            outcomes.push(outcome);
        }
        for (event_id, (version, changed)) in &versions {
            if *changed {
                sqlx::query("UPDATE events SET version = $1 WHERE id = $2")
                    .bind(version)
                    .bind(event_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(outcomes)
    }.await)?;
    Ok(outcomes)
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct HoldRow {
    pub id: i64,
    pub event_id: i64,
    pub session_id: String,
    pub status: String,
    pub expires_at: i64,
    pub seat_count: i64,
    pub total_cents: i64,
}

pub async fn hold(store: &Store, hold_id: i64) -> Result<Option<HoldRow>, StoreError> {
    let row = on_pool!(store, pool => sqlx::query_as::<_, HoldRow>(
        "SELECT id, event_id, session_id, status, expires_at, seat_count, total_cents FROM holds WHERE id = $1",
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

/// Ends an active hold (`released` by its buyer, or `expired` by the
/// sweeper) and puts its still-held seats back on sale. Returns the seats
/// freed; none if the hold was not active (or, for expiry, not yet due).
pub async fn end_hold(store: &Store, request: EndRequest) -> Result<Vec<i64>, StoreError> {
    let outcome = write_batch(store, &[SeatWrite::End(request)])
        .await?
        .pop()
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))??;
    match outcome {
        WriteOutcome::Ended(freed) => Ok(freed),
        WriteOutcome::Claim(_) => Err(StoreError::Database(sqlx::Error::RowNotFound)),
    }
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
    let rows = on_pool!(store, pool => sqlx::query_as::<_, (i64, i64)>(
        "SELECT id, event_id FROM holds WHERE status = 'active' AND expires_at <= $1 \
         AND NOT EXISTS (SELECT 1 FROM purchases p WHERE p.hold_id = holds.id AND p.status = 'pending') \
         ORDER BY expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await)?;
    Ok(rows)
}

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
