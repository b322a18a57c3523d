//! The live, interactive seat map: seats drawn from their positions,
//! coloured by price tier and status, updated in place from the live channel
//! (snapshot, then deltas) without reloads. Large venues (the 50,000-seat
//! stadium) open on an overview of sections; picking a section zooms in to
//! its seats, so the page never draws more than a few thousand seats.
//!
//! SVG rather than canvas: a section holds at most ~1,300 seats, each an
//! element that can be focused, labelled for screen readers and clicked
//! without hit-testing code.

use crate::client;
use crate::error::{ApiError, ErrorCode};
use crate::types::{
    format_cents, BestAvailable, EventId, HoldRequest, HoldView, SeatId, SeatStatus, SeatView,
};
use leptos::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// Above this many seats the map opens on the section overview.
const OVERVIEW_ABOVE: usize = 3_000;
/// Seat dot radius in metres (seats are ~0.55 m apart).
const SEAT_RADIUS: f64 = 0.24;

/// Seats of one event as the map shows them. Static facts in `seats`, one
/// signal per seat for its status, so a delta re-colours one dot, not the map.
struct MapData {
    seats: Vec<SeatView>,
    statuses: Vec<RwSignal<SeatStatus>>,
    index: HashMap<SeatId, usize>,
    sections: Vec<SectionArea>,
    tiers: Vec<(String, i64)>,
}

struct SectionArea {
    name: String,
    seats: Vec<usize>,
    /// The outline drawn on the overview: the convex hull of the seats.
    outline: Vec<(f64, f64)>,
    centre: (f64, f64),
}

/// Convex hull (Andrew's monotone chain), counter-clockwise. Also outlines
/// sections on the staff heat map.
pub(crate) fn convex_hull(mut points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    points.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(points.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let ordered: Vec<(f64, f64)> = if pass == 0 {
            points.clone()
        } else {
            points.iter().rev().copied().collect()
        };
        for p in ordered {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

#[derive(Clone, Copy)]
pub(crate) struct Bounds {
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
}

impl Bounds {
    pub(crate) fn of<'a>(points: impl Iterator<Item = &'a SeatView>) -> Self {
        points.fold(
            Bounds {
                min_x: f64::MAX,
                min_y: f64::MAX,
                max_x: f64::MIN,
                max_y: f64::MIN,
            },
            |b, s| Bounds {
                min_x: b.min_x.min(s.x),
                min_y: b.min_y.min(s.y),
                max_x: b.max_x.max(s.x),
                max_y: b.max_y.max(s.y),
            },
        )
    }

    pub(crate) fn view_box(&self, pad: f64) -> String {
        format!(
            "{:.1} {:.1} {:.1} {:.1}",
            self.min_x - pad,
            self.min_y - pad,
            (self.max_x - self.min_x) + 2.0 * pad,
            (self.max_y - self.min_y) + 2.0 * pad
        )
    }
}

impl MapData {
    #[cfg_attr(
        not(feature = "hydrate"),
        expect(dead_code, reason = "built from the live channel, in the browser")
    )]
    fn new(seats: Vec<SeatView>) -> Self {
        let statuses = seats.iter().map(|s| RwSignal::new(s.status)).collect();
        let index = seats.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let mut by_section: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, seat) in seats.iter().enumerate() {
            match by_section
                .iter_mut()
                .find(|(name, _)| *name == seat.section)
            {
                Some((_, list)) => list.push(i),
                None => by_section.push((seat.section.clone(), vec![i])),
            }
        }
        let sections = by_section
            .into_iter()
            .map(|(name, list)| {
                let points: Vec<(f64, f64)> =
                    list.iter().map(|&i| (seats[i].x, seats[i].y)).collect();
                let n = points.len().max(1) as f64;
                let centre = (
                    points.iter().map(|p| p.0).sum::<f64>() / n,
                    points.iter().map(|p| p.1).sum::<f64>() / n,
                );
                SectionArea {
                    name,
                    seats: list,
                    outline: convex_hull(points),
                    centre,
                }
            })
            .collect();
        let mut tiers: Vec<(String, i64)> = Vec::new();
        for seat in &seats {
            if !tiers.iter().any(|(name, _)| *name == seat.tier) {
                tiers.push((seat.tier.clone(), seat.price_cents));
            }
        }
        tiers.sort_by_key(|tier| std::cmp::Reverse(tier.1));
        Self {
            seats,
            statuses,
            index,
            sections,
            tiers,
        }
    }

    fn tier_index(&self, tier: &str) -> usize {
        self.tiers
            .iter()
            .position(|(name, _)| name == tier)
            .unwrap_or(0)
    }

    fn label(&self, i: usize) -> String {
        let seat = &self.seats[i];
        format!(
            "Section {} row {} seat {}, {}",
            seat.section,
            seat.row,
            seat.number,
            format_cents(seat.price_cents)
        )
    }
}

