//! The hold state machine in SQL. Every seat change happens in one
//! transaction that first bumps the event's version (taking the event row's
//! lock on PostgreSQL, the database write lock on SQLite, always in that
//! order, so writers of one event queue instead of deadlocking), then
//! changes the seats by compare-and-set, then records the change in
//! `seat_changes` under that version.

use crate::catalog::queries::SeatFields;
use crate::on_pool;
use crate::store::{push_id_list, BeginWrite, Store, StoreError};
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
    /// The buyer (session or account) already has this many seats of the
    /// event; more would pass the limit.
    LimitExceeded { already: i64 },
    /// The client's address already holds this many seats of the event;
    /// more would pass its cap. The first of them is let go within
    /// `retry_after_ms` (paid for, released or expired).
    AddressCapReached { held: i64, retry_after_ms: i64 },
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

/// Ending a hold: `released` by its buyer or `expired` by the sweeper.
#[derive(Clone, Debug)]
pub struct EndRequest {
    pub hold_id: i64,
    pub event_id: i64,
    pub new_status: &'static str,
    pub now: i64,
}

impl EndRequest {
    /// The hold ends only if it runs out before this: an expiry waits for
    /// the hold's time, a release does not.
    fn due_before(&self) -> i64 {
        if self.new_status == "expired" {
            self.now
        } else {
            i64::MAX
        }
    }
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
    /// The signed-in account: the per-buyer limit also counts its seats
    /// across all its sessions.
    pub account_id: Option<i64>,
    /// The client's address and its cap; `None` when per-address limits
    /// are off.
    pub client: Option<ClientCap>,
}

/// A client address (an IPv4 address or an IPv6 /64, as text) and how many
/// seats it may hold at once in one event.
#[derive(Clone, Debug)]
pub struct ClientCap {
    pub key: String,
    pub max_seats: i64,
}

/// A requested seat as the batch reads it before writing.
#[derive(Debug, sqlx::FromRow)]
struct LookedUpSeat {
    event_id: i64,
    #[sqlx(flatten)]
    seat: SeatFields,
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

/// A claim the batch has decided will succeed, waiting for its hold id.
#[derive(Debug)]
struct PlannedClaim<'a> {
    index: usize,
    request: &'a ClaimRequest,
    version: i64,
    total_cents: i64,
    seats: Vec<SeatFields>,
}

/// Rows per multi-row statement: at most 5 parameters a row stays far below
/// both backends' limits on bound parameters (32,766 on SQLite).
const ROWS_PER_STATEMENT: usize = 1_000;

/// Appends `'a', 'b', …)` to an `… IN (` list of session ids.
fn push_text_list<DB: sqlx::Database>(query: &mut QueryBuilder<'_, DB>, texts: &[&str])
where
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut list = query.separated(", ");
    for text in texts {
        list.push_bind(text.to_string());
    }
    query.push(")");
}

/// Seats the claiming sessions already have, per session and event: in
/// active, unexpired holds, plus live tickets they bought. The per-buyer
/// limit counts both. One row per (session, event) and source; the caller
/// adds them up.
fn push_seats_of_sessions<DB: sqlx::Database>(
    query: &mut QueryBuilder<'_, DB>,
    session_ids: &[&str],
    now: i64,
) where
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query
        .push(
            "SELECT h.session_id, h.event_id, COUNT(*) FROM seats s JOIN holds h ON h.id = s.hold_id \
             WHERE h.status = 'active' AND s.status = 'held' AND s.held_until > ",
        )
        .push_bind(now)
        .push(" AND h.session_id IN (");
    push_text_list(query, session_ids);
    query.push(
        " GROUP BY h.session_id, h.event_id UNION ALL \
         SELECT p.session_id, t.event_id, COUNT(*) FROM tickets t JOIN purchases p ON p.id = t.purchase_id \
         WHERE t.status IN ('valid', 'used') AND p.session_id IN (",
    );
    push_text_list(query, session_ids);
    query.push(" GROUP BY p.session_id, t.event_id");
}

