//! This server's copy of the places of fans still waiting, so that a poll
//! costs no database read. A waiting place changes in two ways only: the
//! draw gives a pre-queue place its position, and the admission step
//! admits a place once the line's `admitted_through` reaches its position.
//! The room's row says when either may have happened (`drawn_at`,
//! `admitted_through`; this server reads it again every second or two),
//! and then the place is read again.

use super::room::Room;
use super::store::{Entry, EntryState};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// More places than this and the copy starts again empty (about 200 bytes
/// each): a bound on memory, not a size expected in use.
pub const MAX_PLACES: usize = 500_000;

#[derive(Debug, Default)]
pub struct Places {
    /// By event and the names the caller goes by, as the database is asked.
    waiting: Mutex<HashMap<(i64, Vec<String>), Entry>>,
    /// Events whose drawn line this server has read in whole.
    loaded: Mutex<HashSet<i64>>,
}

impl Places {
    /// The caller's place if it is still waiting, going by the room's
    /// counters.
    pub fn waiting(&self, event_id: i64, holders: &[String], room: Option<&Room>) -> Option<Entry> {
        let room = room?;
        let places = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        places
            .get(&(event_id, holders.to_vec()))
            .filter(|entry| match entry.position {
                // In the pre-queue until the draw gives it a position.
                None => room.drawn_at.is_none(),
                Some(at) => at > room.admitted_through,
            })
            .cloned()
    }

    /// Keeps a place just read if it is waiting; forgets it otherwise.
    pub fn remember(&self, event_id: i64, holders: &[String], entry: &Entry) {
        let key = (event_id, holders.to_vec());
        let mut places = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if entry.state == EntryState::Waiting {
            if places.len() >= MAX_PLACES {
                places.clear();
            }
            places.insert(key, entry.clone());
        } else {
            places.remove(&key);
        }
    }

    /// Whether this server should read the event's whole line now: once,
    /// after the draw. At the draw every pre-queue place copied here goes
    /// stale together; without this, every waiting fan's next poll would
    /// read the database in the same few seconds.
    pub fn needs_line(&self, event_id: i64, room: &Room) -> bool {
        room.drawn_at.is_some()
            && !self
                .loaded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&event_id)
    }

    /// Keeps the event's waiting places, read in one query after the draw.
    /// Each is filed under its one holder name, as a guest asks for it
    /// (a signed-in fan goes by two names, and is read as before).
    pub fn keep_line(&self, event_id: i64, line: Vec<Entry>) {
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(event_id);
        let mut places = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if places.len() + line.len() > MAX_PLACES {
            places.clear();
        }
        for entry in line {
            places.insert((event_id, vec![entry.holder.clone()]), entry);
        }
    }
}
