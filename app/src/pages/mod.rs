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
use std::future::Future;

/// An action whose work runs in the browser, where the pages dispatch it.
/// The browser client's futures are not `Send`, so there it is an unsync
/// action. The server renders the same components but never dispatches
/// their actions, and an unsync action panics when it is dropped on another
/// thread than the one that made it, as the server's multi-threaded
/// runtime does with a page that awaited data: there it is a `Send` action
/// with nothing to do.
pub fn browser_action<I, O, F, Fu>(work: F) -> Action<I, O>
where
    I: Send + Sync + 'static,
    O: Send + Sync + 'static,
    F: Fn(&I) -> Fu + 'static,
    Fu: Future<Output = O> + 'static,
{
    if cfg!(feature = "hydrate") {
        Action::new_unsync(work)
    } else {
        Action::new(|_: &I| std::future::pending())
    }
}

/// An action whose input is sent with one call of the browser client
/// (`client::login`, `client::register`…): the input is cloned for the
/// call.
pub fn send_action<I, O>(call: impl AsyncFn(&I) -> O + Copy + 'static) -> Action<I, O>
where
    I: Clone + Send + Sync + 'static,
    O: Send + Sync + 'static,
{
    browser_action(move |input: &I| {
        let input = input.clone();
        async move { call(&input).await }
    })
}
