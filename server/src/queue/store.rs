//! The waiting room's rows. Everything that moves the shared counters
//! (positions given out, admitted through, the pace credit) runs in a write
//! transaction that first locks the event's `event_queues` row, so several
//! servers on one PostgreSQL share one queue and one pace. Joins before the
//! draw only share that lock: they run side by side, and none can slip in
//! while the draw orders the pre-queue.

use super::admission::{self, Pace};
pub use super::room::Room;
use crate::on_pool;
use crate::store::{BeginWrite, Store, StoreError};
use sqlx::QueryBuilder;
use std::collections::HashMap;

const ROOM_COLUMNS: &str = "event_id, enabled, opens_at, admit_per_minute, max_active, \
    admission_ms, paused, require_account, pow_bits, seed, seed_hash, drawn_at, drawn_count, \
    last_position, admitted_through, credit, paced_at";

/// One place in the line.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Entry {
    pub holder: String,
    pub public_id: String,
    pub position: Option<i64>,
    #[sqlx(try_from = "String")]
    pub state: EntryState,
    pub expires_at: Option<i64>,
}

/// Where a place stands, as `queue_entries.state` stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryState {
    Waiting,
    /// Let in to shop until `expires_at`.
    Admitted,
    /// The admission ran out unused.
    Expired,
    /// The admission was used: its hold was bought or released.
    Done,
}

app::text_enum!(EntryState {
    Waiting => "waiting",
    Admitted => "admitted",
    Expired => "expired",
    Done => "done",
});

impl Entry {
    /// Whether joining again keeps this place: still waiting, or admitted
    /// and not yet run out.
    pub fn keeps_place(&self, now: i64) -> bool {
        match self.state {
            EntryState::Waiting => true,
            EntryState::Admitted => self.expires_at.is_some_and(|at| at > now),
            EntryState::Expired | EntryState::Done => false,
        }
    }
}

const ENTRY_COLUMNS: &str = "holder, public_id, position, state, expires_at";

/// A place with when it was taken: of a caller's two names, the earlier
/// place is theirs.
#[derive(sqlx::FromRow)]
struct Found {
    #[sqlx(flatten)]
    entry: Entry,
    joined_at: i64,
}

/// Locks the room's row inside `$tx` and evaluates to it, if there is
/// one (an update takes the row lock on PostgreSQL; SQLite's write
/// transaction is exclusive anyway).
macro_rules! lock_room {
    ($tx:expr, $event_id:expr) => {{
        let sql = format!(
            "UPDATE event_queues SET paced_at = paced_at WHERE event_id = $1 \
             RETURNING {ROOM_COLUMNS}"
        );
        sqlx::query_as::<_, Room>(&sql)
            .bind($event_id)
            .fetch_optional(&mut *$tx)
            .await?
    }};
}

/// Draws the pre-queue inside `$tx`, which holds the room's row lock:
/// positions 1, 2, … in draw-key order (see [`super::draw`]).
macro_rules! draw {
    ($tx:expr, $room:expr, $now:expr) => {{
        let drawn = sqlx::query(
            "UPDATE queue_entries SET position = ranked.pos, drawn_position = ranked.pos \
             FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY draw_key, public_id) AS pos \
                   FROM queue_entries WHERE event_id = $1 AND position IS NULL) AS ranked \
             WHERE queue_entries.id = ranked.id",
        )
        .bind($room.event_id)
        .execute(&mut *$tx)
        .await?
        .rows_affected() as i64;
        sqlx::query(
            "UPDATE event_queues SET drawn_at = $2, drawn_count = $3, last_position = $3, \
             credit = 0, paced_at = $2 WHERE event_id = $1",
        )
        .bind($room.event_id)
        .bind($now)
        .bind(drawn)
        .execute(&mut *$tx)
        .await?;
        $room.drawn_at = Some($now);
        $room.drawn_count = drawn;
        $room.last_position = drawn;
        $room.credit = 0;
        $room.paced_at = $now;
    }};
}

