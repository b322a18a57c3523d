//! Pages for venue staff: the staff home, the live sales dashboard, gate
//! scanning and the venue and event forms. Roles are enforced by the server;
//! these pages only decide what to show. They ask who is signed in once
//! hydrated and render their content in the browser, so the server never
//! renders staff figures into HTML.

pub mod accounts;
pub mod dashboard;
pub mod event_edit;
pub mod event_form;
pub mod queue_panel;
pub mod scan;
pub mod venue_form;

use crate::client;
use crate::pages::sign_in::SignInForm;
use crate::types::{format_starts_at, MeView, Role};
use leptos::prelude::*;
use leptos_router::components::A;

/// What the signed-in account may see here.
#[derive(Clone, PartialEq)]
enum Access {
    Checking,
    SignedOut,
    NotStaff,
    Staff,
    Failed(String),
}

/// How many upcoming events the staff pages list.
const STAFF_EVENT_LIMIT: u32 = 100;

/// Shows `children` to staff and admins only; everyone else gets a short
/// explanation and none of the content.
#[component]
pub fn StaffGate(children: ChildrenFn) -> impl IntoView {
    let access = RwSignal::new(Access::Checking);
    let hydrated = crate::use_hydrated();
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            access.set(match client::current_account().await {
                Ok(Some(me)) if matches!(me.role, Role::Staff | Role::Admin) => Access::Staff,
                Ok(Some(_)) => Access::NotStaff,
                Ok(None) => Access::SignedOut,
                Err(error) => Access::Failed(error.message),
            });
        });
    });
    let state = move || match access.get() {
        Access::Checking => "checking",
        Access::SignedOut => "signed-out",
        Access::NotStaff => "not-staff",
        Access::Staff => "staff",
        Access::Failed(_) => "failed",
    };
    view! {
        <div class="staff-area" data-hydrated=move || hydrated.get().to_string() data-access=state>
            {move || match access.get() {
                Access::Checking => view! { <p class="loading">"Checking your access…"</p> }.into_any(),
                Access::Staff => children().into_any(),
                Access::SignedOut => view! {
                    <section class="staff-denied" data-testid="staff-denied">
                        <h1>"Venue staff only"</h1>
                        <p>"Sign in with a staff account to use these pages."</p>
                        <SignInForm on_signed_in=move |me: MeView| access.set(
                            if matches!(me.role, Role::Staff | Role::Admin) { Access::Staff } else { Access::NotStaff },
                        )/>
                    </section>
                }.into_any(),
                Access::NotStaff => view! {
                    <section class="staff-denied" data-testid="staff-denied">
                        <h1>"Venue staff only"</h1>
                        <p>"This account is not a staff account. Ask an admin for staff access."</p>
                    </section>
                }.into_any(),
                Access::Failed(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
            }}
        </div>
    }
}

/// `/staff`: events to watch, and the staff tools.
#[component]
pub fn StaffHomePage() -> impl IntoView {
    view! {
        <StaffGate>
            <StaffHome/>
        </StaffGate>
    }
}

#[component]
fn StaffHome() -> impl IntoView {
    // Loaded in the browser only: the server renders "Loading".
    let events = LocalResource::new(|| client::events(STAFF_EVENT_LIMIT));
    view! {
        <section class="staff-home">
            <h1>"Staff"</h1>
            <nav class="staff-tools" aria-label="Staff tools">
                <A href="/staff/scan">"Gate scanning"</A>
                <A href="/staff/venues/new">"New venue"</A>
                <A href="/staff/events/new">"New event"</A>
                <A href="/staff/accounts">"Staff accounts"</A>
            </nav>
            <h2>"Sales dashboards"</h2>
            {move || match events.get() {
                None => view! { <p class="loading">"Loading events…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error.message}</p> }.into_any(),
                Some(Ok(list)) if list.events.is_empty() => view! { <p class="empty">"No upcoming events."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ul class="staff-events" data-testid="staff-events">
                        {list.events.into_iter().map(|event| view! {
                            <li>
                                <a href=format!("/staff/events/{}", event.id)>{event.name}</a>
                                <span class="fine-print">
                                    {format!(" · {}, {} · {}", event.venue, event.city, format_starts_at(&event.starts_at))}
                                </span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

/// Percent-encodes everything but unreserved characters, for a query value.
pub fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            percent_encode("Floor Front\nGallery"),
            "Floor%20Front%0AGallery"
        );
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
    }
}