/// Live connection state, shown to the fan and to tests (`data-live`).
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(feature = "hydrate"),
    expect(dead_code, reason = "set by the live connection, in the browser")
)]
enum Link {
    Connecting,
    Live,
    Reconnecting,
}

#[component]
pub fn SeatPicker(event_id: EventId, max_tickets: i64) -> impl IntoView {
    let map: RwSignal<Option<Arc<MapData>>> = RwSignal::new(None);
    let version = RwSignal::new(-1_i64);
    let link = RwSignal::new(Link::Connecting);
    let selected: RwSignal<Vec<SeatId>> = RwSignal::new(Vec::new());
    let focus: RwSignal<Option<usize>> = RwSignal::new(None);
    let max_price: RwSignal<Option<i64>> = RwSignal::new(None);
    let notice: RwSignal<Option<String>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let wanted = RwSignal::new(2_i64.min(max_tickets.max(1)));

    #[cfg(feature = "hydrate")]
    live::connect(event_id, map, version, link, selected, notice);

    let toggle = move |i: usize| {
        let Some(data) = map.get_untracked() else {
            return;
        };
        let seat = data.seats[i].id;
        if selected.with_untracked(|s| s.contains(&seat)) {
            selected.update(|s| s.retain(|id| *id != seat));
            return;
        }
        if data.statuses[i].get_untracked() != SeatStatus::Available {
            notice.set(Some(format!("{} is not available.", data.label(i))));
            return;
        }
        if selected.with_untracked(Vec::len) as i64 >= max_tickets {
            notice.set(Some(format!("You can pick up to {max_tickets} seats.")));
            return;
        }
        notice.set(None);
        selected.update(|s| s.push(seat));
    };

    let navigate = leptos_router::hooks::use_navigate();
    let hold = move |request: HoldRequest| {
        let navigate = navigate.clone();
        busy.set(true);
        notice.set(None);
        leptos::task::spawn_local(async move {
            let path = format!("/api/events/{event_id}/holds");
            let answer: Result<Option<HoldView>, ApiError> =
                client::call("POST", &path, Some(&request), None).await;
            busy.set(false);
            match answer {
                Ok(Some(hold)) => {
                    // Our own hold will arrive as a delta too; it is not "taken by someone else".
                    selected.set(Vec::new());
                    navigate(&format!("/checkout/{}", hold.hold_id), Default::default());
                }
                Ok(None) => notice.set(Some("Unexpected answer; please try again.".into())),
                Err(error) if error.code == ErrorCode::SeatsUnavailable => {
                    let taken = error.seat_ids.unwrap_or_default();
                    selected.update(|s| s.retain(|id| !taken.contains(id)));
                    notice.set(Some(if taken.is_empty() {
                        error.message
                    } else {
                        "Sorry — some of those seats were just taken. Pick others.".to_string()
                    }));
                }
                Err(error) => notice.set(Some(error.message)),
            }
        });
    };
    let hold_selected = {
        let hold = hold.clone();
        move |_| {
            let seat_ids = selected.get_untracked();
            if !seat_ids.is_empty() {
                hold(HoldRequest {
                    seat_ids: Some(seat_ids),
                    best_available: None,
                });
            }
        }
    };
    let hold_best = move |_| {
        let section = focus
            .get_untracked()
            .and_then(|i| map.with_untracked(|m| m.as_ref().map(|d| d.sections[i].name.clone())));
        hold(HoldRequest {
            seat_ids: None,
            best_available: Some(BestAvailable {
                count: wanted.get_untracked(),
                section,
                max_price_cents: max_price.get_untracked(),
            }),
        });
    };

    let total = move || {
        map.with(|m| {
            m.as_ref().map_or(0, |data| {
                selected.with(|s| {
                    s.iter()
                        .filter_map(|id| data.index.get(id))
                        .map(|&i| data.seats[i].price_cents)
                        .sum::<i64>()
                })
            })
        })
    };
    let link_text = move || match link.get() {
        Link::Connecting => "Connecting to live availability…",
        Link::Live => "Live: seats update as others buy",
        Link::Reconnecting => "Connection lost — reconnecting…",
    };
    let link_state = move || match link.get() {
        Link::Connecting => "connecting",
        Link::Live => "live",
        Link::Reconnecting => "reconnecting",
    };

    view! {
        <section class="seat-picker" aria-label="Choose your seats" data-live=link_state data-version=move || version.get()>
            <p class="live-status" role="status">{link_text}</p>
            {move || notice.get().map(|text| view! { <p class="notice" role="alert" data-testid="notice">{text}</p> })}
            {move || match map.get() {
                None => view! { <p class="loading">"Loading the seat map…"</p> }.into_any(),
                Some(data) => view! { <MapView data selected focus max_price toggle/> }.into_any(),
            }}
            <div class="picker-actions">
                <div class="selection" data-testid="selection">
                    {move || {
                        let count = selected.with(Vec::len);
                        if count == 0 {
                            "No seats selected".to_string()
                        } else {
                            format!("{count} seat{} selected · {}", if count == 1 { "" } else { "s" }, format_cents(total()))
                        }
                    }}
                </div>
                <button type="button" class="primary" data-testid="hold-selected"
                    disabled=move || { busy.get() || selected.with(Vec::is_empty) }
                    on:click=hold_selected>"Hold selected seats"</button>
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
                        {move || if focus.get().is_some() { "Find in this section" } else { "Find me seats" }}
                    </button>
                </div>
            </div>
        </section>
    }
    // Erase the (very deep) view type: keeps the server's release build
    // within the compiler's type-recursion limits.
    .into_any()
}