/// The settings staff choose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    pub opens_at: i64,
    pub admit_per_minute: i64,
    pub max_active: i64,
    pub admission_ms: i64,
    pub pow_bits: i64,
    pub require_account: bool,
}

/// A new place: who holds it, its anonymous id and its draw key.
#[derive(Clone, Debug)]
pub struct NewEntry {
    /// The name the place is taken under (the account when signed in).
    pub holder: String,
    /// Every name the caller goes by: a place taken as a guest is kept
    /// after signing in.
    pub holders: Vec<String>,
    pub public_id: String,
    pub draw_key: i64,
}

#[derive(Clone, Debug)]
pub enum JoinOutcome {
    /// The room is off (or there is none).
    NotQueued,
    /// Before `opens_at`.
    NotOpen {
        opens_at: i64,
    },
    Placed(Entry),
}

/// Live figures for staff.
#[derive(Clone, Copy, Debug, Default)]
pub struct Figures {
    pub waiting: i64,
    pub active: i64,
    pub admitted_last_minute: i64,
}

/// Saves an event's settings. The seed is drawn once, when the room is
/// first set up, and never changes: its hash may already be published.
pub async fn save_settings(
    store: &Store,
    event_id: i64,
    settings: &Settings,
    seed: &str,
    seed_hash: &str,
) -> Result<(), StoreError> {
    on_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        sqlx::query(
            "INSERT INTO event_queues (event_id, enabled, opens_at, admit_per_minute, max_active, \
             admission_ms, pow_bits, require_account, seed, seed_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (event_id) DO UPDATE SET enabled = excluded.enabled, \
             opens_at = excluded.opens_at, admit_per_minute = excluded.admit_per_minute, \
             max_active = excluded.max_active, admission_ms = excluded.admission_ms, \
             pow_bits = excluded.pow_bits, require_account = excluded.require_account",
        )
        .bind(event_id)
        .bind(settings.enabled)
        .bind(settings.opens_at)
        .bind(settings.admit_per_minute)
        .bind(settings.max_active)
        .bind(settings.admission_ms)
        .bind(settings.pow_bits)
        .bind(settings.require_account)
        .bind(seed)
        .bind(seed_hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    })
}

pub async fn room(store: &Store, event_id: i64) -> Result<Option<Room>, StoreError> {
    let sql = format!("SELECT {ROOM_COLUMNS} FROM event_queues WHERE event_id = $1");
    Ok(on_pool!(store, pool => sqlx::query_as::<_, Room>(&sql)
        .bind(event_id)
        .fetch_optional(pool)
        .await)?)
}

/// All rooms that are on, for the admission ticker.
pub async fn enabled_rooms(store: &Store) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<(i64,)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT event_queues.event_id FROM event_queues \
         JOIN events ON events.id = event_queues.event_id \
         WHERE enabled = $1 AND events.starts_at > $2",
    )
    .bind(true)
    .bind(crate::clock::now_ms())
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

pub async fn set_paused(store: &Store, event_id: i64, paused: bool) -> Result<bool, StoreError> {
    on_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        let done = sqlx::query("UPDATE event_queues SET paused = $2 WHERE event_id = $1")
            .bind(event_id)
            .bind(paused)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    })
}

/// The caller's place, under any of its holder names.
pub async fn entry(
    store: &Store,
    event_id: i64,
    holders: &[String],
) -> Result<Option<Entry>, StoreError> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM queue_entries WHERE event_id = $1 AND holder IN ($2, $3) \
         ORDER BY joined_at LIMIT 1"
    );
    let (first, second) = holder_pair(holders);
    Ok(on_pool!(store, pool => sqlx::query_as::<_, Entry>(&sql)
        .bind(event_id)
        .bind(first)
        .bind(second)
        .fetch_optional(pool)
        .await)?)
}

