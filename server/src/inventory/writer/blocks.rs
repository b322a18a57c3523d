//! Staff taking seats off sale (kills) and putting them back.

use super::Batch;
use crate::on_tx;
use crate::store::{push_id_list, AnyWriteTx};
use app::types::SeatStatus;
use sqlx::QueryBuilder;
use std::collections::HashMap;

/// Block (or unblock) these seats of the event, all or none.
#[derive(Clone, Debug)]
pub struct BlockRequest {
    pub event_id: i64,
    /// Distinct, non-empty.
    pub seat_ids: Vec<i64>,
    pub blocked: bool,
    pub now: i64,
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

/// Only available seats (or ones whose hold has run out) can be blocked;
/// a held or sold seat must be released or refunded first. Decided on the
/// seats as read: nothing else writes them until the batch commits.
pub(super) async fn block(
    tx: &mut AnyWriteTx,
    batch: &mut Batch<'_>,
    request: &BlockRequest,
    version: i64,
) -> Result<BlockOutcome, sqlx::Error> {
    let rows: Vec<(i64, String, Option<i64>)> = on_tx!(tx, conn => {
        let mut lookup = QueryBuilder::new("SELECT id, status, held_until FROM seats WHERE +event_id = ");
        lookup.push_bind(request.event_id).push(" AND id IN (");
        push_id_list(&mut lookup, &request.seat_ids);
        lookup.build_query_as().fetch_all(&mut *conn).await
    })?;
    let seats: HashMap<i64, (String, Option<i64>)> = rows
        .into_iter()
        .map(|(id, status, until)| (id, (status, until)))
        .collect();
    let unknown: Vec<i64> = request
        .seat_ids
        .iter()
        .copied()
        .filter(|id| !seats.contains_key(id))
        .collect();
    if !unknown.is_empty() {
        return Ok(BlockOutcome::Unknown(unknown));
    }
    let movable = |(status, until): &(String, Option<i64>)| {
        if request.blocked {
            status == SeatStatus::Available.as_str()
                || (status == SeatStatus::Held.as_str()
                    && until.is_some_and(|until| until <= request.now))
        } else {
            status == SeatStatus::Blocked.as_str()
        }
    };
    let conflict: Vec<i64> = request
        .seat_ids
        .iter()
        .copied()
        .filter(|id| !movable(&seats[id]))
        .collect();
    if !conflict.is_empty() {
        return Ok(BlockOutcome::Conflict(conflict));
    }
    let to = if request.blocked {
        SeatStatus::Blocked
    } else {
        SeatStatus::Available
    };
    on_tx!(tx, conn => {
        let mut update = QueryBuilder::new("UPDATE seats SET status = ");
        update
            .push_bind(to.as_str())
            .push(", hold_id = NULL, held_until = NULL, version = ")
            .push_bind(version)
            .push(" WHERE id IN (");
        push_id_list(&mut update, &request.seat_ids);
        update.build().execute(&mut *conn).await.map(|done| done.rows_affected())
    })?;
    batch.changed(request.event_id, &request.seat_ids, to, request.now);
    Ok(BlockOutcome::Changed { version })
}
