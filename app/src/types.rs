//! Wire types shared by the server, the pages and the browser: one definition,
//! compiled on both sides, so a field rename breaks the build instead of a page.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address as the server accepts it: the HTML standard's "valid
/// email address" (what `<input type=email>` accepts) with the local part a
/// dot-atom (RFC 5322: no dot at either end or twice in a row) of at most
/// 64 characters (RFC 5321) and a dot in the domain. Leading and trailing spaces are trimmed first. The OpenAPI
/// document gives it as the `pattern` of every `format: email` field.
pub const EMAIL_PATTERN: &str = r"^(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(value_type = i64))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// Parses an id from a URL segment; anything but a positive integer is rejected.
            pub fn parse(raw: &str) -> Option<Self> {
                raw.parse::<i64>().ok().filter(|id| *id > 0).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An event (one performance at one venue).
    EventId
);
id_type!(
    /// A venue.
    VenueId
);
id_type!(
    /// One sellable seat of one event.
    SeatId
);
id_type!(
    /// A hold: seats reserved for one buyer for a few minutes.
    HoldId
);
id_type!(
    /// A purchase: one payment for one hold's seats.
    PurchaseId
);
id_type!(
    /// A ticket: one seat of one purchase.
    TicketId
);

/// A seat's state in the seat state machine (see `docs/architecture.md`).
/// Stored as the same snake_case text in the database and on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SeatStatus {
    Available,
    Held,
    Sold,
    Blocked,
}

crate::text_enum!(SeatStatus {
    Available => "available",
    Held => "held",
    Sold => "sold",
    Blocked => "blocked",
});

/// One row of the upcoming-events list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventSummary {
    pub id: EventId,
    pub name: String,
    pub venue: String,
    pub city: String,
    /// RFC 3339, UTC.
    pub starts_at: String,
    pub min_price_cents: i64,
    pub seats_available: i64,
}

/// A page of the upcoming-events list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventList {
    pub events: Vec<EventSummary>,
    /// Opaque; pass back as `cursor` for the next page. `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Filters for the upcoming-events list. Dates are `YYYY-MM-DD` (UTC days) or
/// full RFC 3339 timestamps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct EventQuery {
    /// Words of the event's name, venue or city.
    #[cfg_attr(feature = "ssr", param(max_length = 200))]
    pub q: Option<String>,
    /// The first day (or instant) to list; the past is never listed.
    #[cfg_attr(feature = "ssr", param(schema_with = date_or_date_time))]
    pub from: Option<String>,
    /// The last day (included) or instant to list.
    #[cfg_attr(feature = "ssr", param(schema_with = date_or_date_time))]
    pub to: Option<String>,
    /// Events per page, 1 to 100 (20 by default).
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 100))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[cfg_attr(
        feature = "ssr",
        param(pattern = r"^([0-9a-f]{1,12}\.[0-9a-f]{1,12})?(?!\n)$")
    )]
    pub cursor: Option<String>,
}

/// `YYYY-MM-DD` or an RFC 3339 timestamp.
#[cfg(feature = "ssr")]
fn date_or_date_time() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let string = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    AnyOfBuilder::new()
        .item(string(KnownFormat::Date))
        .item(string(KnownFormat::DateTime))
        .into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VenueRef {
    pub id: VenueId,
    pub name: String,
    pub city: String,
}

/// A price tier of an event, with how many of its seats can still be bought.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TierView {
    pub tier: String,
    pub price_cents: i64,
    pub seats_available: i64,
}

/// A section of the venue as an event sells it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SectionView {
    pub name: String,
    pub seats_total: i64,
    pub seats_available: i64,
    pub min_price_cents: i64,
}

/// Everything the event page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventDetail {
    pub id: EventId,
    pub name: String,
    pub description: String,
    /// RFC 3339, UTC.
    pub starts_at: String,
    pub venue: VenueRef,
    pub hold_seconds: i64,
    pub max_tickets_per_buyer: i64,
    /// Holds need an admission from the event's waiting room
    /// (`/api/events/{id}/queue`).
    #[serde(default)]
    pub waiting_room: bool,
    /// Whether buyers may refund, shown before they pay.
    pub refund_policy: RefundPolicy,
    pub tiers: Vec<TierView>,
    pub sections: Vec<SectionView>,
    pub seats_total: i64,
    pub seats_available: i64,
}