/// Up to `limit` places still waiting with a position, for this server's
/// copy of the line (see [`super::places`]).
pub async fn waiting_line(
    store: &Store,
    event_id: i64,
    limit: usize,
) -> Result<Vec<Entry>, StoreError> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM queue_entries WHERE event_id = $1 AND state = 'waiting' \
         AND position IS NOT NULL ORDER BY position LIMIT $2"
    );
    Ok(on_pool!(store, pool => sqlx::query_as::<_, Entry>(&sql)
        .bind(event_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await)?)
}

fn holder_pair(holders: &[String]) -> (&str, &str) {
    let first = holders.first().map(String::as_str).unwrap_or_default();
    (first, holders.get(1).map(String::as_str).unwrap_or(first))
}

/// Whether one of `holders` is admitted to the event now.
pub async fn admitted(
    store: &Store,
    event_id: i64,
    holders: &[String],
    now: i64,
) -> Result<bool, StoreError> {
    let (first, second) = holder_pair(holders);
    let row: Option<(i64,)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT event_id FROM queue_entries WHERE event_id = $1 AND holder IN ($2, $3) \
         AND state = 'admitted' AND expires_at > $4 LIMIT 1",
    )
    .bind(event_id)
    .bind(first)
    .bind(second)
    .bind(now)
    .fetch_optional(pool)
    .await)?;
    Ok(row.is_some())
}

/// What a batch of joins does, decided from the places its callers
/// already have (`found`, by holder); [`join`] then writes it.
#[derive(Debug)]
struct JoinPlan {
    /// Filled for callers who keep a place; the rest are filled once written.
    outcomes: Vec<JoinOutcome>,
    /// A place that ran out moves to the back: (join index, its holder,
    /// the new position).
    rejoins: Vec<(usize, String, Option<i64>)>,
    /// Callers new to the line: (index of their first join, position).
    newcomers: Vec<(usize, Option<i64>)>,
    /// Later joins of a caller already rejoining or new in this batch (a
    /// second tab): (their index, the first's).
    repeats: Vec<(usize, usize)>,
    /// The room's counter after the batch.
    last_position: i64,
}

fn plan_joins(
    news: &[NewEntry],
    found: &HashMap<String, Found>,
    drawn: bool,
    mut last_position: i64,
    now: i64,
) -> JoinPlan {
    let mut plan = JoinPlan {
        outcomes: vec![JoinOutcome::NotQueued; news.len()],
        rejoins: Vec::new(),
        newcomers: Vec::new(),
        repeats: Vec::new(),
        last_position,
    };
    // The first join in the batch under each name that takes a new place.
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    for (index, new) in news.iter().enumerate() {
        // The earliest place under any of the caller's names.
        let existing = new
            .holders
            .iter()
            .filter_map(|name| found.get(name))
            .min_by_key(|row| row.joined_at);
        if let Some(row) = existing.filter(|row| row.entry.keeps_place(now)) {
            plan.outcomes[index] = JoinOutcome::Placed(row.entry.clone());
            continue;
        }
        let taking = existing.map_or(new.holder.as_str(), |row| row.entry.holder.as_str());
        let earlier = first_of.get(taking).or_else(|| {
            new.holders
                .iter()
                .find_map(|name| first_of.get(name.as_str()))
        });
        if let Some(first) = earlier {
            plan.repeats.push((index, *first));
            continue;
        }
        first_of.insert(taking, index);
        // After the draw a newcomer (or a rejoiner) goes to the back; the
        // room's row is locked, so the counter is ours to advance.
        let position = drawn.then(|| {
            last_position += 1;
            last_position
        });
        match existing {
            // The entry keeps its public id and draw key: the published
            // draw still names it.
            Some(row) => plan
                .rejoins
                .push((index, row.entry.holder.clone(), position)),
            None => plan.newcomers.push((index, position)),
        }
    }
    plan.last_position = last_position;
    plan
}

