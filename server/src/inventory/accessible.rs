//! Accessible seating rules checked before a hold claims anything.
//!
//! A companion seat exists for the person accompanying a wheelchair user:
//! it is sold only together with a wheelchair space in the same hold (and
//! so the same order), or a venue's few companion seats would go to anyone
//! and the wheelchair spaces beside them could not be used by a party.
//!
//! Prices need no check here: an event prices whole sections (one tier per
//! section), so an accessible seat never costs more than the others in its
//! section; `server/tests/accessible_seating.rs` keeps that true.

use app::error::{ApiError, ErrorCode};
use app::layout::SeatFeature;

/// Refuses a hold whose seats include a companion seat but no wheelchair
/// space. `features` are the requested seats' features.
pub fn check_companions(features: &[&[SeatFeature]]) -> Result<(), ApiError> {
    let has = |wanted: SeatFeature| features.iter().any(|seat| seat.contains(&wanted));
    if has(SeatFeature::Companion) && !has(SeatFeature::Wheelchair) {
        return Err(ApiError::new(
            ErrorCode::CompanionSeatAlone,
            "A companion seat is sold only together with a wheelchair space: \
             add the wheelchair space beside it to the same order, or pick another seat.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use SeatFeature::*;

    fn check(seats: &[&[SeatFeature]]) -> Result<(), ApiError> {
        check_companions(seats)
    }

    #[test]
    fn a_companion_seat_needs_a_wheelchair_space_in_the_same_hold() {
        assert!(check(&[&[], &[RestrictedView]]).is_ok());
        assert!(check(&[&[Wheelchair]]).is_ok(), "a wheelchair space alone");
        assert!(check(&[&[Wheelchair], &[Companion]]).is_ok());
        assert!(check(&[&[Companion], &[Companion], &[Wheelchair]]).is_ok());
        let refused = check(&[&[Companion], &[LimitedMobility]]).expect_err("alone");
        assert_eq!(refused.code, ErrorCode::CompanionSeatAlone);
        assert!(refused.message.contains("wheelchair space"));
    }
}
