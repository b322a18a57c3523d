//! `/staff/events/:id`: the live sales dashboard. Big figures, sales per
//! minute over the last hour and a heat map of the venue, all following the
//! staff live channel, plus a tool to block and unblock seats.
//!
//! The heat map colours each section by how full it is, (sold + held) /
//! capacity. Small venues draw every seat (click one to pick it for
//! blocking); large ones draw section outlines, as the fans' overview does.

use super::StaffGate;
use crate::client;
use crate::error::ErrorCode;
use crate::map_geometry::{centre, convex_hull, Bounds};
use crate::pages::browser_action;
use crate::staff::{BlockSeatsRequest, EventStats};
use crate::types::{format_cents, format_count, EventId, SeatId, SeatStatus, SeatView};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::collections::HashMap;
use std::sync::Arc;

/// Above this many seats the heat map draws sections, not seats.
const SEATS_UP_TO: usize = 3_000;
/// Seat dot radius in metres, as on the fans' map.
const SEAT_RADIUS: f64 = 0.24;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let params = use_params_map();
    let event_id = move || params.read().get("id").and_then(|raw| EventId::parse(&raw));
    view! {
        <StaffGate>
            {move || match event_id() {
                Some(event_id) => view! { <Dashboard event_id/> }.into_any(),
                None => view! { <p class="error" role="alert">"No such event."</p> }.into_any(),
            }}
        </StaffGate>
    }
}

/// Percentage of a section's seats that are sold or held, rounded up, so a
/// section with any seat taken is never shown as empty.
fn fill_percent(sold: i64, held: i64, capacity: i64) -> i64 {
    if capacity <= 0 {
        return 0;
    }
    ((sold + held) * 100 + capacity - 1) / capacity
}

/// Heat class for a section's fill. Uneven steps: early sales matter most
/// to staff, so a single sale already takes a section off the "none" colour.
fn heat_class(percent: i64) -> &'static str {
    match percent {
        i64::MIN..=0 => "heat-0",
        1..=24 => "heat-1",
        25..=49 => "heat-2",
        50..=79 => "heat-3",
        _ => "heat-4",
    }
}

