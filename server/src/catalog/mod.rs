//! The catalog: venues, events, price tiers and seat maps as fans browse them.
//! One service serves both the REST handlers and the pages' server functions.

pub mod create;
pub mod layout;
pub mod queries;
pub mod routes;
pub mod sales;

use crate::clock::{format_ms, parse_date, Clock};
use crate::store::Store;
use app::error::ApiError;
use app::types::{
    EventDetail, EventId, EventList, EventQuery, EventSummary, SeatMap, SeatStatus, SectionView,
    TierView, VenueId, VenueRef,
};
use queries::EventFilter;

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;
const MAX_SEARCH_LEN: usize = 200;

#[derive(Clone, Debug)]
pub struct Catalog {
    store: Store,
    clock: Clock,
}

impl Catalog {
    /// `clock` is shared with the inventory, so "expired" means the same here.
    pub fn new(store: Store, clock: Clock) -> Self {
        Self { store, clock }
    }

    /// The clock "expired" is judged by (the inventory's).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub async fn list_events(&self, query: EventQuery) -> Result<EventList, ApiError> {
        let now = self.clock.now();
        let filter = parse_event_query(&query, now)?;
        let mut rows = queries::list_events(&self.store, &filter, now).await?;
        // One row more than asked tells whether there is a next page.
        let next_cursor = if rows.len() as i64 > filter.limit {
            rows.truncate(filter.limit as usize);
            rows.last()
                .map(|last| format_cursor(last.starts_at, last.id))
        } else {
            None
        };
        let events = rows
            .into_iter()
            .map(|row| EventSummary {
                id: EventId(row.id),
                name: row.name,
                venue: row.venue,
                city: row.city,
                starts_at: format_ms(row.starts_at),
                min_price_cents: row.min_price_cents.unwrap_or(0),
                seats_available: row.seats_available,
            })
            .collect();
        Ok(EventList {
            events,
            next_cursor,
        })
    }

    pub async fn event_detail(&self, id: EventId) -> Result<EventDetail, ApiError> {
        let now = self.clock.now();
        let event = queries::event(&self.store, id.0)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no event {id}")))?;
        let (tiers, sections) = queries::event_counts(&self.store, id.0, now).await?;
        let seats_total = sections.iter().map(|s| s.seats_total).sum();
        let seats_available = sections.iter().map(|s| s.seats_available).sum();
        Ok(EventDetail {
            id,
            name: event.name,
            description: event.description,
            starts_at: format_ms(event.starts_at),
            venue: VenueRef {
                id: VenueId(event.venue_id),
                name: event.venue_name,
                city: event.venue_city,
            },
            hold_seconds: event.hold_seconds,
            max_tickets_per_buyer: event.max_tickets_per_buyer,
            waiting_room: event.waiting_room,
            refund_policy: event.refund_policy,
            tiers: tiers
                .into_iter()
                .map(|t| TierView {
                    tier: t.name,
                    price_cents: t.price_cents,
                    seats_available: t.seats_available,
                })
                .collect(),
            sections: sections
                .into_iter()
                .map(|s| SectionView {
                    name: s.name,
                    seats_total: s.seats_total,
                    seats_available: s.seats_available,
                    min_price_cents: s.min_price_cents,
                })
                .collect(),
            seats_total,
            seats_available,
        })
    }

    pub async fn seat_map(&self, id: EventId) -> Result<SeatMap, ApiError> {
        let now = self.clock.now();
        let rows = queries::seat_rows(&self.store, id.0).await?;
        let Some(version) = rows.first().map(|row| row.event_version) else {
            // No seats: either no such event, or an event with nothing on sale.
            return match queries::event(&self.store, id.0).await? {
                Some(event) => Ok(SeatMap {
                    version: event.version,
                    seats: Vec::new(),
                }),
                None => Err(ApiError::not_found(format!("no event {id}"))),
            };
        };
        let seats = rows
            .into_iter()
            .map(|row| row.seat.into_view(now))
            .collect();
        Ok(SeatMap { version, seats })
    }
}

/// A held seat whose hold has run out is available, whether or not the
/// sweeper has got to it yet.
pub fn effective_status(stored: &str, held_until: Option<i64>, now: i64) -> SeatStatus {
    match SeatStatus::parse(stored) {
        Some(SeatStatus::Held) if held_until.is_some_and(|until| until <= now) => {
            SeatStatus::Available
        }
        Some(status) => status,
        None => {
            tracing::error!(stored, "unknown seat status in the database");
            SeatStatus::Blocked
        }
    }
}

