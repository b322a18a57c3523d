//! The live channel's message formats, as a viewer asks for and reads them.
//! Everything a viewer needs to know about a format is here, so a new
//! format is one more variant.

use app::types::{EventId, LiveMessage};
use clap::ValueEnum;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveFormat {
    /// `GET /api/events/{id}/live`: one JSON object per seat.
    Json,
    /// `GET /api/events/{id}/live?format=compact`: statuses packed per
    /// seat in layout order.
    Compact,
}

const LAYOUT_FIELD: &[u8] = br#""layout_hash""#;

impl LiveFormat {
    /// Path and query of the live channel in this format.
    pub fn path(self, event: EventId) -> String {
        match self {
            Self::Json => format!("/api/events/{event}/live"),
            Self::Compact => format!("/api/events/{event}/live?format=compact"),
        }
    }

    /// Why a refused upgrade may have been refused, for the error message.
    pub fn refusal_hint(self) -> &'static str {
        match self {
            Self::Json => "",
            Self::Compact => {
                " (a server without the compact live format answers 404 or \
                 JSON: try --live-format json)"
            }
        }
    }

    /// Whether loadgen can read this format's messages, which measuring
    /// the delay of deltas needs. The compact layout is the server's to
    /// define; until loadgen decodes it, compact viewers count frames and
    /// bytes only.
    pub fn decodable(self) -> bool {
        matches!(self, Self::Json)
    }

    /// Whether a message starting with `prefix` is a snapshot, in either
    /// format: both tag their messages alike (`{"type":"snapshot",…`).
    /// Counting viewers look no further than this.
    pub fn is_snapshot(prefix: &[u8]) -> bool {
        prefix.starts_with(br#"{"type":"snapshot""#)
    }

    /// Refuses a channel that answered in another format than asked: a
    /// server without the compact format may ignore `?format=compact` and
    /// send JSON, which must not be reported as compact. Only the compact
    /// snapshot names its layout, right after the version.
    pub fn check_served(self, first_message: &[u8]) -> Result<(), String> {
        let names_layout = first_message
            .windows(LAYOUT_FIELD.len())
            .any(|window| window == LAYOUT_FIELD);
        match self {
            Self::Compact if !names_layout => {
                Err("the server sent JSON messages: it does not offer the compact format".into())
            }
            _ => Ok(()),
        }
    }

    /// How many bytes [`Self::is_snapshot`] and [`Self::check_served`]
    /// need: `{"type":"snapshot","version":` with up to 19 digits, then
    /// the compact snapshot's `,"layout_hash"`.
    pub const SNAPSHOT_PREFIX: usize = 64;

    /// A whole message, for a measuring viewer (decodable formats only).
    pub fn decode(self, message: &[u8]) -> Result<LiveMessage, String> {
        match self {
            Self::Json => serde_json::from_slice(message).map_err(|e| e.to_string()),
            Self::Compact => Err("compact messages are not decoded by loadgen".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_has_its_path_and_json_is_read_typed() {
        assert_eq!(LiveFormat::Json.path(EventId(5)), "/api/events/5/live");
        assert_eq!(
            LiveFormat::Compact.path(EventId(5)),
            "/api/events/5/live?format=compact"
        );
        let snapshot = br#"{"type":"snapshot","version":3,"seats":[]}"#;
        assert!(LiveFormat::is_snapshot(snapshot));
        assert!(!LiveFormat::is_snapshot(
            br#"{"type":"delta","prev_version":1"#
        ));
        assert_eq!(
            LiveFormat::Json.decode(snapshot),
            Ok(LiveMessage::Snapshot {
                version: 3,
                seats: vec![]
            })
        );
        assert!(LiveFormat::Json.decode(br#"{"type":"gossip"}"#).is_err());
        assert!(!LiveFormat::Compact.decodable());
        assert!(LiveFormat::Compact.check_served(snapshot).is_err());
        assert!(LiveFormat::Json.check_served(snapshot).is_ok());
    }

    #[test]
    fn a_compact_snapshot_is_told_apart_from_its_first_bytes() {
        // The server's own message type, with the largest version there is.
        let message = app::layout::CompactMessage::Snapshot {
            version: i64::MAX,
            layout_hash: "ab".repeat(32),
            seats: 50_000,
            status: "AAAA".into(),
        };
        let frame = serde_json::to_vec(&message).expect("serialises");
        let prefix = &frame[..LiveFormat::SNAPSHOT_PREFIX];
        assert_eq!(LiveFormat::Compact.check_served(prefix), Ok(()));
        assert!(LiveFormat::is_snapshot(prefix));
        let delta = br#"{"type":"delta","prev_version":1,"version":2,"changes":[]}"#;
        assert!(!LiveFormat::is_snapshot(delta));
    }
}
