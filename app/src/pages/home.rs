//! Home: upcoming events, searchable by text and date range. The server
//! caches the unfiltered page (see `server::home_cache`), so an onsale flood
//! on the front door does not re-render it per request.

use crate::api::load_events;
use crate::types::{format_cents, format_starts_at, EventQuery, EventSummary};
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

#[component]
pub fn HomePage() -> impl IntoView {
    let query_map = use_query_map();
    let query = move || {
        let params = query_map.read();
        let non_empty = |key: &str| params.get(key).filter(|v| !v.trim().is_empty());
        EventQuery {
            q: non_empty("q"),
            from: non_empty("from"),
            to: non_empty("to"),
            limit: Some(50),
            cursor: None,
        }
    };
    let events = Resource::new(query, load_events);
    let hydrated = crate::use_hydrated();
    let current = move |key: &'static str| query_map.read().get(key).unwrap_or_default();

    view! {
        <section class="hero" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Upcoming events"</h1>
            <Form method="GET" action="" attr:class="search">
                <label>
                    <span class="visually-hidden">"Search"</span>
                    <input type="search" name="q" placeholder="Artist, event, venue or city"
                        prop:value=move || current("q")/>
                </label>
                <label>"From " <input type="date" name="from" prop:value=move || current("from")/></label>
                <label>"To " <input type="date" name="to" prop:value=move || current("to")/></label>
                <button type="submit">"Search"</button>
            </Form>
        </section>
        <Suspense fallback=|| view! { <p class="loading">"Loading events…"</p> }>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(list) if list.events.is_empty() => {
                        view! { <p class="empty">"No upcoming events match your search."</p> }.into_any()
                    }
                    Ok(list) => view! {
                        <ul class="event-list">
                            {list.events.into_iter().map(|event| view! { <EventCard event/> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.message}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EventCard(event: EventSummary) -> impl IntoView {
    let href = format!("/events/{}", event.id);
    let availability = if event.seats_available == 0 {
        "Sold out".to_string()
    } else {
        format!("{} seats left", event.seats_available)
    };
    view! {
        <li class="event-card">
            <a href=href>
                <h2>{event.name}</h2>
                <p class="when">{format_starts_at(&event.starts_at)}</p>
                <p class="where">{event.venue}", "{event.city}</p>
                <p class="price">"From "{format_cents(event.min_price_cents)}</p>
                <p class="availability">{availability}</p>
            </a>
        </li>
    }
}
