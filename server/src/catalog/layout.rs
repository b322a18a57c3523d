//! Venue seat layouts — a stage's rows, a bowl's tiers — with positions
//! (metres) a map can draw: staff venue creation and the demo venues use it.
//! Pure geometry: no database here.

use crate::catalog::create::{SeatSpec, SectionSpec};
use app::layout::SeatFeature;
use std::f64::consts::PI;

/// Row labels as theatres print them: A…Z, then AA, BB, …
pub fn row_label(index: usize) -> String {
    let letter = char::from(b'A' + (index % 26) as u8);
    std::iter::repeat_n(letter, index / 26 + 1).collect()
}

fn round_dm(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// Straight-ish rows facing a stage at the top of the plan (y grows away from
/// the stage); `bow` curves the rows so the ends turn towards the stage.
pub fn stage_rows(
    name: &str,
    first_row_y: f64,
    rows: usize,
    seats_per_row: usize,
    row_label_offset: usize,
    bow: f64,
) -> SectionSpec {
    const SEAT_WIDTH: f64 = 0.55;
    const ROW_DEPTH: f64 = 0.9;
    let mut seats = Vec::with_capacity(rows * seats_per_row);
    for row in 0..rows {
        for seat in 0..seats_per_row {
            let x = (seat as f64 - (seats_per_row as f64 - 1.0) / 2.0) * SEAT_WIDTH;
            let y = first_row_y + row as f64 * ROW_DEPTH - bow * x * x;
            seats.push(SeatSpec {
                row: row_label(row + row_label_offset),
                number: seat as i64 + 1,
                x: round_dm(x),
                y: round_dm(y),
                features: Vec::new(),
            });
        }
    }
    let mut section = SectionSpec {
        name: name.to_string(),
        seats,
    };
    mark_accessible(&mut section, rows, seats_per_row);
    section
}

/// Accessible places every generated section has, where venues put them:
/// a wheelchair space at each end of the back row (level access from the
/// rear cross-aisle) with a companion seat beside it, and limited-mobility
/// seats on the aisle ends of the front row. Seats are row-major. Rows of
/// fewer than six seats get none.
pub fn mark_accessible(section: &mut SectionSpec, rows: usize, seats_per_row: usize) {
    if rows == 0 || seats_per_row < 6 || section.seats.len() != rows * seats_per_row {
        return;
    }
    let back = (rows - 1) * seats_per_row;
    let last = seats_per_row - 1;
    let mut mark = |index: usize, feature: SeatFeature| {
        let features = &mut section.seats[index].features;
        if !features.contains(&feature) {
            features.push(feature);
        }
    };
    mark(back, SeatFeature::Wheelchair);
    mark(back + 1, SeatFeature::Companion);
    mark(back + last - 1, SeatFeature::Companion);
    mark(back + last, SeatFeature::Wheelchair);
    if rows > 1 {
        mark(0, SeatFeature::LimitedMobility);
        mark(last, SeatFeature::LimitedMobility);
    }
}

/// Marks the `per_end` outermost seats at both ends of every row as having
/// a restricted view (a balcony's side seats look past the proscenium).
pub fn mark_restricted_view(section: &mut SectionSpec, seats_per_row: usize, per_end: usize) {
    for (i, seat) in section.seats.iter_mut().enumerate() {
        let place = i % seats_per_row.max(1);
        let at_an_end = place < per_end || place + per_end >= seats_per_row;
        if at_an_end && !seat.features.contains(&SeatFeature::RestrictedView) {
            seat.features.push(SeatFeature::RestrictedView);
        }
    }
}

/// One ring ("tier") of a stadium bowl around a pitch centred on the origin,
/// split into `sections` equal wedges. Rows follow a superellipse (a rounded
/// rectangle, like a real bowl) that grows by one row depth per row; a plain
/// ellipse would cut through the pitch's corners.
pub struct BowlTier<'a> {
    pub name_prefix: &'a str,
    pub first_number: usize,
    pub sections: usize,
    pub rows: usize,
    pub seats_per_row: usize,
    /// Semi-axes of the first row's ellipse.
    pub inner_a: f64,
    pub inner_b: f64,
}

