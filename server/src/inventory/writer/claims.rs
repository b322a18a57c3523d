//! Steps 4 to 6: read what the batch's claims need, decide each claim in
//! memory, in arrival order, and write the successful ones.

use super::log::ROWS_PER_STATEMENT;
use super::{Batch, SeatWrite, WriteOutcome};
use crate::catalog::queries::SeatFields;
use crate::on_tx;
use crate::store::{push_id_list, push_rows, AnyWriteTx, BindList, Column};
use app::types::{HoldStatus, SeatStatus};
use sqlx::QueryBuilder;
use std::collections::HashMap;

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

/// Seats the claiming sessions already have, per session and event: in
/// active, unexpired holds, plus live tickets they bought. The per-buyer
/// limit counts both. One row per (session, event) and source; the caller
/// adds them up.
fn push_seats_of_sessions<DB: BindList>(
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
    DB::push_texts(query, session_ids);
    query.push(
        " GROUP BY h.session_id, h.event_id UNION ALL \
         SELECT p.session_id, t.event_id, COUNT(*) FROM tickets t JOIN purchases p ON p.id = t.purchase_id \
         WHERE t.status IN ('valid', 'used') AND p.session_id IN (",
    );
    DB::push_texts(query, session_ids);
    query.push(" GROUP BY p.session_id, t.event_id");
}

/// Seats the claiming accounts already have, per account and event: in
/// active, unexpired holds made signed in, plus live tickets of their
/// purchases — those made signed in, and guest checkouts with the
/// account's email once that email is confirmed (before that, the account
/// learns nothing about them, not even a count). One row per source.
fn push_seats_of_accounts<DB: BindList>(
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
fn push_seats_of_clients<DB: BindList>(
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
    DB::push_texts(query, client_keys);
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

/// Step 5: decides every claim of the batch, in order, against the seats as read
/// (after the batch's other writes) and the seats earlier claims of the
/// batch took; the counts per session, account and address grow with each
/// success, so one buyer's parallel claims cannot pass the limit together,
/// nor one address's the cap.
pub(super) fn decide<'a>(
    claims: &[(usize, &'a ClaimRequest)],
    read: Read,
) -> (Vec<(usize, ClaimOutcome)>, Vec<PlannedClaim<'a>>) {
    let Read {
        mut seats,
        mut counts,
    } = read;
    let mut refused = Vec::new();
    let mut planned = Vec::new();
    for &(index, request) in claims {
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
                total_cents: held.iter().map(|seat| seat.price_cents).sum(),
                seats: held,
            });
            continue;
        };
        refused.push((index, outcome));
    }
    (refused, planned)
}

/// A claim the batch has decided will succeed, waiting for its hold id.
#[derive(Debug)]
pub(super) struct PlannedClaim<'a> {
    index: usize,
    request: &'a ClaimRequest,
    total_cents: i64,
    seats: Vec<SeatFields>,
}

/// What the claims of a batch need to be decided: the seats they ask for,
/// and what their buyers and addresses already have.
#[derive(Debug)]
pub(super) struct Read {
    seats: HashMap<i64, LookedUpSeat>,
    counts: Counts,
}

/// The batch's claims not refused yet, in arrival order.
pub(super) fn undecided<'a>(batch: &Batch<'a>) -> Vec<(usize, &'a ClaimRequest)> {
    batch
        .undecided()
        .filter_map(|(index, request)| match request {
            SeatWrite::Claim(claim) => Some((index, claim)),
            _ => None,
        })
        .collect()
}

