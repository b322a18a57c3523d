//! An event's waiting room as stored: what the admission pace reads and
//! the store writes.

/// An event's waiting room: settings and shared counters.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Room {
    pub event_id: i64,
    pub enabled: bool,
    pub opens_at: i64,
    pub admit_per_minute: i64,
    pub max_active: i64,
    pub admission_ms: i64,
    pub paused: bool,
    pub require_account: bool,
    pub pow_bits: i64,
    pub seed: String,
    pub seed_hash: String,
    pub drawn_at: Option<i64>,
    pub drawn_count: i64,
    pub last_position: i64,
    pub admitted_through: i64,
    pub credit: i64,
    pub paced_at: i64,
}
