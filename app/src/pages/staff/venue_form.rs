//! `/staff/venues/new`: a venue from a stage or bowl layout. Sections are
//! typed one per line; the server generates the seats and their positions.

use super::{percent_encode, StaffGate};
use crate::client;
use crate::pages::send_action;
use crate::staff::{BowlTierLayout, CreateVenueRequest, CreatedVenue, StageSection, VenueLayout};
use leptos::prelude::*;

#[component]
pub fn NewVenuePage() -> impl IntoView {
    view! {
        <StaffGate>
            <VenueForm/>
        </StaffGate>
    }
}

/// Splits a line into its comma-separated fields, trimmed.
fn fields(line: &str) -> Vec<&str> {
    line.split(',').map(str::trim).collect()
}

fn number(raw: &str, what: &str, line: usize) -> Result<u32, String> {
    raw.parse::<u32>()
        .map_err(|_| format!("line {line}: {what} must be a whole number, not “{raw}”"))
}

/// Stage sections, one per line: `name, rows, seats per row[, curved]`.
pub fn parse_stage_sections(text: &str) -> Result<Vec<StageSection>, String> {
    let mut sections = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line_no = i + 1;
        let parts = fields(line);
        if !(3..=4).contains(&parts.len()) || parts[0].is_empty() {
            return Err(format!(
                "line {line_no}: expected “name, rows, seats per row[, curved]”"
            ));
        }
        let curved = match parts.get(3).map(|s| s.to_ascii_lowercase()) {
            None => false,
            Some(word) if word == "curved" || word == "yes" => true,
            Some(word) if word == "straight" || word == "no" => false,
            Some(word) => {
                return Err(format!(
                    "line {line_no}: the last field is “curved” or “straight”, not “{word}”"
                ))
            }
        };
        sections.push(StageSection {
            name: parts[0].to_string(),
            rows: number(parts[1], "rows", line_no)?,
            seats_per_row: number(parts[2], "seats per row", line_no)?,
            curved,
        });
    }
    if sections.is_empty() {
        return Err("add at least one section".into());
    }
    Ok(sections)
}

/// Bowl tiers, one per line: `name prefix, sections, rows, seats per row`;
/// an empty prefix names sections by number alone.
pub fn parse_bowl_tiers(text: &str) -> Result<Vec<BowlTierLayout>, String> {
    let mut tiers = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line_no = i + 1;
        let parts = fields(line);
        if parts.len() != 4 {
            return Err(format!(
                "line {line_no}: expected “name prefix, sections, rows, seats per row”"
            ));
        }
        tiers.push(BowlTierLayout {
            // "Lower" names sections "Lower 101", "Lower 102", …
            name_prefix: if parts[0].is_empty() {
                String::new()
            } else {
                format!("{} ", parts[0])
            },
            sections: number(parts[1], "sections", line_no)?,
            rows: number(parts[2], "rows", line_no)?,
            seats_per_row: number(parts[3], "seats per row", line_no)?,
        });
    }
    if tiers.is_empty() {
        return Err("add at least one tier".into());
    }
    Ok(tiers)
}

fn metres(raw: &str, what: &str) -> Result<f64, String> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|m| m.is_finite() && *m > 0.0)
        .ok_or_else(|| format!("{what} must be a positive number of metres"))
}

