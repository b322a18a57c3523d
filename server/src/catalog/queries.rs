//! Read queries of the catalog: event lists, event details, seat maps.
//!
//! "Available" everywhere means `available`, or `held` with an expired hold:
//! the lazy reclaim described in `docs/architecture.md`, so a lagging
//! sweeper never hides seats.

use crate::on_pool;
use crate::store::{Store, StoreError};
use app::staff::RefundPolicy;

/// SQL predicate for a seat that can be sold now; `$now` is bound by the caller.
macro_rules! seat_is_free {
    ($alias:literal, $now:literal) => {
        concat!(
            "(",
            $alias,
            ".status = 'available' OR (",
            $alias,
            ".status = 'held' AND ",
            $alias,
            ".held_until <= ",
            $now,
            "))"
        )
    };
}

/// Validated filters for the upcoming-events list.
#[derive(Clone, Debug, PartialEq)]
pub struct EventFilter {
    /// Lower-cased search text, matched anywhere in name/venue/city/description.
    pub text: Option<String>,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Keyset cursor: events strictly after `(starts_at, id)`.
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EventSummaryRow {
    pub id: i64,
    pub name: String,
    pub venue: String,
    pub city: String,
    pub starts_at: i64,
    pub min_price_cents: Option<i64>,
    pub seats_available: i64,
}

#[tracing::instrument(skip_all)]
pub async fn list_events(
    store: &Store,
    filter: &EventFilter,
    now: i64,
) -> Result<Vec<EventSummaryRow>, StoreError> {
    let pattern = filter
        .text
        .as_ref()
        .map(|text| format!("%{}%", escape_like(text)));
    let (after_start, after_id) = filter.after.unwrap_or((i64::MIN, 0));
    let sql = concat!(
        "SELECT e.id, e.name, v.name AS venue, v.city, e.starts_at, ",
        "(SELECT MIN(t.price_cents) FROM price_tiers t WHERE t.event_id = e.id) AS min_price_cents, ",
        "(SELECT COUNT(*) FROM seats s WHERE s.event_id = e.id AND ",
        seat_is_free!("s", "$1"),
        ") AS seats_available ",
        "FROM events e JOIN venues v ON v.id = e.venue_id ",
        "WHERE e.starts_at >= $2 AND e.starts_at < $3 ",
        "AND (CAST($4 AS TEXT) IS NULL OR e.search_text LIKE $4 ESCAPE '\\') ",
        "AND (e.starts_at > $5 OR (e.starts_at = $5 AND e.id > $6)) ",
        "ORDER BY e.starts_at, e.id LIMIT $7"
    );
    let rows = on_pool!(store, pool => sqlx::query_as::<_, EventSummaryRow>(sql)
        .bind(now)
        .bind(filter.from_ms)
        .bind(filter.to_ms)
        .bind(&pattern)
        .bind(after_start)
        .bind(after_id)
        // One row more than a page tells the caller whether a next page exists.
        .bind(filter.limit + 1)
        .fetch_all(pool)
        .await)?;
    Ok(rows)
}

/// `%`, `_` and `\` in user text match themselves, not as wildcards.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub starts_at: i64,
    pub onsale_at: i64,
    pub hold_seconds: i64,
    pub max_tickets_per_buyer: i64,
    pub version: i64,
    pub venue_id: i64,
    pub venue_name: String,
    pub venue_city: String,
    pub waiting_room: bool,
    #[sqlx(try_from = "String")]
    pub refund_policy: RefundPolicy,
}

#[derive(Clone, Debug)]
pub struct TierRow {
    pub name: String,
    pub price_cents: i64,
    pub seats_available: i64,
}

#[derive(Clone, Debug)]
pub struct SectionRow {
    pub name: String,
    pub seats_total: i64,
    pub seats_available: i64,
    pub min_price_cents: i64,
}

