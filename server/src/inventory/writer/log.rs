//! Event versions and the change log: plain functions every seat write of
//! a batch shares. A batch takes one new version per event it touches and
//! logs each changed seat once, with the state it ended in.

use super::{ChangeRecord, Logged};
use crate::on_tx;
use crate::store::{push_rows, AnyWriteTx, Column};
use std::collections::{HashMap, HashSet};

/// Rows per multi-row statement: at most 9 parameters a row stays far below
/// both backends' limits on bound parameters (32,766 on SQLite).
pub(super) const ROWS_PER_STATEMENT: usize = 1_000;

/// Locks each event's row, in ascending id order (so batches of two
/// servers queue instead of deadlocking), and returns the version the
/// batch will write for each event that exists. The version itself moves
/// only if seats change ([`write_log`]).
pub(super) async fn lock_events(
    tx: &mut AnyWriteTx,
    event_ids: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, i64>, sqlx::Error> {
    let mut event_ids: Vec<i64> = event_ids.collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    let mut versions = HashMap::with_capacity(event_ids.len());
    for event_id in event_ids {
        let current: Option<(i64,)> = on_tx!(tx, conn => sqlx::query_as(
            "UPDATE events SET version = version WHERE id = $1 RETURNING version",
        )
        .bind(event_id)
        .fetch_optional(&mut *conn)
        .await)?;
        if let Some((current,)) = current {
            versions.insert(event_id, current + 1);
        }
    }
    Ok(versions)
}

/// Moves the version of every event whose seats changed and logs the
/// changes. A seat changed twice in one batch (freed and claimed again) is
/// logged once, with where it ended: a version is a state of the seat map,
/// and the log keys one change per seat and version. Returns what it
/// logged, event by event.
pub(super) async fn write_log(
    tx: &mut AnyWriteTx,
    versions: &HashMap<i64, i64>,
    changes: Vec<ChangeRecord>,
) -> Result<Vec<Logged>, sqlx::Error> {
    let mut logged: HashSet<(i64, i64)> = HashSet::new();
    let mut changes: Vec<ChangeRecord> = changes
        .into_iter()
        .rev()
        .filter(|change| logged.insert((change.event_id, change.seat_id)))
        .collect();
    changes.reverse();
    let mut changed_events: Vec<i64> = changes.iter().map(|change| change.event_id).collect();
    changed_events.sort_unstable();
    changed_events.dedup();
    for event_id in changed_events {
        on_tx!(tx, conn => sqlx::query("UPDATE events SET version = $1 WHERE id = $2")
            .bind(versions[&event_id])
            .bind(event_id)
            .execute(&mut *conn)
            .await.map(|done| done.rows_affected()))?;
    }
    for chunk in changes.chunks(ROWS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO seat_changes (event_id, version, seat_id, status, changed_at) \
                 SELECT * FROM ",
            );
            push_rows(&mut insert, vec![
                Column::Ids(chunk.iter().map(|change| change.event_id).collect()),
                Column::Ids(chunk.iter().map(|change| versions[&change.event_id]).collect()),
                Column::Ids(chunk.iter().map(|change| change.seat_id).collect()),
                Column::Texts(
                    chunk.iter().map(|change| change.status.as_str().to_string()).collect(),
                ),
                Column::Ids(chunk.iter().map(|change| change.at).collect()),
            ]);
            insert.build().execute(&mut *conn).await.map(|done| done.rows_affected())
        })?;
    }
    Ok(logged_by_event(versions, changes))
}

/// The logged changes grouped by event, in the order they were logged.
fn logged_by_event(versions: &HashMap<i64, i64>, changes: Vec<ChangeRecord>) -> Vec<Logged> {
    let mut by_event: Vec<Logged> = Vec::new();
    for change in changes {
        let at = match by_event
            .iter()
            .position(|logged| logged.event_id == change.event_id)
        {
            Some(at) => at,
            None => {
                by_event.push(Logged {
                    event_id: change.event_id,
                    version: versions[&change.event_id],
                    seats: Vec::new(),
                });
                by_event.len() - 1
            }
        };
        by_event[at].seats.push((change.seat_id, change.status));
    }
    by_event
}
