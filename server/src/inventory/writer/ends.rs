//! Step 2: holds that end, released by their buyer or run out, and the
//! seats they put back on sale.

use super::log::ROWS_PER_STATEMENT;
use super::{Batch, SeatWrite, WriteOutcome};
use crate::store::{push_id_list, push_rows, AnyWriteTx, BindList, Column, WriteTx};
use app::types::{HoldStatus, SeatStatus};
use sqlx::QueryBuilder;
use std::collections::HashMap;

/// A hold (as `holds`) whose purchase is being paid: the sweeper leaves it
/// to the payment, whose sale or failure ends it. One condition for the
/// sweeper's lookup and for ending holds, so the two cannot disagree.
pub const NO_PENDING_PURCHASE: &str =
    "NOT EXISTS (SELECT 1 FROM purchases p WHERE p.hold_id = holds.id AND p.status = 'pending')";

/// Ending a hold: released by its buyer or expired by the sweeper.
#[derive(Clone, Debug)]
pub struct EndRequest {
    pub hold_id: i64,
    pub event_id: i64,
    pub ending: Ending,
    pub now: i64,
}

/// How a hold ends here (a sale ends it in the purchase step).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ending {
    Released,
    Expired,
}

impl Ending {
    fn status(self) -> HoldStatus {
        match self {
            Self::Released => HoldStatus::Released,
            Self::Expired => HoldStatus::Expired,
        }
    }
}

impl EndRequest {
    /// The hold ends only if it runs out before this: an expiry waits for
    /// the hold's time, a release does not.
    fn due_before(&self) -> i64 {
        if self.is_expiry() {
            self.now
        } else {
            i64::MAX
        }
    }

    fn is_expiry(&self) -> bool {
        self.ending == Ending::Expired
    }
}

/// Ends the batch's holds, grouped by what they become and when they are
/// due, and frees their still-held seats. A hold ended twice in one batch
/// frees its seats the first time.
pub(super) async fn end_holds(
    tx: &mut AnyWriteTx,
    batch: &mut Batch<'_>,
) -> Result<(), sqlx::Error> {
    let ends: Vec<(usize, &EndRequest)> = batch
        .undecided()
        .filter_map(|(index, request)| match request {
            SeatWrite::End(end) => Some((index, end)),
            _ => None,
        })
        .collect();
    let mut groups: Vec<(Ending, i64)> = ends
        .iter()
        .map(|(_, end)| (end.ending, end.due_before()))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let mut freed_by_hold: HashMap<i64, Vec<i64>> = HashMap::new();
    for (ending, due_before) in groups {
        let group: Vec<&EndRequest> = ends
            .iter()
            .map(|(_, end)| *end)
            .filter(|end| (end.ending, end.due_before()) == (ending, due_before))
            .collect();
        let at = group.iter().map(|end| end.now).max().unwrap_or_default();
        for chunk in group.chunks(ROWS_PER_STATEMENT) {
            let freed = match tx {
                AnyWriteTx::Postgres(pg) => {
                    end_and_free_at_once(pg, batch, chunk, ending, due_before).await?
                }
                AnyWriteTx::Sqlite(lite) => {
                    let hold_ids: Vec<i64> = chunk.iter().map(|end| end.hold_id).collect();
                    let ended = end_group(lite, &hold_ids, ending, due_before).await?;
                    free_seats(lite, batch, &ended).await?
                }
            };
            for (seat_id, hold_id, event_id) in freed {
                freed_by_hold.entry(hold_id).or_default().push(seat_id);
                batch.changed(event_id, &[seat_id], SeatStatus::Available, at);
            }
        }
    }
    for (index, end) in ends {
        let freed = freed_by_hold.remove(&end.hold_id).unwrap_or_default();
        batch.outcomes[index] = Some(WriteOutcome::Ended(freed));
    }
    Ok(())
}

/// On SQLite, ends the holds of `hold_ids` that are active (and due, for
/// an expiry); returns those it ended. A run-out hold with a payment in
/// flight does not expire: the checkout's reconciliation settles it, and
/// may sell it.
async fn end_group(
    tx: &mut WriteTx<sqlx::Sqlite>,
    hold_ids: &[i64],
    ending: Ending,
    due_before: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut end = QueryBuilder::new("");
    push_end(&mut end, hold_ids, ending, due_before);
    let ended: Vec<(i64,)> = end.build_query_as().fetch_all(&mut **tx).await?;
    Ok(ended.into_iter().map(|(id,)| id).collect())
}

/// The statement ending the active holds among `hold_ids` (due before
/// `due_before`), returning the ids it ended.
fn push_end<DB: BindList>(
    end: &mut QueryBuilder<'_, DB>,
    hold_ids: &[i64],
    ending: Ending,
    due_before: i64,
) where
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    // SQLite would otherwise walk the expiry index through every active
    // hold (`status = 'active'` matches it) instead of looking the few
    // asked for up by id; PostgreSQL's planner has the statistics to know.
    let table = if DB::NAME == <sqlx::Sqlite as sqlx::Database>::NAME {
        "holds NOT INDEXED"
    } else {
        "holds"
    };
    // An ended hold no longer needs its client's address.
    end.push("UPDATE ")
        .push(table)
        .push(" SET client_key = NULL, status = ")
        .push_bind(ending.status().as_str())
        .push(" WHERE status = 'active' AND expires_at <= ")
        .push_bind(due_before);
    if ending == Ending::Expired {
        end.push(" AND ").push(NO_PENDING_PURCHASE);
    }
    end.push(" AND id IN (");
    push_id_list(end, hold_ids);
    end.push(" RETURNING id");
}