/// Seats the claiming accounts already have, per account and event: in
/// active, unexpired holds made signed in, plus live tickets of their
/// purchases — those made signed in, and guest checkouts with the
/// account's email once that email is confirmed (before that, the account
/// learns nothing about them, not even a count). One row per source.
fn push_seats_of_accounts<DB: sqlx::Database>(
    query: &mut QueryBuilder<'_, DB>,
    account_ids: &[i64],
    now: i64,
) where
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query
        .push(
            "SELECT h.user_id, h.event_id, COUNT(*) FROM seats s JOIN holds h ON h.id = s.hold_id \
             WHERE h.status = 'active' AND s.status = 'held' AND s.held_until > ",
        )
        .push_bind(now)
        .push(" AND h.user_id IN (");
    push_id_list(query, account_ids);
    query.push(
        " GROUP BY h.user_id, h.event_id UNION ALL \
         SELECT p.user_id, t.event_id, COUNT(*) FROM tickets t JOIN purchases p ON p.id = t.purchase_id \
         JOIN users u ON u.id = p.user_id \
         WHERE t.status IN ('valid', 'used') AND (p.by_account OR u.email_confirmed_at IS NOT NULL) \
         AND p.user_id IN (",
    );
    push_id_list(query, account_ids);
    query.push(" GROUP BY p.user_id, t.event_id");
}

/// Seats held now from each claiming address, per address and event, and
/// when the first of them is let go.
fn push_seats_of_clients<DB: sqlx::Database>(
    query: &mut QueryBuilder<'_, DB>,
    client_keys: &[&str],
    now: i64,
) where
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query
        .push(
            "SELECT h.client_key, h.event_id, COUNT(*), MIN(s.held_until) FROM seats s \
             JOIN holds h ON h.id = s.hold_id \
             WHERE h.status = 'active' AND s.status = 'held' AND s.held_until > ",
        )
        .push_bind(now)
        .push(" AND h.client_key IN (");
    push_text_list(query, client_keys);
    query.push(" GROUP BY h.client_key, h.event_id");
}

/// What the claimants already have, as the batch reads it before deciding.
#[derive(Debug, Default)]
struct Counts {
    /// Seats held or bought, per (session, event).
    sessions: HashMap<(String, i64), i64>,
    /// Seats held or bought, per (account, event).
    accounts: HashMap<(i64, i64), i64>,
    /// Seats held now, and the earliest end among them, per (address, event).
    clients: HashMap<(String, i64), (i64, i64)>,
}

impl Counts {
    /// Whichever of the session's and the account's counts is higher: the
    /// per-buyer limit holds for both.
    fn buyer(&self, request: &ClaimRequest) -> i64 {
        let session = self
            .sessions
            .get(&(request.session_id.clone(), request.event_id))
            .copied()
            .unwrap_or(0);
        let account = request
            .account_id
            .and_then(|id| self.accounts.get(&(id, request.event_id)).copied())
            .unwrap_or(0);
        session.max(account)
    }

    /// The address's held seats and their first end, if over its cap with `wanted` more.
    fn client_over_cap(&self, request: &ClaimRequest, wanted: i64) -> Option<(i64, i64)> {
        let cap = request.client.as_ref()?;
        let (held, first_end) = self
            .clients
            .get(&(cap.key.clone(), request.event_id))
            .copied()
            .unwrap_or((0, i64::MAX));
        (held + wanted > cap.max_seats).then_some((held, first_end))
    }

    fn add(&mut self, request: &ClaimRequest, wanted: i64) {
        *self
            .sessions
            .entry((request.session_id.clone(), request.event_id))
            .or_default() += wanted;
        if let Some(id) = request.account_id {
            *self.accounts.entry((id, request.event_id)).or_default() += wanted;
        }
        if let Some(cap) = &request.client {
            let entry = self
                .clients
                .entry((cap.key.clone(), request.event_id))
                .or_insert((0, i64::MAX));
            entry.0 += wanted;
            entry.1 = entry.1.min(request.expires_at);
        }
    }
}

