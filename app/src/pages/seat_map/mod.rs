//! The live, interactive seat map. The venue's layout is fetched once (an
//! immutable document the browser caches) and the live channel sends only
//! statuses, packed two bits a seat (`?format=compact`).
//!
//! Three ways to pick, all always present: the map (pointer, touch, or
//! keyboard: one tab stop, arrow keys between seats), the step-through list
//! (section → row → seat, only seats that can be picked now), and best
//! available. Changes to the fan's picks are announced.

mod data;
mod map_view;
mod steps;

use crate::client;
use crate::error::ErrorCode;
use crate::layout::SeatFeature;
use crate::live_socket::Link;
use crate::pages::browser_action;
use crate::types::{format_cents, BestAvailable, EventId, HoldRequest, SeatId, SeatStatus};
use data::MapData;
use leptos::prelude::*;
use std::sync::Arc;

/// What the picker's parts share.
#[derive(Clone, Copy)]
pub(crate) struct Picker {
    pub map: RwSignal<Option<Arc<MapData>>>,
    pub selected: RwSignal<Vec<SeatId>>,
    pub notice: RwSignal<Option<String>>,
    /// Polite announcements for screen readers.
    pub announce: RwSignal<String>,
    pub max_price: RwSignal<Option<i64>>,
    pub need: RwSignal<Option<SeatFeature>>,
    /// The section the map is zoomed to, if any.
    pub focus_section: RwSignal<Option<usize>>,
    pub max_tickets: i64,
}

impl Picker {
    fn is_selected(&self, id: SeatId) -> bool {
        self.selected.with(|s| s.contains(&id))
    }

    /// The filters as they stand, tracked: read once for a pass over many
    /// seats.
    pub fn filter(&self) -> Filter {
        Filter {
            max_price: self.max_price.get(),
            need: self.need.get(),
        }
    }

    /// Adds or removes a seat from the selection, saying what happened.
    pub fn toggle(&self, seat: usize) {
        let Some(data) = self.map.get_untracked() else {
            return;
        };
        let id = data.seats[seat].id;
        let place = data.place(seat);
        if self.selected.with_untracked(|s| s.contains(&id)) {
            self.selected.update(|s| s.retain(|other| *other != id));
            self.notice.set(None);
            self.announce.set(format!(
                "Removed {place}. {}",
                self.summary_untracked(&data)
            ));
            return;
        }
        if data.status_untracked(seat) != SeatStatus::Available {
            self.notice.set(Some(format!("{place} is not available.")));
            return;
        }
        if self.selected.with_untracked(Vec::len) as i64 >= self.max_tickets {
            self.notice.set(Some(format!(
                "You can pick up to {} seats.",
                self.max_tickets
            )));
            return;
        }
        self.notice.set(None);
        self.selected.update(|s| s.push(id));
        self.announce
            .set(format!("Added {place}. {}", self.summary_untracked(&data)));
    }

    fn summary_untracked(&self, data: &MapData) -> String {
        let (count, total) = self.selected.with_untracked(|s| {
            let total: i64 = s
                .iter()
                .filter_map(|&id| data.seat_of(id))
                .map(|i| data.price(i))
                .sum();
            (s.len(), total)
        });
        selection_text(count, total)
    }
}

/// The price and accessibility filters.
#[derive(Clone, Copy)]
pub(crate) struct Filter {
    max_price: Option<i64>,
    need: Option<SeatFeature>,
}

impl Filter {
    /// Seats shown as matching the filters.
    pub fn matches(&self, data: &MapData, seat: usize) -> bool {
        self.max_price.is_none_or(|max| data.price(seat) <= max)
            && self
                .need
                .is_none_or(|need| data.seats[seat].features.contains(&need))
    }
}

fn selection_text(count: usize, total: i64) -> String {
    if count == 0 {
        "No seats selected".to_string()
    } else {
        format!(
            "{count} seat{} selected · {}",
            if count == 1 { "" } else { "s" },
            format_cents(total)
        )
    }
}

