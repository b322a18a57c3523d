//! The live seat-map channel: every open map gets a snapshot, then every
//! seat change as ordered deltas, batched per short tick.
//!
//! One [`LiveHub`] per server process. For each event somebody watches it
//! keeps an in-memory seat map (loaded from the database once, then kept
//! current from the change log) and a broadcast channel of ready-serialised
//! delta frames, so a thousand viewers cost one serialisation, not a
//! thousand. A pump task reads each watched event's `seat_changes` after the
//! version it has: changes committed by any server instance on the same
//! database reach every instance's viewers the same way. The changes this
//! process's seat writer commits are also handed to the hub as they
//! commit; when they continue a map's version without a gap, the pump's
//! tick applies them without reading the log again.
//!
//! The same map answers `GET /api/events/{id}/seats` ([`seat_map`]), and
//! gives the event's layout, the static half of the map, served once per
//! browser as an immutable document ([`compact`]). A viewer asks for the
//! JSON messages (the default) or the compact ones (`?format=compact`):
//! each snapshot and delta is serialised once per format.

pub mod changes;
pub mod compact;
pub mod routes;
pub mod seat_map;
pub mod socket;
pub mod viewer;

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::lifecycle::Lifecycle;
use crate::store::Store;
use app::error::ApiError;
use app::types::{EventId, LiveMessage, SeatChange, SeatId, SeatStatus, SeatView};
use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use changes::changes_since;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// A seat best available may offer, in venue order (section, row,
/// number). Sections and rows are numbered in venue order (`row` is unique
/// across sections), so best available joins seats by comparing numbers,
/// not names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OfferableSeat {
    pub id: i64,
    pub section: u32,
    pub row: u32,
    pub number: i64,
    pub price_cents: i64,
}

/// Every seat of an event best available may offer, free or not: all but
/// wheelchair spaces and their companion seats, which are left to those
/// who pick them. Made once per event (seats never move).
#[derive(Debug)]
struct Offerable {
    /// Section names; a seat's `section` indexes this.
    sections: Vec<String>,
    seats: Vec<OfferableSeat>,
    /// Where each seat is in the seat map's own list.
    in_map: Vec<usize>,
}

impl Offerable {
    fn of(map: &[SeatView]) -> Self {
        let mut sections: Vec<String> = Vec::new();
        let mut seats = Vec::new();
        let mut in_map = Vec::new();
        let mut row = 0;
        let mut last: Option<(&str, &str)> = None;
        for (at, seat) in map.iter().enumerate() {
            let here = (seat.section.as_str(), seat.row.as_str());
            if last != Some(here) {
                if last.is_some() {
                    row += 1;
                }
                if last.map(|(section, _)| section) != Some(here.0) {
                    sections.push(seat.section.clone());
                }
                last = Some(here);
            }
            if !seat.features.iter().any(|f| f.is_reserved_for_access()) {
                seats.push(OfferableSeat {
                    id: seat.id.0,
                    section: u32::try_from(sections.len() - 1).unwrap_or(u32::MAX),
                    row,
                    number: seat.number,
                    price_cents: seat.price_cents,
                });
                in_map.push(at);
            }
        }
        Self {
            sections,
            seats,
            in_map,
        }
    }
}

/// Which offerable seats are free at one version of the seat map, worked
/// out once per version however many requests ask: under an onsale flood
/// dozens of requests come between two versions, and each walking the
/// 50,000 seats of a stadium was most of best available's cost. A version
/// is one flag a seat; the seats themselves are listed once per event (a
/// copy of the free ones per version was 1.5 MB, 25 times a second).
#[derive(Debug)]
pub struct FreeSeats {
    version: i64,
    offerable: Arc<Offerable>,
    free: Vec<bool>,
}

impl FreeSeats {
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Section names; a seat's `section` indexes this.
    pub fn sections(&self) -> &[String] {
        &self.offerable.sections
    }

    /// Every offerable seat, free or not; positions below index this.
    pub fn seats(&self) -> &[OfferableSeat] {
        &self.offerable.seats
    }

    pub fn is_free(&self, position: usize) -> bool {
        self.free.get(position).copied().unwrap_or(false)
    }