/// An accessibility attribute of a seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SeatFeature {
    /// A space for a wheelchair (no fixed seat).
    Wheelchair,
    /// The seat beside a wheelchair space, for the person accompanying its
    /// user: sold only together with a wheelchair space.
    Companion,
    /// Step-free or near an entrance, for people who cannot climb far.
    LimitedMobility,
    /// Part of the stage or pitch is hidden from this seat.
    RestrictedView,
}

crate::text_enum!(SeatFeature {
    Wheelchair => "wheelchair",
    Companion => "companion",
    LimitedMobility => "limited_mobility",
    RestrictedView => "restricted_view",
});

impl SeatFeature {
    /// How a page names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Wheelchair => "wheelchair space",
            Self::Companion => "companion seat",
            Self::LimitedMobility => "limited mobility",
            Self::RestrictedView => "restricted view",
        }
    }

    /// Wheelchair spaces and companion seats: chosen by those who need
    /// them, never handed out by "best available".
    pub fn is_reserved_for_access(self) -> bool {
        matches!(self, Self::Wheelchair | Self::Companion)
    }

    /// The database keeps a seat's features as comma-separated names;
    /// unknown names are skipped.
    pub fn parse_list(raw: &str) -> Vec<Self> {
        raw.split(',')
            .filter_map(|name| Self::parse(name.trim()))
            .collect()
    }

    pub fn join(features: &[Self]) -> String {
        features
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Whether buyers may refund their own purchases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RefundPolicy {
    /// Buyers may refund until the event starts.
    UntilStart,
    /// No self-service refunds.
    None,
}

crate::text_enum!(RefundPolicy {
    UntilStart => "until_start",
    None => "none",
});

impl RefundPolicy {
    /// The policy in a sentence, for the checkout and the ticket email.
    pub fn describe(self) -> &'static str {
        match self {
            Self::UntilStart => {
                "Refunds: in full, to the card you paid with, until the event starts. Refund \
                 from your tickets page; a ticket already scanned at the gate cannot be refunded."
            }
            Self::None => "Refunds: none. Every sale is final.",
        }
    }
}

/// One seat as the seat map draws it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeatView {
    pub id: SeatId,
    pub section: String,
    pub row: String,
    pub number: i64,
    pub x: f64,
    pub y: f64,
    pub tier: String,
    pub price_cents: i64,
    pub status: SeatStatus,
    /// Accessibility attributes (wheelchair space, companion seat, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<SeatFeature>,
}

/// All seats of an event at one version of its change log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeatMap {
    pub version: i64,
    pub seats: Vec<SeatView>,
}

/// The most seats one hold (or one best-available request) takes.
pub const MAX_SEATS_PER_HOLD: usize = 50;

/// What to hold: explicit seats, or the best N available together (exactly
/// one of the two; its schema says so with `oneOf`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    #[serde(default)]
    pub seat_ids: Option<Vec<SeatId>>,
    #[serde(default)]
    pub best_available: Option<BestAvailable>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BestAvailable {
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 50))]
    pub count: i64,
    #[serde(default)]
    pub section: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub max_price_cents: Option<i64>,
}

/// 1 to `max` distinct seat ids.
#[cfg(feature = "ssr")]
pub fn seat_ids_schema(max: usize) -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("SeatId"))
        .min_items(Some(1))
        .max_items(Some(max))
        .unique_items(true)
}

#[cfg(feature = "ssr")]
mod hold_request_schema {
    use super::{HoldRequest, MAX_SEATS_PER_HOLD};
    use utoipa::openapi::schema::{
        AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type,
    };
    use utoipa::openapi::{Ref, RefOr};

    /// `{"seat_ids": […]}` or `{"best_available": {…}}`; the other field
    /// may be sent as `null`.
    impl utoipa::PartialSchema for HoldRequest {
        fn schema() -> RefOr<Schema> {
            let null = || ObjectBuilder::new().schema_type(Type::Null);
            let seats = super::seat_ids_schema(MAX_SEATS_PER_HOLD)
                .description(Some("distinct seats, all held or none"));
            let by_seats = ObjectBuilder::new()
                .title(Some("SeatIds"))
                .property("seat_ids", seats)
                .property("best_available", null())
                .required("seat_ids")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            let by_best = ObjectBuilder::new()
                .title(Some("BestAvailableSeats"))
                .property("best_available", Ref::from_schema_name("BestAvailable"))
                .property("seat_ids", null())
                .required("best_available")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            OneOfBuilder::new()
                .item(by_seats)
                .item(by_best)
                .description(Some(
                    "What to hold: explicit seats, or the best N available together.",
                ))
                .into()
        }
    }

