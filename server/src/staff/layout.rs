//! Venue layouts from a few numbers: sections of rows facing a stage
//! (straight or curved), or rings of sections around a pitch. Positions are
//! in metres, as the seat map draws them. Pure geometry, no database.

use crate::catalog::create::{SectionSpec, VenueSpec};
use crate::catalog::layout::{stage_rows, BowlTier};
use app::staff::VenueLayout;

/// Bounds that keep a request from asking for a venue no one has.
pub const MAX_SEATS: u64 = 150_000;
const MAX_SECTIONS: usize = 200;
const MAX_ROWS: u32 = 150;
const MAX_SEATS_PER_ROW: u32 = 200;
/// Gap between consecutive stage sections, and the stage's depth.
const SECTION_GAP_M: f64 = 2.0;
const FIRST_ROW_M: f64 = 3.0;
/// A gentle curve: a 30-seat row's ends sit about 1.4 m nearer the stage.
const STAGE_BOW: f64 = 0.02;
/// The rows are superellipses (|x/a|⁴ + |y/b|⁴ = 1): to clear the pitch's
/// corners, their semi-axes must exceed the pitch's by 2^(1/4) ≈ 1.19, and
/// then some clearance.
const CORNER_FACTOR: f64 = 1.19;
const PITCH_CLEARANCE_M: f64 = 3.0;
const TIER_GAP_M: f64 = 3.0;
const BOWL_ROW_DEPTH_M: f64 = 0.8;

/// The venue's sections and seats, or why the layout cannot be built. Its
/// size is checked first, from the numbers alone: a request for billions of
/// seats is refused before a single one is made.
pub fn generate(name: &str, city: &str, layout: &VenueLayout) -> Result<VenueSpec, String> {
    check_size(layout)?;
    let sections = match layout {
        VenueLayout::Stage { sections } => {
            let mut y = FIRST_ROW_M;
            let mut specs = Vec::with_capacity(sections.len());
            let mut row_offset = 0;
            for section in sections {
                check_block(&section.name, section.rows, section.seats_per_row)?;
                let bow = if section.curved { STAGE_BOW } else { 0.0 };
                let rows = section.rows as usize;
                specs.push(stage_rows(
                    section.name.trim(),
                    y,
                    rows,
                    section.seats_per_row as usize,
                    row_offset,
                    bow,
                ));
                // Row letters run on through the house, as theatres label them.
                row_offset += rows;
                y += rows as f64 * 0.9 + SECTION_GAP_M;
            }
            specs
        }
        VenueLayout::Bowl {
            pitch_length_m,
            pitch_width_m,
            tiers,
        } => {
            let pitch_ok = |m: f64| m.is_finite() && (10.0..=300.0).contains(&m);
            if !pitch_ok(*pitch_length_m) || !pitch_ok(*pitch_width_m) {
                return Err("pitch sides must be 10 to 300 metres".into());
            }
            let mut inner_a = pitch_length_m / 2.0 * CORNER_FACTOR + PITCH_CLEARANCE_M;
            let mut inner_b = pitch_width_m / 2.0 * CORNER_FACTOR + PITCH_CLEARANCE_M;
            let mut first_number = 101;
            let mut specs = Vec::new();
            for tier in tiers {
                check_block(&tier.name_prefix, tier.rows, tier.seats_per_row)?;
                if tier.sections == 0 || tier.sections > 64 {
                    return Err("a tier has 1 to 64 sections".into());
                }
                let ring = BowlTier {
                    name_prefix: tier.name_prefix.as_str(),
                    first_number,
                    sections: tier.sections as usize,
                    rows: tier.rows as usize,
                    seats_per_row: tier.seats_per_row as usize,
                    inner_a,
                    inner_b,
                };
                specs.extend(ring.sections().into_iter().map(|(section, _)| section));
                let depth = tier.rows as f64 * BOWL_ROW_DEPTH_M + TIER_GAP_M;
                inner_a += depth;
                inner_b += depth;
                first_number += 100;
            }
            specs
        }
    };
    check_venue(&sections)?;
    Ok(VenueSpec {
        name: name.trim().to_string(),
        city: city.trim().to_string(),
        sections,
    })
}