pub async fn event(store: &Store, event_id: i64) -> Result<Option<EventRow>, StoreError> {
    let sql = "SELECT e.id, e.name, e.description, e.starts_at, e.onsale_at, e.hold_seconds, \
               e.max_tickets_per_buyer, e.version, e.refund_policy, v.id AS venue_id, \
               v.name AS venue_name, v.city AS venue_city, \
               EXISTS (SELECT 1 FROM event_queues q WHERE q.event_id = e.id AND q.enabled) \
               AS waiting_room \
               FROM events e JOIN venues v ON v.id = e.venue_id WHERE e.id = $1";
    let row = on_pool!(store, pool =>
        sqlx::query_as::<_, EventRow>(sql).bind(event_id).fetch_optional(pool).await)?;
    Ok(row)
}

/// One section's seats of one tier: how many, and how many are free now.
#[derive(sqlx::FromRow)]
struct SeatGroup {
    section_id: i64,
    section: String,
    tier_id: i64,
    seats_total: i64,
    seats_available: i64,
}

#[derive(sqlx::FromRow)]
struct Tier {
    id: i64,
    name: String,
    price_cents: i64,
}

/// The event's counts per tier (dearest first) and per section (in the
/// venue's order), from one pass over its seats. The seats are counted per
/// section and tier first, through the index on event_id: joined seat by
/// seat, SQLite looked up a section and a tier for each seat, or built a
/// temporary index over every event's seats (BENCHMARKS.md, "Event page
/// counts"). The tiers' and the sections' figures are sums of those groups.
#[tracing::instrument(skip_all)]
pub async fn event_counts(
    store: &Store,
    event_id: i64,
    now: i64,
) -> Result<(Vec<TierRow>, Vec<SectionRow>), StoreError> {
    let groups_sql = concat!(
        "SELECT g.section_id, sec.name AS section, g.tier_id, g.seats_total, g.seats_available ",
        "FROM (SELECT s.section_id, s.tier_id, COUNT(*) AS seats_total, COUNT(CASE WHEN ",
        seat_is_free!("s", "$2"),
        " THEN 1 END) AS seats_available ",
        "FROM seats s WHERE s.event_id = $1 GROUP BY s.section_id, s.tier_id",
        ") g JOIN sections sec ON sec.id = g.section_id ORDER BY sec.sort_order, sec.id"
    );
    let tiers_sql = "SELECT id, name, price_cents FROM price_tiers WHERE event_id = $1 \
                     ORDER BY price_cents DESC";
    let (groups, tiers) = tokio::try_join!(
        async {
            on_pool!(store, pool => sqlx::query_as::<_, SeatGroup>(groups_sql)
                .bind(event_id).bind(now).fetch_all(pool).await)
        },
        async {
            on_pool!(store, pool => sqlx::query_as::<_, Tier>(tiers_sql)
                .bind(event_id).fetch_all(pool).await)
        },
    )?;
    Ok(sum_groups(&groups, tiers))
}

/// Tiers and sections from the seat groups (which come in section order).
/// A group counts only with a tier of the event, as the joins before did.
fn sum_groups(groups: &[SeatGroup], tiers: Vec<Tier>) -> (Vec<TierRow>, Vec<SectionRow>) {
    let priced: Vec<(&SeatGroup, i64)> = groups
        .iter()
        .filter_map(|group| {
            let tier = tiers.iter().find(|t| t.id == group.tier_id)?;
            Some((group, tier.price_cents))
        })
        .collect();
    let sections = priced
        .chunk_by(|(a, _), (b, _)| a.section_id == b.section_id)
        .map(|section| SectionRow {
            name: section[0].0.section.clone(),
            seats_total: section.iter().map(|(g, _)| g.seats_total).sum(),
            seats_available: section.iter().map(|(g, _)| g.seats_available).sum(),
            min_price_cents: section.iter().map(|(_, cents)| *cents).min().unwrap_or(0),
        })
        .collect();
    let tier_rows = tiers
        .iter()
        .map(|tier| TierRow {
            name: tier.name.clone(),
            price_cents: tier.price_cents,
            seats_available: priced
                .iter()
                .filter(|(g, _)| g.tier_id == tier.id)
                .map(|(g, _)| g.seats_available)
                .sum(),
        })
        .collect();
    (tier_rows, sections)
}

