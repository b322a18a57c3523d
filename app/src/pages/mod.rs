//! One module per page.

pub mod account;
pub mod checkout;
pub mod confirm_email;
pub mod event;
pub mod home;
pub mod my_tickets;
pub mod not_found;
pub mod purchase;
pub mod queue;
pub mod reset_password;
pub mod seat_map;
pub mod sign_in;
pub mod staff;
