//! Demo data so a new install shows a real site: a 300-seat club, a
//! 2,500-seat theatre, a 50,000-seat stadium and two dozen upcoming events.
//! Seeded once into an empty database in demo mode (`TESSERA_DEMO=1`) only.

use crate::catalog::create::{
    create_event, create_venue, CreateError, EventSpec, SectionSpec, TierSpec, VenueSpec,
};
use crate::catalog::layout::{self, stage_rows, BowlTier};
use crate::catalog::queries::has_venues;
use crate::store::Store;
use app::staff::RefundPolicy;
use app::types::VenueId;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

pub fn club() -> VenueSpec {
    VenueSpec {
        name: "The Lantern Club".into(),
        city: "Bristol".into(),
        sections: vec![
            stage_rows("Floor Front", 3.0, 4, 20, 0, 0.01),
            stage_rows("Floor Back", 6.6, 8, 20, 4, 0.01),
            stage_rows("Gallery", 15.0, 3, 20, 0, 0.0),
        ],
    }
}

pub fn theatre() -> VenueSpec {
    VenueSpec {
        name: "Royal Meridian Theatre".into(),
        city: "Manchester".into(),
        sections: vec![
            stage_rows("Stalls Front", 4.0, 12, 50, 0, 0.006),
            stage_rows("Stalls Rear", 14.8, 18, 50, 12, 0.006),
            stage_rows("Balcony Front", 34.0, 8, 50, 0, 0.008),
            balcony_rear(),
        ],
    }
}

/// The theatre's back balcony: its two outermost seats at each end look
/// past the proscenium.
fn balcony_rear() -> SectionSpec {
    let mut section = stage_rows("Balcony Rear", 41.2, 12, 50, 8, 0.008);
    layout::mark_restricted_view(&mut section, 50, 2);
    section
}