/// Sections and seats the layout asks for, counted without building them
/// (saturating: a product too large for 64 bits is "too many" anyway).
fn requested_size(layout: &VenueLayout) -> (u64, u64) {
    let block = |sections: u32, rows: u32, seats_per_row: u32| {
        u64::from(sections)
            .saturating_mul(u64::from(rows))
            .saturating_mul(u64::from(seats_per_row))
    };
    match layout {
        VenueLayout::Stage { sections } => (
            sections.len() as u64,
            sections
                .iter()
                .map(|s| block(1, s.rows, s.seats_per_row))
                .fold(0, u64::saturating_add),
        ),
        VenueLayout::Bowl { tiers, .. } => (
            tiers
                .iter()
                .map(|t| u64::from(t.sections))
                .fold(0, u64::saturating_add),
            tiers
                .iter()
                .map(|t| block(t.sections, t.rows, t.seats_per_row))
                .fold(0, u64::saturating_add),
        ),
    }
}

fn check_size(layout: &VenueLayout) -> Result<(), String> {
    let (sections, seats) = requested_size(layout);
    if sections == 0 || sections > MAX_SECTIONS as u64 {
        return Err(format!("a venue has 1 to {MAX_SECTIONS} sections"));
    }
    if seats > MAX_SEATS {
        return Err(format!("{seats} seats is more than {MAX_SEATS}"));
    }
    Ok(())
}

fn check_block(name: &str, rows: u32, seats_per_row: u32) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > 60 {
        return Err("section names are 1 to 60 characters".into());
    }
    if !(1..=MAX_ROWS).contains(&rows) || !(1..=MAX_SEATS_PER_ROW).contains(&seats_per_row) {
        return Err(format!(
            "{name}: 1 to {MAX_ROWS} rows of 1 to {MAX_SEATS_PER_ROW} seats"
        ));
    }
    Ok(())
}

