//! Wire types of the venue-staff API: sales figures, seat blocking, gate
//! scanning and staff accounts.

use crate::types::{EventId, Role, SeatId};
use serde::{Deserialize, Serialize};

/// One section's seats by status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SectionStats {
    pub section: String,
    pub capacity: i64,
    pub sold: i64,
    pub held: i64,
    pub available: i64,
    pub blocked: i64,
}

/// `GET /api/staff/events/{id}/stats`, and every message of the staff
/// live channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventStats {
    pub event_id: EventId,
    /// The event's seat-change version these figures reflect.
    pub version: i64,
    pub sold: i64,
    pub held: i64,
    pub available: i64,
    pub blocked: i64,
    /// Paid and not refunded.
    pub revenue_cents: i64,
    /// Tickets issued in each of the last 60 minutes, oldest first; the
    /// last entry is the current (partial) minute.
    pub sales_per_minute: Vec<i64>,
    pub sections: Vec<SectionStats>,
}

/// Body of `POST /api/staff/events/{id}/seats/block`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BlockSeatsRequest {
    pub seat_ids: Vec<SeatId>,
    /// `true` takes the seats off sale (a kill); `false` puts them back.
    pub blocked: bool,
}

/// Body of `POST /api/tickets/scan`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    pub code: String,
    /// The event this gate admits to; a ticket for another event is invalid.
    #[serde(default)]
    pub event_id: Option<EventId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScanOutcome {
    /// Admit: the first scan of a genuine, live ticket.
    Valid,
    /// Genuine, but already scanned (see `first_scanned_at`).
    AlreadyUsed,
    /// Forged, refunded, unknown, or for another event.
    Invalid,
}

/// The answer of `POST /api/tickets/scan`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScanResult {
    pub result: ScanOutcome,
    /// Why, in words for the gate staff.
    pub message: String,
    /// RFC 3339, UTC: when the ticket was first admitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_scanned_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    /// "Section · Row · Seat", for a genuine ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
}

/// Body of `POST /api/admin/staff`: an admin creates a staff (or admin) account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateStaffRequest {
    pub email: String,
    pub password: String,
    pub display_name: String,
    pub role: Role,
}