    impl utoipa::ToSchema for HoldRequest {
        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            schemas.push((
                "BestAvailable".into(),
                <super::BestAvailable as utoipa::PartialSchema>::schema(),
            ));
            super::BestAvailable::schemas(schemas);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Active,
    Expired,
    Released,
    Purchased,
}

crate::text_enum!(HoldStatus {
    Active => "active",
    Expired => "expired",
    Released => "released",
    Purchased => "purchased",
});

/// A hold as its buyer sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HoldView {
    pub hold_id: HoldId,
    pub event_id: EventId,
    pub status: HoldStatus,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// Milliseconds left before the hold expires (0 once it has).
    pub expires_in_ms: i64,
    pub seats: Vec<SeatView>,
    pub total_cents: i64,
    /// How many more times the buyer may extend it (`POST
    /// /api/holds/{id}/extend`): 1, or 0 once used or when it is not active.
    #[serde(default)]
    pub extensions_left: i64,
}

/// How the buyer pays: a processor token from its card form, the payment
/// method saved on their account, or (`element: true`) the processor's card
/// form on the checkout page, confirmed in the browser.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentChoice {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub token: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub saved: Option<bool>,
    /// Pay in the processor's card form (Stripe's Payment Element): the
    /// answer is `202` with the payment's `client_secret` for Stripe.js to
    /// confirm; the same request again (same `Idempotency-Key`) then
    /// finishes the purchase. Only where a publishable key is configured.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub element: Option<bool>,
}

/// A field that may be left out but, when given, has its type: `null` is
/// refused, as the API's document says (a string or a boolean, not null).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The shape of a processor's payment token (`tok_…`, `pm_…`, `card_…`,
/// `cus_…`): runs of at most 12 digits, as a processor's ids have, so that a
/// token never reads as a card number. (`(?!\n)` because in some regex
/// dialects, Python's among them, `$` also matches before a final newline.)
pub const PAYMENT_TOKEN_PATTERN: &str =
    "^(tok|pm|card|cus)_[A-Za-z_]*([0-9]{1,12}[A-Za-z_]+)*([0-9]{1,12}|[A-Za-z_])(?!\\n)$";

#[cfg(feature = "ssr")]
mod payment_choice_schema {
    use super::{PaymentChoice, PAYMENT_TOKEN_PATTERN};
    use utoipa::openapi::schema::{
        AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type,
    };
    use utoipa::openapi::RefOr;

    /// `{"token": "tok_…"}` or `{"saved": true}` (the account's saved card).
    impl utoipa::PartialSchema for PaymentChoice {
        fn schema() -> RefOr<Schema> {
            let token = ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(PAYMENT_TOKEN_PATTERN))
                .max_length(Some(255))
                .description(Some("a token from the processor's card form"));
            let by_token = ObjectBuilder::new()
                .title(Some("Token"))
                .property("token", token)
                .property("saved", boolean_that_is(false))
                .required("token")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            let by_saved = only_flag("SavedCard", "saved");
            let by_element = only_flag("CardForm", "element");
            OneOfBuilder::new()
                .item(by_token)
                .item(by_saved)
                .item(by_element)
                .description(Some(
                    "How to pay: a processor token, the card saved on the signed-in account, \
                     or the processor's card form confirmed in the browser (202 with a \
                     client_secret, then the same request again).",
                ))
                .into()
        }
    }

    /// `{"<name>": true}` and nothing else.
    fn only_flag(title: &str, name: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .title(Some(title))
            .property(name, boolean_that_is(true))
            .required(name)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
    }

    fn boolean_that_is(value: bool) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .enum_values(Some([value]))
    }

    impl utoipa::ToSchema for PaymentChoice {}
}

/// Answer of `GET /api/payments/config`: how the checkout page takes cards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PaymentConfig {
    /// Set when the processor's card form is used: pay with
    /// `payment: {"element": true}` and confirm with Stripe.js.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_form: Option<CardFormConfig>,
}

/// What the browser loads the processor's card form with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CardFormConfig {
    pub publishable_key: String,
    /// Stripe.js.
    pub js_url: String,
}

/// Body of `POST /api/holds/{id}/purchase` (with an `Idempotency-Key` header).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    #[cfg_attr(feature = "ssr", schema(format = Email, min_length = 3, max_length = 254))]
    pub email: String,
    pub payment: PaymentChoice,
    #[serde(default)]
    pub save_payment_method: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PurchaseStatus {
    Pending,
    Paid,
    Failed,
    /// The refund is decided (its tickets no longer admit anyone) and the
    /// payment processor has not confirmed it yet.
    Refunding,
    Refunded,
}