/// Step 4: every requested seat, and every claimant's seat counts (per
/// session, account and address), as the batch's transaction sees them.
pub(super) async fn read(
    tx: &mut AnyWriteTx,
    claims: &[(usize, &ClaimRequest)],
) -> Result<Read, sqlx::Error> {
    let mut seat_ids: Vec<i64> = claims
        .iter()
        .flat_map(|(_, claim)| claim.seat_ids.iter().copied())
        .collect();
    seat_ids.sort_unstable();
    seat_ids.dedup();
    let mut seats: HashMap<i64, LookedUpSeat> = HashMap::with_capacity(seat_ids.len());
    for chunk in seat_ids.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<LookedUpSeat> = on_tx!(tx, conn => {
            let mut lookup = QueryBuilder::new(
                "SELECT s.event_id, s.id, sec.name AS section, s.row_label, s.number, s.x, s.y, \
                 t.name AS tier, t.price_cents, s.status, s.held_until FROM seats s \
                 JOIN sections sec ON sec.id = s.section_id JOIN price_tiers t ON t.id = s.tier_id \
                 WHERE s.id IN (",
            );
            push_id_list(&mut lookup, chunk);
            lookup.build_query_as().fetch_all(&mut *conn).await
        })?;
        seats.extend(rows.into_iter().map(|row| (row.seat.id, row)));
    }
    let now = claims
        .iter()
        .map(|(_, claim)| claim.now)
        .max()
        .unwrap_or_default();
    let counts = read_counts(tx, claims, now).await?;
    Ok(Read { seats, counts })
}

/// Sorted, distinct.
fn distinct<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort_unstable();
    items.dedup();
    items
}

/// What the claimants already have: seats held or bought per session and
/// per account, and seats held per address.
async fn read_counts(
    tx: &mut AnyWriteTx,
    claims: &[(usize, &ClaimRequest)],
    now: i64,
) -> Result<Counts, sqlx::Error> {
    let mut counts = Counts::default();
    let session_ids = distinct(claims.iter().map(|(_, c)| c.session_id.as_str()).collect());
    for chunk in session_ids.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<(String, i64, i64)> = on_tx!(tx, conn => {
            let mut count = QueryBuilder::new("");
            push_seats_of_sessions(&mut count, chunk, now);
            count.build_query_as().fetch_all(&mut *conn).await
        })?;
        for (session_id, event_id, seats) in rows {
            *counts.sessions.entry((session_id, event_id)).or_default() += seats;
        }
    }
    let account_ids = distinct(claims.iter().filter_map(|(_, c)| c.account_id).collect());
    for chunk in account_ids.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<(i64, i64, i64)> = on_tx!(tx, conn => {
            let mut count = QueryBuilder::new("");
            push_seats_of_accounts(&mut count, chunk, now);
            count.build_query_as().fetch_all(&mut *conn).await
        })?;
        for (account_id, event_id, seats) in rows {
            *counts.accounts.entry((account_id, event_id)).or_default() += seats;
        }
    }
    let client_keys = distinct(
        claims
            .iter()
            .filter_map(|(_, c)| c.client.as_ref().map(|cap| cap.key.as_str()))
            .collect(),
    );
    for chunk in client_keys.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<(String, i64, i64, Option<i64>)> = on_tx!(tx, conn => {
            let mut count = QueryBuilder::new("");
            push_seats_of_clients(&mut count, chunk, now);
            count.build_query_as().fetch_all(&mut *conn).await
        })?;
        for (client_key, event_id, seats, first_end) in rows {
            let first_end = first_end.unwrap_or(i64::MAX);
            counts
                .clients
                .insert((client_key, event_id), (seats, first_end));
        }
    }
    Ok(counts)
}

