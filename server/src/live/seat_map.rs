//! `GET /api/events/{id}/seats` from the live channel's in-memory map,
//! instead of 50,000 rows read and serialised per request on the pool that
//! checkout needs.
//!
//! The database stays the authority. Before answering, a read brings the
//! map up to date: the change log after the map's version (the pump's
//! query), and the held seats whose hold has run out but that the sweeper
//! has not released yet (they are shown available, as buyers may claim
//! them at once; an index answers it). Both are small indexed queries, and
//! concurrent reads share one refresh, so a flood of reads costs one
//! connection at a time per event. A client sees its own writes, and the
//! same statuses as reading the seats table would give.
//!
//! The body is serialised (and gzipped, for clients that accept it) once
//! per version and shared by every read of that version.

use super::changes::changes_since;
use super::{EventChannel, SeatMapState};
use crate::clock::Clock;
use crate::gzip::Compression;
use crate::store::{Store, StoreError};
use app::types::{SeatId, SeatStatus, SeatView};
use bytes::Bytes;
use std::time::Instant;

/// The answer for one version (and set of run-out holds).
pub(super) struct Body {
    version: i64,
    expired: Vec<usize>,
    json: Bytes,
    gzip: Option<Bytes>,
}

impl EventChannel {
    /// Brings the map up to date with the database as of the call. Reads
    /// arriving together share the work: each waits for the refresh in
    /// progress and starts another only if that one began before it came.
    pub async fn refresh_for_read(&self, store: &Store, clock: &Clock) -> Result<(), StoreError> {
        let called = Instant::now();
        let mut refreshed_from = self.read_refreshed_from.lock().await;
        if refreshed_from.is_some_and(|began| began >= called) {
            return Ok(());
        }
        let began = Instant::now();
        let now = clock.now();
        let changes = changes_since(store, self.event_id.0, self.version()).await?;
        if !changes.is_empty() {
            self.apply(changes);
        }
        let expired = expired_holds(store, self.event_id.0, now).await?;
        {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            let mut indices: Vec<usize> = expired
                .into_iter()
                .filter_map(|id| state.index.get(&SeatId(id)).copied())
                .collect();
            indices.sort_unstable();
            state.expired = indices;
        }
        *refreshed_from = Some(began);
        Ok(())
    }