    /// The free seats with their positions, in venue order.
    pub fn free(&self) -> impl Iterator<Item = (u32, OfferableSeat)> + '_ {
        (0..)
            .zip(self.offerable.seats.iter().copied())
            .zip(&self.free)
            .filter(|(_, free)| **free)
            .map(|(seat, _)| seat)
    }

    /// A list made up for a test: `free` flags each of `seats`.
    #[cfg(test)]
    pub fn made_up(
        version: i64,
        sections: Vec<String>,
        seats: Vec<OfferableSeat>,
        free: Vec<bool>,
    ) -> Self {
        let in_map = (0..seats.len()).collect();
        Self {
            version,
            offerable: Arc::new(Offerable {
                sections,
                seats,
                in_map,
            }),
            free,
        }
    }

    fn of(state: &SeatMapState, offerable: Arc<Offerable>) -> Self {
        let free = offerable
            .in_map
            .iter()
            .map(|&at| state.seats[at].status == SeatStatus::Available)
            .collect();
        Self {
            version: state.version,
            offerable,
            free,
        }
    }
}

/// How often the pump reads the change log: the batching tick of deltas.
pub const TICK: Duration = Duration::from_millis(40);
/// Frames a viewer may fall behind before it is resynchronised by snapshot.
pub const DEFAULT_BUFFER: usize = 256;
/// An event nobody has watched for this long (in milliseconds of the
/// inventory's clock, so tests can move past it) is dropped from memory.
pub const IDLE_EVICT_MS: i64 = 60_000;
/// How long a viewer's socket may stay blocked before the viewer is dropped.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A serialised delta, shared by every viewer of the event.
#[derive(Debug)]
pub struct DeltaFrame {
    pub prev_version: i64,
    pub version: i64,
    pub json: Utf8Bytes,
    /// The same delta in the compact format.
    pub compact: Utf8Bytes,
}

/// Which messages a viewer is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LiveFormat {
    /// [`LiveMessage`]: one JSON object per seat.
    #[default]
    Json,
    /// [`app::layout::CompactMessage`]: statuses by seat index.
    Compact,
}

impl DeltaFrame {
    pub fn in_format(&self, format: LiveFormat) -> &Utf8Bytes {
        match format {
            LiveFormat::Json => &self.json,
            LiveFormat::Compact => &self.compact,
        }
    }
}

/// The in-memory seat map of one event.
struct SeatMapState {
    version: i64,
    seats: Vec<SeatView>,
    index: HashMap<SeatId, usize>,
    /// The snapshot message for `version`, serialised on first demand.
    snapshot_json: Option<Utf8Bytes>,
    /// The same in the compact format.
    snapshot_compact: Option<Utf8Bytes>,
    /// Held seats (by index) whose hold has run out, not yet swept, as of
    /// the last read of the seats table; a seat leaves when it changes.
    expired: Vec<usize>,
    /// `GET /api/events/{id}/seats`, made on first demand.
    rest_body: Option<seat_map::Body>,
    /// The seats best available may offer, listed on first demand.
    offerable: Option<Arc<Offerable>>,
    /// Which of them are free at `version`, made on first demand.
    free: Option<Arc<FreeSeats>>,
}

pub struct EventChannel {
    pub event_id: EventId,
    state: RwLock<SeatMapState>,
    sender: broadcast::Sender<Arc<DeltaFrame>>,
    clock: Clock,
    /// When somebody last subscribed or was found subscribed, by `clock`.
    last_watched_ms: AtomicI64,
    /// When the last completed refresh for a seat-map read began.
    read_refreshed_from: tokio::sync::Mutex<Option<Instant>>,
    /// The event's layout, made on first demand (seats never move).
    layout: OnceLock<Arc<compact::LayoutBody>>,
    /// The process's: viewers are closed with 1001 when it stops.
    lifecycle: Lifecycle,
    /// Changes this process's seat writer committed, not applied yet.
    offered: Mutex<Vec<changes::SeatChangeRow>>,
}

/// Offered changes kept for the next tick at most; past this (a stalled
/// pump) they are dropped, and the pump reads the log instead.
const OFFERED_LIMIT: usize = 100_000;

impl EventChannel {
    #[cfg(test)]
    fn new(event_id: EventId, version: i64, seats: Vec<SeatView>, buffer: usize) -> Self {
        Self::with_clock(event_id, version, seats, buffer, Clock::default())
    }

    fn with_lifecycle(self, lifecycle: Lifecycle) -> Self {
        Self { lifecycle, ..self }
    }

    /// Completes when the process begins shutting down.
    pub async fn going_away(&self) {
        self.lifecycle.stopping().await;
    }

