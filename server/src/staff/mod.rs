//! Venue staff: live sales figures, taking seats off sale (kills), gate
//! scanning of signed tickets, and staff accounts. Every route here checks
//! the caller's role on the server (`routes::StaffOnly`, `routes::AdminOnly`).

pub mod layout;
pub mod manage;
pub mod members;
pub mod routes;

use crate::catalog::format_ms;
use crate::error::sqlx_error_to_api;
use crate::inventory::clock::Clock;
use crate::on_pool;
use crate::store::{push_id_list, BeginWrite, Store};
use crate::tickets::codes::{self, TicketSigner};
use app::error::ApiError;
use app::staff::{EventStats, ScanOutcome, ScanResult, SectionStats};
use app::types::{EventId, Role, SeatStatus};
use sqlx::QueryBuilder;
use std::sync::Arc;

const MINUTE_MS: i64 = 60_000;
/// Sales-per-minute history length.
pub const MINUTES: i64 = 60;
/// At most this many seats per block request.
pub const MAX_BLOCK: usize = 5_000;

#[derive(Clone)]
pub struct Staff {
    store: Store,
    clock: Clock,
    signer: Arc<TicketSigner>,
}

#[derive(sqlx::FromRow)]
struct SectionRow {
    section: String,
    capacity: i64,
    sold: i64,
    held: i64,
    blocked: i64,
}

/// What blocking or unblocking did.
#[derive(Debug, PartialEq)]
pub enum BlockOutcome {
    Changed {
        version: i64,
    },
    /// These seats are held or sold (to block) or not blocked (to unblock).
    Conflict(Vec<i64>),
    /// These ids are not seats of the event.
    Unknown(Vec<i64>),
}

impl Staff {
    pub fn new(store: Store, clock: Clock, signer: Arc<TicketSigner>) -> Self {
        Self {
            store,
            clock,
            signer,
        }
    }