#[component]
fn MapView(
    data: Arc<MapData>,
    selected: RwSignal<Vec<SeatId>>,
    focus: RwSignal<Option<usize>>,
    max_price: RwSignal<Option<i64>>,
    toggle: impl Fn(usize) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let overview = data.seats.len() > OVERVIEW_ABOVE;
    let legend_data = data.clone();
    let list_data = data.clone();
    let drawing = move || {
        let data = data.clone();
        match (overview, focus.get()) {
            (true, None) => view! { <SectionOverview data focus/> }.into_any(),
            (_, section) => {
                let shown: Vec<usize> = match section {
                    Some(i) => data.sections[i].seats.clone(),
                    None => (0..data.seats.len()).collect(),
                };
                view! { <SeatDots data shown selected max_price toggle/> }.into_any()
            }
        }
    };
    view! {
        <div class="map-toolbar">
            {move || focus.get().map(|_| view! {
                <button type="button" class="secondary" on:click=move |_| focus.set(None)>"← All sections"</button>
            })}
            <label>"Max price "
                <select aria-label="Maximum price" on:change=move |ev| {
                    max_price.set(event_target_value(&ev).parse::<i64>().ok());
                }>
                    <option value="">"Any"</option>
                    {legend_data.tiers.iter().map(|(_, price)| view! {
                        <option value=price.to_string()>{format_cents(*price)}</option>
                    }).collect_view()}
                </select>
            </label>
            <ul class="legend" aria-label="Legend">
                {legend_data.tiers.iter().enumerate().map(|(i, (name, price))| view! {
                    <li><span class=format!("swatch tier-{}", i.min(3))></span>{format!("{name} {}", format_cents(*price))}</li>
                }).collect_view()}
                <li><span class="swatch held"></span>"Held"</li>
                <li><span class="swatch sold"></span>"Sold"</li>
                <li><span class="swatch selected"></span>"Your pick"</li>
            </ul>
        </div>
        <div class="map-canvas">{drawing}</div>
        <SeatList data=list_data selected focus toggle/>
    }
}

#[component]
fn SectionOverview(data: Arc<MapData>, focus: RwSignal<Option<usize>>) -> impl IntoView {
    let all = Bounds::of(data.seats.iter());
    let areas = data
        .sections
        .iter()
        .enumerate()
        .map(|(i, section)| {
            let outline = section
                .outline
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect::<Vec<_>>()
                .join(" ");
            let statuses: Vec<RwSignal<SeatStatus>> = section.seats.iter().map(|&s| data.statuses[s]).collect();
            let total = statuses.len();
            let free = Memo::new(move |_| statuses.iter().filter(|s| s.get() == SeatStatus::Available).count());
            let name = section.name.clone();
            let label = name.clone();
            let section_attr = name.clone();
            let (cx, cy) = section.centre;
            view! {
                <g class="section-area" tabindex="0" role="button" data-section=section_attr
                    aria-label=move || format!("Section {label}: {} of {total} seats available", free.get())
                    on:click=move |_| focus.set(Some(i))
                    on:keydown=move |ev| if ev.key() == "Enter" || ev.key() == " " { focus.set(Some(i)) }>
                    <polygon points=outline
                        class=move || {
                            let share = free.get() as f64 / total.max(1) as f64;
                            let level = if share == 0.0 { "none" } else if share < 0.25 { "few" } else if share < 0.75 { "some" } else { "many" };
                            format!("fill-{level}")
                        }/>
                    <text x=cx y=cy class="section-label">{name}</text>
                </g>
            }
        })
        .collect_view();
    view! {
        <svg class="seat-map overview" viewBox=all.view_box(6.0) role="group" aria-label="Sections: choose one to see its seats">
            <rect class="pitch" x="-52.5" y="-34" width="105" height="68"/>
            {areas}
        </svg>
    }
}

