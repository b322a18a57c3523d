//! The step-through list: section → row → seat, listing only seats that
//! can be picked now (free, not already picked, within the filters), kept
//! current by the live channel. No cap: a row at a time is short however
//! large the venue.

use super::data::MapData;
use super::Picker;
use crate::types::{format_cents, SeatStatus};
use leptos::prelude::*;
use std::sync::Arc;

#[component]
pub fn SeatSteps(data: Arc<MapData>, picker: Picker) -> impl IntoView {
    let section: RwSignal<Option<usize>> = RwSignal::new(None);
    let row: RwSignal<Option<usize>> = RwSignal::new(None);
    let seat: RwSignal<Option<usize>> = RwSignal::new(None);
    // The seats of `section` among `seats` that can be picked now. One
    // read of the section's statuses, the picks and the filters per call,
    // however many seats are asked about.
    let open_seats = {
        let data = data.clone();
        move |section: usize, seats: &mut dyn Iterator<Item = usize>| -> Vec<usize> {
            let filter = picker.filter();
            let first = data.sections[section].first_seat;
            picker.selected.with(|picked| {
                data.sections[section].statuses.with(|statuses| {
                    seats
                        .filter(|&i| {
                            statuses[i - first] == SeatStatus::Available
                                && !picked.contains(&data.seats[i].id)
                                && filter.matches(&data, i)
                        })
                        .collect()
                })
            })
        }
    };
    let free = {
        let data = data.clone();
        let open_seats = open_seats.clone();
        move |i: usize| !open_seats(data.seats[i].section, &mut std::iter::once(i)).is_empty()
    };

    // A chosen seat someone else takes is dropped from the list, and said.
    {
        let data = data.clone();
        let free = free.clone();
        Effect::new(move |_| {
            if let Some(chosen) = seat.get() {
                if !free(chosen) {
                    seat.set(None);
                    if !picker.is_selected(data.seats[chosen].id) {
                        picker
                            .announce
                            .set(format!("{} is no longer available.", data.place(chosen)));
                    }
                }
            }
        });
    }

    // Each section's count and cheapest price, kept per section: a live
    // change recounts only its own section, not the whole venue.
    let summaries: Vec<Memo<Option<(usize, i64)>>> = (0..data.sections.len())
        .map(|i| {
            let data = data.clone();
            let open_seats = open_seats.clone();
            Memo::new(move |_| {
                let open = open_seats(i, &mut data.sections[i].seats());
                let cheapest = open.iter().map(|&seat| data.price(seat)).min()?;
                Some((open.len(), cheapest))
            })
        })
        .collect();
    let section_options = {
        let data = data.clone();
        move || {
            data.sections
                .iter()
                .zip(&summaries)
                .enumerate()
                .filter_map(|(i, (s, summary))| {
                    let (open, cheapest) = summary.get()?;
                    Some(view! {
                        <option value=i.to_string() selected=move || section.get() == Some(i)>
                            {format!("Section {} — {open} seats, from {}", s.name, format_cents(cheapest))}
                        </option>
                    })
                })
                .collect_view()
        }
    };
    let row_options = {
        let data = data.clone();
        let open_seats = open_seats.clone();
        move || {
            let chosen = section.get()?;
            Some(
                data.sections[chosen]
                    .rows
                    .iter()
                    .filter_map(|&r| {
                        let open = open_seats(chosen, &mut data.rows[r].seats.iter().copied()).len();
                        (open > 0).then(|| view! {
                            <option value=r.to_string() selected=move || row.get() == Some(r)>
                                {format!("Row {} — {open} seat{}", data.rows[r].label, if open == 1 { "" } else { "s" })}
                            </option>
                        })
                    })
                    .collect_view(),
            )
        }
    };
    let seat_options = {
        let data = data.clone();
        move || {
            let chosen = row.get()?;
            let section = data.rows[chosen].section;
            Some(
                open_seats(section, &mut data.rows[chosen].seats.iter().copied())
                    .into_iter()
                    .map(|s| {
                        let features: String = data.seats[s]
                            .features
                            .iter()
                            .map(|f| format!(" · {}", f.label()))
                            .collect();
                        view! {
                            <option value=s.to_string() selected=move || seat.get() == Some(s)>
                                {format!("Seat {} · {}{features}", data.seats[s].number, format_cents(data.price(s)))}
                            </option>
                        }
                    })
                    .collect_view(),
            )
        }
    };
    let parse = |ev: &leptos::ev::Event| event_target_value(ev).parse::<usize>().ok();

    view! {
        <fieldset class="seat-steps" data-testid="seat-steps">
            <legend>"Pick from a list"</legend>
            <label>"Section"
                <select data-testid="step-section" on:change=move |ev| {
                    section.set(parse(&ev));
                    row.set(None);
                    seat.set(None);
                }>
                    <option value="" selected=move || section.get().is_none()>"Choose a section"</option>
                    {section_options}
                </select>
            </label>
            <label>"Row"
                <select data-testid="step-row" disabled=move || section.get().is_none() on:change=move |ev| {
                    row.set(parse(&ev));
                    seat.set(None);
                }>
                    <option value="" selected=move || row.get().is_none()>"Choose a row"</option>
                    {row_options}
                </select>
            </label>
            <label>"Seat"
                <select data-testid="step-seat" disabled=move || row.get().is_none()
                    on:change=move |ev| seat.set(parse(&ev))>
                    <option value="" selected=move || seat.get().is_none()>"Choose a seat"</option>
                    {seat_options}
                </select>
            </label>
            <button type="button" data-testid="step-add" disabled=move || seat.get().is_none()
                on:click=move |_| {
                    if let Some(chosen) = seat.get_untracked() {
                        picker.toggle(chosen);
                        seat.set(None);
                    }
                }>"Add to my seats"</button>
        </fieldset>
    }
}