impl BowlTier<'_> {
    pub fn sections(&self) -> Vec<(SectionSpec, f64)> {
        const ROW_DEPTH: f64 = 0.8;
        let wedge = 2.0 * PI / self.sections as f64;
        // A small aisle between wedges so sections read as blocks on the map.
        let aisle = wedge * 0.04;
        (0..self.sections)
            .map(|index| {
                let start = index as f64 * wedge + aisle / 2.0 - PI / 2.0;
                let span = wedge - aisle;
                let mut seats = Vec::with_capacity(self.rows * self.seats_per_row);
                for row in 0..self.rows {
                    let a = self.inner_a + row as f64 * ROW_DEPTH;
                    let b = self.inner_b + row as f64 * ROW_DEPTH;
                    for seat in 0..self.seats_per_row {
                        let angle = start + span * (seat as f64 + 0.5) / self.seats_per_row as f64;
                        let (x, y) = superellipse(a, b, angle);
                        seats.push(SeatSpec {
                            row: (row + 1).to_string(),
                            number: seat as i64 + 1,
                            x: round_dm(x),
                            y: round_dm(y),
                            features: Vec::new(),
                        });
                    }
                }
                let centre_angle = start + span / 2.0;
                let name = format!("{}{}", self.name_prefix, self.first_number + index);
                let mut section = SectionSpec { name, seats };
                mark_accessible(&mut section, self.rows, self.seats_per_row);
                (section, centre_angle)
            })
            .collect()
    }
}

/// Point at `angle` on the superellipse |x/a|^4 + |y/b|^4 = 1.
fn superellipse(a: f64, b: f64, angle: f64) -> (f64, f64) {
    let (sin, cos) = angle.sin_cos();
    let shape = |t: f64| t.signum() * t.abs().sqrt();
    (a * shape(cos), b * shape(sin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_labels_continue_past_z() {
        assert_eq!(row_label(0), "A");
        assert_eq!(row_label(25), "Z");
        assert_eq!(row_label(26), "AA");
        assert_eq!(row_label(27), "BB");
    }

    #[test]
    fn stage_rows_are_centred_and_recede_from_the_stage() {
        let section = stage_rows("Stalls", 5.0, 3, 10, 0, 0.0);
        assert_eq!(section.seats.len(), 30);
        let first_row: Vec<_> = section.seats.iter().filter(|s| s.row == "A").collect();
        let xs: f64 = first_row.iter().map(|s| s.x).sum();
        assert!(xs.abs() < 1e-9, "row is centred on the stage axis");
        let last = section.seats.last().expect("seats");
        assert!(last.y > section.seats[0].y, "later rows are further back");
    }

    #[test]
    fn every_section_has_wheelchair_spaces_with_companions_beside_them() {
        let section = stage_rows("Stalls", 5.0, 4, 10, 0, 0.0);
        let with = |feature: SeatFeature| -> Vec<(String, i64)> {
            section
                .seats
                .iter()
                .filter(|s| s.features.contains(&feature))
                .map(|s| (s.row.clone(), s.number))
                .collect()
        };
        let back = |n: i64| ("D".to_string(), n);
        assert_eq!(with(SeatFeature::Wheelchair), vec![back(1), back(10)]);
        assert_eq!(with(SeatFeature::Companion), vec![back(2), back(9)]);
        assert_eq!(
            with(SeatFeature::LimitedMobility),
            vec![("A".to_string(), 1), ("A".to_string(), 10)]
        );
        assert!(with(SeatFeature::RestrictedView).is_empty());
        let narrow = stage_rows("Box", 5.0, 2, 4, 0, 0.0);
        assert!(narrow.seats.iter().all(|s| s.features.is_empty()));
    }

    #[test]
    fn a_bowl_tier_surrounds_the_pitch_without_overlapping_it() {
        let tier = BowlTier {
            name_prefix: "",
            first_number: 101,
            sections: 8,
            rows: 5,
            seats_per_row: 10,
            inner_a: 62.0,
            inner_b: 44.0,
        };
        let sections = tier.sections();
        assert_eq!(sections.len(), 8);
        assert_eq!(sections[0].0.name, "101");
        for (section, _) in &sections {
            assert_eq!(section.seats.len(), 50);
            for seat in &section.seats {
                // Outside the 105 x 68 pitch.
                assert!(seat.x.abs() > 52.5 || seat.y.abs() > 34.0, "{seat:?}");
            }
        }
    }
}
