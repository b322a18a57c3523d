//! The inventory: holds with expiry over the seat state machine
//! (`docs/architecture.md`, "The seat state machine"). The database is the
//! authority; this layer validates input, enforces ownership, the
//! per-buyer limit (per session, per signed-in account, and per email at
//! purchase: [`buyer_limit`]) and the per-address caps, and shapes answers.

pub mod accessible;
pub mod batcher;
pub mod best_available;
pub mod buyer_limit;
pub mod handout;
pub mod holds;
pub mod picks;
pub mod routes;
pub mod sweeper;
pub mod writer;

use crate::clock::format_ms;
use crate::clock::Clock;
use crate::live::{EventChannel, LiveHub};
use crate::net::{ClientKey, ClientLimits};
use crate::store::Store;
use app::error::{ApiError, ErrorCode};
use app::types::{BestAvailable, EventId, HoldId, HoldRequest, HoldStatus, HoldView, SeatId};
use batcher::SeatWriter;
use holds::ClaimOutcome;
use picks::RecentPicks;
use rustc_hash::FxHashSet;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// No single request may hold more seats than this, whatever an event's limit.
pub const MAX_SEATS_PER_REQUEST: usize = app::types::MAX_SEATS_PER_HOLD;

#[derive(Clone, Debug)]
pub struct Inventory {
    store: Store,
    clock: Clock,
    live: LiveHub,
    seats: SeatWriter,
    rules_cache: Arc<Mutex<HashMap<i64, (holds::EventRules, Instant)>>>,
    picks: Arc<RecentPicks>,
    hand_out: Arc<handout::HandOut>,
    limits: ClientLimits,
}

/// Who is asking for a hold.
#[derive(Clone, Copy, Debug)]
pub struct Holder<'a> {
    pub session_id: &'a str,
    /// The request came without a session: this hold starts one.
    pub new_session: bool,
    /// The signed-in account, whose limit counts across all its browsers.
    pub account_id: Option<i64>,
    pub client: ClientKey,
}

