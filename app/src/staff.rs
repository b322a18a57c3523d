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

/// The most seats one block request changes.
pub const MAX_SEATS_PER_BLOCK: usize = 5_000;

#[cfg(feature = "ssr")]
fn block_seat_ids() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::types::seat_ids_schema(MAX_SEATS_PER_BLOCK).into()
}

/// `staff` or `admin`: the roles an admin creates accounts with.
#[cfg(feature = "ssr")]
fn staff_role() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["staff", "admin"]))
        .into()
}

/// Body of `POST /api/staff/events/{id}/seats/block`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BlockSeatsRequest {
    #[cfg_attr(feature = "ssr", schema(schema_with = block_seat_ids))]
    pub seat_ids: Vec<SeatId>,
    /// `true` takes the seats off sale (a kill); `false` puts them back.
    pub blocked: bool,
}

/// Body of `POST /api/tickets/scan`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    #[cfg_attr(feature = "ssr", schema(max_length = 512))]
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
    #[cfg_attr(feature = "ssr", schema(format = Email, min_length = 3, max_length = 254))]
    pub email: String,
    /// 8 to 128 characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 8, max_length = 128))]
    pub password: String,
    /// 1 to 80 characters, not blank, without control characters.
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 80,
            pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
        )
    )]
    pub display_name: String,
    #[cfg_attr(feature = "ssr", schema(schema_with = staff_role))]
    pub role: Role,
}

/// An account as an admin sees it: the answer of
/// `GET /api/admin/users?email=` and `PATCH /api/admin/users/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// A disabled account cannot sign in, and its sessions have ended.
    pub disabled: bool,
    pub email_confirmed: bool,
}

/// Query of `GET /api/admin/users`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct UserLookup {
    /// The account's email (case does not matter).
    pub email: String,
}

/// Body of `PATCH /api/admin/users/{id}`: only the fields sent change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default)]
    pub role: Option<Role>,
    /// `true` disables the account (its sessions end at once), `false`
    /// enables it again.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// How a venue's seats are laid out, generated into seats with positions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum VenueLayout {
    /// Sections one behind another facing a stage (theatre, hall, club).
    Stage { sections: Vec<StageSection> },
    /// Rings of sections around a pitch (stadium, arena).
    Bowl {
        pitch_length_m: f64,
        pitch_width_m: f64,
        tiers: Vec<BowlTierLayout>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StageSection {
    pub name: String,
    pub rows: u32,
    pub seats_per_row: u32,
    /// Curve the rows so their ends turn towards the stage.
    #[serde(default)]
    pub curved: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BowlTierLayout {
    /// Sections are named prefix + number ("Lower 101", "Lower 102", …).
    pub name_prefix: String,
    pub sections: u32,
    pub rows: u32,
    pub seats_per_row: u32,
}

/// Body of `POST /api/staff/venues`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateVenueRequest {
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 120))]
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 80))]
    pub city: String,
    pub layout: VenueLayout,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedVenue {
    pub venue_id: crate::types::VenueId,
    pub sections: Vec<String>,
    pub seats: i64,
}

pub use crate::types::RefundPolicy;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TierPrice {
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub price_cents: i64,
}

/// Body of `POST /api/staff/events`. Every section of the venue is priced
/// by naming its tier; seats to keep off sale are blocked afterwards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateEventRequest {
    pub venue_id: crate::types::VenueId,
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 120))]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 4000))]
    pub description: String,
    /// RFC 3339.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub starts_at: String,
    /// RFC 3339; on sale at once when absent.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub onsale_at: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 30, maximum = 3600))]
    pub hold_seconds: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 50))]
    pub max_tickets_per_buyer: Option<i64>,
    #[serde(default)]
    pub refund_policy: Option<RefundPolicy>,
    #[cfg_attr(feature = "ssr", schema(min_items = 1))]
    pub tiers: Vec<TierPrice>,
    /// Section name → tier name.
    pub section_tiers: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedEvent {
    pub event_id: EventId,
    pub seats: i64,
}

/// Body of `PATCH /api/staff/events/{id}`: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateEventRequest {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 120))]
    pub name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 4000))]
    pub description: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub starts_at: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub onsale_at: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 30, maximum = 3600))]
    pub hold_seconds: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 50))]
    pub max_tickets_per_buyer: Option<i64>,
    #[serde(default)]
    pub refund_policy: Option<RefundPolicy>,
}