/// Decides every claim of the batch, in order, against the seats as read
/// (after the batch's hold endings) and the seats earlier claims of the
/// batch took; the counts per session, account and address grow with each
/// success, so one buyer's parallel claims cannot pass the limit together,
/// nor one address's the cap.
fn plan_claims<'a>(
    claims: &[(usize, &'a ClaimRequest, i64)],
    mut seats: HashMap<i64, LookedUpSeat>,
    mut counts: Counts,
) -> (Vec<(usize, ClaimOutcome)>, Vec<PlannedClaim<'a>>) {
    let mut refused = Vec::new();
    let mut planned = Vec::new();
    for &(index, request, version) in claims {
        let unknown: Vec<i64> = request
            .seat_ids
            .iter()
            .copied()
            .filter(|id| {
                seats
                    .get(id)
                    .is_none_or(|seat| seat.event_id != request.event_id)
            })
            .collect();
        let already = counts.buyer(request);
        let wanted = request.seat_ids.len() as i64;
        let taken: Vec<i64> = request
            .seat_ids
            .iter()
            .copied()
            .filter(|id| {
                seats
                    .get(id)
                    .is_some_and(|seat| !is_claimable(&seat.seat, request.now))
            })
            .collect();
        let outcome = if !unknown.is_empty() {
            ClaimOutcome::Unknown(unknown)
        } else if already + wanted > request.max_per_buyer {
            ClaimOutcome::LimitExceeded { already }
        } else if let Some((held, first_end)) = counts.client_over_cap(request, wanted) {
            ClaimOutcome::AddressCapReached {
                held,
                retry_after_ms: first_end.saturating_sub(request.now).max(0),
            }
        } else if !taken.is_empty() {
            ClaimOutcome::Unavailable(taken)
        } else {
            let mut held = Vec::with_capacity(request.seat_ids.len());
            for id in &request.seat_ids {
                if let Some(looked_up) = seats.get_mut(id) {
                    looked_up.seat.status = SeatStatus::Held.as_str().to_string();
                    looked_up.seat.held_until = Some(request.expires_at);
                    held.push(looked_up.seat.clone());
                }
            }
            held.sort_by_key(|seat| seat.id);
            counts.add(request, wanted);
            planned.push(PlannedClaim {
                index,
                request,
                version,
                total_cents: held.iter().map(|seat| seat.price_cents).sum(),
                seats: held,
            });
            continue;
        };
        refused.push((index, outcome));
    }
    (refused, planned)
}

/// Runs many claims and hold endings in one write transaction (group
/// commit): one commit, one fsync and one version per event for the whole
/// batch, and a fixed number of statements however many writes it holds.
///
/// The batch is equivalent to running its hold endings first, then its
/// claims one after another in arrival order (any order of concurrent
/// requests is a correct one):
/// 1. lock each event (ascending ids, so batches of two servers cannot
///    deadlock) and take its next version;
/// 2. end the holds and free their seats;
/// 3. read every requested seat and every claimant's seat counts (per
///    session, account and address), and decide each claim in memory, in
///    order, so claims of one batch never share a seat or pass a buyer's
///    limit or an address's cap together;
/// 4. write the successful claims: their holds, then their seats in one
///    conditional UPDATE (available, or held with the hold run out). That
///    compare-and-set must change exactly the seats decided; if it ever
///    changes fewer, the whole batch fails and rolls back rather than sell
///    a seat twice.
///
/// Nothing can change these seats between the read and the write: every
/// seat writer takes the event's lock first (on SQLite, the database write
/// lock). Refusals are outcomes and write nothing. A database error fails
/// the whole batch: nothing is committed and every writer in it gets the
/// error.
pub async fn write_batch(
    store: &Store,
    requests: &[SeatWrite],
) -> Result<Vec<WriteOutcome>, StoreError> {
    let outcomes = on_pool!(store, pool => async {
        let mut tx = pool.begin_write().await?;
        let mut outcomes: Vec<Option<WriteOutcome>> = requests.iter().map(|_| None).collect();

        // 1. Lock the events; a version is written only if seats changed.
        let mut event_ids: Vec<i64> = requests.iter().map(SeatWrite::event_id).collect();
        event_ids.sort_unstable();
        event_ids.dedup();
        let mut versions: HashMap<i64, i64> = HashMap::new();
        for event_id in event_ids {
            let current: Option<(i64,)> = sqlx::query_as(
                "UPDATE events SET version = version WHERE id = $1 RETURNING version",
            )
            .bind(event_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((current,)) = current {
                versions.insert(event_id, current + 1);
            }
        }
        for (index, request) in requests.iter().enumerate() {
            if !versions.contains_key(&request.event_id()) {
                outcomes[index] = Some(WriteOutcome::NoSuchEvent);
            }
        }
        let mut changes: Vec<ChangeRecord> = Vec::new();

        // 2. End holds, grouped by what they become and when they are due.
        let ends: Vec<(usize, &EndRequest)> = requests
            .iter()
            .enumerate()
            .filter(|(index, _)| outcomes[*index].is_none())
            .filter_map(|(index, request)| match request {
                SeatWrite::End(end) => Some((index, end)),
                SeatWrite::Claim(_) => None,
            })
            .collect();
        let mut freed_by_hold: HashMap<i64, Vec<i64>> = HashMap::new();
        let mut groups: Vec<(&'static str, i64)> = ends.iter().map(|(_, end)| (end.new_status, end.due_before())).collect();
        groups.sort_unstable();
        groups.dedup();
        for (new_status, due_before) in groups {
            let hold_ids: Vec<i64> = ends
                .iter()
                .filter(|(_, end)| (end.new_status, end.due_before()) == (new_status, due_before))
                .map(|(_, end)| end.hold_id)
                .collect();
            for chunk in hold_ids.chunks(ROWS_PER_STATEMENT) {
                // An ended hold no longer needs its client's address.
                let mut end_holds = QueryBuilder::new("UPDATE holds SET client_key = NULL, status = ");
                end_holds
                    .push_bind(new_status.to_string())
                    .push(" WHERE status = 'active' AND expires_at <= ")
                    .push_bind(due_before)
                    .push(" AND id IN (");
                push_id_list(&mut end_holds, chunk);
                end_holds.push(" RETURNING id");
                let ended: Vec<(i64,)> = end_holds.build_query_as().fetch_all(&mut *tx).await?;
                let ended_ids: Vec<i64> = ended.into_iter().map(|(hold_id,)| hold_id).collect();
                for hold_id in &ended_ids {
                    freed_by_hold.insert(*hold_id, Vec::new());
                }
                if ended_ids.is_empty() {
                    continue;
                }
                let mut held = QueryBuilder::new(
                    "SELECT id, hold_id, event_id FROM seats WHERE status = 'held' AND hold_id IN (",
                );
                push_id_list(&mut held, &ended_ids);
                let held: Vec<(i64, i64, i64)> = held.build_query_as().fetch_all(&mut *tx).await?;
                let mut seat_events: Vec<i64> = held.iter().map(|(_, _, event_id)| *event_id).collect();
                seat_events.sort_unstable();
                seat_events.dedup();
                for event_id in seat_events {
                    let version = versions[&event_id];
                    let mut free = QueryBuilder::new(
                        "UPDATE seats SET status = 'available', hold_id = NULL, held_until = NULL, version = ",
                    );
                    free.push_bind(version)
                        .push(" WHERE status = 'held' AND +event_id = ")
                        .push_bind(event_id)
                        .push(" AND hold_id IN (");
                    push_id_list(&mut free, &ended_ids);
                    free.build().execute(&mut *tx).await?;
                }
                let at = ends.iter().map(|(_, end)| end.now).max().unwrap_or_default();
                for (seat_id, hold_id, event_id) in held {
                    freed_by_hold.entry(hold_id).or_default().push(seat_id);
                    changes.push(ChangeRecord {
                        event_id,
                        version: versions[&event_id],
                        seat_id,
                        status: SeatStatus::Available,
                        at,
                    });
                }
            }
        }
        for (index, end) in &ends {
            // A hold ended twice in one batch frees its seats the first time.
            let freed = freed_by_hold.remove(&end.hold_id).unwrap_or_default();
            outcomes[*index] = Some(WriteOutcome::Ended(freed));
        }

        // 3. Read what the claims need and decide them.
        let claims: Vec<(usize, &ClaimRequest, i64)> = requests
            .iter()
            .enumerate()
            .filter(|(index, _)| outcomes[*index].is_none())
            .filter_map(|(index, request)| match request {
                SeatWrite::Claim(claim) => Some((index, claim, versions[&claim.event_id])),
                SeatWrite::End(_) => None,
            })
            .collect();
        if !claims.is_empty() {
            let mut seat_ids: Vec<i64> = claims
                .iter()
                .flat_map(|(_, claim, _)| claim.seat_ids.iter().copied())
                .collect();
            seat_ids.sort_unstable();
            seat_ids.dedup();
            let mut seats: HashMap<i64, LookedUpSeat> = HashMap::with_capacity(seat_ids.len());
            for chunk in seat_ids.chunks(ROWS_PER_STATEMENT) {
                let mut lookup = QueryBuilder::new(
                    "SELECT s.event_id, s.id, sec.name AS section, s.row_label, s.number, s.x, s.y, \
                     t.name AS tier, t.price_cents, s.status, s.held_until FROM seats s \
                     JOIN sections sec ON sec.id = s.section_id JOIN price_tiers t ON t.id = s.tier_id \
                     WHERE s.id IN (",
                );
                push_id_list(&mut lookup, chunk);
                let rows: Vec<LookedUpSeat> = lookup.build_query_as().fetch_all(&mut *tx).await?;
                seats.extend(rows.into_iter().map(|row| (row.seat.id, row)));
            }
            let mut session_ids: Vec<&str> = claims.iter().map(|(_, claim, _)| claim.session_id.as_str()).collect();
            session_ids.sort_unstable();
            session_ids.dedup();
            let now = claims.iter().map(|(_, claim, _)| claim.now).max().unwrap_or_default();
            let mut counts = Counts::default();
            for chunk in session_ids.chunks(ROWS_PER_STATEMENT) {
                let mut count = QueryBuilder::new("");
                push_seats_of_sessions(&mut count, chunk, now);
                let rows: Vec<(String, i64, i64)> = count.build_query_as().fetch_all(&mut *tx).await?;
                for (session_id, event_id, seats) in rows {
                    *counts.sessions.entry((session_id, event_id)).or_default() += seats;
                }
            }
            let mut account_ids: Vec<i64> = claims.iter().filter_map(|(_, claim, _)| claim.account_id).collect();
            account_ids.sort_unstable();
            account_ids.dedup();
            for chunk in account_ids.chunks(ROWS_PER_STATEMENT) {
                let mut count = QueryBuilder::new("");
                push_seats_of_accounts(&mut count, chunk, now);
                let rows: Vec<(i64, i64, i64)> = count.build_query_as().fetch_all(&mut *tx).await?;
                for (account_id, event_id, seats) in rows {
                    *counts.accounts.entry((account_id, event_id)).or_default() += seats;
                }
            }
            let mut client_keys: Vec<&str> = claims
                .iter()
                .filter_map(|(_, claim, _)| claim.client.as_ref().map(|cap| cap.key.as_str()))
                .collect();
            client_keys.sort_unstable();
            client_keys.dedup();
            for chunk in client_keys.chunks(ROWS_PER_STATEMENT) {
                let mut count = QueryBuilder::new("");
                push_seats_of_clients(&mut count, chunk, now);
                let rows: Vec<(String, i64, i64, Option<i64>)> = count.build_query_as().fetch_all(&mut *tx).await?;
                for (client_key, event_id, seats, first_end) in rows {
                    counts.clients.insert((client_key, event_id), (seats, first_end.unwrap_or(i64::MAX)));
                }
            }
            let (refused, planned) = plan_claims(&claims, seats, counts);
            for (index, outcome) in refused {
                outcomes[index] = Some(WriteOutcome::Claim(outcome));
            }

            // 4. Write the successful claims.
            let mut hold_ids: Vec<i64> = Vec::with_capacity(planned.len());
            for chunk in planned.chunks(ROWS_PER_STATEMENT / 8) {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO holds (event_id, session_id, status, expires_at, seat_count, total_cents, \
                     created_at, user_id, client_key) ",
                );
                insert.push_values(chunk, |mut row, claim| {
                    row.push_bind(claim.request.event_id)
                        .push_bind(claim.request.session_id.clone())
                        .push_bind("active".to_string())
                        .push_bind(claim.request.expires_at)
                        .push_bind(claim.seats.len() as i64)
                        .push_bind(claim.total_cents)
                        .push_bind(claim.request.now)
                        .push_bind(claim.request.account_id)
                        .push_bind(claim.request.client.as_ref().map(|cap| cap.key.clone()));
                });
                insert.push(" RETURNING id");
                let mut ids: Vec<(i64,)> = insert.build_query_as().fetch_all(&mut *tx).await?;
                // Ids are drawn in the order of the rows; RETURNING's own
                // order is not promised, so sort.
                ids.sort_unstable();
                hold_ids.extend(ids.into_iter().map(|(id,)| id));
            }
            if hold_ids.len() != planned.len() {
                return Err(sqlx::Error::Protocol("a batch inserted fewer holds than planned".into()));
            }
            // (seat, hold, until, version, now) for every seat claimed.
            let claimed_seats: Vec<(i64, i64, i64, i64, i64)> = planned
                .iter()
                .zip(&hold_ids)
                .flat_map(|(claim, &hold_id)| {
                    claim.seats.iter().map(move |seat| {
                        (seat.id, hold_id, claim.request.expires_at, claim.version, claim.request.now)
                    })
                })
                .collect();
            let mut claimed = 0;
            for chunk in claimed_seats.chunks(ROWS_PER_STATEMENT) {
                let mut claim = QueryBuilder::new("UPDATE seats SET status = 'held', hold_id = v.column2, \
                     held_until = v.column3, version = v.column4 FROM (");
                claim.push_values(chunk, |mut row, (seat_id, hold_id, until, version, now)| {
                    row.push_bind(*seat_id)
                        .push_bind(*hold_id)
                        .push_bind(*until)
                        .push_bind(*version)
                        .push_bind(*now);
                });
                claim.push(
                    ") AS v WHERE seats.id = v.column1 AND (seats.status = 'available' \
                     OR (seats.status = 'held' AND seats.held_until <= v.column5))",
                );
                claimed += claim.build().execute(&mut *tx).await?.rows_affected();
            }
            if claimed != claimed_seats.len() as u64 {
                tracing::error!(claimed, planned = claimed_seats.len(), "a batch's claims changed fewer seats than it read as free; failing the batch");
                return Err(sqlx::Error::Protocol("a claim lost seats it had read as free".into()));
            }
            for chunk in claimed_seats.chunks(ROWS_PER_STATEMENT) {
                let mut links = QueryBuilder::new("INSERT INTO hold_seats (hold_id, seat_id) ");
                links.push_values(chunk, |mut row, (seat_id, hold_id, ..)| {
                    row.push_bind(*hold_id).push_bind(*seat_id);
                });
                links.build().execute(&mut *tx).await?;
            }
            for (claim, hold_id) in planned.into_iter().zip(hold_ids) {
                changes.extend(claim.seats.iter().map(|seat| ChangeRecord {
                    event_id: claim.request.event_id,
                    version: claim.version,
                    seat_id: seat.id,
                    status: SeatStatus::Held,
                    at: claim.request.now,
                }));
                outcomes[claim.index] = Some(WriteOutcome::Claim(ClaimOutcome::Claimed {
                    hold_id,
                    version: claim.version,
                    total_cents: claim.total_cents,
                    seats: claim.seats,
                }));
            }
        }

        // 5. Log the changes and move the versions of events that changed.
        // A seat freed and claimed again in one batch is logged once, with
        // where it ended: a version is a state of the seat map, and the log
        // keys one change per seat and version.
        let mut logged: HashSet<(i64, i64)> = HashSet::new();
        let mut changes: Vec<ChangeRecord> = changes
            .into_iter()
            .rev()
            .filter(|change| logged.insert((change.event_id, change.seat_id)))
            .collect();
        changes.reverse();
        let changed_events: HashSet<i64> = changes.iter().map(|change| change.event_id).collect();
        for event_id in changed_events {
            sqlx::query("UPDATE events SET version = $1 WHERE id = $2")
                .bind(versions[&event_id])
                .bind(event_id)
                .execute(&mut *tx)
                .await?;
        }
        for chunk in changes.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::new(
                "INSERT INTO seat_changes (event_id, version, seat_id, status, changed_at) ",
            );
            insert.push_values(chunk, |mut row, change| {
                row.push_bind(change.event_id)
                    .push_bind(change.version)
                    .push_bind(change.seat_id)
                    .push_bind(change.status.as_str().to_string())
                    .push_bind(change.at);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        outcomes
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| sqlx::Error::Protocol("a write of the batch got no outcome".into()))
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
