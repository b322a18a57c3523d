//! The layout as the fans' map fetches it (`?format=compact`): the same
//! content as the JSON document, in [postcard]'s binary form, each row's
//! seats as columns. A stadium's JSON layout is 2.7 MB whose decoding was
//! the largest piece of the map's start in the browser (about 65 ms of a
//! second visit's renderer profile); this form is read without parsing
//! text, and its columns (positions beside positions) compress better.

use super::{LayoutRow, LayoutSeat, LayoutSection, LayoutTier, SeatLayout, VenueKind};
use crate::types::{EventId, SeatFeature, SeatId};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct PackedLayout {
    event_id: EventId,
    kind: VenueKind,
    tiers: Vec<LayoutTier>,
    sections: Vec<PackedSection>,
}

#[derive(Serialize, Deserialize)]
struct PackedSection {
    name: String,
    rows: Vec<PackedRow>,
}

/// A row's seats by column: the n-th seat is the n-th entry of each.
#[derive(Serialize, Deserialize)]
struct PackedRow {
    label: String,
    ids: Vec<SeatId>,
    numbers: Vec<i64>,
    x: Vec<f64>,
    y: Vec<f64>,
    tiers: Vec<usize>,
    /// Few seats have features: `(place in the row, feature)` pairs.
    features: Vec<(u32, SeatFeature)>,
}

impl SeatLayout {
    /// The binary form served with `?format=compact`.
    pub fn to_packed(&self) -> Vec<u8> {
        let packed = PackedLayout {
            event_id: self.event_id,
            kind: self.kind,
            tiers: self.tiers.clone(),
            sections: self.sections.iter().map(pack_section).collect(),
        };
        // Writing plain data into a growing buffer cannot fail.
        postcard::to_allocvec(&packed).unwrap_or_default()
    }

    /// The layout from [`SeatLayout::to_packed`]'s bytes, or `None` if they
    /// are not one (truncated, or a row's columns of different lengths).
    pub fn from_packed(bytes: &[u8]) -> Option<Self> {
        let packed: PackedLayout = postcard::from_bytes(bytes).ok()?;
        Some(Self {
            event_id: packed.event_id,
            kind: packed.kind,
            tiers: packed.tiers,
            sections: packed
                .sections
                .into_iter()
                .map(unpack_section)
                .collect::<Option<_>>()?,
        })
    }
}

fn pack_section(section: &LayoutSection) -> PackedSection {
    PackedSection {
        name: section.name.clone(),
        rows: section.rows.iter().map(pack_row).collect(),
    }
}

fn pack_row(row: &LayoutRow) -> PackedRow {
    PackedRow {
        label: row.label.clone(),
        ids: row.seats.iter().map(|seat| seat.id).collect(),
        numbers: row.seats.iter().map(|seat| seat.number).collect(),
        x: row.seats.iter().map(|seat| seat.x).collect(),
        y: row.seats.iter().map(|seat| seat.y).collect(),
        tiers: row.seats.iter().map(|seat| seat.tier).collect(),
        features: row
            .seats
            .iter()
            .zip(0u32..)
            .flat_map(|(seat, at)| seat.features.iter().map(move |feature| (at, *feature)))
            .collect(),
    }
}

fn unpack_section(section: PackedSection) -> Option<LayoutSection> {
    Some(LayoutSection {
        name: section.name,
        rows: section
            .rows
            .into_iter()
            .map(unpack_row)
            .collect::<Option<_>>()?,
    })
}

fn unpack_row(row: PackedRow) -> Option<LayoutRow> {
    let count = row.ids.len();
    let columns = [row.numbers.len(), row.x.len(), row.y.len(), row.tiers.len()];
    if columns.iter().any(|&len| len != count) {
        return None;
    }
    let mut seats: Vec<LayoutSeat> = (0..count)
        .map(|at| LayoutSeat {
            id: row.ids[at],
            number: row.numbers[at],
            x: row.x[at],
            y: row.y[at],
            tier: row.tiers[at],
            features: Vec::new(),
        })
        .collect();
    for (at, feature) in row.features {
        seats.get_mut(at as usize)?.features.push(feature);
    }
    Some(LayoutRow {
        label: row.label,
        seats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(id: i64, number: i64, x: f64, features: &[SeatFeature]) -> LayoutSeat {
        LayoutSeat {
            id: SeatId(id),
            number,
            x,
            y: -x / 3.0,
            tier: (id % 2) as usize,
            features: features.to_vec(),
        }
    }

    fn venue() -> SeatLayout {
        let row = |label: &str, seats: Vec<LayoutSeat>| LayoutRow {
            label: label.into(),
            seats,
        };
        SeatLayout {
            event_id: EventId(42),
            kind: VenueKind::Stage,
            tiers: vec![
                LayoutTier {
                    name: "Stalls".into(),
                    price_cents: 8_500,
                },
                LayoutTier {
                    name: "Circle".into(),
                    price_cents: 5_000,
                },
            ],
            sections: vec![
                LayoutSection {
                    name: "Stalls".into(),
                    rows: vec![
                        row(
                            "A",
                            vec![
                                seat(1, 1, 0.1, &[SeatFeature::Wheelchair]),
                                seat(
                                    2,
                                    2,
                                    1.7,
                                    &[SeatFeature::Companion, SeatFeature::RestrictedView],
                                ),
                                seat(3, 3, 2.35, &[]),
                            ],
                        ),
                        row("B", vec![]),
                    ],
                },
                LayoutSection {
                    name: "Circle".into(),
                    rows: vec![row(
                        "AA",
                        vec![seat(9_000_001, 12, -48.2, &[SeatFeature::LimitedMobility])],
                    )],
                },
                LayoutSection {
                    name: "Empty".into(),
                    rows: vec![],
                },
            ],
        }
    }

    #[test]
    fn a_layout_unpacks_to_what_was_packed() {
        let layout = venue();
        assert_eq!(SeatLayout::from_packed(&layout.to_packed()), Some(layout));
    }

    #[test]
    fn bytes_that_are_not_a_whole_layout_are_refused() {
        let packed = venue().to_packed();
        assert_eq!(SeatLayout::from_packed(&packed[..packed.len() - 1]), None);
        assert_eq!(SeatLayout::from_packed(b"{\"event_id\":42}"), None);
    }

    #[test]
    fn a_row_whose_columns_disagree_is_refused() {
        let mut packed: PackedLayout = postcard::from_bytes(&venue().to_packed()).expect("packed");
        packed.sections[0].rows[0].x.pop();
        let bytes = postcard::to_allocvec(&packed).expect("bytes");
        assert_eq!(SeatLayout::from_packed(&bytes), None);

        let mut packed: PackedLayout = postcard::from_bytes(&venue().to_packed()).expect("packed");
        packed.sections[0].rows[0]
            .features
            .push((3, SeatFeature::Wheelchair));
        let bytes = postcard::to_allocvec(&packed).expect("bytes");
        assert_eq!(
            SeatLayout::from_packed(&bytes),
            None,
            "a feature past the row's end"
        );
    }
}
