//! Venue staff: live sales figures, taking seats off sale (kills), gate
//! scanning of signed tickets, and staff accounts. Every route here checks
//! the caller's role on the server (`accounts::roles::StaffOnly` and
//! `AdminOnly`).

pub mod layout;
pub mod manage;
pub mod members;
pub mod routes;

use crate::clock::format_ms;
use crate::clock::Clock;
use crate::error::sqlx_error_to_api;
use crate::inventory::batcher::SeatWriter;
use crate::inventory::writer::BlockRequest;
use crate::on_pool;
use crate::store::Store;
use crate::ticket_codes::{self, TicketSigner};
use app::error::ApiError;
use app::staff::{EventStats, ScanOutcome, ScanResult, SectionStats};
use app::types::{EventId, PurchaseId, Role};
use std::sync::Arc;

const MINUTE_MS: i64 = 60_000;
/// Sales-per-minute history length.
pub const MINUTES: i64 = 60;
/// At most this many seats per block request.
pub const MAX_BLOCK: usize = app::staff::MAX_SEATS_PER_BLOCK;

#[derive(Clone)]
pub struct Staff {
    store: Store,
    seats: SeatWriter,
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

pub use crate::inventory::writer::BlockOutcome;

impl Staff {
    /// Queues a paid purchase's ticket email again; 404 if there is no
    /// paid purchase `purchase_id`.
    pub async fn resend_tickets(&self, purchase_id: PurchaseId) -> Result<(), ApiError> {
        if crate::mail::outbox::resend_tickets(&self.store, purchase_id.0, self.clock.now()).await?
        {
            Ok(())
        } else {
            Err(ApiError::not_found(format!(
                "no paid purchase {purchase_id}"
            )))
        }
    }

    pub fn new(store: Store, seats: SeatWriter, clock: Clock, signer: Arc<TicketSigner>) -> Self {
        Self {
            store,
            seats,
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
        self.seats
            .block(BlockRequest {
                event_id: event_id.0,
                seat_ids: seat_ids.to_vec(),
                blocked,
                now: self.clock.now(),
            })
            .await
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
        let Some(claim) = ticket_codes::verify(&self.signer.verifying_key(), code) else {
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