#[component]
fn SeatDots(
    data: Arc<MapData>,
    shown: Vec<usize>,
    selected: RwSignal<Vec<SeatId>>,
    max_price: RwSignal<Option<i64>>,
    toggle: impl Fn(usize) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let bounds = Bounds::of(shown.iter().map(|&i| &data.seats[i]));
    let dots = shown
        .into_iter()
        .map(|i| {
            let seat = &data.seats[i];
            let id = seat.id;
            let price = seat.price_cents;
            let status = data.statuses[i];
            let tier = data.tier_index(&seat.tier).min(3);
            let label = data.label(i);
            let class = move || {
                let mine = selected.with(|s| s.contains(&id));
                let filtered = max_price.get().is_some_and(|max| price > max);
                let state = match status.get() {
                    _ if mine => "selected".to_string(),
                    SeatStatus::Available => format!("available tier-{tier}"),
                    SeatStatus::Held => "held".to_string(),
                    SeatStatus::Sold => "sold".to_string(),
                    SeatStatus::Blocked => "blocked".to_string(),
                };
                format!("seat {state}{}", if filtered { " filtered" } else { "" })
            };
            view! {
                <circle cx=seat.x cy=seat.y r=SEAT_RADIUS class=class tabindex="0" role="button"
                    data-seat=id.0 data-status=move || status.get().as_str()
                    aria-pressed=move || selected.with(|s| s.contains(&id)).to_string()
                    aria-label=label
                    on:click=move |_| toggle(i)
                    on:keydown=move |ev| if ev.key() == "Enter" || ev.key() == " " { ev.prevent_default(); toggle(i) }/>
            }
        })
        .collect_view();
    view! {
        <svg class="seat-map" viewBox=bounds.view_box(2.0) role="group" aria-label="Seats">{dots}</svg>
    }
}

/// The text alternative: available seats per section as a list of toggles.
#[component]
fn SeatList(
    data: Arc<MapData>,
    selected: RwSignal<Vec<SeatId>>,
    focus: RwSignal<Option<usize>>,
    toggle: impl Fn(usize) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let rows = move || {
        let Some(section) = focus.get().or((data.sections.len() == 1).then_some(0)) else {
            return view! { <p class="hint">"Pick a section on the map (or from the list) to list its seats."</p>
                <ul class="section-list">
                    {data.sections.iter().enumerate().map(|(i, s)| view! {
                        <li><button type="button" class="link" on:click=move |_| focus.set(Some(i))>{format!("Section {}", s.name)}</button></li>
                    }).collect_view()}
                </ul>
            }.into_any();
        };
        let section_data = &data.sections[section];
        let items = section_data
            .seats
            .iter()
            .copied()
            .filter(|&i| data.statuses[i].get() == SeatStatus::Available || selected.with(|s| s.contains(&data.seats[i].id)))
            .take(200)
            .map(|i| {
                let id = data.seats[i].id;
                let label = data.label(i);
                view! {
                    <li><label><input type="checkbox" prop:checked=move || selected.with(|s| s.contains(&id))
                        on:change=move |_| toggle(i)/>{label}</label></li>
                }
            })
            .collect_view();
        view! { <ul class="seat-list">{items}</ul> }.into_any()
    };
    view! {
        <details class="seat-list-view">
            <summary>"List of available seats"</summary>
            {rows}
        </details>
    }
}

/// The browser side of the live channel: connect, apply the snapshot and
/// deltas, resynchronise on gaps, reconnect with backoff after drops.
#[cfg(feature = "hydrate")]
mod live {
    use super::*;
    use crate::types::LiveMessage;
    use futures::StreamExt;
    use gloo_net::websocket::futures::WebSocket;
    use gloo_net::websocket::Message;