#[async_trait::async_trait]
impl app::api::Backend for Catalog {
    async fn list_events(&self, query: EventQuery) -> Result<EventList, ApiError> {
        Catalog::list_events(self, query).await
    }
    async fn event_detail(&self, id: EventId) -> Result<EventDetail, ApiError> {
        Catalog::event_detail(self, id).await
    }
}

/// Checks and normalises list filters; the list is always "upcoming", so
/// `from` never reaches into the past.
pub fn parse_event_query(query: &EventQuery, now: i64) -> Result<EventFilter, ApiError> {
    let text = match query.q.as_deref().map(str::trim) {
        Some(text) if text.chars().count() > MAX_SEARCH_LEN => {
            return Err(ApiError::validation(format!(
                "search text is longer than {MAX_SEARCH_LEN} characters"
            )))
        }
        Some("") | None => None,
        Some(text) => Some(text.to_lowercase()),
    };
    let from_ms = match query.from.as_deref() {
        Some(raw) => parse_date(raw, "from", false)?.max(now),
        None => now,
    };
    let to_ms = match query.to.as_deref() {
        Some(raw) => parse_date(raw, "to", true)?,
        None => i64::MAX,
    };
    let limit = match query.limit {
        None => DEFAULT_PAGE_SIZE,
        Some(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => limit,
        Some(_) => {
            return Err(ApiError::validation(format!(
                "limit must be between 1 and {MAX_PAGE_SIZE}"
            )))
        }
    };
    let after = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => {
            Some(parse_cursor(cursor).ok_or_else(|| ApiError::bad_request("invalid cursor"))?)
        }
    };
    Ok(EventFilter {
        text,
        from_ms,
        to_ms,
        after,
        limit,
    })
}

/// An opaque page cursor: `(starts_at, id)` in hex, dot-separated. Not a
/// decimal timestamp: a 13-digit run in a URL can look like a card number
/// to the card guard.
fn format_cursor(starts_at: i64, id: i64) -> String {
    format!("{starts_at:x}.{id:x}")
}

fn parse_cursor(cursor: &str) -> Option<(i64, i64)> {
    let (starts_at, id) = cursor.split_once('.')?;
    Some((
        i64::from_str_radix(starts_at, 16).ok()?,
        i64::from_str_radix(id, 16).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_filters_accept_days_and_timestamps() {
        let query = EventQuery {
            from: Some("2030-01-02".into()),
            to: Some("2030-01-02".into()),
            ..Default::default()
        };
        let filter = parse_event_query(&query, 0).expect("valid");
        assert_eq!(filter.from_ms, 1_893_542_400_000);
        assert_eq!(filter.to_ms, 1_893_542_400_000 + 86_400_000);
        let query = EventQuery {
            from: Some("2030-01-02T10:00:00Z".into()),
            ..Default::default()
        };
        assert_eq!(
            parse_event_query(&query, 0).expect("valid").from_ms,
            1_893_578_400_000
        );
    }

    #[test]
    fn past_from_dates_are_clamped_to_now() {
        let now = 1_893_542_400_000;
        let query = EventQuery {
            from: Some("2000-01-01".into()),
            ..Default::default()
        };
        assert_eq!(parse_event_query(&query, now).expect("valid").from_ms, now);
    }

    #[test]
    fn cursors_round_trip_and_never_look_like_card_numbers() {
        let cursor = format_cursor(1_795_891_234_567, 42);
        assert_eq!(parse_cursor(&cursor), Some((1_795_891_234_567, 42)));
        assert!(!crate::payments::card_guard::contains_card_number(&cursor));
        assert_eq!(parse_cursor("1795891234567_42"), None);
    }

    #[test]
    fn bad_filters_are_rejected() {
        let bad = [
            EventQuery {
                from: Some("yesterday".into()),
                ..Default::default()
            },
            EventQuery {
                limit: Some(0),
                ..Default::default()
            },
            EventQuery {
                limit: Some(-3),
                ..Default::default()
            },
            EventQuery {
                cursor: Some("nope".into()),
                ..Default::default()
            },
            EventQuery {
                q: Some("x".repeat(500)),
                ..Default::default()
            },
        ];
        for query in bad {
            assert!(parse_event_query(&query, 0).is_err(), "{query:?}");
        }
    }

    #[test]
    fn expired_holds_read_as_available() {
        assert_eq!(
            effective_status("held", Some(100), 100),
            SeatStatus::Available
        );
        assert_eq!(effective_status("held", Some(101), 100), SeatStatus::Held);
        assert_eq!(effective_status("sold", None, 100), SeatStatus::Sold);
    }

    #[test]
    fn times_are_formatted_as_rfc3339_utc() {
        assert_eq!(format_ms(1_893_578_400_000), "2030-01-02T10:00:00Z");
    }
}
