//! One module per page.

pub mod event;
pub mod home;
pub mod not_found;
