//! The onsale waiting room. On a protected event a fan joins the queue,
//! waits (in the pre-queue until the onsale, when the pre-queue is drawn in
//! a random, auditable order: [`draw`]), is admitted at the event's pace
//! while fewer than its cap are shopping ([`admission`]), and only then may
//! hold seats. The queue lives in the database ([`store`]), so servers
//! sharing one database share one line and one pace.
//!
//! An admission is a database record bound to the caller's session (or
//! account), which are themselves server-signed, with an expiry: there is
//! no separate bearer token to copy to another browser, and buying or
//! releasing ends the admission at once, on every server.

pub mod admission;
pub mod challenge;
pub mod draw;
pub mod joiner;
pub mod places;
pub mod room;
pub mod routes;
pub mod store;

use crate::clock::Clock;
use crate::clock::{format_ms, parse_date};
use crate::net::rates::{AddressRate, MAX_TRACKED};
use crate::net::ClientKey;
use crate::store::{Store, StoreError};
use app::error::{ApiError, ErrorCode};
use app::queue::{
    DrawAudit, JoinRequest, PowChallenge, QueueSettings, QueueSettingsRequest, QueueState,
    QueueStatus,
};
use app::types::{EventId, HoldId};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{JoinOutcome, Room};

/// How often a waiting page asks again. With the room cache's age this
/// keeps every shown position under 10 seconds old.
pub const POLL_SECONDS: u32 = 5;
/// How long this server answers positions from its copy of a room's
/// counters (its own ticker refreshes the copy every tick).
const ROOM_CACHE: Duration = Duration::from_secs(2);
/// The oldest copy answered while another request reads the room again.
const ROOM_CACHE_STALE: Duration = Duration::from_secs(3);
/// The waiting room opens this long before the onsale unless staff say.
const DEFAULT_OPENS_BEFORE_MS: i64 = 30 * 60_000;
const DEFAULT_ADMISSION_MINUTES: i64 = 10;

/// The waiting rooms of all events, as seen from this server.
#[derive(Clone, Debug)]
pub struct Queue {
    store: Store,
    clock: Clock,
    rooms: Arc<Mutex<HashMap<i64, CachedRoom>>>,
    challenges: challenge::Challenges,
    joiner: joiner::Joiner,
    places: Arc<places::Places>,
    /// New joins per client address and minute; `None` when per-address
    /// limits are off.
    joins: Option<Arc<AddressRate>>,
}

#[derive(Clone, Debug)]
struct CachedRoom {
    room: Option<Room>,
    onsale_at: i64,
    read_at: Instant,
    /// A request is reading the room again: others answer from this copy
    /// meanwhile rather than all read it at once.
    refreshing: bool,
}

/// Who is asking: the session's key and, signed in, the account.
#[derive(Clone, Debug)]
pub struct Visitor {
    pub session_key: String,
    pub account_id: Option<i64>,
    pub client: ClientKey,
}

impl Visitor {
    /// The names a place may be held under: the account first.
    fn holders(&self) -> Vec<String> {
        holder_names(&self.session_key, self.account_id)
    }
}

fn holder_names(session_key: &str, account_id: Option<i64>) -> Vec<String> {
    let session = format!("s:{session_key}");
    match account_id {
        Some(id) => vec![format!("u:{id}"), session],
        None => vec![session],
    }
}