/// Takes a place for each of `news` (joins to one event, in arrival
/// order), or returns the one its holder has, all in one write
/// transaction: a burst of joins costs one commit, not one each. A holder
/// whose admission ran out or was used rejoins at the back.
// Long on purpose: one transaction reads the room, each caller's place and
// the counter, and writes the new places, under one lock (on SQLite the
// write lock, on PostgreSQL the room's row). Who gets which place is
// decided in `plan_joins`; what is left is the SQL, written once for both
// databases inside `on_pool!`.
pub async fn join(
    store: &Store,
    event_id: i64,
    onsale_at: i64,
    news: &[NewEntry],
    now: i64,
) -> Result<Vec<JoinOutcome>, StoreError> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    on_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        // Before the onsale the row is only shared (joins run side by side,
        // the draw waits for them); after it, positions are handed out from
        // its counter, so it is locked.
        let room = if now < onsale_at {
            let sql = format!(
                "SELECT {ROOM_COLUMNS} FROM event_queues WHERE event_id = $1{}",
                share_lock(store)
            );
            sqlx::query_as::<_, Room>(&sql).bind(event_id).fetch_optional(&mut *tx).await?
        } else {
            lock_room!(tx, event_id)
        };
        // A server whose clock is a little behind may find the draw done
        // already: its newcomers then need positions, so the lock.
        let room = match room {
            Some(room) if room.drawn_at.is_some() && now < onsale_at => {
                lock_room!(tx, event_id)
            }
            room => room,
        };
        let Some(mut room) = room.filter(|room| room.enabled) else {
            return Ok(vec![JoinOutcome::NotQueued; news.len()]);
        };
        if now < room.opens_at {
            return Ok(vec![JoinOutcome::NotOpen { opens_at: room.opens_at }; news.len()]);
        }
        if now >= onsale_at && room.drawn_at.is_none() {
            draw!(tx, room, now);
        }
        // Every place the batch's callers already have, in one query: a
        // statement per join was a round trip each, and on PostgreSQL the
        // round trips, not the work, set the pace.
        let mut find = QueryBuilder::new(format!(
            "SELECT {ENTRY_COLUMNS}, joined_at FROM queue_entries WHERE event_id = "
        ));
        find.push_bind(event_id).push(" AND holder IN (");
        let mut names = find.separated(", ");
        for name in news.iter().flat_map(|new| &new.holders) {
            names.push_bind(name);
        }
        names.push_unseparated(")");
        let found: HashMap<String, Found> = find
            .build_query_as::<Found>()
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|row| (row.entry.holder.clone(), row))
            .collect();
        let plan = plan_joins(news, &found, room.drawn_at.is_some(), room.last_position, now);
        let mut outcomes = plan.outcomes;
        let rejoin = format!(
            "UPDATE queue_entries SET position = $3, state = 'waiting', \
             admitted_at = NULL, expires_at = NULL WHERE event_id = $1 AND holder = $2 \
             RETURNING {ENTRY_COLUMNS}"
        );
        for (index, holder, position) in &plan.rejoins {
            let entry = sqlx::query_as::<_, Entry>(&rejoin)
                .bind(event_id)
                .bind(holder)
                .bind(*position)
                .fetch_one(&mut *tx)
                .await?;
            outcomes[*index] = JoinOutcome::Placed(entry);
        }
        let newcomers = plan.newcomers;
        if !newcomers.is_empty() {
            // Two servers' joins before the draw may race for one holder:
            // the conflict hands back the place already taken.
            let mut insert = QueryBuilder::new(
                "INSERT INTO queue_entries (event_id, holder, position, public_id, draw_key, \
                 joined_at, state) ",
            );
            insert.push_values(&newcomers, |mut row, (index, position)| {
                let new = &news[*index];
                row.push_bind(event_id)
                    .push_bind(&new.holder)
                    .push_bind(*position)
                    .push_bind(&new.public_id)
                    .push_bind(new.draw_key)
                    .push_bind(now)
                    .push_bind(EntryState::Waiting.as_str());
            });
            insert.push(format!(
                " ON CONFLICT (event_id, holder) DO UPDATE SET holder = excluded.holder \
                 RETURNING {ENTRY_COLUMNS}"
            ));
            let placed: HashMap<String, Entry> = insert
                .build_query_as::<Entry>()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|entry| (entry.holder.clone(), entry))
                .collect();
            for (index, _) in &newcomers {
                let entry = placed.get(&news[*index].holder).ok_or(sqlx::Error::RowNotFound)?;
                outcomes[*index] = JoinOutcome::Placed(entry.clone());
            }
        }
        for (index, first) in plan.repeats {
            outcomes[index] = outcomes[first].clone();
        }
        if plan.last_position != room.last_position {
            sqlx::query("UPDATE event_queues SET last_position = $2 WHERE event_id = $1")
                .bind(event_id)
                .bind(plan.last_position)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    })
}

