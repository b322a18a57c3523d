//! Event page: details, venue, price tiers and what is still available.

use crate::api::load_event;
use crate::error::ApiError;
use crate::pages::seat_map::SeatPicker;
use crate::types::{format_cents, format_starts_at, EventDetail, EventId};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn EventPage() -> impl IntoView {
    let params = use_params_map();
    let event_id = move || params.read().get("id").and_then(|raw| EventId::parse(&raw));
    let detail = Resource::new(event_id, |id| async move {
        match id {
            Some(id) => load_event(id).await,
            None => Err(ApiError::not_found("no such event")),
        }
    });

    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading event…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(event) => view! { <EventDetails event/> }.into_any(),
                    Err(error) => {
                        #[cfg(feature = "ssr")]
                        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                            if let Ok(status) = http::StatusCode::from_u16(error.code.http_status()) {
                                response.set_status(status);
                            }
                        }
                        view! {
                            <section class="not-found">
                                <h1>"Event not available"</h1>
                                <p role="alert">{error.message}</p>
                                <p><a href="/">"See upcoming events"</a></p>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// The map comes first, on every screen: the name and date above it,
/// prices, sections and the description below it.
#[component]
fn EventDetails(event: EventDetail) -> impl IntoView {
    let max_tickets = event.max_tickets_per_buyer.max(1);
    let hold_minutes = event.hold_seconds / 60;

    view! {
        <Title text=format!("{} — Tessera", event.name)/>
        <article class="event">
            <header class="event-header">
                <h1>{event.name.clone()}</h1>
                <p class="when-where">
                    <span class="when">{format_starts_at(&event.starts_at)}</span>
                    " · "
                    <span class="where">{event.venue.name.clone()}", "{event.venue.city.clone()}</span>
                </p>
                <p class="availability" data-testid="seats-available">
                    {event.seats_available}" of "{event.seats_total}" seats available · up to "
                    {max_tickets}" per buyer, held "{hold_minutes}" minutes while you pay"
                </p>
            </header>
            <crate::pages::queue::QueueNotice event_id=event.id waiting_room=event.waiting_room/>
            <SeatPicker event_id=event.id max_tickets/>
            <EventFacts event/>
        </article>
    }
}

/// Prices, sections and the description, below the map.
#[component]
fn EventFacts(event: EventDetail) -> impl IntoView {
    view! {
        <section class="event-facts" aria-label="About this event">
            <p class="description">{event.description.clone()}</p>
            <div class="facts">
                <div>
                    <h2>"Prices"</h2>
                    <table class="tiers">
                        <thead><tr><th>"Tier"</th><th>"Price"</th><th>"Available"</th></tr></thead>
                        <tbody>
                            {event.tiers.iter().map(|tier| view! {
                                <tr>
                                    <td>{tier.tier.clone()}</td>
                                    <td>{format_cents(tier.price_cents)}</td>
                                    <td>{tier.seats_available}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <details class="sections-details">
                    <summary>{format!("Sections ({})", event.sections.len())}</summary>
                    <ul class="sections">
                        {event.sections.iter().map(|section| view! {
                            <li>
                                <strong>{section.name.clone()}</strong>
                                " — "{section.seats_available}" / "{section.seats_total}" available, from "
                                {format_cents(section.min_price_cents)}
                            </li>
                        }).collect_view()}
                    </ul>
                </details>
            </div>
        </section>
    }
}