crate::text_enum!(PurchaseStatus {
    Pending => "pending",
    Paid => "paid",
    Failed => "failed",
    Refunding => "refunding",
    Refunded => "refunded",
});

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Valid,
    Used,
    Refunded,
}

crate::text_enum!(TicketStatus {
    Valid => "valid",
    Used => "used",
    Refunded => "refunded",
});

impl TicketStatus {
    /// How the ticket pages name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Valid => "Valid",
            Self::Used => "Used",
            Self::Refunded => "Refunded",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TicketView {
    pub id: TicketId,
    pub seat_id: SeatId,
    pub section: String,
    pub row: String,
    pub number: i64,
    pub price_cents: i64,
    pub status: TicketStatus,
    /// What the gate scans.
    pub code: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PurchaseView {
    pub purchase_id: PurchaseId,
    pub event_id: EventId,
    pub hold_id: HoldId,
    pub status: PurchaseStatus,
    pub total_cents: i64,
    pub tickets: Vec<TicketView>,
    /// While a card-form payment waits for the browser (`202`): what
    /// Stripe.js confirms it with. Never stored by Tessera; only the
    /// purchase request's answer carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// One seat's new status in a live delta.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeatChange {
    pub seat_id: SeatId,
    pub status: SeatStatus,
}

/// Messages of the live seat-map channel (`GET /api/events/{id}/live`).
/// A viewer first gets a `snapshot`, then `delta`s in version order; a delta
/// whose `prev_version` is not the version the viewer has means a gap, and
/// the viewer should reconnect (the server sends a fresh snapshot itself
/// when it notices a viewer fell behind).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    Snapshot {
        version: i64,
        seats: Vec<SeatView>,
    },
    Delta {
        prev_version: i64,
        version: i64,
        changes: Vec<SeatChange>,
    },
}

/// `1896000` → `"$18,960.00"`: the one money formatter, for prices, totals
/// and the staff figures alike. Integer arithmetic only: money is never a float.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!(
        "{sign}${}.{:02}",
        format_count((abs / 100) as i64),
        abs % 100
    )
}

/// `12345` → `"12,345"`.
pub fn format_count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `"2026-12-12T19:30:00Z"` → `"Sat 12 Dec 2026 · 19:30 UTC"`, without a date
/// library in the browser bundle. Falls back to the raw text if it is not RFC 3339.
pub fn format_starts_at(rfc3339: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parse = || -> Option<String> {
        let year: i64 = rfc3339.get(0..4)?.parse().ok()?;
        let month: usize = rfc3339.get(5..7)?.parse().ok()?;
        let day: i64 = rfc3339.get(8..10)?.parse().ok()?;
        let time = rfc3339.get(11..16)?;
        let month_name = MONTHS.get(month.checked_sub(1)?)?;
        let weekday = weekday_name(year, month as i64, day);
        Some(format!("{weekday} {day} {month_name} {year} · {time} UTC"))
    };
    parse().unwrap_or_else(|| rfc3339.to_string())
}