/// Seat ids typed by staff: numbers separated by commas, spaces or new lines.
/// Anything else is reported back rather than silently dropped.
pub fn parse_seat_ids(raw: &str) -> Result<Vec<SeatId>, String> {
    let mut ids: Vec<SeatId> = Vec::new();
    for part in raw.split(|c: char| c == ',' || c.is_whitespace()) {
        if part.is_empty() {
            continue;
        }
        let id = SeatId::parse(part).ok_or_else(|| format!("“{part}” is not a seat id"))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Seats of the event, grouped by section for the heat map.
struct HeatData {
    seats: Vec<SeatView>,
    /// Refreshed from the seat map on load and after each block or unblock.
    statuses: Vec<RwSignal<SeatStatus>>,
    index: HashMap<SeatId, usize>,
    sections: Vec<HeatSection>,
}

struct HeatSection {
    name: String,
    seats: Vec<usize>,
    outline: Vec<(f64, f64)>,
    centre: (f64, f64),
}

impl HeatData {
    fn new(seats: Vec<SeatView>) -> Self {
        let statuses = seats.iter().map(|s| RwSignal::new(s.status)).collect();
        let index = seats.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let mut sections: Vec<HeatSection> = Vec::new();
        for (i, seat) in seats.iter().enumerate() {
            match sections.iter_mut().find(|s| s.name == seat.section) {
                Some(section) => section.seats.push(i),
                None => sections.push(HeatSection {
                    name: seat.section.clone(),
                    seats: vec![i],
                    outline: Vec::new(),
                    centre: (0.0, 0.0),
                }),
            }
        }
        for section in &mut sections {
            let points: Vec<(f64, f64)> = section
                .seats
                .iter()
                .map(|&i| (seats[i].x, seats[i].y))
                .collect();
            section.centre = centre(&points);
            section.outline = convex_hull(points);
        }
        Self {
            seats,
            statuses,
            index,
            sections,
        }
    }

    fn refresh(&self, seats: &[SeatView]) {
        for seat in seats {
            if let Some(&i) = self.index.get(&seat.id) {
                self.statuses[i].set(seat.status);
            }
        }
    }
}

#[component]
fn Dashboard(event_id: EventId) -> impl IntoView {
    let detail = LocalResource::new(move || client::event(event_id));
    let stats: RwSignal<Option<EventStats>> = RwSignal::new(None);
    let stats_error: RwSignal<Option<String>> = RwSignal::new(None);
    let heat: RwSignal<Option<Arc<HeatData>>> = RwSignal::new(None);
    let link = RwSignal::new("connecting");
    let seat_text = RwSignal::new(String::new());
    let block_notice: RwSignal<Option<(bool, String)>> = RwSignal::new(None);

    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            match client::event_stats(event_id).await {
                Ok(fresh) => accept(stats, fresh),
                Err(error) => stats_error.set(Some(error.message)),
            }
        });
        leptos::task::spawn_local(async move {
            if let Ok(map) = client::seat_map(event_id).await {
                heat.set(Some(Arc::new(HeatData::new(map.seats))));
            }
        });
    });

    #[cfg(feature = "hydrate")]
    live::connect(event_id, stats, link);

    let picked = Memo::new(move |_| seat_text.with(|t| parse_seat_ids(t).unwrap_or_default()));
    let toggle_seat = move |id: SeatId| {
        seat_text.update(|text| {
            let mut ids = parse_seat_ids(text).unwrap_or_default();
            if ids.contains(&id) {
                ids.retain(|other| *other != id);
            } else {
                ids.push(id);
            }
            *text = ids
                .iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(", ");
        });
    };

    // Blocking is an action: its `pending` disables both buttons.
    let block = browser_action(move |request: &BlockSeatsRequest| {
        let request = request.clone();
        block_notice.set(None);
        async move {
            match client::block_seats(event_id, &request).await {
                Ok(fresh) => {
                    accept(stats, fresh);
                    seat_text.set(String::new());
                    let verb = if request.blocked {
                        "Blocked"
                    } else {
                        "Unblocked"
                    };
                    let count = request.seat_ids.len();
                    block_notice.set(Some((
                        true,
                        format!("{verb} {count} seat{}.", if count == 1 { "" } else { "s" }),
                    )));
                    // Re-read seat statuses so the map shows the change.
                    if let Ok(map) = client::seat_map(event_id).await {
                        if let Some(data) = heat.get_untracked() {
                            data.refresh(&map.seats);
                        }
                    }
                }
                Err(error) if error.code == ErrorCode::SeatsUnavailable => {
                    let ids = error
                        .seat_ids
                        .unwrap_or_default()
                        .iter()
                        .map(|id| id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    block_notice.set(Some((
                        false,
                        format!("{} Nothing was changed. Seats: {ids}", error.message),
                    )));
                }
                Err(error) => block_notice.set(Some((false, error.message))),
            }
        }
    });
    let busy = block.pending();
    let set_blocked = move |blocked: bool| match seat_text.with_untracked(|t| parse_seat_ids(t)) {
        Ok(ids) if ids.is_empty() => {
            block_notice.set(Some((false, "Enter or pick at least one seat.".into())));
        }
        Ok(seat_ids) => {
            block.dispatch(BlockSeatsRequest { seat_ids, blocked });
        }
        Err(message) => block_notice.set(Some((false, message))),
    };

    let figure = move |pick: fn(&EventStats) -> String| {
        move || stats.with(|s| s.as_ref().map(pick).unwrap_or_else(|| "—".to_string()))
    };
    let title = move || match detail.get() {
        Some(Ok(event)) => event.name,
        Some(Err(_)) => format!("Event {event_id}"),
        None => "Loading…".to_string(),
    };
    let link_text = move || match link.get() {
        "live" => "Live: figures update as seats sell",
        "reconnecting" => "Connection lost — reconnecting…",
        _ => "Connecting to live figures…",
    };

    view! {
        <section class="dashboard" data-live=move || link.get() data-version=move || stats.with(|s| s.as_ref().map_or(-1, |s| s.version))>
            <p class="fine-print"><a href="/staff">"← Staff"</a></p>
            <h1 data-testid="dashboard-title">{title}</h1>
            {move || detail.get().and_then(Result::ok).map(|event| view! {
                <p class="when">{crate::types::format_starts_at(&event.starts_at)}" · "{event.venue.name}", "{event.venue.city}
                    " · "<a href=format!("/events/{event_id}")>"public page"</a>
                    " · "<a href=format!("/staff/events/{event_id}/edit") data-testid="edit-event">"edit event"</a></p>
            })}
            <p class="live-status" role="status">{link_text}</p>
            {move || stats_error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <dl class="figures">
                <div class="figure sold"><dt>"Sold"</dt><dd data-testid="stat-sold">{figure(|s| format_count(s.sold))}</dd></div>
                <div class="figure held"><dt>"Held"</dt><dd data-testid="stat-held">{figure(|s| format_count(s.held))}</dd></div>
                <div class="figure available"><dt>"Available"</dt><dd data-testid="stat-available">{figure(|s| format_count(s.available))}</dd></div>
                <div class="figure blocked"><dt>"Blocked"</dt><dd data-testid="stat-blocked">{figure(|s| format_count(s.blocked))}</dd></div>
                <div class="figure revenue"><dt>"Revenue"</dt><dd data-testid="stat-revenue">{figure(|s| format_cents(s.revenue_cents))}</dd></div>
            </dl>
            <h2>"Tickets sold per minute, last hour"</h2>
            <SalesChart stats/>
            <h2>"How full each section is"</h2>
            <HeatLegend/>
            <div class="map-canvas">
                {move || match heat.get() {
                    None => view! { <p class="loading">"Loading the seat map…"</p> }.into_any(),
                    Some(data) => view! { <HeatMap data stats picked toggle_seat/> }.into_any(),
                }}
            </div>
            <SectionTable stats/>
            <h2>"Block seats"</h2>
            <form class="block-tool" on:submit=move |ev| ev.prevent_default()>
                <label>"Seat ids (comma separated; or click seats on the map)"
                    <input type="text" data-testid="block-seat-ids" inputmode="numeric"
                        prop:value=move || seat_text.get()
                        on:input=move |ev| seat_text.set(event_target_value(&ev))/>
                </label>
                <div class="block-actions">
                    <button type="button" data-testid="block" disabled=move || busy.get() on:click=move |_| set_blocked(true)>"Block"</button>
                    <button type="button" class="secondary" data-testid="unblock" disabled=move || busy.get() on:click=move |_| set_blocked(false)>"Unblock"</button>
                </div>
                {move || block_notice.get().map(|(ok, text)| view! {
                    <p class={if ok { "block-done" } else { "notice" }} role="status" data-testid="block-notice">{text}</p>
                })}
            </form>
        </section>
    }
    .into_any()
}

/// Keeps the newest figures: a reply to a block request and the live
/// channel can arrive in either order.
fn accept(stats: RwSignal<Option<EventStats>>, fresh: EventStats) {
    let newer = stats.with_untracked(|s| s.as_ref().is_none_or(|s| fresh.version >= s.version));
    if newer {
        stats.set(Some(fresh));
    }
}

#[component]
fn SalesChart(stats: RwSignal<Option<EventStats>>) -> impl IntoView {
    const WIDTH: f64 = 900.0;
    const HEIGHT: f64 = 220.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 10.0;
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - BOTTOM - TOP;
    move || {
        let counts: Vec<i64> = stats.with(|s| {
            s.as_ref()
                .map(|s| s.sales_per_minute.clone())
                .unwrap_or_default()
        });
        let total: i64 = counts.iter().sum();
        let max = counts.iter().copied().max().unwrap_or(0).max(1);
        let slots = counts.len().max(60) as f64;
        let slot = plot_w / slots;
        let offset = slots - counts.len() as f64;
        let bars = counts
            .iter()
            .enumerate()
            .map(|(i, &count)| {
                let h = count as f64 / max as f64 * plot_h;
                let x = LEFT + (offset + i as f64) * slot;
                let ago = counts.len() - 1 - i;
                let when = if ago == 0 {
                    "this minute".to_string()
                } else {
                    format!("{ago} min ago")
                };
                view! {
                    <rect class="bar" x=format!("{:.1}", x + 0.5) y=format!("{:.1}", TOP + plot_h - h)
                        width=format!("{:.1}", (slot - 1.0).max(1.0)) height=format!("{h:.1}")>
                        // A tooltip for the pointer; screen readers get the
                        // figure's summary (an aria-label here is prohibited:
                        // the svg is one image, its parts are presentational).
                        <title>{format!("{when}: {count}")}</title>
                    </rect>
                }
            })
            .collect_view();
        let base = TOP + plot_h;
        let mid = max / 2;
        let y_of = move |v: i64| TOP + plot_h - v as f64 / max as f64 * plot_h;
        view! {
            <figure class="sales-chart">
                <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" data-testid="sales-chart" data-total=total
                    aria-label=format!("{total} tickets sold in the last hour; busiest minute {max}")>
                    <line class="axis" x1=LEFT y1=TOP x2=LEFT y2=base/>
                    <line class="axis" x1=LEFT y1=base x2={WIDTH - 8.0} y2=base/>
                    <text class="tick" x={LEFT - 4.0} y=y_of(max) text-anchor="end">{max}</text>
                    {(mid > 0 && mid < max).then(|| view! {
                        <line class="grid" x1=LEFT y1=y_of(mid) x2={WIDTH - 8.0} y2=y_of(mid)/>
                        <text class="tick" x={LEFT - 4.0} y=y_of(mid) text-anchor="end">{mid}</text>
                    })}
                    <text class="tick" x={LEFT - 4.0} y=base text-anchor="end">"0"</text>
                    <text class="tick" x=LEFT y={HEIGHT - 6.0} text-anchor="start">"60 min ago"</text>
                    <text class="tick" x={LEFT + plot_w / 2.0} y={HEIGHT - 6.0} text-anchor="middle">"30 min ago"</text>
                    <text class="tick" x={WIDTH - 8.0} y={HEIGHT - 6.0} text-anchor="end">"now"</text>
                    {bars}
                </svg>
                <figcaption class="fine-print">{format!("{total} tickets in the last hour")}</figcaption>
            </figure>
        }
    }
}

#[component]
fn HeatLegend() -> impl IntoView {
    view! {
        <ul class="legend heat-legend" aria-label="Heat map legend">
            <li><span class="swatch heat-0"></span>"none sold or held"</li>
            <li><span class="swatch heat-1"></span>"up to 24 %"</li>
            <li><span class="swatch heat-2"></span>"25–49 %"</li>
            <li><span class="swatch heat-3"></span>"50–79 %"</li>
            <li><span class="swatch heat-4"></span>"80 % and over"</li>
            <li><span class="swatch blocked"></span>"Blocked seat"</li>
            <li><span class="swatch picked"></span>"Picked to block"</li>
        </ul>
    }
}

/// Fill percentage of a section from the live figures, as a memo so a
/// figure update re-colours only the sections whose share changed.
fn section_fill(stats: RwSignal<Option<EventStats>>, name: String) -> Memo<i64> {
    Memo::new(move |_| {
        stats.with(|s| {
            s.as_ref()
                .and_then(|s| s.sections.iter().find(|sec| sec.section == name))
                .map_or(0, |sec| fill_percent(sec.sold, sec.held, sec.capacity))
        })
    })
}

#[component]
fn HeatMap(
    data: Arc<HeatData>,
    stats: RwSignal<Option<EventStats>>,
    picked: Memo<Vec<SeatId>>,
    toggle_seat: impl Fn(SeatId) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let bounds = Bounds::of(data.seats.iter().map(|s| (s.x, s.y)));
    if data.seats.len() > SEATS_UP_TO {
        let areas = data
            .sections
            .iter()
            .map(|section| {
                let fill = section_fill(stats, section.name.clone());
                let outline = section
                    .outline
                    .iter()
                    .map(|(x, y)| format!("{x:.1},{y:.1}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let name = section.name.clone();
                let label = name.clone();
                let section_attr = name.clone();
                let (cx, cy) = section.centre;
                view! {
                    // Titles are the pointer's tooltips: inside the svg's
                    // one image, an aria-label on a part is prohibited (the
                    // figures are in the table below for screen readers).
                    <g class="heat-area" data-section=section_attr data-fill=move || fill.get()>
                        <title>{move || format!("Section {label}: {} % sold or held", fill.get())}</title>
                        <polygon points=outline class=move || heat_class(fill.get())/>
                        <text x=cx y=cy class="section-label">{name}</text>
                    </g>
                }
            })
            .collect_view();
        return view! {
            <svg class="seat-map heat-map" viewBox=bounds.view_box(6.0) role="img" aria-label="Sections coloured by how full they are">
                {areas}
            </svg>
        }
        .into_any();
    }
    let dots = data
        .sections
        .iter()
        .flat_map(|section| {
            let fill = section_fill(stats, section.name.clone());
            let data = data.clone();
            section.seats.clone().into_iter().map(move |i| {
                let seat = &data.seats[i];
                let id = seat.id;
                let status = data.statuses[i];
                let class = move || {
                    let state = if picked.with(|p| p.contains(&id)) {
                        "picked"
                    } else if status.get() == SeatStatus::Blocked {
                        "blocked"
                    } else {
                        heat_class(fill.get())
                    };
                    format!("seat {state}")
                };
                let label = format!(
                    "Seat {} · section {} row {} seat {}",
                    id, seat.section, seat.row, seat.number
                );
                view! {
                    // Picked by pointer; the seat-ids field above does the
                    // same from the keyboard.
                    <circle cx=seat.x cy=seat.y r=SEAT_RADIUS class=class data-seat=id.0
                        data-status=move || status.get().as_str()
                        on:click=move |_| toggle_seat(id)>
                        <title>{label}</title>
                    </circle>
                }
            })
        })
        .collect_view();
    view! {
        <svg class="seat-map heat-map" viewBox=bounds.view_box(2.0) role="img" aria-label="Seats coloured by how full their section is">
            {dots}
        </svg>
    }
    .into_any()
}

/// The heat map's figures as a table, for reading exact numbers.
#[component]
fn SectionTable(stats: RwSignal<Option<EventStats>>) -> impl IntoView {
    view! {
        <details class="section-table">
            <summary>"Figures by section"</summary>
            <table class="tiers">
                <thead><tr><th>"Section"</th><th>"Capacity"</th><th>"Sold"</th><th>"Held"</th><th>"Available"</th><th>"Blocked"</th><th>"Full"</th></tr></thead>
                <tbody>
                    {move || stats.with(|s| s.as_ref().map(|s| s.sections.iter().map(|sec| view! {
                        <tr>
                            <td>{sec.section.clone()}</td>
                            <td>{format_count(sec.capacity)}</td>
                            <td>{format_count(sec.sold)}</td>
                            <td>{format_count(sec.held)}</td>
                            <td>{format_count(sec.available)}</td>
                            <td>{format_count(sec.blocked)}</td>
                            <td>{format!("{} %", fill_percent(sec.sold, sec.held, sec.capacity))}</td>
                        </tr>
                    }).collect_view()))}
                </tbody>
            </table>
        </details>
    }
}

/// The browser side of the staff live channel: every message is a full
/// [`EventStats`], so there is nothing to resynchronise.
#[cfg(feature = "hydrate")]
mod live {
    use super::*;
    use crate::live_socket::{self, Next};

    pub fn connect(
        event_id: EventId,
        stats: RwSignal<Option<EventStats>>,
        link: RwSignal<&'static str>,
    ) {
        live_socket::run(
            client::staff_live_path(event_id),
            move |state| link.set(state.as_str()),
            || async { true },
            move |text| match serde_json::from_str::<EventStats>(text) {
                Ok(fresh) => {
                    accept(stats, fresh);
                    Next::Applied
                }
                Err(_) => Next::Ignored,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_ids_are_read_from_a_typed_list() {
        assert_eq!(
            parse_seat_ids("12, 13 14\n12"),
            Ok(vec![SeatId(12), SeatId(13), SeatId(14)])
        );
        assert_eq!(parse_seat_ids("  "), Ok(vec![]));
        assert!(parse_seat_ids("12, A3").is_err());
    }

    #[test]
    fn any_sale_colours_a_section_and_a_full_one_is_darkest() {
        assert_eq!(heat_class(fill_percent(0, 0, 100)), "heat-0");
        assert_eq!(heat_class(fill_percent(1, 0, 1000)), "heat-1");
        assert_eq!(heat_class(fill_percent(15, 5, 100)), "heat-1");
        assert_eq!(heat_class(fill_percent(49, 0, 100)), "heat-2");
        assert_eq!(heat_class(fill_percent(59, 0, 100)), "heat-3");
        assert_eq!(heat_class(fill_percent(100, 0, 100)), "heat-4");
        assert_eq!(fill_percent(1, 0, 0), 0);
    }
}
