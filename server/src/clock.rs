//! Time as the server keeps it: milliseconds since the Unix epoch (the
//! store's unit), a [`Clock`] tests can move forward, and the two text
//! forms the API speaks (RFC 3339 out; a day or RFC 3339 in).

use app::error::ApiError;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch: the store's unit of time.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// "Now" for the services, in Unix milliseconds: real time in production;
/// tests move it forward to expire holds without sleeping.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> i64 {
        now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Milliseconds since the epoch → RFC 3339 in UTC.
pub fn format_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// `YYYY-MM-DD` (a whole UTC day; `to` includes that day) or RFC 3339.
pub fn parse_date(raw: &str, field: &str, end_of_day: bool) -> Result<i64, ApiError> {
    let invalid = || ApiError::bad_request(format!("{field} must be YYYY-MM-DD or RFC 3339"));
    let instant = if raw.len() == 10 {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = time::Date::parse(raw, &format).map_err(|_| invalid())?;
        let day = if end_of_day {
            date.next_day().ok_or_else(invalid)?
        } else {
            date
        };
        day.midnight().assume_utc()
    } else {
        OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| invalid())?
    };
    i64::try_from(instant.unix_timestamp_nanos() / 1_000_000).map_err(|_| invalid())
}