#[component]
fn VenueForm() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let city = RwSignal::new(String::new());
    let kind = RwSignal::new("stage".to_string());
    let stage_text = RwSignal::new("Stalls, 10, 20, curved\nCircle, 6, 24".to_string());
    let pitch_length = RwSignal::new("105".to_string());
    let pitch_width = RwSignal::new("68".to_string());
    let bowl_text = RwSignal::new("Lower, 12, 20, 30\nUpper, 10, 15, 40".to_string());
    let notice: RwSignal<Option<String>> = RwSignal::new(None);
    let created: RwSignal<Option<CreatedVenue>> = RwSignal::new(None);
    let create = send_action(client::create_venue);
    let busy = create.pending();
    Effect::new(move |_| match create.value().get() {
        Some(Ok(venue)) => created.set(Some(venue)),
        Some(Err(error)) => notice.set(Some(error.message)),
        None => {}
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let layout = if kind.get_untracked() == "bowl" {
            parse_bowl_tiers(&bowl_text.get_untracked()).and_then(|tiers| {
                Ok(VenueLayout::Bowl {
                    pitch_length_m: metres(&pitch_length.get_untracked(), "Pitch length")?,
                    pitch_width_m: metres(&pitch_width.get_untracked(), "Pitch width")?,
                    tiers,
                })
            })
        } else {
            parse_stage_sections(&stage_text.get_untracked())
                .map(|sections| VenueLayout::Stage { sections })
        };
        let layout = match layout {
            Ok(layout) => layout,
            Err(message) => {
                notice.set(Some(message));
                return;
            }
        };
        let request = CreateVenueRequest {
            name: name.get_untracked().trim().to_string(),
            city: city.get_untracked().trim().to_string(),
            layout,
        };
        notice.set(None);
        create.dispatch(request);
    };

    view! {
        <section class="staff-form">
            <p class="fine-print"><a href="/staff">"← Staff"</a></p>
            <h1>"New venue"</h1>
            {move || notice.get().map(|text| view! { <p class="notice" role="alert" data-testid="notice">{text}</p> })}
            {move || created.get().map(|venue| {
                let next = format!(
                    "/staff/events/new?venue={}&sections={}",
                    venue.venue_id,
                    percent_encode(&venue.sections.join("\n"))
                );
                view! {
                    <div class="confirmation" data-testid="venue-created">
                        <p>{format!("Venue {} created with {} seats in {} sections: {}.",
                            venue.venue_id, venue.seats, venue.sections.len(), venue.sections.join(", "))}</p>
                        <p><a href=next>"Create an event at this venue"</a></p>
                    </div>
                }
            })}
            <form class="payment" on:submit=submit>
                <label>"Name"
                    <input type="text" required data-testid="venue-name" prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <label>"City"
                    <input type="text" required data-testid="venue-city" prop:value=move || city.get()
                        on:input=move |ev| city.set(event_target_value(&ev))/>
                </label>
                <label>"Layout"
                    <select data-testid="venue-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="stage">"Stage: sections facing a stage"</option>
                        <option value="bowl">"Bowl: rings of sections around a pitch"</option>
                    </select>
                </label>
                {move || if kind.get() == "bowl" {
                    view! {
                        <label>"Pitch length (m)"
                            <input type="number" min="1" step="any" prop:value=move || pitch_length.get()
                                on:input=move |ev| pitch_length.set(event_target_value(&ev))/>
                        </label>
                        <label>"Pitch width (m)"
                            <input type="number" min="1" step="any" prop:value=move || pitch_width.get()
                                on:input=move |ev| pitch_width.set(event_target_value(&ev))/>
                        </label>
                        <label>"Tiers, innermost first, one per line: name prefix, sections, rows, seats per row"
                            <textarea rows="4" data-testid="venue-tiers" prop:value=move || bowl_text.get()
                                on:input=move |ev| bowl_text.set(event_target_value(&ev))></textarea>
                        </label>
                    }.into_any()
                } else {
                    view! {
                        <label>"Sections, front to back, one per line: name, rows, seats per row[, curved]"
                            <textarea rows="5" data-testid="venue-sections" prop:value=move || stage_text.get()
                                on:input=move |ev| stage_text.set(event_target_value(&ev))></textarea>
                        </label>
                    }.into_any()
                }}
                <button type="submit" class="primary" data-testid="create-venue" disabled=move || busy.get()>"Create venue"</button>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_sections_are_read_one_per_line() {
        let sections =
            parse_stage_sections("Stalls, 10, 20, curved\n\n Circle ,6,24").expect("two sections");
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].name, "Stalls");
        assert!(sections[0].curved);
        assert_eq!((sections[1].rows, sections[1].seats_per_row), (6, 24));
        assert!(!sections[1].curved);
        assert!(parse_stage_sections("Stalls, ten, 20").is_err());
        assert!(parse_stage_sections("Stalls, 1, 2, wobbly").is_err());
        assert!(parse_stage_sections("").is_err());
    }

    #[test]
    fn bowl_tiers_need_four_fields() {
        let tiers = parse_bowl_tiers("Lower , 12, 20, 30").expect("one tier");
        assert_eq!(tiers[0].name_prefix, "Lower ");
        assert_eq!(tiers[0].sections, 12);
        assert!(parse_bowl_tiers("Lower, 12, 20").is_err());
    }
}
