//! Venue and event management: venues from a layout generator, events with
//! price tiers per section (bulk-created, so a 50,000-seat event takes
//! seconds), and edits of an event's details and sale rules.

use super::layout;
use super::Staff;
use crate::catalog::create::{self, CreateError, EventSpec, TierSpec};
use crate::clock::parse_date;
use crate::error::{sqlx_error_to_api, store_error_to_api};
use crate::on_pool;
use app::error::ApiError;
use app::staff::{
    CreateEventRequest, CreateVenueRequest, CreatedEvent, CreatedVenue, RefundPolicy,
    UpdateEventRequest,
};
use app::types::EventId;

const DEFAULT_HOLD_SECONDS: i64 = 300;
const DEFAULT_MAX_TICKETS: i64 = 8;

fn create_error(error: CreateError) -> ApiError {
    match error {
        CreateError::Invalid(message) => ApiError::validation(message),
        CreateError::Store(error) => store_error_to_api(error),
    }
}

fn check_rules(hold_seconds: i64, max_tickets: i64) -> Result<(), ApiError> {
    if !(30..=3600).contains(&hold_seconds) {
        return Err(ApiError::validation("hold_seconds must be 30 to 3600"));
    }
    if !(1..=50).contains(&max_tickets) {
        return Err(ApiError::validation(
            "max_tickets_per_buyer must be 1 to 50",
        ));
    }
    Ok(())
}

/// Trimmed text of at most `max` characters; line breaks and tabs are the
/// only control characters allowed.
fn check_text(value: &str, field: &str, max: usize, required: bool) -> Result<String, ApiError> {
    let value = value.trim();
    let stray_control = value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t');
    if (required && value.is_empty()) || value.chars().count() > max || stray_control {
        return Err(ApiError::validation(format!(
            "{field} must be {}up to {max} characters",
            if required { "1 to " } else { "" }
        )));
    }
    Ok(value.to_string())
}

impl Staff {
    pub async fn create_venue(
        &self,
        request: CreateVenueRequest,
    ) -> Result<CreatedVenue, ApiError> {
        let name = check_text(&request.name, "name", 120, true)?;
        let city = check_text(&request.city, "city", 80, true)?;
        let spec = layout::generate(&name, &city, &request.layout).map_err(ApiError::validation)?;
        let venue_id = create::create_venue(&self.store, &spec)
            .await
            .map_err(create_error)?;
        Ok(CreatedVenue {
            venue_id,
            seats: spec.sections.iter().map(|s| s.seats.len() as i64).sum(),
            sections: spec.sections.into_iter().map(|s| s.name).collect(),
        })
    }

    /// Creates an event at a venue. Every section must be given a tier, so
    /// no section is left unsellable by a typo.
    pub async fn create_event(
        &self,
        request: CreateEventRequest,
    ) -> Result<CreatedEvent, ApiError> {
        let name = check_text(&request.name, "name", 120, true)?;
        let description = check_text(&request.description, "description", 4000, false)?;
        let starts_at = parse_date(&request.starts_at, "starts_at", false)?;
        let now = self.clock.now();
        let onsale_at = match &request.onsale_at {
            Some(raw) => parse_date(raw, "onsale_at", false)?,
            None => now,
        };
        if starts_at <= now || onsale_at >= starts_at {
            return Err(ApiError::validation(
                "starts_at must be in the future and after onsale_at",
            ));
        }
        let hold_seconds = request.hold_seconds.unwrap_or(DEFAULT_HOLD_SECONDS);
        let max_tickets = request.max_tickets_per_buyer.unwrap_or(DEFAULT_MAX_TICKETS);
        check_rules(hold_seconds, max_tickets)?;
        check_tiers(&request.tiers)?;
        self.check_sections_priced(&request).await?;
        let store = &self.store;
        let spec = EventSpec {
            venue_id: request.venue_id,
            name,
            description,
            starts_at_ms: starts_at,
            onsale_at_ms: onsale_at,
            hold_seconds,
            max_tickets_per_buyer: max_tickets,
            refund_policy: request.refund_policy.unwrap_or(RefundPolicy::UntilStart),
            tiers: request
                .tiers
                .iter()
                .map(|t| TierSpec {
                    name: t.name.trim().to_string(),
                    price_cents: t.price_cents,
                })
                .collect(),
            section_tiers: request.section_tiers.into_iter().collect(),
        };
        let event_id = create::create_event(store, &spec)
            .await
            .map_err(create_error)?;
        let (seats,): (i64,) = on_pool!(store, pool =>
            sqlx::query_as("SELECT COUNT(*) FROM seats WHERE event_id = $1")
                .bind(event_id.0)
                .fetch_one(pool)
                .await)
        .map_err(sqlx_error_to_api)?;
        Ok(CreatedEvent { event_id, seats })
    }