/// `FOR SHARE` where the dialect has row locks: SQLite's write transaction
/// already excludes every other writer.
fn share_lock(store: &Store) -> &'static str {
    match store {
        Store::Sqlite(..) => "",
        Store::Postgres(_) => " FOR SHARE",
    }
}

/// What one tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickOutcome {
    pub drawn: bool,
    pub expired: u64,
    pub admitted: i64,
}

/// One step of the room: draws the pre-queue once the onsale has come,
/// expires admissions that ran out, and admits the next in line as the
/// pace and the active cap allow. Any server may run it at any time: the
/// row lock makes the steps of all servers one sequence, and the pace is
/// measured from the time the last step left off, not per call.
pub async fn tick(
    store: &Store,
    event_id: i64,
    onsale_at: i64,
    now: i64,
) -> Result<TickOutcome, StoreError> {
    on_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        let Some(mut room) = lock_room!(tx, event_id).filter(|room| room.enabled) else {
            return Ok(TickOutcome::default());
        };
        let mut outcome = TickOutcome::default();
        if now >= onsale_at && room.drawn_at.is_none() {
            draw!(tx, room, now);
            outcome.drawn = true;
        }
        outcome.expired = sqlx::query(
            "UPDATE queue_entries SET state = 'expired' \
             WHERE event_id = $1 AND state = 'admitted' AND expires_at <= $2",
        )
        .bind(event_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if room.drawn_at.is_some() {
            let (active,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM queue_entries WHERE event_id = $1 AND state = 'admitted'",
            )
            .bind(event_id)
            .fetch_one(&mut *tx)
            .await?;
            let pace = admission::pace(&room, active, now);
            if pace.admit > 0 {
                sqlx::query(
                    "UPDATE queue_entries SET state = 'admitted', admitted_at = $2, \
                     expires_at = $3 WHERE event_id = $1 AND state = 'waiting' \
                     AND position > $4 AND position <= $5",
                )
                .bind(event_id)
                .bind(now)
                .bind(now + room.admission_ms)
                .bind(room.admitted_through)
                .bind(room.admitted_through + pace.admit)
                .execute(&mut *tx)
                .await?;
            }
            let Pace { admit, credit } = pace;
            sqlx::query(
                "UPDATE event_queues SET admitted_through = admitted_through + $2, \
                 credit = $3, paced_at = $4 WHERE event_id = $1",
            )
            .bind(event_id)
            .bind(admit)
            .bind(credit)
            .bind(now.max(room.paced_at))
            .execute(&mut *tx)
            .await?;
            outcome.admitted = admit;
        }
        tx.commit().await?;
        Ok(outcome)
    })
}

/// A hold was bought or released: its buyer's admission to the hold's
/// event is used up, and the slot goes to the next in line.
pub async fn finish_hold(store: &Store, hold_id: i64) -> Result<u64, StoreError> {
    on_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        let done = sqlx::query(
            "UPDATE queue_entries SET state = 'done' WHERE state = 'admitted' \
             AND event_id = (SELECT event_id FROM holds WHERE id = $1) \
             AND (holder = (SELECT 's:' || session_id FROM holds WHERE id = $1) \
                  OR holder = (SELECT 'u:' || CAST(user_id AS TEXT) FROM holds WHERE id = $1))",
        )
        .bind(hold_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(done)
    })
}

/// The event's onsale and start, if it exists.
pub async fn event_times(store: &Store, event_id: i64) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(on_pool!(store, pool => sqlx::query_as(
        "SELECT onsale_at, starts_at FROM events WHERE id = $1",
    )
    .bind(event_id)
    .fetch_optional(pool)
    .await)?)
}

