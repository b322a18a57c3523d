//! The layout document and the compact live format (see `app::layout`).
//!
//! An event's layout is made once, from the seat map the channel loads,
//! and kept with the channel: its JSON, its binary form for the fans' map
//! (`?format=compact`), each also gzipped, and its hash (SHA-256 of the
//! JSON, lowercase hex, naming both forms) are computed once. The
//! channel's seats are in layout order, so a seat's index in the channel
//! is its seat index.

use app::layout::{
    pack_statuses, status_code, CompactMessage, LayoutRow, LayoutSeat, LayoutSection, LayoutTier,
    SeatLayout, VenueKind,
};
use app::types::{EventId, SeatStatus, SeatView};
use axum::extract::ws::Utf8Bytes;
use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// One event's layout, ready to serve.
#[derive(Debug)]
pub struct LayoutBody {
    /// Lowercase hex SHA-256 of `json`.
    pub hash: String,
    pub json: Bytes,
    pub gzip: Bytes,
    /// [`SeatLayout::to_packed`], plain and gzipped.
    pub packed: Bytes,
    pub packed_gzip: Bytes,
}

impl LayoutBody {
    pub fn new(event_id: EventId, seats: &[SeatView]) -> Self {
        let layout = build_layout(event_id, seats);
        // Serialising plain data structures cannot fail.
        let json = Bytes::from(serde_json::to_vec(&layout).unwrap_or_default());
        let hash = hex(&Sha256::digest(&json));
        let gzip = crate::gzip::gzip(&json, crate::gzip::Compression::best());
        let packed = Bytes::from(layout.to_packed());
        let packed_gzip = crate::gzip::gzip(&packed, crate::gzip::Compression::best());
        Self {
            hash,
            json,
            gzip,
            packed,
            packed_gzip,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sections and rows as consecutive runs of the seats, in their order; a
/// stage venue has every seat in front of the stage (y > 0), a bowl has
/// seats all round its pitch.
pub fn build_layout(event_id: EventId, seats: &[SeatView]) -> SeatLayout {
    let mut tiers: Vec<LayoutTier> = Vec::new();
    let mut sections: Vec<LayoutSection> = Vec::new();
    for seat in seats {
        let tier = match tiers.iter().position(|t| t.name == seat.tier) {
            Some(at) => at,
            None => {
                tiers.push(LayoutTier {
                    name: seat.tier.clone(),
                    price_cents: seat.price_cents,
                });
                tiers.len() - 1
            }
        };
        if sections.last().is_none_or(|s| s.name != seat.section) {
            sections.push(LayoutSection {
                name: seat.section.clone(),
                rows: Vec::new(),
            });
        }
        let Some(section) = sections.last_mut() else {
            continue;
        };
        if section.rows.last().is_none_or(|r| r.label != seat.row) {
            section.rows.push(LayoutRow {
                label: seat.row.clone(),
                seats: Vec::new(),
            });
        }
        if let Some(row) = section.rows.last_mut() {
            row.seats.push(LayoutSeat {
                id: seat.id,
                number: seat.number,
                x: seat.x,
                y: seat.y,
                tier,
                features: seat.features.clone(),
            });
        }
    }
    let kind = if seats.iter().any(|s| s.y < 0.0) {
        VenueKind::Bowl
    } else {
        VenueKind::Stage
    };
    SeatLayout {
        event_id,
        kind,
        tiers,
        sections,
    }
}

/// The compact snapshot of `statuses` (in seat order).
pub fn snapshot_frame(
    version: i64,
    layout_hash: &str,
    statuses: impl ExactSizeIterator<Item = SeatStatus>,
) -> Utf8Bytes {
    let seats = statuses.len();
    let packed = pack_statuses(statuses);
    let message = CompactMessage::Snapshot {
        version,
        layout_hash: layout_hash.to_string(),
        seats,
        status: base64::engine::general_purpose::STANDARD.encode(packed),
    };
    to_frame(&message)
}

/// The compact delta of `changes` as `(seat index, status)`.
pub fn delta_frame(prev_version: i64, version: i64, changes: &[(usize, SeatStatus)]) -> Utf8Bytes {
    let message = CompactMessage::Delta {
        prev_version,
        version,
        changes: changes
            .iter()
            .map(|&(index, status)| (index as u32, status_code(status)))
            .collect(),
    };
    to_frame(&message)
}

fn to_frame(message: &CompactMessage) -> Utf8Bytes {
    // Serialising plain data structures cannot fail.
    Utf8Bytes::from(serde_json::to_string(message).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::layout::{unpack_statuses, SeatFeature};
    use app::types::SeatId;

    fn seat(id: i64, section: &str, row: &str, y: f64) -> SeatView {
        SeatView {
            id: SeatId(id),
            section: section.into(),
            row: row.into(),
            number: id,
            x: id as f64,
            y,
            tier: if section == "A" { "Gold" } else { "Silver" }.into(),
            price_cents: if section == "A" { 9000 } else { 4000 },
            status: SeatStatus::Available,
            features: if id == 3 {
                vec![SeatFeature::Wheelchair]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn the_layout_lists_the_seats_in_their_order_with_sections_rows_and_tiers() {
        let seats = vec![
            seat(1, "A", "1", 2.0),
            seat(2, "A", "1", 2.0),
            seat(3, "A", "2", 3.0),
            seat(4, "B", "1", 5.0),
        ];
        let layout = build_layout(EventId(7), &seats);
        assert_eq!(layout.kind, VenueKind::Stage);
        assert_eq!(layout.seat_count(), 4);
        let order: Vec<(String, String, i64, usize)> = layout
            .seats()
            .map(|(section, row, seat)| {
                (
                    section.name.clone(),
                    row.label.clone(),
                    seat.id.0,
                    seat.tier,
                )
            })
            .collect();
        assert_eq!(
            order,
            vec![
                ("A".into(), "1".into(), 1, 0),
                ("A".into(), "1".into(), 2, 0),
                ("A".into(), "2".into(), 3, 0),
                ("B".into(), "1".into(), 4, 1),
            ]
        );
        assert_eq!(layout.tiers[1].price_cents, 4000);
        let (_, _, wheelchair) = layout.seats().nth(2).expect("seat");
        assert_eq!(wheelchair.features, vec![SeatFeature::Wheelchair]);

        let bowl = build_layout(EventId(7), &[seat(1, "A", "1", -2.0)]);
        assert_eq!(bowl.kind, VenueKind::Bowl);
    }

    #[test]
    fn the_hash_names_the_json_and_the_gzip_holds_it() {
        use std::io::Read;
        let body = LayoutBody::new(EventId(7), &[seat(1, "A", "1", 2.0)]);
        assert_eq!(body.hash, hex(&Sha256::digest(&body.json)));
        assert_eq!(body.hash.len(), 64);
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body.gzip[..])
            .read_to_end(&mut plain)
            .expect("gzip");
        assert_eq!(plain, body.json);
    }

    #[test]
    fn a_compact_snapshot_unpacks_to_the_statuses_it_packed() {
        let statuses = [
            SeatStatus::Sold,
            SeatStatus::Available,
            SeatStatus::Held,
            SeatStatus::Blocked,
            SeatStatus::Held,
        ];
        let frame = snapshot_frame(12, "abc", statuses.iter().copied());
        let message: CompactMessage = serde_json::from_str(&frame).expect("json");
        let CompactMessage::Snapshot {
            version,
            layout_hash,
            seats,
            status,
        } = message
        else {
            panic!("a snapshot")
        };
        assert_eq!((version, layout_hash.as_str(), seats), (12, "abc", 5));
        let packed = base64::engine::general_purpose::STANDARD
            .decode(status)
            .expect("base64");
        assert_eq!(unpack_statuses(&packed, 5).expect("bytes"), statuses);
        let delta = delta_frame(12, 13, &[(4, SeatStatus::Sold)]);
        assert_eq!(
            delta.as_str(),
            r#"{"type":"delta","prev_version":12,"version":13,"changes":[[4,2]]}"#
        );
    }
}
