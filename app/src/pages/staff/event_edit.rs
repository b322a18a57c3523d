//! `/staff/events/:id/edit`: change an event's name, description, start,
//! hold length, per-buyer limit or refund policy. Only the fields changed
//! here are sent (`PATCH`), so an edit never overwrites someone else's
//! change to another field.

use super::event_form::local_to_rfc3339;
use super::StaffGate;
use crate::client;
use crate::pages::browser_action;
use crate::staff::{RefundPolicy, UpdateEventRequest};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn EditEventPage() -> impl IntoView {
    view! {
        <StaffGate>
            <EditEvent/>
        </StaffGate>
    }
}

/// `2026-12-01T19:30:00Z` → `2026-12-01T19:30`, for a `datetime-local` input.
fn rfc3339_to_local(raw: &str) -> String {
    raw.get(..16).unwrap_or_default().to_string()
}

#[component]
fn EditEvent() -> impl IntoView {
    let params = use_params_map();
    let event_id = move || params.read().get("id").unwrap_or_default();
    // Loaded in the browser only (the server renders "Loading…"), and again
    // when the route's id changes.
    let loaded = LocalResource::new(move || client::event(event_id()));
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let starts_at = RwSignal::new(String::new());
    let hold_seconds = RwSignal::new(String::new());
    let max_tickets = RwSignal::new(String::new());
    let refund_policy = RwSignal::new(String::new());
    let notice: RwSignal<Option<(bool, String)>> = RwSignal::new(None);
    let save = browser_action(|(id, request): &(String, UpdateEventRequest)| {
        let (id, request) = (id.clone(), request.clone());
        async move { client::update_event(&id, &request).await }
    });
    // Each loaded event fills in the form.
    Effect::new(move |_| {
        if let Some(Ok(detail)) = loaded.get() {
            name.set(detail.name);
            description.set(detail.description);
            starts_at.set(rfc3339_to_local(&detail.starts_at));
            hold_seconds.set(detail.hold_seconds.to_string());
            max_tickets.set(detail.max_tickets_per_buyer.to_string());
        }
    });
    Effect::new(move |_| match save.value().get() {
        Some(Ok(())) => notice.set(Some((true, "Saved.".to_string()))),
        Some(Err(error)) => notice.set(Some((false, error.message))),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(Ok(before)) = loaded.get_untracked() else {
            return;
        };
        let changed =
            |now: String, was: String| (now.trim() != was).then(|| now.trim().to_string());
        let number = |raw: String, field: &str| {
            raw.trim()
                .parse::<i64>()
                .map_err(|_| format!("{field} must be a whole number"))
        };
        let request = (|| -> Result<UpdateEventRequest, String> {
            let hold = number(hold_seconds.get_untracked(), "Hold length")?;
            let limit = number(max_tickets.get_untracked(), "Tickets per buyer")?;
            let starts = starts_at.get_untracked();
            Ok(UpdateEventRequest {
                name: changed(name.get_untracked(), before.name.clone()),
                description: changed(description.get_untracked(), before.description.clone()),
                starts_at: if starts == rfc3339_to_local(&before.starts_at) {
                    None
                } else {
                    Some(local_to_rfc3339(&starts).ok_or("Starts must be a date and time")?)
                },
                hold_seconds: (hold != before.hold_seconds).then_some(hold),
                max_tickets_per_buyer: (limit != before.max_tickets_per_buyer).then_some(limit),
                refund_policy: match refund_policy.get_untracked().as_str() {
                    "until_start" => Some(RefundPolicy::UntilStart),
                    "none" => Some(RefundPolicy::None),
                    _ => None,
                },
                onsale_at: None,
            })
        })();
        let request = match request {
            Ok(request) => request,
            Err(message) => {
                notice.set(Some((false, message)));
                return;
            }
        };
        save.dispatch((event_id(), request));
    };
    view! {
        <section class="staff-form">
            <p class="fine-print"><a href=move || format!("/staff/events/{}", event_id())>"← Dashboard"</a></p>
            <h1>"Edit event"</h1>
            {move || match loaded.get() {
                None => view! { <p class="loading">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error.message}</p> }.into_any(),
                Some(Ok(_)) => view! {
                    <form class="payment" on:submit=submit>
                        {move || notice.get().map(|(ok, text)| view! {
                            <p class=if ok { "confirmation" } else { "notice" } role="status" data-testid="edit-notice">{text}</p>
                        })}
                        <label>"Name"
                            <input required data-testid="edit-name" prop:value=move || name.get()
                                on:input=move |ev| name.set(event_target_value(&ev))/>
                        </label>
                        <label>"Description"
                            <textarea rows="4" data-testid="edit-description" prop:value=move || description.get()
                                on:input=move |ev| description.set(event_target_value(&ev))></textarea>
                        </label>
                        <label>"Starts (UTC)"
                            <input type="datetime-local" required data-testid="edit-starts" prop:value=move || starts_at.get()
                                on:input=move |ev| starts_at.set(event_target_value(&ev))/>
                        </label>
                        <label>"Hold length (seconds)"
                            <input type="number" min="30" max="3600" data-testid="edit-hold" prop:value=move || hold_seconds.get()
                                on:input=move |ev| hold_seconds.set(event_target_value(&ev))/>
                        </label>
                        <label>"Tickets per buyer"
                            <input type="number" min="1" max="50" data-testid="edit-limit" prop:value=move || max_tickets.get()
                                on:input=move |ev| max_tickets.set(event_target_value(&ev))/>
                        </label>
                        <label>"Refunds"
                            <select data-testid="edit-refunds" on:change=move |ev| refund_policy.set(event_target_value(&ev))>
                                <option value="" selected>"Unchanged"</option>
                                <option value="until_start">"Until the event starts"</option>
                                <option value="none">"No refunds"</option>
                            </select>
                        </label>
                        <button type="submit" class="primary" data-testid="edit-save">"Save changes"</button>
                    </form>
                }.into_any(),
            }}
            <super::queue_panel::QueuePanel event_id=event_id()/>
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_round_trip_through_the_datetime_input() {
        let local = super::rfc3339_to_local("2026-12-01T19:30:00Z");
        assert_eq!(local, "2026-12-01T19:30");
        assert_eq!(
            super::local_to_rfc3339(&local).as_deref(),
            Some("2026-12-01T19:30:00Z")
        );
    }
}