impl Inventory {
    /// Seat writes go through `seats`, the writer checkout and staff share.
    pub fn new(
        store: Store,
        seats: SeatWriter,
        clock: Clock,
        live: LiveHub,
        limits: ClientLimits,
    ) -> Self {
        Self {
            seats,
            rules_cache: Arc::default(),
            picks: Arc::default(),
            hand_out: Arc::default(),
            store,
            clock,
            live,
            limits,
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Holds the requested seats for the holder's session: all of them or
    /// none. Refused past the per-buyer limit, and past the caps of the
    /// client's address.
    pub async fn hold(
        &self,
        event_id: EventId,
        holder: Holder<'_>,
        request: HoldRequest,
    ) -> Result<HoldView, ApiError> {
        let wanted = Wanted::from_request(request)?;
        let now = self.clock.now();
        let rules = self.rules(event_id).await?;
        on_sale(&rules, now)?;
        if let Wanted::Seats(seat_ids) = &wanted {
            self.live
                .channel(event_id)
                .await?
                .with_features(seat_ids, accessible::check_companions)?;
        }
        self.limits.check_hold(holder.client, holder.new_session)?;
        let expires_at = now + rules.hold_seconds * 1000;
        let request = holds::ClaimRequest {
            event_id: event_id.0,
            session_id: holder.session_id.to_string(),
            seat_ids: Vec::new(),
            max_per_buyer: rules.max_tickets_per_buyer,
            now,
            expires_at,
            account_id: holder.account_id,
            client: self
                .limits
                .seats_per_event()
                .map(|max_seats| holds::ClientCap {
                    key: holder.client.to_string(),
                    max_seats,
                }),
        };
        let outcome = match wanted {
            Wanted::Seats(seat_ids) => {
                self.seats
                    .claim(holds::ClaimRequest {
                        seat_ids,
                        ..request
                    })
                    .await?
            }
            Wanted::Best(best) => self.claim_best(event_id, &best, request).await?,
        };
        hold_answer(outcome, event_id, &rules, now, expires_at)
    }

    /// Best available: candidates come from the live in-memory map, handed
    /// out in turn from a ranking made once per version (`handout`), or
    /// found by walking the free seats when the ranking cannot serve; both
    /// go around the seats other requests here just picked (see `picks`),
    /// and seats a failed claim found taken are avoided on the next try.
    async fn claim_best(
        &self,
        event_id: EventId,
        best: &BestAvailable,
        request: holds::ClaimRequest,
    ) -> Result<ClaimOutcome, ApiError> {
        let channel = self.live.channel(event_id).await?;
        let want = best_available::Want {
            count: best.count as usize,
            section: best.section.clone(),
            max_price_cents: best.max_price_cents,
        };
        let mut taken: FxHashSet<i64> = FxHashSet::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let pick = self.pick_best(event_id, &channel, &want, &taken);
            let Some(pick) = pick else {
                return Err(ApiError::new(
                    ErrorCode::SeatsUnavailable,
                    format!("no {} seats together match your choice", best.count),
                ));
            };
            self.picks.note(&pick, Instant::now());
            let outcome = self
                .seats
                .claim(holds::ClaimRequest {
                    seat_ids: pick.clone(),
                    ..request.clone()
                })
                .await;
            if !matches!(outcome, Ok(ClaimOutcome::Claimed { .. })) {
                self.picks.forget(&pick);
            }
            match outcome? {
                ClaimOutcome::Unavailable(lost) if attempt < BEST_AVAILABLE_ATTEMPTS => {
                    taken.extend(lost);
                }
                outcome => return Ok(outcome),
            }
        }
    }

    /// The placement to claim next, or `None` if no seats together match.
    /// Not async: nothing built here (the copy of the recent picks, the
    /// free-seat list of this version) is kept while the claim is awaited.
    fn pick_best(
        &self,
        event_id: EventId,
        channel: &EventChannel,
        want: &best_available::Want,
        taken: &FxHashSet<i64>,
    ) -> Option<Vec<i64>> {
        let picked_elsewhere = self.picks.current(Instant::now());
        let unavailable = |id: i64| taken.contains(&id) || picked_elsewhere.contains(&id);
        let free = channel.free_seats();
        self.hand_out
            .next(event_id.0, free.clone(), want, &unavailable)
            .or_else(|| best_available::walk(&free, want, unavailable))
            // Only seats others are claiming are left: try them, some of
            // those claims may fail.
            .or_else(|| {
                let others_claiming = !picked_elsewhere.is_empty();
                others_claiming
                    .then(|| best_available::walk(&free, want, |id| taken.contains(&id)))
                    .flatten()
            })
    }

    /// The event's hold rules, from memory if read within [`RULES_TTL`]:
    /// under an onsale flood every hold asks for the same event's rules.
    async fn rules(&self, event_id: EventId) -> Result<holds::EventRules, ApiError> {
        let cached = self
            .rules_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&event_id.0)
            .filter(|(_, read_at)| read_at.elapsed() < RULES_TTL)
            .map(|(rules, _)| rules.clone());
        if let Some(rules) = cached {
            return Ok(rules);
        }
        let rules = holds::event_rules(&self.store, event_id.0)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no event {event_id}")))?;
        self.rules_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(event_id.0, (rules.clone(), Instant::now()));
        Ok(rules)
    }