#[component]
pub fn SeatPicker(event_id: EventId, max_tickets: i64) -> impl IntoView {
    let picker = Picker {
        map: RwSignal::new(None),
        selected: RwSignal::new(Vec::new()),
        notice: RwSignal::new(None),
        announce: RwSignal::new(String::new()),
        max_price: RwSignal::new(None),
        need: RwSignal::new(None),
        focus_section: RwSignal::new(None),
        max_tickets,
    };
    let version = RwSignal::new(-1_i64);
    let link = RwSignal::new(Link::Connecting);
    let wanted = RwSignal::new(2_i64.min(max_tickets.max(1)));

    #[cfg(feature = "hydrate")]
    live::connect(event_id, picker, version, link);

    // Holding is an action: its `pending` disables the hold buttons, and a
    // hold taken moves on to checkout.
    let navigate = leptos_router::hooks::use_navigate();
    let hold = browser_action(move |request: &HoldRequest| {
        let (request, navigate) = (request.clone(), navigate.clone());
        picker.notice.set(None);
        async move {
            match client::hold(event_id, &request).await {
                Ok(hold) => {
                    // Our own hold will arrive as a delta too; it is not "taken by someone else".
                    picker.selected.set(Vec::new());
                    navigate(&format!("/checkout/{}", hold.hold_id), Default::default());
                }
                Err(error) if error.code == ErrorCode::SeatsUnavailable => {
                    let taken = error.seat_ids.unwrap_or_default();
                    picker
                        .selected
                        .update(|s| s.retain(|id| !taken.contains(id)));
                    picker.notice.set(Some(if taken.is_empty() {
                        error.message
                    } else {
                        "Sorry — some of those seats were just taken. Pick others.".to_string()
                    }));
                }
                Err(error) => picker.notice.set(Some(error.message)),
            }
        }
    });
    let busy = hold.pending();
    let hold_selected = move |_| {
        let seat_ids = picker.selected.get_untracked();
        if !seat_ids.is_empty() {
            hold.dispatch(HoldRequest {
                seat_ids: Some(seat_ids),
                best_available: None,
            });
        }
    };
    let hold_best = move |_| {
        let section = picker.focus_section.get_untracked().and_then(|i| {
            picker
                .map
                .with_untracked(|m| m.as_ref().map(|d| d.sections[i].name.clone()))
        });
        hold.dispatch(HoldRequest {
            seat_ids: None,
            best_available: Some(BestAvailable {
                count: wanted.get_untracked(),
                section,
                max_price_cents: picker.max_price.get_untracked(),
            }),
        });
    };

    let summary = move || {
        picker.map.with(|m| {
            let Some(data) = m else {
                return selection_text(0, 0);
            };
            picker.selected.with(|s| {
                let total = s
                    .iter()
                    .filter_map(|&id| data.seat_of(id))
                    .map(|i| data.price(i))
                    .sum();
                selection_text(s.len(), total)
            })
        })
    };
    let link_text = move || match link.get() {
        Link::Connecting => "Connecting to live availability…",
        Link::Live => "Live: seats update as others buy",
        Link::Reconnecting => "Connection lost — reconnecting…",
    };

    view! {
        <section class="seat-picker" aria-label="Choose your seats"
            data-live=move || link.get().as_str() data-version=move || version.get()>
            <p class="live-status" role="status">{link_text}</p>
            <p class="visually-hidden" aria-live="polite" data-testid="announce">{move || picker.announce.get()}</p>
            {move || picker.notice.get().map(|text| view! { <p class="notice" role="alert" data-testid="notice">{text}</p> })}
            {move || match picker.map.get() {
                None => view! { <p class="loading">"Loading the seat map…"</p> }.into_any(),
                Some(data) => view! {
                    <map_view::MapView data=data.clone() picker/>
                    <div class="picker-actions">
                        <div class="selection" data-testid="selection">{summary}</div>
                        <Picked data=data.clone() picker/>
                        <button type="button" class="primary" data-testid="hold-selected"
                            disabled=move || { busy.get() || picker.selected.with(Vec::is_empty) }
                            on:click=hold_selected>"Hold selected seats"</button>
                    </div>
                    <steps::SeatSteps data picker/>
                }.into_any(),
            }}
            <div class="best-available">
                <label>"Best "
                    <input type="number" min="1" max=max_tickets prop:value=move || wanted.get().to_string()
                        aria-label="How many seats together"
                        on:input=move |ev| {
                            if let Ok(n) = event_target_value(&ev).parse::<i64>() {
                                wanted.set(n.clamp(1, max_tickets.max(1)));
                            }
                        }/>
                    " together"
                </label>
                <button type="button" data-testid="best-available" disabled=move || busy.get() on:click=hold_best>
                    {move || if picker.focus_section.get().is_some() { "Find in this section" } else { "Find me seats" }}
                </button>
            </div>
        </section>
    }
    // Erase the (very deep) view type: keeps the server's release build
    // within the compiler's type-recursion limits.
    .into_any()
}

