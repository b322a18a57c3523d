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
use std::collections::{HashMap, HashSet};

/// What became of one claim.
#[derive(Debug, PartialEq)]
pub enum ClaimOutcome {
    /// Held; the seats as they are now, ordered by id.
    Claimed {
        hold_id: i64,
        version: i64,
        total_cents: i64,
        seats: Vec<SeatFields>,
    },
    /// Some requested seats are held, sold or blocked right now.
    Unavailable(Vec<i64>),
    /// Some requested seat ids are not seats of this event.
    Unknown(Vec<i64>),
    /// The buyer already has this many seats of the event; more would pass the limit.
    LimitExceeded { already: i64 },
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

/// Appends the number of seats a session has for an event: in active,
/// unexpired holds, plus live tickets it bought. The per-buyer limit counts
/// both. `+t.event_id` makes the planner start from the session's
/// purchases, not from every ticket of the event.
fn push_seats_of_session<DB: sqlx::Database>(
    query: &mut QueryBuilder<'_, DB>,
    session_id: &str,
    event_id: i64,
    now: i64,
) where
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query
        .push("SELECT (SELECT COUNT(*) FROM seats s JOIN holds h ON h.id = s.hold_id WHERE h.session_id = ")
        .push_bind(session_id.to_string())
        .push(" AND h.event_id = ")
        .push_bind(event_id)
        .push(" AND h.status = 'active' AND s.status = 'held' AND s.held_until > ")
        .push_bind(now)
        .push(") + (SELECT COUNT(*) FROM tickets t JOIN purchases p ON p.id = t.purchase_id WHERE p.session_id = ")
        .push_bind(session_id.to_string())
        .push(" AND +t.event_id = ")
        .push_bind(event_id)
        .push(" AND t.status IN ('valid', 'used'))");
}

/// Appends `id, id, …)` to an `… IN (` list, one bound parameter per id.
pub fn push_id_list<DB: sqlx::Database>(query: &mut QueryBuilder<'_, DB>, ids: &[i64])
where
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    query.push(")");
}

/// Whether a claim may take this seat now: it is on sale, or its hold ran
/// out (lazy reclaim).
fn is_claimable(seat: &SeatFields, now: i64) -> bool {
    seat.status == SeatStatus::Available.as_str()
        || (seat.status == SeatStatus::Held.as_str()
            && seat.held_until.is_some_and(|until| until <= now))
}

/// One seat's change, logged in `seat_changes` when its batch commits.
#[derive(Debug)]
struct ChangeRecord {
    event_id: i64,
    version: i64,
    seat_id: i64,
    status: SeatStatus,
    at: i64,
}

/// Rows per `INSERT` of change records: 5 parameters each stays far below
/// both backends' limits on bound parameters.
const CHANGES_PER_INSERT: usize = 1_000;

/// What a claim reads before it writes: each requested seat of the event as
/// it is now, and (the same on every row) how many seats the buyer already
/// has. The count is a scalar subquery, computed once per statement.
#[derive(Debug, sqlx::FromRow)]
struct ClaimLookupRow {
    #[sqlx(flatten)]
    seat: SeatFields,
    already: i64,
}

/// The statements of one claim inside the batch's transaction `$tx`, after
/// the event's lock: evaluates to the claim's [`ClaimOutcome`] and pushes
/// the seat changes it made onto `$changes`. A macro because it runs on
/// either backend's connection type.
///
/// A claim reads first and writes only if it will succeed, so a refused
/// claim leaves no trace and needs no savepoint. Nothing else can change
/// these seats between the read and the write: every seat writer takes the
/// event's lock first (the database write lock on SQLite). The write is a
/// compare-and-set all the same; if it ever claims fewer seats than the read
/// promised, the whole batch fails and rolls back rather than sell a seat
/// twice.
macro_rules! claim_one {
    ($tx:ident, $request:expr, $version:expr, $changes:expr) => {{
        let request: &ClaimRequest = $request;
        let version: i64 = $version;
        let (event_id, seat_ids, now) = (request.event_id, &request.seat_ids, request.now);
        let mut lookup = QueryBuilder::new(
            "SELECT s.id, sec.name AS section, s.row_label, s.number, s.x, s.y, t.name AS tier, \
             t.price_cents, s.status, s.held_until, (",
        );
        push_seats_of_session(&mut lookup, &request.session_id, event_id, now);
        lookup
            .push(") AS already FROM seats s JOIN sections sec ON sec.id = s.section_id \
                   JOIN price_tiers t ON t.id = s.tier_id WHERE +s.event_id = ")
            .push_bind(event_id)
            .push(" AND s.id IN (");
        push_id_list(&mut lookup, seat_ids);
        let rows: Vec<ClaimLookupRow> = lookup.build_query_as().fetch_all(&mut *$tx).await?;
        let already = rows.first().map_or(0, |row| row.already);
        let found: Vec<i64> = rows.iter().map(|row| row.seat.id).collect();
        let unknown: Vec<i64> = seat_ids.iter().copied().filter(|id| !found.contains(id)).collect();
        let taken: Vec<i64> = rows
            .iter()
            .filter(|row| !is_claimable(&row.seat, now))
            .map(|row| row.seat.id)
            .collect();
        if !unknown.is_empty() {
            ClaimOutcome::Unknown(unknown)
        } else if already + seat_ids.len() as i64 > request.max_per_buyer {
            ClaimOutcome::LimitExceeded { already }
        } else if !taken.is_empty() {
            ClaimOutcome::Unavailable(taken)
        } else {
            let total_cents: i64 = rows.iter().map(|row| row.seat.price_cents).sum();
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
            push_id_list(&mut claim, seat_ids);
            let claimed = claim.build().execute(&mut *$tx).await?.rows_affected();
            if claimed != seat_ids.len() as u64 {
                tracing::error!(hold_id, claimed, wanted = seat_ids.len(), "claim changed fewer seats than it read as free; failing the batch");
                return Err(sqlx::Error::Protocol("a claim lost seats it had read as free".into()));
            }
            let mut links = QueryBuilder::new("INSERT INTO hold_seats (hold_id, seat_id) ");
            links.push_values(seat_ids, |mut row, seat_id| {
                row.push_bind(hold_id).push_bind(*seat_id);
            });
            links.build().execute(&mut *$tx).await?;
            $changes.extend(seat_ids.iter().map(|&seat_id| ChangeRecord { event_id, version, seat_id, status: SeatStatus::Held, at: now }));
            let mut seats: Vec<SeatFields> = rows.into_iter().map(|row| SeatFields {
                status: SeatStatus::Held.as_str().to_string(),
                held_until: Some(request.expires_at),
                ..row.seat
            }).collect();
            seats.sort_by_key(|seat| seat.id);
            ClaimOutcome::Claimed { hold_id, version, total_cents, seats }
        }
    }};
}