    /// Seats by status (overall and per section), revenue, and tickets
    /// issued per minute over the last hour. Expired holds count as
    /// available, as they do on the seat map.
    pub async fn stats(&self, event_id: EventId) -> Result<EventStats, ApiError> {
        let now = self.clock.now();
        let current_minute = now - now.rem_euclid(MINUTE_MS);
        let since = current_minute - (MINUTES - 1) * MINUTE_MS;
        let version = self.event_version(event_id).await?;
        let store = &self.store;
        let sections: Vec<SectionRow> = on_pool!(store, pool => sqlx::query_as::<_, SectionRow>(
            "SELECT sec.name AS section, COUNT(*) AS capacity, \
             SUM(CASE WHEN s.status = 'sold' THEN 1 ELSE 0 END) AS sold, \
             SUM(CASE WHEN s.status = 'held' AND s.held_until > $2 THEN 1 ELSE 0 END) AS held, \
             SUM(CASE WHEN s.status = 'blocked' THEN 1 ELSE 0 END) AS blocked \
             FROM seats s JOIN sections sec ON sec.id = s.section_id WHERE s.event_id = $1 \
             GROUP BY sec.id, sec.name, sec.sort_order ORDER BY sec.sort_order, sec.id",
        )
        .bind(event_id.0)
        .bind(now)
        .fetch_all(pool)
        .await)
        .map_err(sqlx_error_to_api)?;
        let (revenue_cents,): (i64,) = on_pool!(store, pool => sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(total_cents), 0) AS BIGINT) FROM purchases \
             WHERE event_id = $1 AND status = 'paid'",
        )
        .bind(event_id.0)
        .fetch_one(pool)
        .await)
        .map_err(sqlx_error_to_api)?;
        let per_minute: Vec<(i64, i64)> = on_pool!(store, pool => sqlx::query_as(
            "SELECT (created_at - $2) / 60000 AS minute, COUNT(*) FROM tickets \
             WHERE event_id = $1 AND created_at >= $2 GROUP BY minute",
        )
        .bind(event_id.0)
        .bind(since)
        .fetch_all(pool)
        .await)
        .map_err(sqlx_error_to_api)?;
        let mut sales_per_minute = vec![0; MINUTES as usize];
        for (minute, count) in per_minute {
            if let Some(slot) = usize::try_from(minute)
                .ok()
                .and_then(|m| sales_per_minute.get_mut(m))
            {
                *slot = count;
            }
        }
        let sections: Vec<SectionStats> = sections
            .into_iter()
            .map(|row| SectionStats {
                available: row.capacity - row.sold - row.held - row.blocked,
                section: row.section,
                capacity: row.capacity,
                sold: row.sold,
                held: row.held,
                blocked: row.blocked,
            })
            .collect();
        let total = |field: fn(&SectionStats) -> i64| sections.iter().map(field).sum();
        Ok(EventStats {
            event_id,
            version,
            sold: total(|s| s.sold),
            held: total(|s| s.held),
            available: total(|s| s.available),
            blocked: total(|s| s.blocked),
            revenue_cents,
            sales_per_minute,
            sections,
        })
    }

    /// Takes seats off sale (or puts them back), all or none, as one
    /// versioned change that every open seat map receives. Only available
    /// seats (or ones whose hold has expired) can be blocked; a held or sold
    /// seat must be released or refunded first.
    pub async fn set_blocked(
        &self,
        event_id: EventId,
        seat_ids: &[i64],
        blocked: bool,
    ) -> Result<BlockOutcome, ApiError> {
        self.event_version(event_id).await?;
        let now = self.clock.now();
        let to = if blocked {
            SeatStatus::Blocked
        } else {
            SeatStatus::Available
        };
        let store = &self.store;
        let outcome = on_pool!(store, pool => async {
            let mut tx = pool.begin_write().await?;
            let version = crate::bump_event_version!(tx, event_id.0);
            let mut update = QueryBuilder::new("UPDATE seats SET status = ");
            update
                .push_bind(to.as_str())
                .push(", hold_id = NULL, held_until = NULL, version = ")
                .push_bind(version)
                // By primary key, not by the (event, status) index: the
                // unary `+` keeps SQLite's planner from choosing
                // `seats_by_event_status` for seats named by id.
                .push(" WHERE +event_id = ")
                .push_bind(event_id.0);
            if blocked {
                update
                    .push(" AND (status = 'available' OR (status = 'held' AND held_until <= ")
                    .push_bind(now)
                    .push("))");
            } else {
                update.push(" AND status = 'blocked'");
            }
            update.push(" AND id IN (");
            push_id_list(&mut update, seat_ids);
            update.push(" RETURNING id");
            let changed: Vec<(i64,)> = update.build_query_as().fetch_all(&mut *tx).await?;
            if changed.len() != seat_ids.len() {
                let mut lookup = QueryBuilder::new("SELECT id FROM seats WHERE +event_id = ");
                lookup.push_bind(event_id.0).push(" AND id IN (");
                push_id_list(&mut lookup, seat_ids);
                let known: Vec<(i64,)> = lookup.build_query_as().fetch_all(&mut *tx).await?;
                tx.rollback().await?;
                let unknown = missing(seat_ids, &known);
                return Ok(if unknown.is_empty() {
                    BlockOutcome::Conflict(missing(seat_ids, &changed))
                } else {
                    BlockOutcome::Unknown(unknown)
                });
            }
            crate::insert_changes!(tx, event_id.0, version, changed.iter().map(|(id,)| *id), to, now);
            tx.commit().await?;
            Ok::<_, sqlx::Error>(BlockOutcome::Changed { version })
        }.await)
        .map_err(sqlx_error_to_api)?;
        Ok(outcome)
    }

    async fn event_version(&self, event_id: EventId) -> Result<i64, ApiError> {
        let store = &self.store;
        let found: Option<(i64,)> = on_pool!(store, pool =>
            sqlx::query_as("SELECT version FROM events WHERE id = $1")
                .bind(event_id.0)
                .fetch_optional(pool)
                .await)
        .map_err(sqlx_error_to_api)?;
        found
            .map(|(version,)| version)
            .ok_or_else(|| ApiError::not_found(format!("no event {event_id}")))
    }

    /// Checks a ticket at the gate. The signature is checked first (a
    /// forged code never touches the database); then one conditional
    /// UPDATE admits a valid ticket exactly once, however many gates scan
    /// it at the same moment. Only `valid` is admitted: a refund takes its
    /// tickets out of `valid` in the transaction that decides it (before
    /// the processor is asked), so a scan and a refund never both succeed.
    pub async fn scan(
        &self,
        code: &str,
        gate_event: Option<EventId>,
    ) -> Result<ScanResult, ApiError> {
        let invalid = |message: &str| ScanResult {
            result: ScanOutcome::Invalid,
            message: message.to_string(),
            first_scanned_at: None,
            event_id: None,
            seat: None,
        };
        let Some(claim) = codes::verify(&self.signer.verifying_key(), code) else {
            return Ok(invalid(
                "not a genuine ticket: the code's signature does not check out",
            ));
        };
        if gate_event.is_some_and(|event| event.0 != claim.event_id) {
            return Ok(ScanResult {
                event_id: Some(EventId(claim.event_id)),
                ..invalid("this ticket is for another event")
            });
        }
        let now = self.clock.now();
        let store = &self.store;
        let admitted = on_pool!(store, pool => sqlx::query(
            "UPDATE tickets SET status = 'used', scanned_at = $1 WHERE code = $2 AND status = 'valid'",
        )
        .bind(now)
        .bind(code.trim())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .map_err(sqlx_error_to_api)?;
        let ticket: Option<(String, Option<i64>, String, String, i64)> =
            on_pool!(store, pool => sqlx::query_as(
            "SELECT tk.status, tk.scanned_at, sec.name, s.row_label, s.number FROM tickets tk \
             JOIN seats s ON s.id = tk.seat_id JOIN sections sec ON sec.id = s.section_id \
             WHERE tk.code = $1",
        )
        .bind(code.trim())
        .fetch_optional(pool)
        .await)
            .map_err(sqlx_error_to_api)?;
        let Some((status, scanned_at, section, row, number)) = ticket else {
            return Ok(invalid(
                "genuine signature, but no such ticket was issued here",
            ));
        };
        let seat = Some(format!("{section} · Row {row} · Seat {number}"));
        let event_id = Some(EventId(claim.event_id));
        let first_scanned_at = scanned_at.map(format_ms);
        Ok(match (admitted, status.as_str()) {
            (1, _) => ScanResult {
                result: ScanOutcome::Valid,
                message: "admit".into(),
                first_scanned_at,
                event_id,
                seat,
            },
            (_, "used") => ScanResult {
                result: ScanOutcome::AlreadyUsed,
                message: "already admitted".into(),
                first_scanned_at,
                event_id,
                seat,
            },
            (_, "refunded") => ScanResult {
                event_id,
                seat,
                ..invalid("this ticket was refunded")
            },
            _ => invalid("this ticket is not valid"),
        })
    }

    /// The clock the figures are computed with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Creates a staff or admin account (admins only call this).
    pub async fn create_account(
        &self,
        email: &str,
        password: String,
        display_name: &str,
        role: Role,
    ) -> Result<(), ApiError> {
        members::create_account(
            &self.store,
            self.clock.now(),
            email,
            password,
            display_name,
            role,
        )
        .await
        .map(|_| ())
    }

    /// The account with this email, as an admin sees it.
    pub async fn find_user(&self, email: &str) -> Result<app::staff::UserView, ApiError> {
        members::find_by_email(&self.store, email).await
    }

    /// Changes an account's role or disables it (admins only call this).
    pub async fn update_user(
        &self,
        id: i64,
        change: &app::staff::UpdateUserRequest,
    ) -> Result<app::staff::UserView, ApiError> {
        members::update(&self.store, self.clock.now(), id, change).await
    }
}

/// Ids of `wanted` not among `found`.
fn missing(wanted: &[i64], found: &[(i64,)]) -> Vec<i64> {
    let found: std::collections::HashSet<i64> = found.iter().map(|(id,)| *id).collect();
    wanted
        .iter()
        .copied()
        .filter(|id| !found.contains(id))
        .collect()
}