fn check_venue(sections: &[SectionSpec]) -> Result<(), String> {
    if sections.is_empty() || sections.len() > MAX_SECTIONS {
        return Err(format!("a venue has 1 to {MAX_SECTIONS} sections"));
    }
    let seats: u64 = sections.iter().map(|s| s.seats.len() as u64).sum();
    if seats > MAX_SEATS {
        return Err(format!("{seats} seats is more than {MAX_SEATS}"));
    }
    let mut names = std::collections::HashSet::new();
    if let Some(duplicate) = sections.iter().find(|s| !names.insert(s.name.as_str())) {
        return Err(format!("two sections are named {:?}", duplicate.name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::staff::{BowlTierLayout, StageSection};

    fn stage(curved: bool) -> VenueLayout {
        VenueLayout::Stage {
            sections: vec![
                StageSection {
                    name: "Stalls".into(),
                    rows: 10,
                    seats_per_row: 20,
                    curved,
                },
                StageSection {
                    name: "Circle".into(),
                    rows: 5,
                    seats_per_row: 24,
                    curved,
                },
            ],
        }
    }

    #[test]
    fn stage_sections_stack_behind_each_other_and_curve_towards_the_stage() {
        let venue = generate("Hall", "Leeds", &stage(true)).expect("layout");
        assert_eq!(venue.sections.len(), 2);
        assert_eq!(venue.sections[0].seats.len(), 200);
        let stalls_back = venue.sections[0]
            .seats
            .iter()
            .map(|s| s.y)
            .fold(f64::MIN, f64::max);
        let circle_front = venue.sections[1]
            .seats
            .iter()
            .map(|s| s.y)
            .fold(f64::MAX, f64::min);
        assert!(
            circle_front > stalls_back,
            "the circle is behind the stalls"
        );
        assert_eq!(venue.sections[1].seats[0].row, "K", "row letters run on");
        let row_a: Vec<_> = venue.sections[0]
            .seats
            .iter()
            .filter(|s| s.row == "A")
            .collect();
        let (end, middle) = (row_a[0], row_a[10]);
        assert!(
            end.y < middle.y,
            "curved: the row's ends are nearer the stage"
        );
        let straight = generate("Hall", "Leeds", &stage(false)).expect("layout");
        let row_a: Vec<_> = straight.sections[0]
            .seats
            .iter()
            .filter(|s| s.row == "A")
            .collect();
        assert_eq!(row_a[0].y, row_a[10].y);
    }

    #[test]
    fn a_bowl_rings_the_pitch_tier_by_tier() {
        let layout = VenueLayout::Bowl {
            pitch_length_m: 105.0,
            pitch_width_m: 68.0,
            tiers: vec![
                BowlTierLayout {
                    name_prefix: "Lower ".into(),
                    sections: 20,
                    rows: 25,
                    seats_per_row: 40,
                },
                BowlTierLayout {
                    name_prefix: "Upper ".into(),
                    sections: 20,
                    rows: 25,
                    seats_per_row: 60,
                },
            ],
        };
        let venue = generate("Stadium", "Leeds", &layout).expect("layout");
        let seats: usize = venue.sections.iter().map(|s| s.seats.len()).sum();
        assert_eq!(seats, 50_000);
        assert_eq!(venue.sections[0].name, "Lower 101");
        assert_eq!(venue.sections[20].name, "Upper 201");
        // No seat on the pitch.
        assert!(venue
            .sections
            .iter()
            .flat_map(|s| &s.seats)
            .all(|s| s.x.abs() > 52.5 || s.y.abs() > 34.0));
    }

    #[test]
    fn impossible_layouts_are_refused() {
        let too_many = VenueLayout::Stage {
            sections: vec![StageSection {
                name: "Huge".into(),
                rows: 151,
                seats_per_row: 10,
                curved: false,
            }],
        };
        assert!(generate("x", "y", &too_many).is_err());
        let twins = VenueLayout::Stage {
            sections: vec![
                StageSection {
                    name: "A".into(),
                    rows: 1,
                    seats_per_row: 1,
                    curved: false,
                },
                StageSection {
                    name: "A".into(),
                    rows: 1,
                    seats_per_row: 1,
                    curved: false,
                },
            ],
        };
        assert!(generate("x", "y", &twins)
            .expect_err("duplicate names are refused")
            .contains("two sections"));
        let no_pitch = VenueLayout::Bowl {
            pitch_length_m: f64::NAN,
            pitch_width_m: 60.0,
            tiers: vec![],
        };
        assert!(generate("x", "y", &no_pitch).is_err());
        assert!(generate("x", "y", &VenueLayout::Stage { sections: vec![] }).is_err());
    }

    #[test]
    fn a_venue_too_large_is_refused_before_any_seat_is_made() {
        let tier = |sections| BowlTierLayout {
            name_prefix: "T".into(),
            sections,
            rows: u32::MAX,
            seats_per_row: u32::MAX,
        };
        let huge = VenueLayout::Bowl {
            pitch_length_m: 105.0,
            pitch_width_m: 68.0,
            tiers: (0..1000).map(|_| tier(u32::MAX)).collect(),
        };
        assert_eq!(requested_size(&huge).1, u64::MAX, "saturates");
        let started = std::time::Instant::now();
        assert!(generate("x", "y", &huge).is_err());
        assert!(started.elapsed() < std::time::Duration::from_millis(100));

        // Within every per-block limit, but 1.9 billion seats in all.
        let billions = VenueLayout::Bowl {
            pitch_length_m: 105.0,
            pitch_width_m: 68.0,
            tiers: (0..1000)
                .map(|_| BowlTierLayout {
                    rows: MAX_ROWS,
                    seats_per_row: MAX_SEATS_PER_ROW,
                    ..tier(64)
                })
                .collect(),
        };
        assert_eq!(requested_size(&billions), (64_000, 1_920_000_000));
        let error = generate("x", "y", &billions).expect_err("too large");
        assert!(error.contains("sections"), "{error}");
        let one_tier_too_many = VenueLayout::Bowl {
            pitch_length_m: 105.0,
            pitch_width_m: 68.0,
            tiers: (0..3)
                .map(|_| BowlTierLayout {
                    rows: MAX_ROWS,
                    seats_per_row: MAX_SEATS_PER_ROW,
                    ..tier(60)
                })
                .collect(),
        };
        let error = generate("x", "y", &one_tier_too_many).expect_err("too large");
        assert_eq!(error, "5400000 seats is more than 150000");
    }
}