impl Queue {
    /// `joins_per_minute`: new joins one address may make a minute (`None`:
    /// per-address limits off). `secret` signs proof-of-work challenges.
    /// Starts the join writer, so call it inside the runtime.
    pub fn new(
        store: Store,
        clock: Clock,
        secret: [u8; 32],
        joins_per_minute: Option<NonZeroU32>,
    ) -> Self {
        Self {
            joiner: joiner::Joiner::spawn(store.clone()),
            places: Arc::default(),
            store,
            clock,
            rooms: Arc::default(),
            challenges: challenge::Challenges::new(secret),
            joins: joins_per_minute.map(|rate| {
                Arc::new(AddressRate::new(
                    governor::Quota::per_minute(rate),
                    MAX_TRACKED,
                ))
            }),
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Saves an event's waiting-room settings (staff).
    pub async fn configure(
        &self,
        event_id: EventId,
        request: QueueSettingsRequest,
    ) -> Result<QueueSettings, ApiError> {
        let (onsale_at, starts_at) = self.event_times(event_id).await?;
        let settings = validate_settings(&request, onsale_at, starts_at)?;
        let seed = draw::new_seed();
        store::save_settings(
            &self.store,
            event_id.0,
            &settings,
            &crate::session::hex(&seed),
            &draw::seed_hash(&seed),
        )
        .await?;
        self.refresh(event_id.0).await?;
        self.settings(event_id).await
    }

    /// The settings with live figures (staff); 404 without a waiting room.
    pub async fn settings(&self, event_id: EventId) -> Result<QueueSettings, ApiError> {
        let (room, onsale_at) = self.fresh_room(event_id).await?;
        let room = room.ok_or_else(|| no_room(event_id))?;
        let now = self.clock.now();
        let figures = store::figures(&self.store, event_id.0, now).await?;
        let clear = (room.drawn_at.is_some() && !room.paused)
            .then(|| div_ceil(figures.waiting * 60, room.admit_per_minute));
        Ok(QueueSettings {
            enabled: room.enabled,
            opens_at: format_ms(room.opens_at),
            onsale_at: format_ms(onsale_at),
            admit_per_minute: room.admit_per_minute,
            max_active: room.max_active,
            admission_minutes: room.admission_ms / 60_000,
            pow_difficulty: u32::try_from(room.pow_bits).unwrap_or(0),
            require_account: room.require_account,
            paused: room.paused,
            drawn: room.drawn_at.is_some(),
            waiting: figures.waiting,
            active: figures.active,
            admitted_last_minute: figures.admitted_last_minute,
            expected_clear_seconds: clear,
        })
    }

    /// Pauses or resumes admissions (staff). While paused nobody new is
    /// admitted and no pace credit is earned; the line keeps its order.
    pub async fn set_paused(&self, event_id: EventId, paused: bool) -> Result<(), ApiError> {
        let found = store::set_paused(&self.store, event_id.0, paused).await?;
        if !found {
            return Err(no_room(event_id));
        }
        self.refresh(event_id.0).await?;
        Ok(())
    }

    /// A proof-of-work challenge for this visitor, if the event asks for one.
    pub async fn challenge(
        &self,
        event_id: EventId,
        visitor: &Visitor,
    ) -> Result<PowChallenge, ApiError> {
        let (room, _) = self.cached_room(event_id).await?;
        let room = room
            .filter(|room| room.enabled)
            .ok_or_else(|| no_room(event_id))?;
        let difficulty = u32::try_from(room.pow_bits).unwrap_or(0);
        Ok(PowChallenge {
            challenge: self
                .challenges
                .issue(event_id.0, &visitor.holders()[0], self.clock.now()),
            difficulty,
        })
    }

    /// Joins the line, or returns the caller's place: the same session or
    /// account always gets the same place.
    pub async fn join(
        &self,
        event_id: EventId,
        visitor: &Visitor,
        request: JoinRequest,
    ) -> Result<QueueStatus, ApiError> {
        let (room, onsale_at) = self.cached_room(event_id).await?;
        let room = room
            .filter(|room| room.enabled)
            .ok_or_else(|| no_room(event_id))?;
        if room.require_account && visitor.account_id.is_none() {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "sign in to join this queue: one place per account",
            ));
        }
        let holders = visitor.holders();
        let now = self.clock.now();
        // A refresh or a second tab gets its place back without spending
        // the address's allowance or solving another challenge.
        if let Some(entry) = self.places.waiting(event_id.0, &holders, Some(&room)) {
            return Ok(status_of(&entry, Some(&room), onsale_at, now));
        }
        // Not in this server's copy: nearly always a newcomer, so the
        // database is not asked first (the join writer finds a place the
        // caller already has, in one query for its whole batch). Only a
        // caller the friction refuses is looked up, so that one who has a
        // place (joined through another server) still gets it back.
        if let Err(refused) = self.check_friction(event_id, &room, &holders, &request, visitor, now)
        {
            return match store::entry(&self.store, event_id.0, &holders).await? {
                Some(entry) if entry.keeps_place(now) => {
                    Ok(status_of(&entry, Some(&room), onsale_at, now))
                }
                _ => Err(refused),
            };
        }
        let public_id = draw::new_public_id();
        let seed = draw::parse_seed(&room.seed).unwrap_or_default();
        let entry = store::NewEntry {
            holder: holders[0].clone(),
            draw_key: draw::to_stored(draw::draw_key(&seed, &public_id)),
            holders: holders.clone(),
            public_id,
        };
        let join = joiner::Join {
            event_id: event_id.0,
            onsale_at,
            entry,
            now,
        };
        match self.joiner.join(join).await? {
            JoinOutcome::NotQueued => Err(no_room(event_id)),
            JoinOutcome::NotOpen { opens_at } => Err(ApiError::new(
                ErrorCode::NotOnSale,
                format!("the waiting room opens at {}", format_ms(opens_at)),
            )),
            JoinOutcome::Placed(entry) => {
                self.places.remember(event_id.0, &holders, &entry);
                let (room, _) = self.cached_room(event_id).await?;
                Ok(status_of(&entry, room.as_ref(), onsale_at, now))
            }
        }
    }

