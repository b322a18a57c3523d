//! The seat map's data: the layout, indexed for drawing and for moving
//! between seats, with one status signal per seat (seat index = place in
//! the layout, as the compact live format numbers them).

use crate::layout::{LayoutTier, SeatFeature, SeatLayout, VenueKind};
use crate::map_geometry::{centre, convex_hull, Bounds, ViewBox};
use crate::types::{format_cents, SeatId, SeatStatus};
use leptos::prelude::*;
use std::collections::HashMap;

pub struct Seat {
    pub id: SeatId,
    pub section: usize,
    pub row: usize,
    pub number: i64,
    pub x: f64,
    pub y: f64,
    pub tier: usize,
    pub features: Vec<SeatFeature>,
}

pub struct Row {
    pub label: String,
    pub section: usize,
    /// Seat indexes, in the row's order.
    pub seats: Vec<usize>,
}

pub struct Section {
    pub name: String,
    /// Row indexes, in order.
    pub rows: Vec<usize>,
    pub first_seat: usize,
    pub seat_count: usize,
    pub outline: Vec<(f64, f64)>,
    pub centre: (f64, f64),
    pub bounds: Bounds,
}

impl Section {
    pub fn seats(&self) -> std::ops::Range<usize> {
        self.first_seat..self.first_seat + self.seat_count
    }
}

pub struct MapData {
    pub hash: String,
    pub kind: VenueKind,
    pub tiers: Vec<LayoutTier>,
    pub seats: Vec<Seat>,
    pub rows: Vec<Row>,
    pub sections: Vec<Section>,
    pub statuses: Vec<RwSignal<SeatStatus>>,
    pub index: HashMap<SeatId, usize>,
    /// The whole plan, padded: the map's home view.
    pub home: ViewBox,
}

/// Seats are this far apart (metres); targets are sized to the pitch.
pub const SEAT_PITCH: f64 = 0.55;

impl MapData {
    pub fn new(hash: String, layout: SeatLayout) -> Self {
        let mut seats = Vec::with_capacity(layout.seat_count());
        let mut rows = Vec::new();
        let mut sections = Vec::with_capacity(layout.sections.len());
        for section in layout.sections {
            let section_at = sections.len();
            let first_seat = seats.len();
            let mut row_ids = Vec::with_capacity(section.rows.len());
            for row in section.rows {
                let row_at = rows.len();
                let mut seat_ids = Vec::with_capacity(row.seats.len());
                for seat in row.seats {
                    seat_ids.push(seats.len());
                    seats.push(Seat {
                        id: seat.id,
                        section: section_at,
                        row: row_at,
                        number: seat.number,
                        x: seat.x,
                        y: seat.y,
                        tier: seat.tier,
                        features: seat.features,
                    });
                }
                row_ids.push(row_at);
                rows.push(Row {
                    label: row.label,
                    section: section_at,
                    seats: seat_ids,
                });
            }
            let points: Vec<(f64, f64)> = seats[first_seat..].iter().map(|s| (s.x, s.y)).collect();
            sections.push(Section {
                name: section.name,
                rows: row_ids,
                first_seat,
                seat_count: points.len(),
                centre: centre(&points),
                bounds: Bounds::of(points.iter().copied()),
                outline: convex_hull(points),
            });
        }
        let all = Bounds::of(seats.iter().map(|s| (s.x, s.y)));
        let mut home = all.padded(if seats.len() > 3_000 { 6.0 } else { 2.0 });
        if layout.kind == VenueKind::Stage {
            // Room for the stage drawn in front of the first row.
            home.y = home.y.min(-1.0);
            home.height = all.max_y + 2.0 - home.y;
        }
        Self {
            hash,
            kind: layout.kind,
            tiers: layout.tiers,
            statuses: seats
                .iter()
                .map(|_| RwSignal::new(SeatStatus::Available))
                .collect(),
            index: seats.iter().enumerate().map(|(i, s)| (s.id, i)).collect(),
            seats,
            rows,
            sections,
            home,
        }
    }

    pub fn price(&self, seat: usize) -> i64 {
        self.tiers
            .get(self.seats[seat].tier)
            .map_or(0, |t| t.price_cents)
    }

    /// "Section 101, row F, seat 12": where a seat is.
    pub fn place(&self, seat: usize) -> String {
        let s = &self.seats[seat];
        format!(
            "Section {}, row {}, seat {}",
            self.sections[s.section].name, self.rows[s.row].label, s.number
        )
    }

    /// What a screen reader says for a seat: place, price, features, state.
    pub fn label(&self, seat: usize, status: SeatStatus, selected: bool) -> String {
        let features: String = self.seats[seat]
            .features
            .iter()
            .map(|f| format!(", {}", f.label()))
            .collect();
        format!(
            "{}, {}{features}, {}",
            self.place(seat),
            format_cents(self.price(seat)),
            state_text(status, selected)
        )
    }