/// A seat as the database describes it, joined with its section and tier.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct SeatFields {
    pub id: i64,
    pub section: String,
    pub row_label: String,
    pub number: i64,
    pub x: f64,
    pub y: f64,
    pub tier: String,
    pub price_cents: i64,
    pub status: String,
    pub held_until: Option<i64>,
    /// Comma-separated [`app::layout::SeatFeature`] names; queries that do
    /// not read it leave it empty.
    #[sqlx(default)]
    pub features: String,
}

impl SeatFields {
    /// The wire view, with expired holds shown as available.
    pub fn into_view(self, now: i64) -> app::types::SeatView {
        app::types::SeatView {
            id: app::types::SeatId(self.id),
            status: super::effective_status(&self.status, self.held_until, now),
            section: self.section,
            row: self.row_label,
            number: self.number,
            x: self.x,
            y: self.y,
            tier: self.tier,
            price_cents: self.price_cents,
            features: app::layout::SeatFeature::parse_list(&self.features),
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SeatRow {
    #[sqlx(flatten)]
    pub seat: SeatFields,
    /// The event's version, read in the same statement as the seats so the
    /// pair is one consistent snapshot on either backend.
    pub event_version: i64,
}

#[tracing::instrument(skip_all)]
pub async fn seat_rows(store: &Store, event_id: i64) -> Result<Vec<SeatRow>, StoreError> {
    let sql = "SELECT s.id, sec.name AS section, s.row_label, s.number, s.x, s.y, \
               t.name AS tier, t.price_cents, s.status, s.held_until, s.features, \
               e.version AS event_version \
               FROM seats s JOIN events e ON e.id = s.event_id \
               JOIN sections sec ON sec.id = s.section_id \
               JOIN price_tiers t ON t.id = s.tier_id \
               WHERE s.event_id = $1 ORDER BY s.id";
    let rows = on_pool!(store, pool =>
        sqlx::query_as::<_, SeatRow>(sql).bind(event_id).fetch_all(pool).await)?;
    Ok(rows)
}

/// Whether the database has any venue yet (a fresh database gets the demo data).
pub async fn has_venues(store: &Store) -> Result<bool, StoreError> {
    let (count,): (i64,) = on_pool!(store, pool =>
        sqlx::query_as("SELECT COUNT(*) FROM venues").fetch_one(pool).await)?;
    Ok(count > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_user_text_are_escaped() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("plain"), "plain");
    }

    #[test]
    fn tiers_and_sections_are_the_sums_of_their_seat_groups() {
        let group = |section_id, section: &str, tier_id, seats_total, seats_available| SeatGroup {
            section_id,
            section: section.into(),
            tier_id,
            seats_total,
            seats_available,
        };
        let tier = |id, name: &str, price_cents| Tier {
            id,
            name: name.into(),
            price_cents,
        };
        // In section order, as the query gives them; tier 3 sells nowhere.
        let groups = [
            group(20, "Front", 1, 10, 4),
            group(20, "Front", 2, 6, 6),
            group(10, "Back", 2, 30, 0),
        ];
        let tiers = vec![
            tier(1, "Gold", 9_000),
            tier(3, "Box", 7_000),
            tier(2, "Silver", 5_000),
        ];
        let (tiers, sections) = sum_groups(&groups, tiers);

        let tiers: Vec<(&str, i64, i64)> = tiers
            .iter()
            .map(|t| (t.name.as_str(), t.price_cents, t.seats_available))
            .collect();
        assert_eq!(
            tiers,
            [("Gold", 9_000, 4), ("Box", 7_000, 0), ("Silver", 5_000, 6)]
        );
        let sections: Vec<(&str, i64, i64, i64)> = sections
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.seats_total,
                    s.seats_available,
                    s.min_price_cents,
                )
            })
            .collect();
        assert_eq!(sections, [("Front", 16, 10, 5_000), ("Back", 30, 0, 5_000)]);
    }
}