    pub fn connect(
        event_id: EventId,
        map: RwSignal<Option<Arc<MapData>>>,
        version: RwSignal<i64>,
        link: RwSignal<Link>,
        selected: RwSignal<Vec<SeatId>>,
        notice: RwSignal<Option<String>>,
    ) {
        let alive = StoredValue::new(true);
        on_cleanup(move || alive.set_value(false));
        // The page's owner disposes `alive` right after the cleanup, and the
        // socket can still deliver a message after that (the buyer's own hold
        // arrives just as checkout opens): a disposed flag means "closed",
        // never a panic.
        let alive = move || alive.try_get_value().unwrap_or(false);
        leptos::task::spawn_local(async move {
            let mut backoff_ms = 500;
            while alive() {
                if let Some(url) = client::websocket_url(&format!("/api/events/{event_id}/live")) {
                    if let Ok(socket) = WebSocket::open(&url) {
                        let (_write, mut read) = socket.split();
                        while let Some(Ok(Message::Text(text))) = read.next().await {
                            if !alive() {
                                return;
                            }
                            let Ok(message) = serde_json::from_str::<LiveMessage>(&text) else {
                                continue;
                            };
                            if !apply(message, map, version, selected, notice) {
                                break; // a gap: reconnect for a fresh snapshot
                            }
                            link.set(Link::Live);
                            backoff_ms = 500;
                        }
                    }
                }
                if !alive() {
                    return;
                }
                link.set(Link::Reconnecting);
                gloo_timers::future::TimeoutFuture::new(backoff_ms).await;
                backoff_ms = (backoff_ms * 2).min(8_000);
            }
        });
    }

    /// Applies one message; `false` means a gap was seen.
    fn apply(
        message: LiveMessage,
        map: RwSignal<Option<Arc<MapData>>>,
        version: RwSignal<i64>,
        selected: RwSignal<Vec<SeatId>>,
        notice: RwSignal<Option<String>>,
    ) -> bool {
        match message {
            LiveMessage::Snapshot { version: at, seats } => {
                let same_seats = map.with_untracked(|m| {
                    m.as_ref().is_some_and(|d| {
                        d.seats.len() == seats.len()
                            && d.seats.iter().zip(&seats).all(|(a, b)| a.id == b.id)
                    })
                });
                if same_seats {
                    map.with_untracked(|m| {
                        if let Some(data) = m {
                            for (signal, seat) in data.statuses.iter().zip(&seats) {
                                signal.set(seat.status);
                            }
                        }
                    });
                } else {
                    map.set(Some(Arc::new(MapData::new(seats))));
                }
                version.set(at);
                drop_taken(map, selected, notice);
                true
            }
            LiveMessage::Delta {
                prev_version,
                version: at,
                changes,
            } => {
                if prev_version != version.get_untracked() {
                    return false;
                }
                map.with_untracked(|m| {
                    if let Some(data) = m {
                        for change in &changes {
                            if let Some(&i) = data.index.get(&change.seat_id) {
                                data.statuses[i].set(change.status);
                            }
                        }
                    }
                });
                version.set(at);
                drop_taken(map, selected, notice);
                true
            }
        }
    }

    /// A seat someone else just took leaves the fan's selection, with a note.
    fn drop_taken(
        map: RwSignal<Option<Arc<MapData>>>,
        selected: RwSignal<Vec<SeatId>>,
        notice: RwSignal<Option<String>>,
    ) {
        let taken: Vec<String> = map.with_untracked(|m| {
            let Some(data) = m else { return Vec::new() };
            selected.with_untracked(|s| {
                s.iter()
                    .filter_map(|id| data.index.get(id))
                    .filter(|&&i| data.statuses[i].get_untracked() != SeatStatus::Available)
                    .map(|&i| data.label(i))
                    .collect()
            })
        });
        if !taken.is_empty() {
            map.with_untracked(|m| {
                if let Some(data) = m {
                    selected.update(|s| {
                        s.retain(|id| {
                            data.index.get(id).is_some_and(|&i| {
                                data.statuses[i].get_untracked() == SeatStatus::Available
                            })
                        })
                    });
                }
            });
            notice.set(Some(format!(
                "Just taken by someone else: {}",
                taken.join("; ")
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::convex_hull;

    #[test]
    fn the_hull_keeps_only_the_outer_points() {
        let square_with_inside = vec![
            (0.0, 0.0),
            (2.0, 0.0),
            (2.0, 2.0),
            (0.0, 2.0),
            (1.0, 1.0),
            (1.0, 0.0),
        ];
        let hull = convex_hull(square_with_inside);
        assert_eq!(hull, vec![(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)]);
        assert_eq!(convex_hull(vec![(1.0, 1.0), (1.0, 1.0)]), vec![(1.0, 1.0)]);
    }
}