    /// The caller's place; 404 when they have not joined.
    pub async fn status(
        &self,
        event_id: EventId,
        visitor: &Visitor,
    ) -> Result<QueueStatus, ApiError> {
        let (room, onsale_at) = self.cached_room(event_id).await?;
        let holders = visitor.holders();
        let entry = match self.places.waiting(event_id.0, &holders, room.as_ref()) {
            Some(entry) => entry,
            None => {
                let entry = store::entry(&self.store, event_id.0, &holders)
                    .await?
                    .ok_or_else(|| {
                        ApiError::not_found("you are not in this queue; join it with POST")
                    })?;
                self.places.remember(event_id.0, &holders, &entry);
                entry
            }
        };
        Ok(status_of(
            &entry,
            room.as_ref(),
            onsale_at,
            self.clock.now(),
        ))
    }

    /// The published draw: the seed's hash from the start; the seed and the
    /// drawn order once drawn. 404 while the waiting room is off.
    pub async fn audit(&self, event_id: EventId) -> Result<DrawAudit, ApiError> {
        let (room, _) = self.cached_room(event_id).await?;
        let room = room
            .filter(|room| room.enabled)
            .ok_or_else(|| no_room(event_id))?;
        if room.drawn_at.is_none() {
            return Ok(DrawAudit {
                seed_hash: room.seed_hash,
                seed: None,
                order: None,
            });
        }
        let order = store::drawn_order(&self.store, event_id.0).await?;
        Ok(DrawAudit {
            seed_hash: room.seed_hash,
            seed: Some(room.seed),
            order: Some(order),
        })
    }

    /// Refuses a hold on a protected event without a valid admission: `403
    /// queue_required`. Events without a waiting room cost no database
    /// read here.
    pub async fn require_admission(
        &self,
        event_id: EventId,
        session_key: &str,
        account_id: Option<i64>,
    ) -> Result<(), ApiError> {
        if !self.room_is_on(event_id).await? {
            return Ok(());
        }
        let holders = holder_names(session_key, account_id);
        let admitted = store::admitted(&self.store, event_id.0, &holders, self.clock.now()).await?;
        if admitted {
            Ok(())
        } else {
            Err(ApiError::queue_required(event_id))
        }
    }