/// 44 sections in two rings around a 105 x 68 m pitch: 24 x 25 x 40 in the
/// lower ring and 20 x 26 x 50 in the upper ring, 50,000 seats in all.
pub fn stadium() -> (VenueSpec, Vec<(String, &'static str)>) {
    let lower = BowlTier {
        name_prefix: "",
        first_number: 101,
        sections: 24,
        rows: 25,
        seats_per_row: 40,
        inner_a: 62.0,
        inner_b: 44.0,
    };
    let upper = BowlTier {
        name_prefix: "",
        first_number: 201,
        sections: 20,
        rows: 26,
        seats_per_row: 50,
        inner_a: 86.0,
        inner_b: 68.0,
    };
    let mut sections = Vec::new();
    let mut section_tiers = Vec::new();
    for (ring, is_upper) in [(lower, false), (upper, true)] {
        for (section, centre_angle) in ring.sections() {
            // Sides (along the touchlines) cost most, the ends least.
            let side_ness = centre_angle.sin().abs();
            let tier = if !is_upper && side_ness > 0.8 {
                "Category 1"
            } else if side_ness > 0.5 {
                "Category 2"
            } else if !is_upper {
                "Category 3"
            } else {
                "Category 4"
            };
            section_tiers.push((section.name.clone(), tier));
            sections.push(section);
        }
    }
    let venue = VenueSpec {
        name: "Northgate Stadium".into(),
        city: "London".into(),
        sections,
    };
    (venue, section_tiers)
}

struct DemoEvent {
    name: &'static str,
    description: &'static str,
    venue: Venue,
    prices: &'static [i64],
}

#[derive(Clone, Copy)]
enum Venue {
    Club,
    Theatre,
    Stadium,
}

const EVENTS: &[DemoEvent] = &[
    DemoEvent {
        name: "Marisol Vega — Night Songs",
        description: "An intimate acoustic set from the Lisbon-born songwriter.",
        venue: Venue::Club,
        prices: &[4500, 3500, 2500],
    },
    DemoEvent {
        name: "The Copper Lines",
        description: "Five-piece brass and funk, two sets, no support.",
        venue: Venue::Club,
        prices: &[3000, 2200],
    },
    DemoEvent {
        name: "Hamlet",
        description: "The Meridian Company's new staging, in modern dress.",
        venue: Venue::Theatre,
        prices: &[8500, 6000, 4200, 2500],
    },
    DemoEvent {
        name: "Kestrel Blue",
        description: "Shoegaze revivalists on their first UK tour in a decade.",
        venue: Venue::Club,
        prices: &[2800, 2000],
    },
    DemoEvent {
        name: "Northgate Derby: City vs United",
        description: "League fixture. Gates open two hours before kick-off.",
        venue: Venue::Stadium,
        prices: &[9500, 7000, 5000, 3500],
    },
    DemoEvent {
        name: "The Nutcracker",
        description: "Tchaikovsky's ballet with the Meridian Orchestra.",
        venue: Venue::Theatre,
        prices: &[9000, 6500, 4500, 3000],
    },
    DemoEvent {
        name: "Open Mic Finals",
        description: "Twelve finalists, one winner, chosen by the room.",
        venue: Venue::Club,
        prices: &[1500, 1000],
    },
    DemoEvent {
        name: "An Evening with Dara Quinn",
        description: "Stand-up, stories and questions from the audience.",
        venue: Venue::Theatre,
        prices: &[5500, 4500, 3000],
    },
    DemoEvent {
        name: "Solstice Jazz Trio",
        description: "Piano, bass and drums; standards and originals.",
        venue: Venue::Club,
        prices: &[3500, 2500, 1800],
    },
    DemoEvent {
        name: "Aurora Skies World Tour",
        description: "The stadium leg of the year's biggest pop tour.",
        venue: Venue::Stadium,
        prices: &[14000, 11000, 8000, 5500],
    },
    DemoEvent {
        name: "Les Misérables",
        description: "The musical, in a limited four-week run.",
        venue: Venue::Theatre,
        prices: &[9900, 7500, 5000, 3200],
    },
    DemoEvent {
        name: "Basement Tapes Live",
        description: "Local bands play their first records in full.",
        venue: Venue::Club,
        prices: &[1800, 1200],
    },
    DemoEvent {
        name: "Symphony No. 9",
        description: "Beethoven's Ninth with the Meridian Chorus.",
        venue: Venue::Theatre,
        prices: &[7800, 5800, 3900],
    },
    DemoEvent {
        name: "Lowlight",
        description: "Ambient electronics in the round, seated.",
        venue: Venue::Club,
        prices: &[2500, 2000, 1500],
    },
    DemoEvent {
        name: "Cup Final Replay Night",
        description: "Big-screen cup final with a live pre-match show.",
        venue: Venue::Stadium,
        prices: &[6000, 4500, 3000, 2000],
    },
    DemoEvent {
        name: "A Midsummer Night's Dream",
        description: "Shakespeare's comedy for all ages.",
        venue: Venue::Theatre,
        prices: &[6500, 4800, 2900],
    },
    DemoEvent {
        name: "Ferra & The Wolves",
        description: "Album launch show with a full band.",
        venue: Venue::Club,
        prices: &[3200, 2600, 2000],
    },
    DemoEvent {
        name: "Comedy Gala",
        description: "Six comedians, one night, in aid of the theatre's restoration.",
        venue: Venue::Theatre,
        prices: &[6000, 4500, 3000, 2000],
    },
    DemoEvent {
        name: "Blue Hour Quartet",
        description: "Late-night chamber jazz.",
        venue: Venue::Club,
        prices: &[2700, 1900],
    },
    DemoEvent {
        name: "Swan Lake",
        description: "The Meridian Ballet's winter season finale.",
        venue: Venue::Theatre,
        prices: &[9500, 7000, 4500, 2800],
    },
    DemoEvent {
        name: "Northern Soul All-Nighter",
        description: "Seated front, dancing at the back — bring talc.",
        venue: Venue::Club,
        prices: &[2200, 1600, 1200],
    },
    DemoEvent {
        name: "The Wild Geese",
        description: "Folk-rock from the Hebrides.",
        venue: Venue::Club,
        prices: &[2600, 2000],
    },
    DemoEvent {
        name: "Carmen",
        description: "Bizet's opera, sung in French with English surtitles.",
        venue: Venue::Theatre,
        prices: &[10500, 7900, 5200, 3100],
    },
    DemoEvent {
        name: "Spring Poetry Slam",
        description: "Poets from across the city compete for the Lantern Cup.",
        venue: Venue::Club,
        prices: &[1200, 800],
    },
];

/// Tier names for a price list, most expensive first.
fn tier_names(venue: Venue, count: usize) -> Vec<&'static str> {
    let names: &[&str] = match venue {
        Venue::Club => &["Front", "Standard", "Gallery"],
        Venue::Theatre => &["Premium", "Standard", "Balcony", "Restricted View"],
        Venue::Stadium => &["Category 1", "Category 2", "Category 3", "Category 4"],
    };
    names[..count.min(names.len())].to_vec()
}