/// On PostgreSQL, ends the holds of `group` that are active (and due, for
/// an expiry) and frees their still-held seats in one statement: its
/// `RETURNING` can name the hold each seat was freed from, which SQLite's
/// cannot (so there [`end_group`] and [`free_seats`] take three). Returns
/// the freed seats as (seat, hold, event).
async fn end_and_free_at_once(
    tx: &mut WriteTx<sqlx::Postgres>,
    batch: &Batch<'_>,
    group: &[&EndRequest],
    ending: Ending,
    due_before: i64,
) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    let hold_ids: Vec<i64> = group.iter().map(|end| end.hold_id).collect();
    let mut statement = QueryBuilder::new("WITH ended AS (");
    push_end(&mut statement, &hold_ids, ending, due_before);
    statement.push(
        ") UPDATE seats SET status = 'available', hold_id = NULL, held_until = NULL, \
         version = v.column2 FROM ended JOIN ",
    );
    push_rows(
        &mut statement,
        vec![
            Column::Ids(hold_ids),
            Column::Ids(
                group
                    .iter()
                    .map(|end| batch.version(end.event_id))
                    .collect(),
            ),
            Column::Ids(group.iter().map(|end| end.event_id).collect()),
        ],
    );
    statement.push(
        " ON v.column1 = ended.id WHERE seats.hold_id = ended.id AND seats.status = 'held' \
         RETURNING seats.id, ended.id, seats.event_id, v.column3",
    );
    let freed: Vec<(i64, i64, i64, i64)> = statement.build_query_as().fetch_all(&mut **tx).await?;
    freed
        .into_iter()
        .map(|(seat_id, hold_id, event_id, locked_event)| {
            // The version is the one of the event whose lock the request
            // took: an end naming another event than its hold's is a
            // caller's bug, and fails the batch.
            if event_id == locked_event {
                Ok((seat_id, hold_id, event_id))
            } else {
                Err(sqlx::Error::Protocol(
                    "a hold ended under another event's lock".into(),
                ))
            }
        })
        .collect()
}

/// On SQLite, puts the still-held seats of ended holds back on sale;
/// returns them as (seat, hold, event).
async fn free_seats(
    tx: &mut WriteTx<sqlx::Sqlite>,
    batch: &Batch<'_>,
    ended: &[i64],
) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    if ended.is_empty() {
        return Ok(Vec::new());
    }
    let mut read = QueryBuilder::new(
        "SELECT id, hold_id, event_id FROM seats WHERE status = 'held' AND hold_id IN (",
    );
    push_id_list(&mut read, ended);
    let held: Vec<(i64, i64, i64)> = read.build_query_as().fetch_all(&mut **tx).await?;
    let mut seat_events: Vec<i64> = held.iter().map(|(_, _, event_id)| *event_id).collect();
    seat_events.sort_unstable();
    seat_events.dedup();
    for event_id in seat_events {
        // The lock of a hold's event was taken by its request: an end
        // naming another event than its hold's is a caller's bug.
        let version = *batch.versions.get(&event_id).ok_or_else(|| {
            sqlx::Error::Protocol("a hold ended under another event's lock".into())
        })?;
        let mut free = QueryBuilder::new(
            "UPDATE seats SET status = 'available', hold_id = NULL, held_until = NULL, version = ",
        );
        free.push_bind(version)
            .push(" WHERE status = 'held' AND +event_id = ")
            .push_bind(event_id)
            .push(" AND hold_id IN (");
        push_id_list(&mut free, ended);
        free.build().execute(&mut **tx).await?;
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    /// However many holds are active, ending some looks each up by its id:
    /// an onsale can have tens of thousands active, and scanning them all
    /// (by the expiry index, which `status = 'active'` also matches) for
    /// every release would slow every batch as the onsale goes on.
    #[tokio::test]
    async fn ending_holds_looks_them_up_by_id_on_sqlite() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        sqlx::migrate!("../migrations/sqlite")
            .run(&pool)
            .await
            .expect("migrated");
        for (ending, due_before) in [(Ending::Released, i64::MAX), (Ending::Expired, 1_000)] {
            let mut explain = QueryBuilder::new("EXPLAIN QUERY PLAN ");
            push_end(&mut explain, &[1, 2, 3], ending, due_before);
            let plan: Vec<(i64, i64, i64, String)> = explain
                .build_query_as()
                .fetch_all(&pool)
                .await
                .expect("a plan");
            let holds = plan
                .iter()
                .map(|(_, _, _, detail)| detail.as_str())
                .find(|detail| detail.contains(" holds "))
                .unwrap_or_default();
            assert!(
                holds.contains("INTEGER PRIMARY KEY"),
                "{ending:?}: {plan:?}"
            );
        }
    }
}