    /// Drops the cached rules of an event whose settings were just changed
    /// here, so this server applies them at once (others within [`RULES_TTL`]).
    pub fn forget_rules(&self, event_id: EventId) {
        self.rules_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&event_id.0);
    }

    pub async fn hold_view(&self, hold_id: HoldId, session_id: &str) -> Result<HoldView, ApiError> {
        let hold = self.owned_hold(hold_id, session_id).await?;
        let now = self.clock.now();
        let seats = holds::hold_seats(&self.store, hold_id.0).await?;
        let status = match hold.status {
            HoldStatus::Active if hold.expires_at <= now => HoldStatus::Expired,
            status => status,
        };
        Ok(HoldView {
            hold_id,
            event_id: EventId(hold.event_id),
            status,
            expires_at: format_ms(hold.expires_at),
            expires_in_ms: if status == HoldStatus::Active {
                hold.expires_at - now
            } else {
                0
            },
            total_cents: hold.total_cents,
            seats: seats.into_iter().map(|seat| seat.into_view(now)).collect(),
            extensions_left: if status == HoldStatus::Active {
                (writer::extend::EXTENSIONS_PER_HOLD - hold.extensions).max(0)
            } else {
                0
            },
        })
    }

    /// Extends the caller's active hold, once: it then expires the event's
    /// hold length from now (never past the event's start, never sooner
    /// than it would have).
    pub async fn extend(&self, hold_id: HoldId, session_id: &str) -> Result<HoldView, ApiError> {
        let hold = self.owned_hold(hold_id, session_id).await?;
        let event_id = EventId(hold.event_id);
        let rules = self.rules(event_id).await?;
        let now = self.clock.now();
        let until = (now + rules.hold_seconds * 1000).min(rules.starts_at);
        let outcome = self
            .seats
            .extend(writer::ExtendRequest {
                hold_id: hold_id.0,
                event_id: hold.event_id,
                until,
                now,
            })
            .await?;
        match outcome {
            writer::ExtendOutcome::Extended { .. } => self.hold_view(hold_id, session_id).await,
            writer::ExtendOutcome::AlreadyExtended => Err(ApiError::new(
                ErrorCode::ExtensionUsed,
                "this hold was already extended; a hold can be extended once",
            )),
            writer::ExtendOutcome::NotActive => Err(ApiError::new(
                ErrorCode::HoldNotActive,
                "this hold has expired, was released or was purchased",
            )),
        }
    }

    /// Releases an active hold; its seats are on sale again at once.
    /// Releasing a hold that already ended is a no-op, except a purchased one.
    /// Returns the hold's event.
    pub async fn release(&self, hold_id: HoldId, session_id: &str) -> Result<EventId, ApiError> {
        let outcome = self
            .seats
            .release(writer::ReleaseRequest {
                hold_id: hold_id.0,
                session_id: session_id.to_string(),
                now: self.clock.now(),
            })
            .await?;
        match outcome {
            writer::ReleaseOutcome::Released { event_id, .. } => Ok(EventId(event_id)),
            writer::ReleaseOutcome::NotFound => {
                Err(ApiError::not_found(format!("no hold {hold_id}")))
            }
            writer::ReleaseOutcome::AlreadyPurchased => Err(ApiError::new(
                ErrorCode::HoldNotActive,
                "this hold was already purchased",
            )),
        }
    }

    /// Ends every hold whose time ran out; returns how many seats it freed.
    pub async fn sweep_expired(&self) -> Result<usize, ApiError> {
        let now = self.clock.now();
        let expired = holds::expired_holds(&self.store, now, 500).await?;
        let ends = expired
            .into_iter()
            .map(|(hold_id, event_id)| holds::EndRequest {
                hold_id,
                event_id,
                ending: holds::Ending::Expired,
                now,
            })
            .collect();
        self.seats.end_many(ends).await
    }

    /// The hold as its owner sees it; any other session gets 404.
    async fn owned_hold(
        &self,
        hold_id: HoldId,
        session_id: &str,
    ) -> Result<holds::HoldRow, ApiError> {
        holds::hold(&self.store, hold_id.0)
            .await?
            .filter(|hold| hold.session_id == session_id)
            .ok_or_else(|| ApiError::not_found(format!("no hold {hold_id}")))
    }
}

const BEST_AVAILABLE_ATTEMPTS: usize = 5;
/// How long a server trusts an event's hold rules (on-sale time, hold
/// length, per-buyer limit) read from the database. A staff change made on
/// another server applies here within this time.
const RULES_TTL: Duration = Duration::from_secs(1);

enum Wanted {
    Seats(Vec<i64>),
    Best(BestAvailable),
}

impl Wanted {
    fn from_request(request: HoldRequest) -> Result<Self, ApiError> {
        match (request.seat_ids, request.best_available) {
            (Some(seat_ids), None) => Ok(Self::Seats(validate_seat_ids(
                &seat_ids,
                MAX_SEATS_PER_REQUEST,
            )?)),
            (None, Some(best)) => Ok(Self::Best(validate_best_available(best)?)),
            _ => Err(ApiError::validation(
                "give exactly one of seat_ids or best_available",
            )),
        }
    }
}

/// Refuses a hold before the onsale or once the event has started.
fn on_sale(rules: &holds::EventRules, now: i64) -> Result<(), ApiError> {
    if now < rules.onsale_at {
        return Err(ApiError::new(
            ErrorCode::NotOnSale,
            "this event is not on sale yet",
        ));
    }
    if now >= rules.starts_at {
        return Err(ApiError::new(
            ErrorCode::NotOnSale,
            "this event has already started",
        ));
    }
    Ok(())
}

