//! Tessera's shared crate: wire types, the page components and the thin
//! server functions. Compiled with `ssr` into the server and with `hydrate`
//! into the browser bundle.

pub mod api;
pub mod card_form;
pub mod client;
pub mod error;
pub mod layout;
pub mod live_socket;
pub mod map_geometry;
pub mod pages;
pub mod queue;
pub mod staff;
pub mod text_enum;
pub mod types;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico"/>
                <AutoReload options=options.clone()/>
                // With `hash-files`, both name the hashed files of the build
                // (so they can be cached for ever); without, the plain names.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// `true` once this component has hydrated in the browser (always `false`
/// during server rendering). Pages expose it as `data-hydrated` on their
/// interactive parts so tests and assistive tools know when they are live.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Tessera — tickets"/>
        <Router>
            <header class="site-header">
                <A href="/" attr:class="brand">"Tessera"</A>
                <span class="tagline">"Pick your seat. Keep it."</span>
                <nav class="site-nav" aria-label="Your account">
                    <A href="/my/tickets">"My tickets"</A>
                    <A href="/account">"Account"</A>
                    <A href="/staff" attr:class="nav-staff">"Staff"</A>
                </nav>
            </header>
            <main>
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/") view=pages::home::HomePage/>
                    // Async: the status (404 for an unknown event) is known before the
                    // first byte is sent.
                    <Route path=path!("/events/:id") view=pages::event::EventPage ssr=SsrMode::Async/>
                    <Route path=path!("/events/:id/queue") view=pages::queue::QueuePage/>
                    <Route path=path!("/checkout/:hold_id") view=pages::checkout::CheckoutPage/>
                    <Route path=path!("/account") view=pages::account::AccountPage/>
                    <Route path=path!("/account/confirm") view=pages::confirm_email::ConfirmEmailPage/>
                    <Route path=path!("/account/reset") view=pages::reset_password::ResetPasswordPage/>
                    <Route path=path!("/purchases/:id") view=pages::purchase::PurchasePage/>
                    <Route path=path!("/my/tickets") view=pages::my_tickets::MyTicketsPage/>
                    // Venue staff (the pages check the role; the server enforces it).
                    <Route path=path!("/staff") view=pages::staff::StaffHomePage/>
                    <Route path=path!("/staff/scan") view=pages::staff::scan::ScanPage/>
                    <Route path=path!("/staff/venues/new") view=pages::staff::venue_form::NewVenuePage/>
                    <Route path=path!("/staff/events/new") view=pages::staff::event_form::NewEventPage/>
                    <Route path=path!("/staff/events/:id") view=pages::staff::dashboard::DashboardPage/>
                    <Route path=path!("/staff/events/:id/edit") view=pages::staff::event_edit::EditEventPage/>
                    <Route path=path!("/staff/accounts") view=pages::staff::accounts::StaffAccountsPage/>
                </Routes>
            </main>
            <footer class="site-footer">"Tessera — open-source ticketing"</footer>
        </Router>
    }
}
