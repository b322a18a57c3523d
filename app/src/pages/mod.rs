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

use leptos::prelude::Action;

/// An action whose input is sent with one call of the browser client
/// (`client::login`, `client::register`…): the input is cloned for the
/// call, and the action is unsync because the browser's fetch future is not
/// `Send`.
pub fn send_action<I, O>(call: impl AsyncFn(&I) -> O + Copy + 'static) -> Action<I, O>
where
    I: Clone + Send + Sync + 'static,
    O: Send + Sync + 'static,
{
    Action::new_unsync(move |input: &I| {
        let input = input.clone();
        async move { call(&input).await }
    })
}