/// The statements that end one hold inside the batch's transaction `$tx`:
/// evaluates to the seats it put back on sale (none if the hold was not
/// active, or for an expiry not yet due, or its seats were reclaimed), and
/// pushes those changes onto `$changes`.
macro_rules! end_one {
    ($tx:ident, $request:expr, $version:expr, $changes:expr) => {{
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
            $changes.extend(freed.iter().map(|&seat_id| ChangeRecord {
                event_id: request.event_id,
                version: $version,
                seat_id,
                status: SeatStatus::Available,
                at: request.now,
            }));
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
    /// The write named an event that does not exist.
    NoSuchEvent,
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
/// batch, instead of one each. The writes run one after another and each
/// sees those before it, so the batch is exactly those writes in order.
/// A claim's seats are taken by one conditional UPDATE: a seat is claimable
/// if it is available or its hold has expired (lazy reclaim).
///
/// Refusals (seats taken, unknown, over the limit) are outcomes and write
/// nothing. A database error fails the whole batch: nothing is committed
/// and every writer in it gets the error.
pub async fn write_batch(
    store: &Store,
    requests: &[SeatWrite],
) -> Result<Vec<WriteOutcome>, StoreError> {
    let outcomes = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        // Every write of one event in this batch shares the event's next
        // version: the batch commits as one change of the seat map. The
        // event row is locked (a no-op UPDATE: the same statement on both
        // backends) at its first write, and the version is written only if
        // seats changed, so a batch of refusals leaves no trace.
        let mut versions: HashMap<i64, i64> = HashMap::new();
        let mut changes: Vec<ChangeRecord> = Vec::new();
        let mut outcomes = Vec::with_capacity(requests.len());
        for request in requests {
            let event_id = request.event_id();
            let version = match versions.get(&event_id) {
                Some(version) => *version,
                None => {
                    let current: Option<(i64,)> = sqlx::query_as(
                        "UPDATE events SET version = version WHERE id = $1 RETURNING version",
                    )
                    .bind(event_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((current,)) = current else {
                        outcomes.push(WriteOutcome::NoSuchEvent);
                        continue;
                    };
                    versions.insert(event_id, current + 1);
                    current + 1
                }
            };
            outcomes.push(match request {
                SeatWrite::Claim(claim) => WriteOutcome::Claim(claim_one!(tx, claim, version, changes)),
                SeatWrite::End(end) => WriteOutcome::Ended(end_one!(tx, end, version, changes)),
            });
        }
        let changed_events: HashSet<i64> = changes.iter().map(|change| change.event_id).collect();
        for event_id in changed_events {
            sqlx::query("UPDATE events SET version = $1 WHERE id = $2")
                .bind(versions[&event_id])
                .bind(event_id)
                .execute(&mut *tx)
                .await?;
        }
        for chunk in changes.chunks(CHANGES_PER_INSERT) {
            let mut insert = QueryBuilder::new(
                "INSERT INTO seat_changes (event_id, version, seat_id, status, changed_at) ",
            );
            insert.push_values(chunk, |mut row, change| {
                row.push_bind(change.event_id)
                    .push_bind(change.version)
                    .push_bind(change.seat_id)
                    .push_bind(change.status.as_str())
                    .push_bind(change.at);
            });
            insert.build().execute(&mut *tx).await?;
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
    match write_batch(store, &[SeatWrite::End(request)]).await?.pop() {
        Some(WriteOutcome::Ended(freed)) => Ok(freed),
        _ => Err(StoreError::Database(sqlx::Error::RowNotFound)),
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