/// What the buyer is told about a claim.
fn hold_answer(
    outcome: ClaimOutcome,
    event_id: EventId,
    rules: &holds::EventRules,
    now: i64,
    expires_at: i64,
) -> Result<HoldView, ApiError> {
    match outcome {
        ClaimOutcome::Claimed {
            hold_id,
            total_cents,
            seats,
            ..
        } => Ok(HoldView {
            hold_id: HoldId(hold_id),
            event_id,
            status: HoldStatus::Active,
            expires_at: format_ms(expires_at),
            expires_in_ms: expires_at - now,
            total_cents,
            seats: seats.into_iter().map(|seat| seat.into_view(now)).collect(),
            extensions_left: writer::extend::EXTENSIONS_PER_HOLD,
        }),
        ClaimOutcome::Unavailable(taken) => Err(ApiError::seats_unavailable(
            taken.into_iter().map(SeatId).collect(),
        )),
        // Well-formed ids that are simply not this event's seats: not
        // found, like an unknown id in a path.
        ClaimOutcome::Unknown(unknown) => Err(ApiError::not_found(format!(
            "not seats of event {event_id}: {}",
            unknown
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        ClaimOutcome::LimitExceeded { already } => Err(ApiError::new(
            ErrorCode::TicketLimitExceeded,
            format!(
                "at most {} tickets per buyer for this event; you already have {already}",
                rules.max_tickets_per_buyer
            ),
        )),
        ClaimOutcome::AddressCapReached {
            held,
            retry_after_ms,
        } => Err(ApiError::rate_limited(
            format!(
                "{held} seats of this event are already held from your network, the most one \
                 address may hold at once; try again when some are paid for or released"
            ),
            Duration::from_millis(retry_after_ms.max(0) as u64),
        )),
    }
}

fn validate_best_available(best: BestAvailable) -> Result<BestAvailable, ApiError> {
    if !(1..=MAX_SEATS_PER_REQUEST as i64).contains(&best.count) {
        return Err(ApiError::validation(format!(
            "count must be between 1 and {MAX_SEATS_PER_REQUEST}"
        )));
    }
    if best.max_price_cents.is_some_and(|max| max < 0) {
        return Err(ApiError::validation("max_price_cents cannot be negative"));
    }
    Ok(best)
}

/// A non-empty list of at most `max` distinct, positive seat ids.
pub fn validate_seat_ids(seat_ids: &[SeatId], max: usize) -> Result<Vec<i64>, ApiError> {
    if seat_ids.is_empty() {
        return Err(ApiError::validation("seat_ids is empty"));
    }
    if seat_ids.len() > max {
        return Err(ApiError::validation(format!(
            "at most {max} seats per request"
        )));
    }
    if let Some(bad) = seat_ids.iter().find(|id| id.0 <= 0) {
        return Err(ApiError::validation(format!("{bad} is not a seat id")));
    }
    let distinct: HashSet<_> = seat_ids.iter().collect();
    if distinct.len() != seat_ids.len() {
        return Err(ApiError::validation("seat_ids lists a seat twice"));
    }
    Ok(seat_ids.iter().map(|id| id.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_id_lists_must_be_non_empty_bounded_positive_and_distinct() {
        assert!(validate_seat_ids(&[], MAX_SEATS_PER_REQUEST).is_err());
        assert!(validate_seat_ids(&[SeatId(1), SeatId(1)], MAX_SEATS_PER_REQUEST).is_err());
        assert!(validate_seat_ids(&[SeatId(0)], MAX_SEATS_PER_REQUEST).is_err());
        assert!(validate_seat_ids(&[SeatId(-5)], MAX_SEATS_PER_REQUEST).is_err());
        let too_many: Vec<_> = (1..=51).map(SeatId).collect();
        assert!(validate_seat_ids(&too_many, MAX_SEATS_PER_REQUEST).is_err());
        assert_eq!(
            validate_seat_ids(&[SeatId(3), SeatId(2)], MAX_SEATS_PER_REQUEST).ok(),
            Some(vec![3, 2])
        );
    }
}