    /// A hold was bought or released: its buyer's admission is used up and
    /// the slot goes to the next in line. The purchase or release already
    /// happened, so a failure here is logged, not returned: the admission
    /// then simply runs out at its expiry. An event without a waiting room
    /// (this server's copy of its room, as for holds) costs nothing: that
    /// write, a transaction of its own beside the seat writer's batches,
    /// ran for every release and purchase of every event: without it the
    /// holds benchmark went from 1,000–1,600 to 2,800–2,900 holds a second
    /// (BENCHMARKS.md).
    pub async fn hold_finished(&self, event_id: EventId, hold_id: HoldId) {
        // If the room cannot be read, the slot is freed anyway.
        if let Ok(false) = self.room_is_on(event_id).await {
            return;
        }
        if let Err(error) = store::finish_hold(&self.store, hold_id.0).await {
            tracing::error!(%error, hold_id = hold_id.0, "freeing a queue slot failed");
        }
    }

    /// Runs one admission step for every room that is on (see
    /// [`store::tick`]); servers sharing a database may all run it.
    pub async fn tick_all(&self) -> Result<(), StoreError> {
        for event_id in store::enabled_rooms(&self.store).await? {
            self.tick(EventId(event_id)).await?;
        }
        Ok(())
    }

    /// One admission step for one event.
    pub async fn tick(&self, event_id: EventId) -> Result<store::TickOutcome, StoreError> {
        let Some((onsale_at, _)) = store::event_times(&self.store, event_id.0).await? else {
            return Ok(store::TickOutcome::default());
        };
        let outcome = store::tick(&self.store, event_id.0, onsale_at, self.clock.now()).await?;
        self.refresh(event_id.0).await.ok();
        Ok(outcome)
    }

    /// Whether the event has a waiting room switched on, from this
    /// server's copy of the room: no database read for events without one.
    async fn room_is_on(&self, event_id: EventId) -> Result<bool, ApiError> {
        let (room, _) = self.cached_room(event_id).await?;
        Ok(room.is_some_and(|room| room.enabled))
    }

    /// The join rate of the caller's address, then the proof of work if
    /// the room asks for one.
    fn check_friction(
        &self,
        event_id: EventId,
        room: &Room,
        holders: &[String],
        request: &JoinRequest,
        visitor: &Visitor,
        now: i64,
    ) -> Result<(), ApiError> {
        self.check_join_rate(visitor.client)?;
        if room.pow_bits > 0 {
            self.challenges
                .verify(event_id.0, &holders[0], request, room.pow_bits, now)?;
        }
        Ok(())
    }

    fn check_join_rate(&self, client: ClientKey) -> Result<(), ApiError> {
        let Some(joins) = &self.joins else {
            return Ok(());
        };
        joins.check(client).map_err(|wait| {
            ApiError::rate_limited(
                "too many people joined this queue from your network just now; try again shortly",
                wait,
            )
        })
    }

    async fn event_times(&self, event_id: EventId) -> Result<(i64, i64), ApiError> {
        store::event_times(&self.store, event_id.0)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no event {event_id}")))
    }

    /// The room from this server's copy, read again when older than
    /// [`ROOM_CACHE`]: 50,000 pollers cost one room read a second. While
    /// one request reads it again, the others answer from the copy (up to
    /// [`ROOM_CACHE_STALE`] old): with thousands of polls a second, all of
    /// them reading at the moment the copy expired took every database
    /// connection.
    async fn cached_room(&self, event_id: EventId) -> Result<(Option<Room>, i64), ApiError> {
        {
            let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(cached) = rooms.get_mut(&event_id.0) {
                let age = cached.read_at.elapsed();
                if age < ROOM_CACHE || (cached.refreshing && age < ROOM_CACHE_STALE) {
                    return Ok((cached.room.clone(), cached.onsale_at));
                }
                cached.refreshing = true;
            }
        }
        let read = self.refresh(event_id.0).await;
        if read.is_err() {
            if let Some(cached) = self
                .rooms
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(&event_id.0)
            {
                cached.refreshing = false;
            }
        }
        read
    }

    async fn fresh_room(&self, event_id: EventId) -> Result<(Option<Room>, i64), ApiError> {
        self.refresh(event_id.0).await
    }

