//! A buyer's one extension of a hold.

use super::{Batch, HoldRow, HOLD_COLUMNS};
use crate::on_tx;
use crate::store::AnyWriteTx;
use app::types::{HoldStatus, SeatStatus};

/// Extend an active hold once, to `until` (the caller computes it: now
/// plus the event's hold length, never past the event's start).
#[derive(Clone, Debug)]
pub struct ExtendRequest {
    pub hold_id: i64,
    pub event_id: i64,
    pub until: i64,
    pub now: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtendOutcome {
    /// The hold and its seats now last until `expires_at`.
    Extended { expires_at: i64 },
    /// The hold was extended before: once per hold.
    AlreadyExtended,
    /// The hold ended or ran out (or does not exist).
    NotActive,
}

/// How many times a hold may be extended.
pub const EXTENSIONS_PER_HOLD: i64 = 1;

/// Moves an active hold's expiry and its seats' to `until`. It never
/// shortens a hold (a payment in flight may already hold it longer), and
/// it logs the seats as held again, so every seat map hears of the move.
pub(super) async fn extend(
    tx: &mut AnyWriteTx,
    batch: &mut Batch<'_>,
    request: &ExtendRequest,
) -> Result<ExtendOutcome, sqlx::Error> {
    let extended: Option<(i64,)> = on_tx!(tx, conn => sqlx::query_as(
        "UPDATE holds SET extensions = extensions + 1, \
         expires_at = CASE WHEN expires_at > $1 THEN expires_at ELSE $1 END \
         WHERE id = $2 AND event_id = $3 AND status = 'active' AND expires_at > $4 \
         AND extensions < $5 RETURNING expires_at",
    )
    .bind(request.until)
    .bind(request.hold_id)
    .bind(request.event_id)
    .bind(request.now)
    .bind(EXTENSIONS_PER_HOLD)
    .fetch_optional(&mut *conn)
    .await)?;
    let Some((expires_at,)) = extended else {
        return refusal(tx, request).await;
    };
    let version = batch.version(request.event_id);
    let seats: Vec<(i64,)> = on_tx!(tx, conn => sqlx::query_as(
        "UPDATE seats SET held_until = $1, version = $2 \
         WHERE hold_id = $3 AND status = 'held' RETURNING id",
    )
    .bind(expires_at)
    .bind(version)
    .bind(request.hold_id)
    .fetch_all(&mut *conn)
    .await)?;
    let seat_ids: Vec<i64> = seats.into_iter().map(|(id,)| id).collect();
    batch.changed(request.event_id, &seat_ids, SeatStatus::Held, request.now);
    Ok(ExtendOutcome::Extended { expires_at })
}

/// Why a hold was not extended: ended (or run out) comes first, then a
/// used extension.
async fn refusal(
    tx: &mut AnyWriteTx,
    request: &ExtendRequest,
) -> Result<ExtendOutcome, sqlx::Error> {
    let sql = format!("SELECT {HOLD_COLUMNS} FROM holds WHERE id = $1");
    let hold: Option<HoldRow> = on_tx!(tx, conn => sqlx::query_as(&sql)
    .bind(request.hold_id)
    .fetch_optional(&mut *conn)
    .await)?;
    Ok(match hold {
        Some(hold) if hold.status == HoldStatus::Active && hold.expires_at > request.now => {
            if hold.extensions >= EXTENSIONS_PER_HOLD {
                ExtendOutcome::AlreadyExtended
            } else {
                ExtendOutcome::NotActive
            }
        }
        _ => ExtendOutcome::NotActive,
    })
}
