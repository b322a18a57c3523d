//! A venue's geometry apart from its seats' status.
//!
//! Where the seats are never changes during a sale, so it is served once as
//! an immutable, content-hashed document ([`SeatLayout`], `GET
//! /api/events/{id}/layout`) that browsers cache; the live channel then
//! carries only status. Seats are numbered by their place in the layout
//! (sections in order, their rows in order, the rows' seats in order): the
//! *seat index*. The compact live format ([`CompactMessage`]) packs one
//! status per seat index in two bits, so a 50,000-seat stadium's snapshot is
//! 12.5 KB (16.7 KB in base64) instead of megabytes of JSON.
//!
//! Compiled on both sides: the server packs, the browser unpacks, with the
//! same code. The fans' map fetches the layout in a binary form
//! ([`packed`], `?format=compact`); other clients get the JSON.

mod packed;

use crate::types::{EventId, SeatId, SeatStatus};
use serde::{Deserialize, Serialize};

pub use crate::types::SeatFeature;

/// How the venue is arranged, so the overview draws the right thing in the
/// middle: a pitch inside a bowl, or a stage in front of the house.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    /// Rows facing a stage at the top of the plan (every seat has y > 0).
    Stage,
    /// Rings of seats around a pitch centred on the origin.
    Bowl,
}

/// A price tier of the event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LayoutTier {
    pub name: String,
    pub price_cents: i64,
}

/// One seat of the layout. Its seat index is its place in the layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LayoutSeat {
    pub id: SeatId,
    pub number: i64,
    /// Position in metres (y grows away from the stage).
    pub x: f64,
    pub y: f64,
    /// Index into [`SeatLayout::tiers`].
    pub tier: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<SeatFeature>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LayoutRow {
    pub label: String,
    pub seats: Vec<LayoutSeat>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LayoutSection {
    pub name: String,
    pub rows: Vec<LayoutRow>,
}

/// `GET /api/events/{id}/layout`: where every seat of an event is, its tier
/// and features, without status. Immutable for a given hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeatLayout {
    pub event_id: EventId,
    pub kind: VenueKind,
    pub tiers: Vec<LayoutTier>,
    pub sections: Vec<LayoutSection>,
}

impl SeatLayout {
    /// Seats in layout order, with their section and row.
    pub fn seats(&self) -> impl Iterator<Item = (&LayoutSection, &LayoutRow, &LayoutSeat)> {
        self.sections.iter().flat_map(|section| {
            section
                .rows
                .iter()
                .flat_map(move |row| row.seats.iter().map(move |seat| (section, row, seat)))
        })
    }

    pub fn seat_count(&self) -> usize {
        self.sections
            .iter()
            .flat_map(|s| &s.rows)
            .map(|r| r.seats.len())
            .sum()
    }
}

/// The two-bit code of a status in the compact format.
pub fn status_code(status: SeatStatus) -> u8 {
    match status {
        SeatStatus::Available => 0,
        SeatStatus::Held => 1,
        SeatStatus::Sold => 2,
        SeatStatus::Blocked => 3,
    }
}

pub fn status_from_code(code: u8) -> SeatStatus {
    match code & 3 {
        0 => SeatStatus::Available,
        1 => SeatStatus::Held,
        2 => SeatStatus::Sold,
        _ => SeatStatus::Blocked,
    }
}

/// Four seats per byte, seat index `i` in byte `i / 4` at bits `2·(i % 4)`
/// (the lowest bits first).
pub fn pack_statuses(statuses: impl ExactSizeIterator<Item = SeatStatus>) -> Vec<u8> {
    let mut packed = vec![0u8; statuses.len().div_ceil(4)];
    for (i, status) in statuses.enumerate() {
        packed[i / 4] |= status_code(status) << (2 * (i % 4));
    }
    packed
}

/// The statuses of `count` seats from [`pack_statuses`]' bytes, or `None`
/// if there are too few bytes.
pub fn unpack_statuses(packed: &[u8], count: usize) -> Option<Vec<SeatStatus>> {
    if packed.len() < count.div_ceil(4) {
        return None;
    }
    Some(
        (0..count)
            .map(|i| status_from_code(packed[i / 4] >> (2 * (i % 4))))
            .collect(),
    )
}

/// Messages of `GET /api/events/{id}/live?format=compact`: the same
/// snapshot-then-ordered-deltas protocol as [`crate::types::LiveMessage`],
/// with seats named by seat index and status by code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CompactMessage {
    Snapshot {
        version: i64,
        /// The layout the seat indexes refer to (`GET /api/layouts/{hash}`).
        layout_hash: String,
        /// How many seats `status` holds.
        seats: usize,
        /// Base64 (standard, padded) of the packed statuses.
        status: String,
    },
    Delta {
        prev_version: i64,
        version: i64,
        /// `[seat index, status code]` pairs, in the order they happened.
        changes: Vec<(u32, u8)>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_pack_four_to_a_byte_and_unpack_the_same() {
        let statuses: Vec<SeatStatus> = (0..11)
            .map(|i| SeatStatus::ALL[(i * 7 + i / 3) % 4])
            .collect();
        let packed = pack_statuses(statuses.iter().copied());
        assert_eq!(packed.len(), 3);
        // Seat 0 in the lowest bits of the first byte.
        assert_eq!(packed[0] & 3, status_code(statuses[0]));
        assert_eq!(unpack_statuses(&packed, 11), Some(statuses));
        assert_eq!(unpack_statuses(&packed, 13), None, "too few bytes");
    }

    #[test]
    fn every_status_has_its_own_code() {
        for status in SeatStatus::ALL {
            assert_eq!(status_from_code(status_code(status)), status);
        }
    }

    #[test]
    fn features_round_trip_through_their_stored_text() {
        let all = SeatFeature::ALL.to_vec();
        assert_eq!(SeatFeature::parse_list(&SeatFeature::join(&all)), all);
        assert_eq!(SeatFeature::parse_list(""), vec![]);
        assert_eq!(
            SeatFeature::parse_list("companion, wheelchair,unknown"),
            vec![SeatFeature::Companion, SeatFeature::Wheelchair]
        );
    }
}