    /// Every section of the event's venue is given a tier (the venue must
    /// exist).
    async fn check_sections_priced(&self, request: &CreateEventRequest) -> Result<(), ApiError> {
        let store = &self.store;
        let sections: Vec<(String,)> = on_pool!(store, pool =>
            sqlx::query_as("SELECT name FROM sections WHERE venue_id = $1")
                .bind(request.venue_id.0)
                .fetch_all(pool)
                .await)
        .map_err(sqlx_error_to_api)?;
        if sections.is_empty() {
            return Err(ApiError::validation(format!(
                "no venue {}",
                request.venue_id
            )));
        }
        let unpriced: Vec<&str> = sections
            .iter()
            .map(|(name,)| name.as_str())
            .filter(|name| !request.section_tiers.contains_key(*name))
            .collect();
        if !unpriced.is_empty() {
            return Err(ApiError::validation(format!(
                "give every section a tier; missing: {}",
                unpriced.join(", ")
            )));
        }
        Ok(())
    }

    /// Changes an event's details or sale rules. Holds already made keep
    /// the length they were given.
    pub async fn update_event(
        &self,
        event_id: EventId,
        request: UpdateEventRequest,
    ) -> Result<(), ApiError> {
        #[derive(sqlx::FromRow)]
        struct Current {
            name: String,
            description: String,
            starts_at: i64,
            onsale_at: i64,
            hold_seconds: i64,
            max_tickets_per_buyer: i64,
            #[sqlx(try_from = "String")]
            refund_policy: RefundPolicy,
            venue_name: String,
            city: String,
        }
        let store = &self.store;
        let current: Option<Current> = on_pool!(store, pool => sqlx::query_as::<_, Current>(
            "SELECT e.name, e.description, e.starts_at, e.onsale_at, e.hold_seconds, \
             e.max_tickets_per_buyer, e.refund_policy, v.name AS venue_name, v.city \
             FROM events e JOIN venues v ON v.id = e.venue_id WHERE e.id = $1",
        )
        .bind(event_id.0)
        .fetch_optional(pool)
        .await)
        .map_err(sqlx_error_to_api)?;
        let current = current.ok_or_else(|| ApiError::not_found(format!("no event {event_id}")))?;
        let name = match &request.name {
            Some(name) => check_text(name, "name", 120, true)?,
            None => current.name,
        };
        let description = match &request.description {
            Some(text) => check_text(text, "description", 4000, false)?,
            None => current.description,
        };
        let starts_at = match &request.starts_at {
            Some(raw) => parse_date(raw, "starts_at", false)?,
            None => current.starts_at,
        };
        let onsale_at = match &request.onsale_at {
            Some(raw) => parse_date(raw, "onsale_at", false)?,
            None => current.onsale_at,
        };
        if onsale_at >= starts_at {
            return Err(ApiError::validation("onsale_at must be before starts_at"));
        }
        let hold_seconds = request.hold_seconds.unwrap_or(current.hold_seconds);
        let max_tickets = request
            .max_tickets_per_buyer
            .unwrap_or(current.max_tickets_per_buyer);
        check_rules(hold_seconds, max_tickets)?;
        let refund_policy = request.refund_policy.unwrap_or(current.refund_policy);
        let search_text =
            create::search_text(&name, &current.venue_name, &current.city, &description);
        on_pool!(store, pool => sqlx::query(
            "UPDATE events SET name = $1, description = $2, starts_at = $3, onsale_at = $4, \
             hold_seconds = $5, max_tickets_per_buyer = $6, refund_policy = $7, search_text = $8 \
             WHERE id = $9",
        )
        .bind(&name)
        .bind(&description)
        .bind(starts_at)
        .bind(onsale_at)
        .bind(hold_seconds)
        .bind(max_tickets)
        .bind(refund_policy.as_str())
        .bind(&search_text)
        .bind(event_id.0)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .map_err(sqlx_error_to_api)?;
        tracing::info!(event = event_id.0, "event updated");
        Ok(())
    }
}

/// 1 to 20 price tiers, each 0 to 10,000,000 cents.
fn check_tiers(tiers: &[app::staff::TierPrice]) -> Result<(), ApiError> {
    if tiers.is_empty() || tiers.len() > 20 {
        return Err(ApiError::validation("an event has 1 to 20 price tiers"));
    }
    if tiers
        .iter()
        .any(|t| !(0..=10_000_000).contains(&t.price_cents))
    {
        return Err(ApiError::validation("prices are 0 to 10,000,000 cents"));
    }
    Ok(())
}