    /// The seat beside `seat` in its row (`step` -1 or +1), if any.
    pub fn along_row(&self, seat: usize, step: isize) -> Option<usize> {
        let row = &self.rows[self.seats[seat].row];
        let at = row.seats.iter().position(|&s| s == seat)?;
        let next = at.checked_add_signed(step)?;
        row.seats.get(next).copied()
    }

    /// The seat nearest `seat` (by x) in the row `step` rows away, crossing
    /// into the next or previous section at its ends.
    pub fn across_rows(&self, seat: usize, step: isize) -> Option<usize> {
        let from = &self.seats[seat];
        let row = self.rows.get(from.row.checked_add_signed(step)?)?;
        row.seats.iter().copied().min_by(|&a, &b| {
            let da = (self.seats[a].x - from.x).abs();
            let db = (self.seats[b].x - from.x).abs();
            da.partial_cmp(&db).unwrap_or(std::cmp::Ordering::Equal)
        })
    }
}

/// A seat's state in words ("available", "sold"…).
pub fn state_text(status: SeatStatus, selected: bool) -> &'static str {
    if selected {
        return "selected";
    }
    match status {
        SeatStatus::Available => "available",
        SeatStatus::Held => "held by another fan",
        SeatStatus::Sold => "sold",
        SeatStatus::Blocked => "not on sale",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signals need an owner: with the server's features on (as when the
    /// workspace's tests build together) also its arena.
    fn owned<T>(test: impl FnOnce() -> T) -> T {
        Owner::new().with(test)
    }
    use crate::layout::{LayoutRow, LayoutSeat, LayoutSection};
    use crate::types::EventId;

    fn layout() -> SeatLayout {
        let row = |label: &str, first: i64, y: f64, xs: &[f64]| LayoutRow {
            label: label.into(),
            seats: xs
                .iter()
                .enumerate()
                .map(|(i, &x)| LayoutSeat {
                    id: SeatId(first + i as i64),
                    number: i as i64 + 1,
                    x,
                    y,
                    tier: 0,
                    features: if first == 1 && i == 0 {
                        vec![SeatFeature::Wheelchair]
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
        };
        SeatLayout {
            event_id: EventId(1),
            kind: VenueKind::Stage,
            tiers: vec![LayoutTier {
                name: "Stalls".into(),
                price_cents: 8500,
            }],
            sections: vec![
                LayoutSection {
                    name: "Stalls".into(),
                    rows: vec![
                        row("A", 1, 3.0, &[0.0, 1.0, 2.0]),
                        row("B", 4, 4.0, &[0.5, 1.5]),
                    ],
                },
                LayoutSection {
                    name: "Circle".into(),
                    rows: vec![row("C", 6, 9.0, &[1.4, 2.4])],
                },
            ],
        }
    }

    #[test]
    fn seats_are_indexed_in_layout_order_with_their_rows_and_sections() {
        owned(|| {
            let data = MapData::new("h".into(), layout());
            assert_eq!(data.seats.len(), 7);
            assert_eq!(data.sections[1].seats(), 5..7);
            assert_eq!(data.rows[2].section, 1);
            assert_eq!(data.index[&SeatId(6)], 5);
            assert!(data.home.y < 0.0, "room for the stage");
        })
    }

    #[test]
    fn a_seat_says_where_it_is_what_it_costs_and_whether_it_is_free() {
        owned(|| {
            let data = MapData::new("h".into(), layout());
            assert_eq!(
                data.label(0, SeatStatus::Available, false),
                "Section Stalls, row A, seat 1, $85.00, wheelchair space, available"
            );
            assert_eq!(
                data.label(4, SeatStatus::Sold, false),
                "Section Stalls, row B, seat 2, $85.00, sold"
            );
            assert!(data
                .label(4, SeatStatus::Available, true)
                .ends_with("selected"));
        })
    }

    #[test]
    fn arrow_keys_move_along_rows_and_to_the_nearest_seat_across_them() {
        owned(|| {
            let data = MapData::new("h".into(), layout());
            assert_eq!(data.along_row(0, 1), Some(1));
            assert_eq!(data.along_row(0, -1), None);
            assert_eq!(data.along_row(2, 1), None);
            // From A3 (x 2.0) down to row B: B2 (x 1.5) is nearest.
            assert_eq!(data.across_rows(2, 1), Some(4));
            // From B2 (x 1.5) into the next section's row C: C1 (x 1.4).
            assert_eq!(data.across_rows(4, 1), Some(5));
            assert_eq!(data.across_rows(0, -1), None);
        })
    }
}