/// The picked seats, each with a button to drop it (for every input mode).
#[component]
fn Picked(data: Arc<MapData>, picker: Picker) -> impl IntoView {
    view! {
        <ul class="picked" aria-label="Your picks">
            {move || {
                let data = data.clone();
                picker.selected.get().into_iter().filter_map(move |id| {
                    let seat = data.seat_of(id)?;
                    let place = data.place(seat);
                    let price = format_cents(data.price(seat));
                    Some(view! {
                        <li>
                            {format!("{place} · {price}")}
                            <button type="button" class="link" aria-label=format!("Remove {place}")
                                on:click=move |_| picker.toggle(seat)>"Remove"</button>
                        </li>
                    })
                }).collect_view()
            }}
        </ul>
    }
}

/// The browser side of the live channel: the layout first (cached by the
/// browser under its hash), then compact snapshot and deltas.
#[cfg(feature = "hydrate")]
mod live {
    use super::*;
    use crate::layout::{status_from_code, unpack_statuses, CompactMessage, SeatLayout};
    use crate::live_socket::{self, Next};
    use base64::Engine;

    pub fn connect(
        event_id: EventId,
        picker: Picker,
        version: RwSignal<i64>,
        link: RwSignal<Link>,
    ) {
        // The layout as loaded; the map shows it once its first snapshot
        // has given every seat its status.
        let layout: StoredValue<Option<Arc<MapData>>> = StoredValue::new(None);
        let prepare = move || async move {
            if layout.with_value(Option::is_some) {
                return true;
            }
            match load_layout(event_id).await {
                Some(data) => {
                    layout.set_value(Some(Arc::new(data)));
                    true
                }
                None => false,
            }
        };
        live_socket::run(
            client::seat_map_live_path(event_id),
            move |state| link.set(state),
            prepare,
            move |text| match layout.get_value() {
                Some(data) => apply(text, &data, picker, version, layout),
                None => Next::Reconnect,
            },
        );
    }

    async fn load_layout(event_id: EventId) -> Option<MapData> {
        let response = gloo_net::http::Request::get(&client::layout_path(event_id))
            .send()
            .await
            .ok()?;
        // Redirected to `/api/layouts/{hash}?format=compact`.
        let url = response.url();
        let path = url.split('?').next().unwrap_or_default();
        let hash = path.rsplit('/').next().unwrap_or_default().to_string();
        let bytes = response.binary().await.ok()?;
        let layout = SeatLayout::from_packed(&bytes)?;
        Some(MapData::new(hash, layout))
    }

    fn apply(
        text: &str,
        data: &Arc<MapData>,
        picker: Picker,
        version: RwSignal<i64>,
        layout: StoredValue<Option<Arc<MapData>>>,
    ) -> Next {
        let Ok(message) = serde_json::from_str::<CompactMessage>(text) else {
            return Next::Ignored;
        };
        match message {
            CompactMessage::Snapshot {
                version: at,
                layout_hash,
                seats,
                status,
            } => {
                if layout_hash != data.hash || seats != data.seats.len() {
                    // The venue changed under us: load it again.
                    layout.set_value(None);
                    return Next::Reconnect;
                }
                let Ok(packed) = base64::engine::general_purpose::STANDARD.decode(status) else {
                    return Next::Reconnect;
                };
                let Some(statuses) = unpack_statuses(&packed, seats) else {
                    return Next::Reconnect;
                };
                data.set_all(&statuses);
                version.set(at);
                let shown = picker
                    .map
                    .with_untracked(|m| m.as_ref().is_some_and(|m| Arc::ptr_eq(m, data)));
                if !shown {
                    picker.map.set(Some(data.clone()));
                }
            }
            CompactMessage::Delta {
                prev_version,
                version: at,
                changes,
            } => {
                if prev_version != version.get_untracked() {
                    return Next::Reconnect;
                }
                data.set_some(
                    changes
                        .into_iter()
                        .map(|(index, code)| (index as usize, status_from_code(code))),
                );
                version.set(at);
            }
        }
        drop_taken(data, picker);
        Next::Applied
    }

    /// A seat someone else just took leaves the fan's selection, with a
    /// note and an announcement.
    fn drop_taken(data: &MapData, picker: Picker) {
        let taken: Vec<usize> = picker.selected.with_untracked(|s| {
            s.iter()
                .filter_map(|&id| data.seat_of(id))
                .filter(|&i| data.status_untracked(i) != SeatStatus::Available)
                .collect()
        });
        if taken.is_empty() {
            return;
        }
        let ids: Vec<SeatId> = taken.iter().map(|&i| data.seats[i].id).collect();
        picker.selected.update(|s| s.retain(|id| !ids.contains(id)));
        let places: Vec<String> = taken.iter().map(|&i| data.place(i)).collect();
        let text = format!("Just taken by someone else: {}", places.join("; "));
        picker
            .announce
            .set(format!("{text}. It was removed from your selection."));
        picker.notice.set(Some(text));
    }
}