/// Live figures for the staff view.
pub async fn figures(store: &Store, event_id: i64, now: i64) -> Result<Figures, StoreError> {
    let (waiting, active, admitted_last_minute): (i64, i64, i64) = on_pool!(store, pool => sqlx::query_as(
            "SELECT \
               (SELECT COUNT(*) FROM queue_entries WHERE event_id = $1 AND state = 'waiting'), \
               (SELECT COUNT(*) FROM queue_entries WHERE event_id = $1 AND state = 'admitted' \
                  AND expires_at > $2), \
               (SELECT COUNT(*) FROM queue_entries WHERE event_id = $1 AND admitted_at > $3)",
        )
        .bind(event_id)
        .bind(now)
        .bind(now - 60_000)
        .fetch_one(pool)
        .await)?;
    Ok(Figures {
        waiting,
        active,
        admitted_last_minute,
    })
}

/// The pre-queue's public ids in drawn order.
pub async fn drawn_order(store: &Store, event_id: i64) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT public_id FROM queue_entries WHERE event_id = $1 \
         AND drawn_position IS NOT NULL ORDER BY drawn_position",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

#[cfg(test)]
mod tests {
    use super::{plan_joins, Entry, EntryState, Found, JoinOutcome, NewEntry};
    use std::collections::HashMap;

    fn join_as(holders: &[&str]) -> NewEntry {
        NewEntry {
            holder: holders[0].to_string(),
            holders: holders.iter().map(|name| name.to_string()).collect(),
            public_id: format!("p-{}", holders[0]),
            draw_key: 7,
        }
    }

    fn place(holder: &str, state: EntryState, joined_at: i64) -> (String, Found) {
        let entry = Entry {
            holder: holder.to_string(),
            public_id: format!("p-{holder}"),
            position: Some(3),
            state,
            expires_at: None,
        };
        (holder.to_string(), Found { entry, joined_at })
    }

    #[test]
    fn a_batch_keeps_places_moves_lapsed_ones_back_and_counts_each_caller_once() {
        let found: HashMap<String, Found> = [
            place("waiting", EntryState::Waiting, 1),
            place("lapsed", EntryState::Expired, 2),
            // Signed in after joining as a guest: the earlier place counts.
            place("guest", EntryState::Waiting, 3),
            place("account", EntryState::Expired, 4),
        ]
        .into_iter()
        .collect();
        let news = [
            join_as(&["waiting"]),
            join_as(&["lapsed"]),
            join_as(&["new"]),
            join_as(&["new"]),
            join_as(&["lapsed"]),
            join_as(&["account", "guest"]),
        ];
        let plan = plan_joins(&news, &found, true, 10, 100);
        let kept = |index: usize| match &plan.outcomes[index] {
            JoinOutcome::Placed(entry) => Some(entry.holder.clone()),
            _ => None,
        };
        assert_eq!(kept(0).as_deref(), Some("waiting"));
        assert_eq!(kept(5).as_deref(), Some("guest"));
        assert_eq!(plan.rejoins, vec![(1, "lapsed".to_string(), Some(11))]);
        assert_eq!(plan.newcomers, vec![(2, Some(12))]);
        // A second tab shares its first tab's new place.
        assert_eq!(plan.repeats, vec![(3, 2), (4, 1)]);
        assert_eq!(plan.last_position, 12);

        // Before the draw nobody has a position and the counter stays.
        let before = plan_joins(&news, &found, false, 10, 100);
        assert_eq!(before.newcomers, vec![(2, None)]);
        assert_eq!(before.last_position, 10);
    }

    #[test]
    fn entry_states_read_back_as_written_and_unknown_ones_are_errors() {
        for state in EntryState::ALL {
            assert_eq!(EntryState::try_from(state.as_str().to_string()), Ok(state));
        }
        assert!(EntryState::try_from("paused".to_string()).is_err());
    }
}
