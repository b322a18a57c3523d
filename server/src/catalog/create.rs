//! Creating venues and events in bulk. A 50,000-seat event is one
//! `INSERT … SELECT` from the venue's layout, so it takes a moment, not minutes.

use crate::clock::now_ms;
use crate::on_pool;
use crate::store::{Store, StoreError};
use app::layout::SeatFeature;
use app::staff::RefundPolicy;
use app::types::{EventId, VenueId};
use sqlx::QueryBuilder;
use std::collections::HashMap;

/// A physical seat of a venue; `x`/`y` are in metres on the venue plan.
#[derive(Clone, Debug, PartialEq)]
pub struct SeatSpec {
    pub row: String,
    pub number: i64,
    pub x: f64,
    pub y: f64,
    /// Wheelchair space, companion seat, …: copied to every event's seat.
    pub features: Vec<SeatFeature>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SectionSpec {
    pub name: String,
    pub seats: Vec<SeatSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VenueSpec {
    pub name: String,
    pub city: String,
    pub sections: Vec<SectionSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TierSpec {
    pub name: String,
    pub price_cents: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventSpec {
    pub venue_id: VenueId,
    pub name: String,
    pub description: String,
    pub starts_at_ms: i64,
    pub onsale_at_ms: i64,
    pub hold_seconds: i64,
    pub max_tickets_per_buyer: i64,
    /// `until_start` or `none`.
    pub refund_policy: RefundPolicy,
    pub tiers: Vec<TierSpec>,
    /// `(section name, tier name)`: the price each section sells at.
    /// Sections left out are not on sale for this event.
    pub section_tiers: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CreateError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(error))
    }
}

/// Rows per multi-row INSERT: 6 binds each stays far below SQLite's 32,766
/// and PostgreSQL's 65,535 bind limits.
const SEAT_INSERT_CHUNK: usize = 2_000;

#[tracing::instrument(skip_all, fields(venue = %spec.name))]
pub async fn create_venue(store: &Store, spec: &VenueSpec) -> Result<VenueId, CreateError> {
    if spec.sections.is_empty() || spec.sections.iter().any(|s| s.seats.is_empty()) {
        return Err(CreateError::Invalid(
            "a venue needs sections with seats".into(),
        ));
    }
    let now = now_ms();
    let venue_id = on_pool!(store, pool => {
        let mut tx = pool.begin().await?;
        let (venue_id,): (i64,) = sqlx::query_as(
            "INSERT INTO venues (name, city, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(&spec.name)
        .bind(&spec.city)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for (order, section) in spec.sections.iter().enumerate() {
            let (section_id,): (i64,) = sqlx::query_as(
                "INSERT INTO sections (venue_id, name, sort_order) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(venue_id)
            .bind(&section.name)
            .bind(order as i64)
            .fetch_one(&mut *tx)
            .await?;
            for chunk in section.seats.chunks(SEAT_INSERT_CHUNK) {
                let mut insert =
                    QueryBuilder::new("INSERT INTO venue_seats (section_id, row_label, number, x, y, features) ");
                insert.push_values(chunk, |mut row, seat| {
                    row.push_bind(section_id)
                        .push_bind(&seat.row)
                        .push_bind(seat.number)
                        .push_bind(seat.x)
                        .push_bind(seat.y)
                        .push_bind(SeatFeature::join(&seat.features));
                });
                insert.build().execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(venue_id)
    })?;
    Ok(VenueId(venue_id))
}

#[tracing::instrument(skip_all, fields(event = %spec.name))]
pub async fn create_event(store: &Store, spec: &EventSpec) -> Result<EventId, CreateError> {
    validate_event(spec)?;
    let now = now_ms();
    let search_text = search_text_for(store, spec).await?;
    let result: Result<i64, CreateError> = on_pool!(store, pool => async {
        let mut tx = pool.begin().await?;
        let sections: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM sections WHERE venue_id = $1")
                .bind(spec.venue_id.0)
                .fetch_all(&mut *tx)
                .await?;
        let section_ids: HashMap<String, i64> =
            sections.into_iter().map(|(id, name)| (name, id)).collect();
        if section_ids.is_empty() {
            return Err(CreateError::Invalid(format!("venue {} has no sections", spec.venue_id)));
        }
        let (event_id,): (i64,) = sqlx::query_as(
            "INSERT INTO events (venue_id, name, description, starts_at, onsale_at, hold_seconds, \
             max_tickets_per_buyer, search_text, created_at, refund_policy) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(spec.venue_id.0)
        .bind(&spec.name)
        .bind(&spec.description)
        .bind(spec.starts_at_ms)
        .bind(spec.onsale_at_ms)
        .bind(spec.hold_seconds)
        .bind(spec.max_tickets_per_buyer)
        .bind(&search_text)
        .bind(now)
        .bind(spec.refund_policy.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let mut tier_ids = HashMap::new();
        for tier in &spec.tiers {
            let (tier_id,): (i64,) = sqlx::query_as(
                "INSERT INTO price_tiers (event_id, name, price_cents) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(event_id)
            .bind(&tier.name)
            .bind(tier.price_cents)
            .fetch_one(&mut *tx)
            .await?;
            tier_ids.insert(tier.name.as_str(), tier_id);
        }
        for (section, tier) in &spec.section_tiers {
            let section_id = section_ids
                .get(section)
                .ok_or_else(|| CreateError::Invalid(format!("unknown section {section:?}")))?;
            let tier_id = tier_ids
                .get(tier.as_str())
                .ok_or_else(|| CreateError::Invalid(format!("unknown tier {tier:?}")))?;
            sqlx::query("INSERT INTO event_sections (event_id, section_id, tier_id) VALUES ($1, $2, $3)")
                .bind(event_id)
                .bind(section_id)
                .bind(tier_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO seats (event_id, section_id, row_label, number, x, y, tier_id, features) \
             SELECT es.event_id, vs.section_id, vs.row_label, vs.number, vs.x, vs.y, es.tier_id, \
             vs.features \
             FROM event_sections es JOIN venue_seats vs ON vs.section_id = es.section_id \
             WHERE es.event_id = $1 ORDER BY vs.id",
        )
        .bind(event_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(event_id)
    }.await);
    Ok(EventId(result?))
}

fn validate_event(spec: &EventSpec) -> Result<(), CreateError> {
    let invalid = |m: &str| Err(CreateError::Invalid(m.to_string()));
    if spec.name.trim().is_empty() {
        return invalid("an event needs a name");
    }
    if spec.tiers.is_empty() || spec.section_tiers.is_empty() {
        return invalid("an event needs price tiers and sections on sale");
    }
    if spec.tiers.iter().any(|t| t.price_cents < 0) {
        return invalid("prices cannot be negative");
    }
    if spec.hold_seconds <= 0 || spec.max_tickets_per_buyer <= 0 {
        return invalid("hold length and per-buyer limit must be positive");
    }
    Ok(())
}

/// The lower-cased text the event search matches against.
pub fn search_text(name: &str, venue_name: &str, city: &str, description: &str) -> String {
    format!("{name} {venue_name} {city} {description}").to_lowercase()
}

async fn search_text_for(store: &Store, spec: &EventSpec) -> Result<String, CreateError> {
    let venue: Option<(String, String)> = on_pool!(store, pool =>
        sqlx::query_as("SELECT name, city FROM venues WHERE id = $1")
            .bind(spec.venue_id.0)
            .fetch_optional(pool)
            .await
    )?;
    let (venue_name, city) =
        venue.ok_or_else(|| CreateError::Invalid(format!("no venue {}", spec.venue_id)))?;
    Ok(search_text(
        &spec.name,
        &venue_name,
        &city,
        &spec.description,
    ))
}