/// Step 6: the successful claims' holds, their seats in one conditional
/// UPDATE (available, or held with the hold run out), and the links. That
/// compare-and-set must change exactly the seats decided; if it ever
/// changes fewer, the whole batch fails and rolls back rather than sell a
/// seat twice.
pub(super) async fn write(
    tx: &mut AnyWriteTx,
    batch: &mut Batch<'_>,
    planned: Vec<PlannedClaim<'_>>,
) -> Result<(), sqlx::Error> {
    if planned.is_empty() {
        return Ok(());
    }
    let hold_ids = insert_holds(tx, &planned).await?;
    // (seat, hold, until, version, now) for every seat claimed.
    let claimed_seats: Vec<(i64, i64, i64, i64, i64)> = planned
        .iter()
        .zip(&hold_ids)
        .flat_map(|(claim, &hold_id)| {
            let version = batch.version(claim.request.event_id);
            let request = claim.request;
            claim
                .seats
                .iter()
                .map(move |seat| (seat.id, hold_id, request.expires_at, version, request.now))
        })
        .collect();
    let mut claimed = 0;
    for chunk in claimed_seats.chunks(ROWS_PER_STATEMENT) {
        claimed += on_tx!(tx, conn => {
            let mut claim = QueryBuilder::new(
                "UPDATE seats SET status = 'held', hold_id = v.column2, \
                 held_until = v.column3, version = v.column4 FROM ",
            );
            push_rows(&mut claim, vec![
                Column::Ids(chunk.iter().map(|seat| seat.0).collect()),
                Column::Ids(chunk.iter().map(|seat| seat.1).collect()),
                Column::Ids(chunk.iter().map(|seat| seat.2).collect()),
                Column::Ids(chunk.iter().map(|seat| seat.3).collect()),
                Column::Ids(chunk.iter().map(|seat| seat.4).collect()),
            ]);
            claim.push(
                " WHERE seats.id = v.column1 AND (seats.status = 'available' \
                 OR (seats.status = 'held' AND seats.held_until <= v.column5))",
            );
            claim.build().execute(&mut *conn).await.map(|done| done.rows_affected())
        })?;
    }
    if claimed != claimed_seats.len() as u64 {
        tracing::error!(
            claimed,
            planned = claimed_seats.len(),
            "a batch's claims changed fewer seats than it read as free; failing the batch"
        );
        return Err(sqlx::Error::Protocol(
            "a claim lost seats it had read as free".into(),
        ));
    }
    for chunk in claimed_seats.chunks(ROWS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut links =
                QueryBuilder::new("INSERT INTO hold_seats (hold_id, seat_id) SELECT * FROM ");
            push_rows(&mut links, vec![
                Column::Ids(chunk.iter().map(|seat| seat.1).collect()),
                Column::Ids(chunk.iter().map(|seat| seat.0).collect()),
            ]);
            links.build().execute(&mut *conn).await.map(|done| done.rows_affected())
        })?;
    }
    for (claim, hold_id) in planned.into_iter().zip(hold_ids) {
        let seat_ids: Vec<i64> = claim.seats.iter().map(|seat| seat.id).collect();
        let request = claim.request;
        let version = batch.version(request.event_id);
        batch.changed(request.event_id, &seat_ids, SeatStatus::Held, request.now);
        batch.outcomes[claim.index] = Some(WriteOutcome::Claim(ClaimOutcome::Claimed {
            hold_id,
            version,
            total_cents: claim.total_cents,
            seats: claim.seats,
        }));
    }
    Ok(())
}

/// Inserts the planned claims' holds; returns their ids in plan order.
async fn insert_holds(
    tx: &mut AnyWriteTx,
    planned: &[PlannedClaim<'_>],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut hold_ids: Vec<i64> = Vec::with_capacity(planned.len());
    for chunk in planned.chunks(ROWS_PER_STATEMENT / 8) {
        let mut ids: Vec<(i64,)> = on_tx!(tx, conn => {
            let mut insert = QueryBuilder::new(
                "INSERT INTO holds (event_id, session_id, status, expires_at, seat_count, \
                 total_cents, created_at, user_id, client_key) SELECT * FROM ",
            );
            let requests = || chunk.iter().map(|claim| claim.request);
            push_rows(&mut insert, vec![
                Column::Ids(requests().map(|request| request.event_id).collect()),
                Column::Texts(requests().map(|request| request.session_id.clone()).collect()),
                Column::Texts(vec![HoldStatus::Active.as_str().to_string(); chunk.len()]),
                Column::Ids(requests().map(|request| request.expires_at).collect()),
                Column::Ids(chunk.iter().map(|claim| claim.seats.len() as i64).collect()),
                Column::Ids(chunk.iter().map(|claim| claim.total_cents).collect()),
                Column::Ids(requests().map(|request| request.now).collect()),
                Column::MaybeIds(requests().map(|request| request.account_id).collect()),
                Column::MaybeTexts(
                    requests()
                        .map(|request| request.client.as_ref().map(|cap| cap.key.clone()))
                        .collect(),
                ),
            ]);
            insert.push(" RETURNING id");
            insert.build_query_as().fetch_all(&mut *conn).await
        })?;
        // Ids are drawn in the order of the rows; RETURNING's own order is
        // not promised, so sort.
        ids.sort_unstable();
        hold_ids.extend(ids.into_iter().map(|(id,)| id));
    }
    if hold_ids.len() != planned.len() {
        return Err(sqlx::Error::Protocol(
            "a batch inserted fewer holds than planned".into(),
        ));
    }
    Ok(hold_ids)
}