/// Which tier each section sells at, for `tiers` tiers (most expensive first).
fn section_tiers(
    venue: Venue,
    tiers: &[&'static str],
    stadium_tiers: &[(String, &'static str)],
) -> Vec<(String, String)> {
    let pick = |index: usize| tiers[index.min(tiers.len() - 1)].to_string();
    match venue {
        Venue::Club => vec![
            ("Floor Front".into(), pick(0)),
            ("Floor Back".into(), pick(1)),
            ("Gallery".into(), pick(2)),
        ],
        Venue::Theatre => vec![
            ("Stalls Front".into(), pick(0)),
            ("Stalls Rear".into(), pick(1)),
            ("Balcony Front".into(), pick(2)),
            ("Balcony Rear".into(), pick(3)),
        ],
        Venue::Stadium => stadium_tiers
            .iter()
            .map(|(section, category)| {
                let index = match *category {
                    "Category 1" => 0,
                    "Category 2" => 1,
                    "Category 3" => 2,
                    _ => 3,
                };
                (section.clone(), pick(index))
            })
            .collect(),
    }
}

/// The demo data's admin account, documented in the README for local use.
pub const DEMO_ADMIN_EMAIL: &str = "admin@tessera.test";
pub const DEMO_ADMIN_PASSWORD: &str = "tessera-demo-admin";

/// Seeds the demo venues and events if the database has no venue yet.
/// Returns whether it seeded.
pub async fn seed_if_empty(
    store: &Store,
    now_ms: i64,
    hold_seconds: i64,
) -> Result<bool, CreateError> {
    if has_venues(store).await? {
        return Ok(false);
    }
    seed(store, now_ms, hold_seconds).await?;
    Ok(true)
}

/// Events start 2 days from now and spread over the next ~3 months, at 19:30 UTC.
/// `hold_seconds` is every demo event's hold length (300 unless a test
/// wants holds to expire quickly).
pub async fn seed(store: &Store, now_ms: i64, hold_seconds: i64) -> Result<(), CreateError> {
    let club_id = create_venue(store, &club()).await?;
    let theatre_id = create_venue(store, &theatre()).await?;
    let (stadium_venue, stadium_tiers) = stadium();
    let stadium_id = create_venue(store, &stadium_venue).await?;
    let today = now_ms - now_ms.rem_euclid(DAY_MS);
    for (index, event) in EVENTS.iter().enumerate() {
        let venue_id: VenueId = match event.venue {
            Venue::Club => club_id,
            Venue::Theatre => theatre_id,
            Venue::Stadium => stadium_id,
        };
        let names = tier_names(event.venue, event.prices.len());
        let tiers = names
            .iter()
            .zip(event.prices)
            .map(|(name, price)| TierSpec {
                name: name.to_string(),
                price_cents: *price,
            })
            .collect();
        let starts_at_ms = today
            + (2 + index as i64 * 88 / EVENTS.len() as i64) * DAY_MS
            + 19 * HOUR_MS
            + 30 * 60_000;
        let spec = EventSpec {
            venue_id,
            name: event.name.into(),
            description: event.description.into(),
            starts_at_ms,
            onsale_at_ms: now_ms - DAY_MS,
            hold_seconds,
            max_tickets_per_buyer: 8,
            refund_policy: RefundPolicy::UntilStart,
            tiers,
            section_tiers: section_tiers(event.venue, &names, &stadium_tiers),
        };
        create_event(store, &spec).await?;
    }
    tracing::info!(venues = 3, events = EVENTS.len(), "seeded demo data");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat_count(venue: &VenueSpec) -> usize {
        venue.sections.iter().map(|s| s.seats.len()).sum()
    }

    #[test]
    fn demo_venues_have_the_promised_sizes() {
        assert_eq!(seat_count(&club()), 300);
        assert_eq!(seat_count(&theatre()), 2_500);
        let (stadium, tiers) = stadium();
        assert_eq!(seat_count(&stadium), 50_000);
        assert!(stadium.sections.len() >= 40);
        assert_eq!(tiers.len(), stadium.sections.len());
    }

    #[test]
    fn every_demo_event_prices_every_section_with_two_to_four_tiers() {
        let (stadium, stadium_tiers) = stadium();
        assert!(EVENTS.len() >= 20);
        for event in EVENTS {
            assert!((2..=4).contains(&event.prices.len()), "{}", event.name);
            let names = tier_names(event.venue, event.prices.len());
            assert_eq!(names.len(), event.prices.len(), "{}", event.name);
            let sections = section_tiers(event.venue, &names, &stadium_tiers);
            let venue = match event.venue {
                Venue::Club => club(),
                Venue::Theatre => theatre(),
                Venue::Stadium => stadium.clone(),
            };
            assert_eq!(sections.len(), venue.sections.len(), "{}", event.name);
            for (_, tier) in &sections {
                assert!(names.contains(&tier.as_str()), "{}: {tier}", event.name);
            }
            // And no tier is left without seats to sell.
            for name in &names {
                assert!(
                    sections.iter().any(|(_, tier)| tier == name),
                    "{}: {name} sells nothing",
                    event.name
                );
            }
        }
    }
}