/// Day of the week by Sakamoto's method (Gregorian calendar).
fn weekday_name(year: i64, month: i64, day: i64) -> &'static str {
    const OFFSETS: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let y = if month < 3 { year - 1 } else { year };
    let index = (y + y / 4 - y / 100 + y / 400 + OFFSETS[(month - 1) as usize] + day) % 7;
    NAMES[index as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_fields_may_be_left_out_but_not_null() {
        let choice: PaymentChoice =
            serde_json::from_str(r#"{"token": "tok_visa"}"#).expect("a token payment");
        assert_eq!(
            (choice.token.as_deref(), choice.saved),
            (Some("tok_visa"), None)
        );
        for body in [
            r#"{"token": "tok_visa", "saved": null}"#,
            r#"{"token": null, "saved": true}"#,
        ] {
            assert!(
                serde_json::from_str::<PaymentChoice>(body).is_err(),
                "{body}"
            );
        }
        // What the browser sends for a token payment is accepted back.
        let sent = serde_json::to_string(&choice).expect("serialised");
        assert_eq!(sent, r#"{"token":"tok_visa"}"#);
    }

    #[test]
    fn money_is_formatted_from_integer_cents() {
        assert_eq!(format_cents(12345), "$123.45");
        assert_eq!(format_cents(5), "$0.05");
        assert_eq!(format_cents(-250), "-$2.50");
        assert_eq!(format_cents(1896000), "$18,960.00");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(50000), "50,000");
        assert_eq!(format_count(-1234567), "-1,234,567");
    }

    #[test]
    fn event_times_are_formatted_with_the_right_weekday() {
        assert_eq!(
            format_starts_at("2026-11-28T19:30:00Z"),
            "Sat 28 Nov 2026 · 19:30 UTC"
        );
        assert_eq!(
            format_starts_at("2027-01-01T00:00:00Z"),
            "Fri 1 Jan 2027 · 00:00 UTC"
        );
        assert_eq!(format_starts_at("garbage"), "garbage");
    }

    #[test]
    fn ids_reject_anything_but_positive_integers() {
        assert_eq!(EventId::parse("42"), Some(EventId(42)));
        for bad in ["0", "-1", "abc", "", "1.5", "99999999999999999999"] {
            assert_eq!(EventId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn seat_status_round_trips_through_its_text() {
        for status in SeatStatus::ALL {
            assert_eq!(SeatStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(SeatStatus::parse("gone"), None);
    }
}

/// Body of `POST /api/auth/register`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
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
}

/// Body of `POST /api/auth/login`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Body of `POST /api/auth/confirm`: the token from the confirmation (or
/// claim) email. From a browser not signed in to the token's account,
/// `new_password` is required: confirming then makes it the account's
/// password, signs out every other session of the account and signs this
/// browser in, so whoever proves the mailbox ends up holding the account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmailRequest {
    pub token: String,
    /// 8 to 128 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(min_length = 8, max_length = 128))]
    pub new_password: Option<String>,
}

/// Body of `POST /api/auth/password-reset`: mail a reset link to this
/// address, if it has an account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[cfg_attr(feature = "ssr", schema(format = Email, min_length = 3, max_length = 254))]
    pub email: String,
}

/// Body of `POST /api/auth/password-reset/confirm`: the token from the
/// emailed link and the new password.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    /// 32 hexadecimal characters.
    #[cfg_attr(feature = "ssr", schema(pattern = "^[0-9a-fA-F]{32}$"))]
    pub token: String,
    /// 8 to 128 characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 8, max_length = 128))]
    pub new_password: String,
}

/// Answer of `POST /api/auth/register` (202) for an email whose account
/// was registered but never confirmed: a link to claim it was mailed to the
/// address. Nothing else changed and nobody was signed in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClaimLinkSent {
    pub email: String,
    pub claim_link_sent: bool,
}

/// Body of `PUT /api/me/payment-method`: a token from the processor's card form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SavePaymentMethodRequest {
    #[cfg_attr(
        feature = "ssr",
        schema(
            pattern = "^(tok|pm|card|cus)_[A-Za-z_]*([0-9]{1,12}[A-Za-z_]+)*([0-9]{1,12}|[A-Za-z_])(?!\\n)$",
            max_length = 255
        )
    )]
    pub token: String,
}

/// Body of `POST /api/me/password`. `Debug` never shows the passwords.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 to 128 characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 8, max_length = 128))]
    pub new_password: String,
}

impl std::fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangePasswordRequest { .. }")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Fan,
    Staff,
    Admin,
}

crate::text_enum!(Role {
    Fan => "fan",
    Staff => "staff",
    Admin => "admin",
});

/// A saved card as its owner sees it: never more than brand and last four.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SavedCardView {
    pub brand: String,
    pub last4: String,
}

impl SavedCardView {
    /// `"visa •••• 4242"`: how pages name a saved card.
    pub fn label(&self) -> String {
        format!("{} •••• {}", self.brand, self.last4)
    }
}

/// `GET /api/me`: the signed-in account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MeView {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub email_confirmed: bool,
    pub payment_method: Option<SavedCardView>,
}

/// One ticket on "My tickets".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MyTicket {
    pub ticket_id: TicketId,
    pub purchase_id: PurchaseId,
    pub event_id: EventId,
    pub event_name: String,
    pub venue: String,
    pub city: String,
    /// RFC 3339, UTC.
    pub starts_at: String,
    pub section: String,
    pub row: String,
    pub number: i64,
    pub price_cents: i64,
    pub status: TicketStatus,
    /// The signed code the gate scans (also drawn as a QR code).
    pub code: String,
    /// Whether the purchase can still be refunded by its owner.
    pub refundable: bool,
}

/// `GET /api/me/tickets`: soonest upcoming first, then the past, latest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MyTicketsView {
    pub upcoming: Vec<MyTicket>,
    pub past: Vec<MyTicket>,
}