    /// `{"version","seats"}` as JSON, or gzipped JSON, made once per
    /// version however many ask.
    pub fn seat_map_body(&self, gzip: bool) -> Bytes {
        let pick = |body: &Body| {
            if gzip {
                body.gzip.clone()
            } else {
                Some(body.json.clone())
            }
        };
        let current = |state: &SeatMapState| {
            state
                .rest_body
                .as_ref()
                .filter(|body| body.version == state.version && body.expired == state.expired)
                .and_then(pick)
        };
        {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if let Some(bytes) = current(&state) {
                return bytes;
            }
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let fresh = state
            .rest_body
            .as_ref()
            .is_some_and(|body| body.version == state.version && body.expired == state.expired);
        if !fresh {
            state.rest_body = Some(Body {
                version: state.version,
                expired: state.expired.clone(),
                json: serialise(&state),
                gzip: None,
            });
        }
        if let Some(body) = state.rest_body.as_mut() {
            if gzip && body.gzip.is_none() {
                // The fastest level: a stadium's map shrinks about tenfold in a
                // few milliseconds, once per version.
                body.gzip = Some(crate::gzip::gzip(&body.json, Compression::fast()));
            }
        }
        current(&state).unwrap_or_default()
    }
}

impl EventChannel {
    /// The shown statuses (run-out holds available) as a compact snapshot.
    pub fn compact_status_body(&self, layout_hash: &str) -> Bytes {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let statuses = (0..state.seats.len()).map(|at| shown_status(&state, at));
        let frame = super::compact::snapshot_frame(state.version, layout_hash, statuses);
        Bytes::from(frame)
    }
}

/// A seat's status as reads show it: a run-out hold is available.
fn shown_status(state: &SeatMapState, at: usize) -> SeatStatus {
    let status = state.seats[at].status;
    if status == SeatStatus::Held && state.expired.binary_search(&at).is_ok() {
        SeatStatus::Available
    } else {
        status
    }
}

/// Held seats whose hold ran out by `now` and that are not swept yet (the
/// sweeper's own query, on the `(event_id, status, held_until)` index).
async fn expired_holds(store: &Store, event_id: i64, now: i64) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<(i64,)> = crate::on_pool!(store, pool => sqlx::query_as(
        "SELECT id FROM seats WHERE event_id = $1 AND status = 'held' AND held_until <= $2",
    )
    .bind(event_id)
    .bind(now)
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// One seat as [`SeatView`] serialises, borrowed, with its shown status.
#[derive(serde::Serialize)]
struct SeatOut<'a> {
    id: SeatId,
    section: &'a str,
    row: &'a str,
    number: i64,
    x: f64,
    y: f64,
    tier: &'a str,
    price_cents: i64,
    status: SeatStatus,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    features: &'a [app::layout::SeatFeature],
}

impl<'a> SeatOut<'a> {
    fn new(seat: &'a SeatView, status: SeatStatus) -> Self {
        Self {
            id: seat.id,
            section: &seat.section,
            row: &seat.row,
            number: seat.number,
            x: seat.x,
            y: seat.y,
            tier: &seat.tier,
            price_cents: seat.price_cents,
            status,
            features: &seat.features,
        }
    }
}

/// [`app::types::SeatMap`]'s JSON, borrowing the seats instead of copying
/// them, with run-out holds shown available.
fn serialise(state: &SeatMapState) -> Bytes {
    struct Seats<'a>(&'a SeatMapState);
    impl serde::Serialize for Seats<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let state = self.0;
            serializer.collect_seq(
                state
                    .seats
                    .iter()
                    .enumerate()
                    .map(|(at, seat)| SeatOut::new(seat, shown_status(state, at))),
            )
        }
    }
    #[derive(serde::Serialize)]
    struct Map<'a> {
        version: i64,
        seats: Seats<'a>,
    }
    let map = Map {
        version: state.version,
        seats: Seats(state),
    };
    // Serialising plain data structures cannot fail.
    Bytes::from(serde_json::to_vec(&map).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::changes::SeatChangeRow;
    use app::types::{EventId, SeatMap};
    use std::io::Read;

    fn seat(id: i64) -> SeatView {
        SeatView {
            id: SeatId(id),
            section: "Stalls \"A\"".into(),
            row: "B".into(),
            number: id,
            x: 1.5,
            y: -2.0,
            tier: "Standard".into(),
            price_cents: 4250,
            status: SeatStatus::Available,
            features: Vec::new(),
        }
    }

    fn channel() -> EventChannel {
        EventChannel::new(EventId(1), 3, vec![seat(10), seat(11), seat(12)], 16)
    }

    #[test]
    fn the_body_is_the_seat_maps_json_made_once_per_version() {
        let channel = channel();
        let first = channel.seat_map_body(false);
        let expected = SeatMap {
            version: 3,
            seats: vec![seat(10), seat(11), seat(12)],
        };
        assert_eq!(first, serde_json::to_vec(&expected).expect("json"));
        let again = channel.seat_map_body(false);
        assert_eq!(first.as_ptr(), again.as_ptr(), "shared, not made again");

        let mut gunzipped = Vec::new();
        flate2::read::GzDecoder::new(&channel.seat_map_body(true)[..])
            .read_to_end(&mut gunzipped)
            .expect("gzip");
        assert_eq!(gunzipped, first);

        channel.apply(vec![SeatChangeRow {
            version: 4,
            seat_id: 11,
            status: "held".into(),
        }]);
        let next: SeatMap = serde_json::from_slice(&channel.seat_map_body(false)).expect("json");
        assert_eq!(next.version, 4);
        assert_eq!(next.seats[1].status, SeatStatus::Held);
    }

    #[test]
    fn a_run_out_hold_is_shown_available_until_the_seat_changes() {
        let channel = channel();
        channel.apply(vec![SeatChangeRow {
            version: 4,
            seat_id: 11,
            status: "held".into(),
        }]);
        channel.state.write().expect("state").expired = vec![1];
        let shown: SeatMap = serde_json::from_slice(&channel.seat_map_body(false)).expect("json");
        assert_eq!(shown.seats[1].status, SeatStatus::Available);
        // Claimed again by another buyer: held, whatever the last read said.
        channel.apply(vec![
            SeatChangeRow {
                version: 5,
                seat_id: 11,
                status: "available".into(),
            },
            SeatChangeRow {
                version: 5,
                seat_id: 11,
                status: "held".into(),
            },
        ]);
        let shown: SeatMap = serde_json::from_slice(&channel.seat_map_body(false)).expect("json");
        assert_eq!(shown.seats[1].status, SeatStatus::Held);
    }
}
