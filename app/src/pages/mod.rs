//! One module per page.

pub mod checkout;
pub mod event;
pub mod home;
pub mod not_found;
pub mod seat_map;
pub mod staff;
