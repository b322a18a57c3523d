//! The seat map's data: the layout, indexed for drawing and for moving
//! between seats, with each section's statuses in one signal (seat index =
//! place in the layout, as the compact live format numbers them).

use crate::layout::{LayoutTier, SeatFeature, SeatLayout, VenueKind};
use crate::map_geometry::{centre, convex_hull, Bounds, ViewBox};
use crate::types::{format_cents, SeatId, SeatStatus};
use leptos::prelude::*;
use std::collections::HashMap;
use std::sync::Mutex;

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
    /// The statuses of the section's seats, in seat order: what counts
    /// and lists read. One signal a section, not one a seat: a stadium's
    /// 50,000 seat signals, and every subscription to each, had to be made
    /// before its map could show.
    pub statuses: RwSignal<Vec<SeatStatus>>,
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
    /// (seat id, seat index), sorted by id: [`MapData::seat_of`].
    index: Vec<(SeatId, usize)>,
    /// A signal for each seat drawn now (a few thousand at most), with how
    /// many drawings use it: a live change re-renders only its own seat,
    /// not every seat of the section.
    drawn: Mutex<HashMap<usize, (ArcRwSignal<SeatStatus>, usize)>>,
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
                first_seat,
                seat_count: points.len(),
                centre: centre(&points),
                bounds: Bounds::of(points.iter().copied()),
                outline: outline(&seats, &rows, &row_ids),
                rows: row_ids,
                statuses: RwSignal::new(vec![SeatStatus::Available; points.len()]),
            });
        }
        let all = Bounds::of(seats.iter().map(|s| (s.x, s.y)));
        let mut home = all.padded(if seats.len() > 3_000 { 6.0 } else { 2.0 });
        if layout.kind == VenueKind::Stage {
            // Room for the stage drawn in front of the first row.
            home.y = home.y.min(-1.0);
            home.height = all.max_y + 2.0 - home.y;
        }
        let mut index: Vec<(SeatId, usize)> =
            seats.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        // Layouts list seats in id order, so this sort is one linear pass.
        index.sort_unstable_by_key(|&(id, _)| id);
        Self {
            hash,
            kind: layout.kind,
            tiers: layout.tiers,
            index,
            drawn: Mutex::default(),
            seats,
            rows,
            sections,
            home,
        }
    }

    /// The index of the seat with this id, if it is in the layout.
    pub fn seat_of(&self, id: SeatId) -> Option<usize> {
        let at = self.index.binary_search_by_key(&id, |&(id, _)| id).ok()?;
        Some(self.index[at].1)
    }

    /// A seat's status, tracked: the caller re-runs when its section changes.
    pub fn status(&self, seat: usize) -> SeatStatus {
        let section = &self.sections[self.seats[seat].section];
        section.statuses.with(|s| s[seat - section.first_seat])
    }

    pub fn status_untracked(&self, seat: usize) -> SeatStatus {
        let section = &self.sections[self.seats[seat].section];
        section
            .statuses
            .with_untracked(|s| s[seat - section.first_seat])
    }

    /// A drawn seat's own status signal; [`MapData::unwatch`] when the
    /// drawing goes.
    pub fn watch(&self, seat: usize) -> ArcRwSignal<SeatStatus> {
        let mut drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner());
        let entry = drawn
            .entry(seat)
            .or_insert_with(|| (ArcRwSignal::new(self.status_untracked(seat)), 0));
        entry.1 += 1;
        entry.0.clone()
    }

    pub fn unwatch(&self, seat: usize) {
        let mut drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = drawn.get_mut(&seat) {
            entry.1 -= 1;
            if entry.1 == 0 {
                drawn.remove(&seat);
            }
        }
    }

    /// The drawn seats' signals whose status is not the section's any more:
    /// among `seats` (a delta's), or among every drawn seat (a snapshot).
    fn stale_drawn(&self, seats: Option<&[usize]>) -> Vec<(ArcRwSignal<SeatStatus>, SeatStatus)> {
        let drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner());
        let stale = |seat: usize, signal: &ArcRwSignal<SeatStatus>| {
            let now = self.status_untracked(seat);
            (signal.get_untracked() != now).then(|| (signal.clone(), now))
        };
        match seats {
            Some(seats) => seats
                .iter()
                .filter_map(|&seat| stale(seat, &drawn.get(&seat)?.0))
                .collect(),
            None => drawn
                .iter()
                .filter_map(|(&seat, (signal, _))| stale(seat, signal))
                .collect(),
        }
    }

    /// Every seat's status at once (a snapshot, in seat order): only the
    /// sections and drawn seats where something differs are told.
    pub fn set_all(&self, statuses: &[SeatStatus]) {
        for section in &self.sections {
            let Some(new) = statuses.get(section.seats()) else {
                continue;
            };
            if section.statuses.with_untracked(|old| old.as_slice() != new) {
                section.statuses.set(new.to_vec());
            }
        }
        self.tell_drawn(None);
    }

    /// Sets the drawn seats that changed, outside the lock (setting a
    /// signal may run code that draws or drops seats).
    fn tell_drawn(&self, seats: Option<&[usize]>) {
        for (signal, status) in self.stale_drawn(seats) {
            signal.set(status);
        }
    }

    /// Some seats' new statuses (a delta), one update per section touched.
    pub fn set_some(&self, changes: impl IntoIterator<Item = (usize, SeatStatus)>) {
        let mut by_section: Vec<Vec<(usize, SeatStatus)>> = vec![Vec::new(); self.sections.len()];
        let mut changed = Vec::new();
        for (seat, status) in changes {
            if let Some(info) = self.seats.get(seat) {
                by_section[info.section]
                    .push((seat - self.sections[info.section].first_seat, status));
                changed.push(seat);
            }
        }
        for (section, changes) in self.sections.iter().zip(by_section) {
            if !changes.is_empty() {
                section.statuses.update(|statuses| {
                    for (at, status) in changes {
                        statuses[at] = status;
                    }
                });
            }
        }
        self.tell_drawn(Some(&changed));
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

/// A section's outline: the hull of its first and last rows and both ends
/// of every row. The same as the hull of every seat when each row's inner
/// seats lie between the first and last rows, as in every generated
/// layout, at a fraction of the cost (the full hull sorted 50,000 points on
/// the phone before a stadium's map could show).
fn outline(seats: &[Seat], rows: &[Row], section_rows: &[usize]) -> Vec<(f64, f64)> {
    let last = section_rows.len().saturating_sub(1);
    let points = section_rows.iter().enumerate().flat_map(|(i, &row)| {
        let row = &rows[row].seats;
        let picked: Vec<usize> = if i == 0 || i == last || row.len() <= 2 {
            row.clone()
        } else {
            vec![row[0], row[row.len() - 1]]
        };
        picked.into_iter().map(|s| (seats[s].x, seats[s].y))
    });
    convex_hull(points.collect())
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
            assert_eq!(data.seat_of(SeatId(6)), Some(5));
            assert_eq!(data.seat_of(SeatId(99)), None);
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
    fn statuses_change_by_snapshot_and_by_delta_seat_by_seat() {
        owned(|| {
            let data = MapData::new("h".into(), layout());
            let mut all = vec![SeatStatus::Available; 7];
            all[1] = SeatStatus::Sold;
            all[6] = SeatStatus::Held;
            data.set_all(&all);
            data.set_some([(6, SeatStatus::Sold), (2, SeatStatus::Blocked)]);
            all[6] = SeatStatus::Sold;
            all[2] = SeatStatus::Blocked;
            let seen: Vec<SeatStatus> = (0..7).map(|i| data.status_untracked(i)).collect();
            assert_eq!(seen, all);
        })
    }

    #[test]
    fn a_drawn_seat_follows_its_own_status_until_it_is_no_longer_drawn() {
        owned(|| {
            let data = MapData::new("h".into(), layout());
            let seat = data.watch(2);
            let again = data.watch(2);
            data.set_some([(2, SeatStatus::Held)]);
            assert_eq!(seat.get_untracked(), SeatStatus::Held);
            let mut all = vec![SeatStatus::Available; 7];
            all[2] = SeatStatus::Sold;
            data.set_all(&all);
            assert_eq!(again.get_untracked(), SeatStatus::Sold);
            data.unwatch(2);
            data.set_some([(2, SeatStatus::Available)]);
            assert_eq!(
                seat.get_untracked(),
                SeatStatus::Available,
                "still drawn once"
            );
            data.unwatch(2);
            data.set_some([(2, SeatStatus::Held)]);
            assert_eq!(
                seat.get_untracked(),
                SeatStatus::Available,
                "no longer drawn"
            );
        })
    }

    #[test]
    fn a_sections_outline_is_the_hull_of_all_its_seats() {
        owned(|| {
            // Curved rows, as in a bowl: the first row's middle seats and
            // the last row's bulge are on the hull.
            let arc = |label: &str, first: i64, radius: f64| LayoutRow {
                label: label.into(),
                seats: (0..9)
                    .map(|i| {
                        let angle = 0.3 + 0.1 * f64::from(i);
                        LayoutSeat {
                            id: SeatId(first + i64::from(i)),
                            number: i64::from(i) + 1,
                            x: radius * angle.cos(),
                            y: radius * angle.sin(),
                            tier: 0,
                            features: Vec::new(),
                        }
                    })
                    .collect(),
            };
            let mut curved = layout();
            curved.sections[0].rows =
                vec![arc("1", 1, 10.0), arc("2", 10, 10.8), arc("3", 19, 11.6)];
            curved.sections.truncate(1);
            let data = MapData::new("h".into(), curved);
            let every_seat = convex_hull(data.seats.iter().map(|s| (s.x, s.y)).collect());
            assert_eq!(data.sections[0].outline, every_seat);
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