    fn with_clock(
        event_id: EventId,
        version: i64,
        seats: Vec<SeatView>,
        buffer: usize,
        clock: Clock,
    ) -> Self {
        let index = seats
            .iter()
            .enumerate()
            .map(|(i, seat)| (seat.id, i))
            .collect();
        let (sender, _) = broadcast::channel(buffer.max(1));
        Self {
            event_id,
            state: RwLock::new(SeatMapState {
                version,
                seats,
                index,
                snapshot_json: None,
                snapshot_compact: None,
                expired: Vec::new(),
                rest_body: None,
                offerable: None,
                free: None,
            }),
            sender,
            last_watched_ms: AtomicI64::new(clock.now()),
            clock,
            read_refreshed_from: tokio::sync::Mutex::new(None),
            layout: OnceLock::new(),
            lifecycle: Lifecycle::default(),
            offered: Mutex::default(),
        }
    }

    /// Keeps the changes one batch of this process's seat writer committed
    /// under `version`, for the pump's next tick.
    fn offer(&self, version: i64, seats: Vec<(i64, SeatStatus)>) {
        let mut offered = self.offered.lock().unwrap_or_else(|p| p.into_inner());
        if offered.len() + seats.len() > OFFERED_LIMIT {
            offered.clear();
            return;
        }
        offered.extend(
            seats
                .into_iter()
                .map(|(seat_id, status)| changes::SeatChangeRow {
                    version,
                    seat_id,
                    status: status.as_str().to_string(),
                }),
        );
    }

    /// The offered changes, in log order, if they take the map on from its
    /// version with no version missing; `None` if there are none or one is
    /// missing (committed by another server, or offered late), when only
    /// the log has them all.
    fn continuing_offers(&self) -> Option<Vec<changes::SeatChangeRow>> {
        let mut offered =
            std::mem::take(&mut *self.offered.lock().unwrap_or_else(|p| p.into_inner()));
        let version = self.version();
        offered.retain(|change| change.version > version);
        offered.sort_unstable_by_key(|change| (change.version, change.seat_id));
        let mut last = version;
        for change in &offered {
            if change.version != last && change.version != last + 1 {
                return None;
            }
            last = change.version;
        }
        (!offered.is_empty()).then_some(offered)
    }

    /// The event's layout, made once.
    pub fn layout(&self) -> Arc<compact::LayoutBody> {
        self.layout
            .get_or_init(|| {
                let state = self.state.read().unwrap_or_else(|p| p.into_inner());
                Arc::new(compact::LayoutBody::new(self.event_id, &state.seats))
            })
            .clone()
    }

    /// Viewers connected right now.
    pub fn viewer_count(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Deltas from now on. While any receiver is alive the channel stays in
    /// memory and the pump keeps it current.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<DeltaFrame>> {
        self.mark_watched();
        self.sender.subscribe()
    }

    fn mark_watched(&self) {
        self.last_watched_ms
            .store(self.clock.now(), Ordering::Relaxed);
    }

    fn idle_for_ms(&self) -> i64 {
        self.clock.now() - self.last_watched_ms.load(Ordering::Relaxed)
    }

    /// The current snapshot message and its version, serialised once per
    /// version however many viewers join.
    pub fn snapshot(&self) -> (i64, Utf8Bytes) {
        self.snapshot_in(LiveFormat::Json)
    }

