//! Admission pace: a token bucket kept in the room's row. Each millisecond
//! adds `admit_per_minute` to the credit and an admission costs 60,000, so
//! the pace is exact over any span whatever the tick interval, and ticks
//! from several servers add nothing: credit is earned from `paced_at`, the
//! time the last tick (on any server) left off.

use super::room::Room;

/// What a tick may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    /// How many to admit now.
    pub admit: i64,
    /// The credit left afterwards.
    pub credit: i64,
}

/// One admission's cost in credit.
const COST: i64 = 60_000;
/// Credit saved up (while the active cap or an empty line held admissions
/// back) is capped at two seconds' worth, at least one admission: a pause
/// or a full house never turns into a burst.
const SAVED_MS: i64 = 2_000;

/// The admissions `room` may make at `now` with `active` shoppers in.
pub fn pace(room: &Room, active: i64, now: i64) -> Pace {
    if room.paused {
        // No credit is earned while paused.
        return Pace {
            admit: 0,
            credit: room.credit,
        };
    }
    let elapsed = (now - room.paced_at).max(0);
    let cap = (room.admit_per_minute * SAVED_MS).max(COST);
    let earned = room
        .credit
        .saturating_add(elapsed.saturating_mul(room.admit_per_minute));
    let in_line = (room.last_position - room.admitted_through).max(0);
    let room_left = (room.max_active - active).max(0);
    let admit = (earned / COST).min(room_left).min(in_line);
    Pace {
        admit,
        credit: (earned - admit * COST).min(cap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(admit_per_minute: i64, max_active: i64, in_line: i64) -> Room {
        Room {
            event_id: 1,
            enabled: true,
            opens_at: 0,
            admit_per_minute,
            max_active,
            admission_ms: 600_000,
            paused: false,
            require_account: false,
            pow_bits: 0,
            seed: String::new(),
            seed_hash: String::new(),
            drawn_at: Some(0),
            drawn_count: in_line,
            last_position: in_line,
            admitted_through: 0,
            credit: 0,
            paced_at: 0,
        }
    }

    /// Ticks every `step` ms for a minute; returns the total admitted.
    fn run_minute(mut room: Room, step: i64) -> i64 {
        let mut now = 0;
        while now < 60_000 {
            now = (now + step).min(60_000);
            let pace = pace(&room, 0, now);
            room.admitted_through += pace.admit;
            room.credit = pace.credit;
            room.paced_at = now;
        }
        room.admitted_through
    }

    #[test]
    fn the_pace_is_the_configured_rate_whatever_the_tick_interval() {
        for step in [7, 250, 1_000, 1_999] {
            let admitted = run_minute(room(600, 10_000, 100_000), step);
            assert!((599..=600).contains(&admitted), "step {step}: {admitted}");
        }
        assert_eq!(run_minute(room(30, 10_000, 100_000), 1_000), 30);
    }

    #[test]
    fn the_active_cap_and_the_line_bound_each_tick() {
        let mut capped = room(6_000, 10, 1_000);
        capped.paced_at = 0;
        assert_eq!(pace(&capped, 4, 5_000).admit, 6);
        assert_eq!(pace(&capped, 10, 5_000).admit, 0);
        assert_eq!(pace(&room(6_000, 100, 3), 0, 5_000).admit, 3);
    }

    #[test]
    fn credit_saved_while_full_is_capped_and_nothing_is_earned_paused() {
        let full = room(600, 10, 1_000);
        let later = pace(&full, 10, 60_000);
        assert_eq!(later.admit, 0);
        assert_eq!(later.credit, 600 * SAVED_MS);
        let mut paused = room(600, 10, 1_000);
        paused.paused = true;
        assert_eq!(pace(&paused, 0, 60_000).admit, 0);
    }
}
