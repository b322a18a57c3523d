//! `/staff/events/new`: an event at a venue, every section priced by naming
//! its tier. The sections come from the venue form's link, or from an
//! existing event at the same venue ("Load from event").

use super::StaffGate;
use crate::client;
use crate::pages::browser_action;
use crate::pages::send_action;
use crate::staff::{CreateEventRequest, CreatedEvent, RefundPolicy, TierPrice};
use crate::types::{EventId, VenueId};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use std::collections::BTreeMap;

#[component]
pub fn NewEventPage() -> impl IntoView {
    view! {
        <StaffGate>
            <EventForm/>
        </StaffGate>
    }
}

/// `"25"`, `"25.5"`, `"$25.50"` → cents, without floating point.
pub fn parse_price_cents(raw: &str) -> Option<i64> {
    let raw = raw.trim().trim_start_matches('$').trim();
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || fraction.len() > 2 {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let cents: i64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().ok()? * 10,
        _ => fraction.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(cents)
}

/// `name: value` lines (split at the last colon), blank lines skipped.
fn pairs(text: &str, what: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let (name, value) = line
                .rsplit_once(':')
                .ok_or_else(|| format!("{what}, line {}: expected “name: value”", i + 1))?;
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() || value.is_empty() {
                return Err(format!("{what}, line {}: expected “name: value”", i + 1));
            }
            Ok((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Tiers, one per line: `name: price`.
pub fn parse_tiers(text: &str) -> Result<Vec<TierPrice>, String> {
    let tiers = pairs(text, "Tiers")?
        .into_iter()
        .map(|(name, price)| {
            parse_price_cents(&price)
                .map(|price_cents| TierPrice {
                    name: name.clone(),
                    price_cents,
                })
                .ok_or_else(|| format!("Tier {name}: “{price}” is not a price like 25.00"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if tiers.is_empty() {
        return Err("add at least one tier".into());
    }
    Ok(tiers)
}

/// Section prices, one per line: `section: tier`.
pub fn parse_section_tiers(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for (section, tier) in pairs(text, "Sections")? {
        if map.insert(section.clone(), tier).is_some() {
            return Err(format!("Section {section} is listed twice"));
        }
    }
    if map.is_empty() {
        return Err("price every section of the venue".into());
    }
    Ok(map)
}

/// A `datetime-local` value (`2026-12-01T19:30`), taken as UTC, in RFC 3339.
pub fn local_to_rfc3339(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let ok = |s: &str| {
        s.len() == 19
            && s.char_indices().all(|(i, c)| match i {
                4 | 7 => c == '-',
                10 => c == 'T',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            })
    };
    let full = match raw.len() {
        16 => format!("{raw}:00"),
        19 => raw.to_string(),
        _ => return None,
    };
    ok(&full).then(|| format!("{full}Z"))
}

/// The form's fields, read when it is submitted.
struct EventFields {
    venue: RwSignal<String>,
    name: RwSignal<String>,
    description: RwSignal<String>,
    starts_at: RwSignal<String>,
    onsale_at: RwSignal<String>,
    hold_minutes: RwSignal<String>,
    max_per_buyer: RwSignal<String>,
    refund: RwSignal<String>,
    tiers: RwSignal<String>,
    sections: RwSignal<String>,
}

impl EventFields {
    /// The request, or what to fix first.
    fn request(&self) -> Result<CreateEventRequest, String> {
        let venue_id = VenueId::parse(self.venue.get_untracked().trim())
            .ok_or("Venue id must be a positive number")?;
        let starts_at = local_to_rfc3339(&self.starts_at.get_untracked())
            .ok_or("Enter the start date and time")?;
        let onsale_raw = self.onsale_at.get_untracked();
        let onsale_at = if onsale_raw.trim().is_empty() {
            None
        } else {
            Some(local_to_rfc3339(&onsale_raw).ok_or("The on-sale time is not a date and time")?)
        };
        let hold_seconds = self
            .hold_minutes
            .get_untracked()
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|m| *m > 0)
            .ok_or("Hold length must be a positive number of minutes")?
            * 60;
        let max_tickets_per_buyer = self
            .max_per_buyer
            .get_untracked()
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or("Per-buyer limit must be a positive number")?;
        let refund_policy = match self.refund.get_untracked().as_str() {
            "none" => RefundPolicy::None,
            _ => RefundPolicy::UntilStart,
        };
        Ok(CreateEventRequest {
            venue_id,
            name: self.name.get_untracked().trim().to_string(),
            description: self.description.get_untracked().trim().to_string(),
            starts_at,
            onsale_at,
            hold_seconds: Some(hold_seconds),
            max_tickets_per_buyer: Some(max_tickets_per_buyer),
            refund_policy: Some(refund_policy),
            tiers: parse_tiers(&self.tiers.get_untracked())?,
            section_tiers: parse_section_tiers(&self.sections.get_untracked())?,
        })
    }
}

#[component]
fn EventForm() -> impl IntoView {
    let query = use_query_map();
    let (initial_venue, initial_sections) = query.with_untracked(|q| {
        (
            q.get("venue").unwrap_or_default(),
            q.get("sections").unwrap_or_default(),
        )
    });
    let tiers_default = "Standard: 25.00";
    let sections_default = initial_sections
        .lines()
        .filter(|s| !s.trim().is_empty())
        .map(|s| format!("{s}: Standard"))
        .collect::<Vec<_>>()
        .join("\n");

    let venue = RwSignal::new(initial_venue);
    let source_event = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let starts_at = RwSignal::new(String::new());
    let onsale_at = RwSignal::new(String::new());
    let hold_minutes = RwSignal::new("10".to_string());
    let max_per_buyer = RwSignal::new("8".to_string());
    let refund = RwSignal::new("until_start".to_string());
    let tiers = RwSignal::new(tiers_default.to_string());
    let sections = RwSignal::new(sections_default);
    let notice: RwSignal<Option<String>> = RwSignal::new(None);
    let created: RwSignal<Option<CreatedEvent>> = RwSignal::new(None);
    let load = browser_action(|id: &EventId| client::event(*id));
    let create = send_action(client::create_event);
    let busy = create.pending();
    // The loaded event fills in the venue and prices each of its sections
    // at the first tier typed so far.
    Effect::new(move |_| match load.value().get() {
        Some(Ok(event)) => {
            venue.set(event.venue.id.to_string());
            let first_tier = tiers
                .with_untracked(|t| parse_tiers(t).ok())
                .and_then(|t| t.first().map(|t| t.name.clone()))
                .unwrap_or_else(|| "Standard".into());
            sections.set(
                event
                    .sections
                    .iter()
                    .map(|s| format!("{}: {first_tier}", s.name))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        Some(Err(error)) => notice.set(Some(error.message)),
        None => {}
    });
    Effect::new(move |_| match create.value().get() {
        Some(Ok(event)) => created.set(Some(event)),
        Some(Err(error)) => notice.set(Some(error.message)),
        None => {}
    });

    let load_from_event = move |_| {
        let Some(id) = EventId::parse(source_event.get_untracked().trim()) else {
            notice.set(Some("Enter the id of an event at the venue.".into()));
            return;
        };
        notice.set(None);
        load.dispatch(id);
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = EventFields {
            venue,
            name,
            description,
            starts_at,
            onsale_at,
            hold_minutes,
            max_per_buyer,
            refund,
            tiers,
            sections,
        }
        .request();
        let request = match request {
            Ok(request) => request,
            Err(message) => {
                notice.set(Some(message));
                return;
            }
        };
        notice.set(None);
        create.dispatch(request);
    };

    let text_input = move |label: &'static str, testid: &'static str, signal: RwSignal<String>| {
        view! {
            <label>{label}
                <input type="text" data-testid=testid prop:value=move || signal.get()
                    on:input=move |ev| signal.set(event_target_value(&ev))/>
            </label>
        }
    };

    view! {
        <section class="staff-form">
            <p class="fine-print"><a href="/staff">"← Staff"</a></p>
            <h1>"New event"</h1>
            {move || notice.get().map(|text| view! { <p class="notice" role="alert" data-testid="notice">{text}</p> })}
            {move || created.get().map(|event| view! {
                <div class="confirmation" data-testid="event-created">
                    <p>{format!("Event {} created with {} seats.", event.event_id, event.seats)}</p>
                    <p>
                        <a href=format!("/staff/events/{}", event.event_id)>"Open its sales dashboard"</a>
                        " · "<a href=format!("/events/{}", event.event_id)>"public page"</a>
                    </p>
                </div>
            })}
            <form class="payment" on:submit=submit>
                {text_input("Venue id", "event-venue", venue)}
                <div class="inline-tool">
                    <label>"…or copy the venue and its sections from event id"
                        <input type="text" inputmode="numeric" data-testid="event-source" prop:value=move || source_event.get()
                            on:input=move |ev| source_event.set(event_target_value(&ev))/>
                    </label>
                    <button type="button" class="secondary" on:click=load_from_event>"Load from event"</button>
                </div>
                {text_input("Name", "event-name", name)}
                <label>"Description"
                    <textarea rows="3" data-testid="event-description" prop:value=move || description.get()
                        on:input=move |ev| description.set(event_target_value(&ev))></textarea>
                </label>
                <label>"Starts (UTC)"
                    <input type="datetime-local" required data-testid="event-starts" prop:value=move || starts_at.get()
                        on:input=move |ev| starts_at.set(event_target_value(&ev))/>
                </label>
                <label>"On sale from (UTC; empty for now)"
                    <input type="datetime-local" data-testid="event-onsale" prop:value=move || onsale_at.get()
                        on:input=move |ev| onsale_at.set(event_target_value(&ev))/>
                </label>
                <label>"Hold length (minutes)"
                    <input type="number" min="1" data-testid="event-hold" prop:value=move || hold_minutes.get()
                        on:input=move |ev| hold_minutes.set(event_target_value(&ev))/>
                </label>
                <label>"Tickets per buyer"
                    <input type="number" min="1" data-testid="event-max" prop:value=move || max_per_buyer.get()
                        on:input=move |ev| max_per_buyer.set(event_target_value(&ev))/>
                </label>
                <label>"Refunds"
                    <select data-testid="event-refund" on:change=move |ev| refund.set(event_target_value(&ev))>
                        <option value="until_start">"Until the event starts"</option>
                        <option value="none">"No refunds"</option>
                    </select>
                </label>
                <label>"Price tiers, one per line: name: price"
                    <textarea rows="4" data-testid="event-tiers" prop:value=move || tiers.get()
                        on:input=move |ev| tiers.set(event_target_value(&ev))></textarea>
                </label>
                <label>"Every section of the venue with its tier, one per line: section: tier"
                    <textarea rows="8" data-testid="event-sections" prop:value=move || sections.get()
                        on:input=move |ev| sections.set(event_target_value(&ev))></textarea>
                </label>
                <button type="submit" class="primary" data-testid="create-event" disabled=move || busy.get()>"Create event"</button>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_read_as_integer_cents() {
        assert_eq!(parse_price_cents("25"), Some(2500));
        assert_eq!(parse_price_cents("$25.5"), Some(2550));
        assert_eq!(parse_price_cents("25.05"), Some(2505));
        assert_eq!(parse_price_cents(".99"), Some(99));
        for bad in ["", "-5", "2.505", "abc", "1,000"] {
            assert_eq!(parse_price_cents(bad), None, "{bad}");
        }
    }

    #[test]
    fn tiers_and_sections_are_read_as_pairs() {
        let tiers = parse_tiers("Front: 45.00\n\nBack: 30").expect("two tiers");
        assert_eq!(tiers[1].price_cents, 3000);
        assert!(parse_tiers("Front 45").is_err());
        let sections =
            parse_section_tiers("Floor Front: Front\nGallery: Back").expect("two sections");
        assert_eq!(sections["Gallery"], "Back");
        assert!(parse_section_tiers("A: x\nA: y").is_err());
    }

    #[test]
    fn form_times_are_taken_as_utc() {
        assert_eq!(
            local_to_rfc3339("2026-12-01T19:30").as_deref(),
            Some("2026-12-01T19:30:00Z")
        );
        assert_eq!(local_to_rfc3339("2026-12-01"), None);
        assert_eq!(local_to_rfc3339("2026/12/01T19:30"), None);
    }
}