    /// [`Self::snapshot`] in either format (each made once per version).
    pub fn snapshot_in(&self, format: LiveFormat) -> (i64, Utf8Bytes) {
        let layout_hash = match format {
            LiveFormat::Json => None,
            LiveFormat::Compact => Some(self.layout().hash.clone()),
        };
        let cached = |state: &SeatMapState| match format {
            LiveFormat::Json => state.snapshot_json.clone(),
            LiveFormat::Compact => state.snapshot_compact.clone(),
        };
        {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if let Some(frame) = cached(&state) {
                return (state.version, frame);
            }
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if cached(&state).is_none() {
            match &layout_hash {
                None => {
                    let message = LiveMessage::Snapshot {
                        version: state.version,
                        seats: state.seats.clone(),
                    };
                    state.snapshot_json = Some(to_frame(&message));
                }
                Some(hash) => {
                    let statuses = state.seats.iter().map(|seat| seat.status);
                    state.snapshot_compact =
                        Some(compact::snapshot_frame(state.version, hash, statuses));
                }
            }
        }
        (state.version, cached(&state).unwrap_or_default())
    }

    /// The seats free right now (as of the last tick), in venue order: the
    /// candidates for best available, read from memory instead of 50,000
    /// rows per request, and listed once per version by the first request
    /// that asks. The claim re-checks in the database.
    pub fn free_seats(&self) -> Arc<FreeSeats> {
        let current = |state: &SeatMapState| {
            state
                .free
                .as_ref()
                .filter(|free| free.version == state.version)
                .cloned()
        };
        if let Some(free) = current(&self.state.read().unwrap_or_else(|p| p.into_inner())) {
            return free;
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if let Some(free) = current(&state) {
            return free;
        }
        let state = &mut *state;
        let offerable = state
            .offerable
            .get_or_insert_with(|| Arc::new(Offerable::of(&state.seats)))
            .clone();
        let free = Arc::new(FreeSeats::of(state, offerable));
        state.free = Some(free.clone());
        free
    }

    /// Runs `check` over the features of the seats asked for (those of
    /// this event; others are left to the claim to refuse). Features never
    /// change during a sale, so memory answers.
    pub fn with_features<T>(
        &self,
        seat_ids: &[i64],
        check: impl FnOnce(&[&[app::layout::SeatFeature]]) -> T,
    ) -> T {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let features: Vec<&[app::layout::SeatFeature]> = seat_ids
            .iter()
            .filter_map(|id| state.index.get(&SeatId(*id)))
            .map(|&at| state.seats[at].features.as_slice())
            .collect();
        check(&features)
    }

    pub fn version(&self) -> i64 {
        self.state.read().unwrap_or_else(|p| p.into_inner()).version
    }

    /// Applies changes read from the log (ordered by version) and broadcasts
    /// them as one delta frame.
    fn apply(&self, changes: Vec<changes::SeatChangeRow>) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let prev_version = state.version;
        let fresh: Vec<_> = changes
            .into_iter()
            .filter(|c| c.version > prev_version)
            .collect();
        let Some(version) = fresh.iter().map(|c| c.version).max() else {
            return;
        };
        let mut wire = Vec::with_capacity(fresh.len());
        let mut by_index = Vec::with_capacity(fresh.len());
        for change in fresh {
            let Some(status) = SeatStatus::parse(&change.status) else {
                continue;
            };
            let seat_id = SeatId(change.seat_id);
            if let Some(&at) = state.index.get(&seat_id) {
                state.seats[at].status = status;
                state.expired.retain(|&expired| expired != at);
                by_index.push((at, status));
            }
            wire.push(SeatChange { seat_id, status });
        }
        state.version = version;
        state.snapshot_json = None;
        state.snapshot_compact = None;
        let message = LiveMessage::Delta {
            prev_version,
            version,
            changes: wire,
        };
        let json = to_frame(&message);
        let compact = compact::delta_frame(prev_version, version, &by_index);
        // No receivers is fine: nobody is watching right now.
        let _ = self.sender.send(Arc::new(DeltaFrame {
            prev_version,
            version,
            json,
            compact,
        }));
    }
}

fn to_frame(message: &LiveMessage) -> Utf8Bytes {
    // Serialising plain data structures cannot fail.
    Utf8Bytes::from(serde_json::to_string(message).unwrap_or_default())
}

#[derive(Clone)]
pub struct LiveHub {
    store: Store,
    catalog: Catalog,
    clock: Clock,
    buffer: usize,
    send_timeout: Duration,
    channels: Arc<Mutex<HashMap<EventId, Arc<EventChannel>>>>,
    /// Serialises first loads so one event's map is read from the database once.
    loading: Arc<tokio::sync::Mutex<()>>,
    /// Which event each layout hash served so far belongs to, so
    /// `GET /api/layouts/{hash}` finds it again after its channel was
    /// evicted (one short entry per event).
    layout_events: Arc<Mutex<HashMap<String, EventId>>>,
    lifecycle: Lifecycle,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let watched = self.channels.lock().map(|c| c.len()).unwrap_or_default();
        f.debug_struct("LiveHub")
            .field("events_in_memory", &watched)
            .finish_non_exhaustive()
    }
}

impl LiveHub {
    /// `clock` is the inventory's, so tests can move past the idle eviction.
    pub fn new(store: Store, catalog: Catalog, clock: Clock, buffer: usize) -> Self {
        Self {
            store,
            catalog,
            clock,
            buffer,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            channels: Arc::default(),
            loading: Arc::default(),
            layout_events: Arc::default(),
            lifecycle: Lifecycle::default(),
        }
    }