    async fn refresh(&self, event_id: i64) -> Result<(Option<Room>, i64), ApiError> {
        let (onsale_at, _) = self.event_times(EventId(event_id)).await?;
        let room = store::room(&self.store, event_id).await?;
        if let Some(room) = room
            .as_ref()
            .filter(|room| self.places.needs_line(event_id, room))
        {
            let line = store::waiting_line(&self.store, event_id, places::MAX_PLACES).await?;
            self.places.keep_line(room.event_id, line);
        }
        self.rooms.lock().unwrap_or_else(|p| p.into_inner()).insert(
            event_id,
            CachedRoom {
                room: room.clone(),
                onsale_at,
                read_at: Instant::now(),
                refreshing: false,
            },
        );
        Ok((room, onsale_at))
    }
}

/// Runs [`Queue::tick_all`] every `every` on this server.
pub fn spawn_ticker(queue: Queue, every: Duration) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = queue.tick_all().await {
                tracing::error!(%error, "waiting room tick failed");
            }
        }
    });
}

fn no_room(event_id: EventId) -> ApiError {
    ApiError::not_found(format!("event {event_id} has no waiting room"))
}

fn div_ceil(a: i64, b: i64) -> i64 {
    if b <= 0 {
        0
    } else {
        (a + b - 1) / b
    }
}

/// What a fan sees of their entry.
fn status_of(entry: &store::Entry, room: Option<&Room>, onsale_at: i64, now: i64) -> QueueStatus {
    let admitted_through = room.map_or(0, |room| room.admitted_through);
    let rate = room.map_or(1, |room| room.admit_per_minute);
    let state = match entry.state {
        store::EntryState::Waiting => QueueState::Waiting,
        store::EntryState::Admitted if entry.expires_at.is_some_and(|at| at > now) => {
            QueueState::Admitted
        }
        _ => QueueState::Expired,
    };
    let position = (state == QueueState::Waiting)
        .then_some(entry.position)
        .flatten()
        .map(|position| (position - admitted_through).max(1));
    QueueStatus {
        state,
        position,
        estimated_wait_seconds: position.map(|ahead| div_ceil(ahead * 60, rate)),
        queue_id: entry.public_id.clone(),
        onsale_at: format_ms(onsale_at),
        admission_expires_at: (state == QueueState::Admitted)
            .then_some(entry.expires_at)
            .flatten()
            .map(format_ms),
        paused: room.is_some_and(|room| room.paused),
        poll_after_seconds: POLL_SECONDS,
    }
}

/// Checks staff input; times are RFC 3339.
fn validate_settings(
    request: &QueueSettingsRequest,
    onsale_at: i64,
    starts_at: i64,
) -> Result<store::Settings, ApiError> {
    let opens_at = match &request.opens_at {
        // A field of a well-formed body: a rule broken (422), not bad syntax.
        Some(raw) => parse_date(raw, "opens_at", false)
            .map_err(|error| ApiError::validation(error.message))?,
        None => onsale_at - DEFAULT_OPENS_BEFORE_MS,
    };
    if opens_at >= starts_at {
        return Err(ApiError::validation(
            "opens_at must be before the event starts",
        ));
    }
    if !(1..=100_000).contains(&request.admit_per_minute) {
        return Err(ApiError::validation("admit_per_minute must be 1 to 100000"));
    }
    if !(1..=1_000_000).contains(&request.max_active) {
        return Err(ApiError::validation("max_active must be 1 to 1000000"));
    }
    let admission_minutes = request
        .admission_minutes
        .unwrap_or(DEFAULT_ADMISSION_MINUTES);
    if !(1..=240).contains(&admission_minutes) {
        return Err(ApiError::validation("admission_minutes must be 1 to 240"));
    }
    let pow_bits = request.pow_difficulty.unwrap_or(0);
    if pow_bits > challenge::MAX_BITS {
        return Err(ApiError::validation(format!(
            "pow_difficulty must be 0 to {}",
            challenge::MAX_BITS
        )));
    }
    Ok(store::Settings {
        enabled: request.enabled,
        opens_at,
        admit_per_minute: request.admit_per_minute,
        max_active: request.max_active,
        admission_ms: admission_minutes * 60_000,
        pow_bits: i64::from(pow_bits),
        require_account: request.require_account.unwrap_or(false),
    })
}