    /// The process's lifecycle: when it stops, every viewer is closed with
    /// 1001 "going away" (and reconnects, through the load balancer, to
    /// another instance).
    pub fn with_lifecycle(self, lifecycle: Lifecycle) -> Self {
        Self { lifecycle, ..self }
    }

    /// Viewers connected to this process right now, over all events.
    pub fn viewers(&self) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|channel| channel.viewer_count())
            .sum()
    }

    /// After shutdown began: waits (at most `limit`) for the viewers to be
    /// sent their close frames and go.
    pub async fn wait_for_viewers_to_leave(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.viewers() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The event's layout (made once per event while it is in memory).
    pub async fn layout(&self, event_id: EventId) -> Result<Arc<compact::LayoutBody>, ApiError> {
        let channel = self.channel(event_id).await?;
        channel.mark_watched();
        let layout = channel.layout();
        self.layout_events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(layout.hash.clone(), event_id);
        Ok(layout)
    }

    /// The layout whose hash is `hash`, if this server has served it.
    pub async fn layout_by_hash(&self, hash: &str) -> Result<Arc<compact::LayoutBody>, ApiError> {
        let event_id = self
            .layout_events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
            .copied();
        let not_found = || ApiError::not_found(format!("no layout {hash}"));
        let event_id = event_id.ok_or_else(not_found)?;
        let layout = self.layout(event_id).await?;
        if layout.hash == hash {
            Ok(layout)
        } else {
            Err(not_found())
        }
    }

    /// How long a viewer's socket may stay blocked before it is dropped.
    pub fn with_send_timeout(self, send_timeout: Duration) -> Self {
        Self {
            send_timeout,
            ..self
        }
    }

    pub fn send_timeout(&self) -> Duration {
        self.send_timeout
    }

    /// The event's seat map as `GET /api/events/{id}/seats` answers it,
    /// as of the call; gzipped if asked.
    pub async fn seat_map(&self, event_id: EventId, gzip: bool) -> Result<Bytes, ApiError> {
        let channel = self.channel(event_id).await?;
        channel.mark_watched();
        channel
            .refresh_for_read(&self.store, self.catalog.clock())
            .await?;
        Ok(channel.seat_map_body(gzip))
    }

    /// The event's statuses only, in layout order, as a compact snapshot
    /// (`GET /api/events/{id}/seats?format=compact`), as of the call.
    pub async fn seat_status(&self, event_id: EventId) -> Result<Bytes, ApiError> {
        let layout = self.layout(event_id).await?;
        let channel = self.channel(event_id).await?;
        channel
            .refresh_for_read(&self.store, self.catalog.clock())
            .await?;
        Ok(channel.compact_status_body(&layout.hash))
    }

    fn existing(&self, event_id: EventId) -> Option<Arc<EventChannel>> {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&event_id)
            .cloned()
    }

    /// The event's channel, loading its seat map on first use.
    pub async fn channel(&self, event_id: EventId) -> Result<Arc<EventChannel>, ApiError> {
        if let Some(channel) = self.existing(event_id) {
            return Ok(channel);
        }
        let _loading = self.loading.lock().await;
        if let Some(channel) = self.existing(event_id) {
            return Ok(channel);
        }
        let map = self.catalog.seat_map(event_id).await?;
        let channel = Arc::new(
            EventChannel::with_clock(
                event_id,
                map.version,
                map.seats,
                self.buffer,
                self.clock.clone(),
            )
            .with_lifecycle(self.lifecycle.clone()),
        );
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(event_id, channel.clone());
        Ok(channel)
    }

    /// Hands the hub the changes a batch of this process's seat writer has
    /// just committed: `version` of the event. Kept only for an event whose
    /// map is in memory; its pump tick applies them.
    pub fn committed(&self, event_id: EventId, version: i64, seats: Vec<(i64, SeatStatus)>) {
        let channel = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&event_id)
            .cloned();
        if let Some(channel) = channel {
            channel.offer(version, seats);
        }
    }

    /// One pass of the pump: brings every watched event up to date.
    pub async fn pump_once(&self) -> Result<(), ApiError> {
        let channels: Vec<Arc<EventChannel>> = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let viewers: usize = channels.iter().map(|c| c.viewer_count()).sum();
        metrics::gauge!("tessera_live_viewers").set(viewers as f64);
        metrics::gauge!("tessera_live_events_in_memory").set(channels.len() as f64);
        for channel in channels {
            let watched = channel.sender.receiver_count() > 0;
            if watched {
                channel.mark_watched();
            } else if channel.idle_for_ms() > IDLE_EVICT_MS {
                self.channels
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&channel.event_id);
                continue;
            }
            let changes = match channel.continuing_offers() {
                Some(offered) => offered,
                None => changes_since(&self.store, channel.event_id.0, channel.version()).await?,
            };
            if !changes.is_empty() {
                channel.apply(changes);
            }
        }
        Ok(())
    }

    /// Runs the pump forever (one task per server process).
    pub fn spawn_pump(&self) -> tokio::task::JoinHandle<()> {
        let hub = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(TICK);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                // Errors are logged by the store layer; try again next tick.
                let _ = hub.pump_once().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::SeatFeature;
    use changes::SeatChangeRow;

    fn seat(id: i64, section: &str, row: &str, number: i64) -> SeatView {
        SeatView {
            id: SeatId(id),
            section: section.into(),
            row: row.into(),
            number,
            x: 0.0,
            y: 0.0,
            tier: "Standard".into(),
            price_cents: 1000 * id,
            status: SeatStatus::Available,
            features: Vec::new(),
        }
    }

    fn free(channel: &EventChannel) -> Vec<OfferableSeat> {
        channel.free_seats().free().map(|(_, seat)| seat).collect()
    }

    fn versions(changes: &[SeatChangeRow]) -> Vec<(i64, i64)> {
        changes.iter().map(|c| (c.version, c.seat_id)).collect()
    }

    #[test]
    fn offered_changes_are_taken_only_when_they_continue_the_maps_version() {
        let channel = EventChannel::new(EventId(1), 3, vec![seat(1, "Stalls", "A", 1)], 16);
        assert_eq!(channel.continuing_offers(), None, "nothing offered");

        // Offered out of order (two batches' tasks), older ones repeated.
        channel.offer(5, vec![(2, SeatStatus::Sold)]);
        channel.offer(3, vec![(9, SeatStatus::Held)]);
        channel.offer(4, vec![(3, SeatStatus::Held), (1, SeatStatus::Held)]);
        let taken = channel
            .continuing_offers()
            .expect("versions 4 and 5 continue 3");
        assert_eq!(versions(&taken), [(4, 1), (4, 3), (5, 2)]);
        assert_eq!(channel.continuing_offers(), None, "taken once");

        // Version 4 was another server's: only the log has it.
        channel.offer(5, vec![(2, SeatStatus::Sold)]);
        assert_eq!(channel.continuing_offers(), None);
        assert_eq!(
            channel.continuing_offers(),
            None,
            "not kept for later either"
        );
    }

    #[test]
    fn the_free_seats_are_listed_once_per_version_with_rows_numbered_in_venue_order() {
        let mut wheelchair = seat(5, "Circle", "A", 2);
        wheelchair.features = vec![SeatFeature::Wheelchair];
        let channel = EventChannel::new(
            EventId(1),
            3,
            vec![
                seat(1, "Stalls", "A", 1),
                seat(2, "Stalls", "A", 2),
                seat(3, "Stalls", "B", 1),
                seat(4, "Circle", "A", 1),
                wheelchair,
            ],
            16,
        );
        let listed = free(&channel);
        let keys: Vec<(i64, u32, u32)> = listed
            .iter()
            .map(|seat| (seat.id, seat.section, seat.row))
            .collect();
        // Row A of the Circle is not row A of the Stalls; the wheelchair
        // space is left to those who pick it.
        assert_eq!(keys, [(1, 0, 0), (2, 0, 0), (3, 0, 1), (4, 1, 2)]);
        assert_eq!(channel.free_seats().sections(), ["Stalls", "Circle"]);
        let ids = |seats: Vec<OfferableSeat>| seats.iter().map(|seat| seat.id).collect::<Vec<_>>();
        assert!(Arc::ptr_eq(&channel.free_seats(), &channel.free_seats()));

        channel.apply(vec![SeatChangeRow {
            version: 4,
            seat_id: 2,
            status: "held".into(),
        }]);
        assert_eq!(ids(free(&channel)), [1, 3, 4], "listed again at version 4");
    }
}
