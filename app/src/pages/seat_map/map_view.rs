//! The drawing: an SVG whose `viewBox` is the zoom and pan (nothing is
//! redrawn per frame), sections at the overview and seats of the sections
//! in view when close. Wheel and pinch zoom, drag to pan, zoom to a
//! section, reset. Seats can be picked by pointer once they are at least
//! 24 CSS px targets; before that a tap zooms in on them.
//!
//! Keyboard: the map is one tab stop (roving tabindex). At the overview,
//! arrow keys move between sections and Enter opens one; in seats, the
//! map is a `grid` of rows, arrow keys move between seats and Enter or
//! Space picks. Escape goes back to the whole venue.

use super::data::{state_text, MapData, SEAT_PITCH};
use super::Picker;
use crate::layout::{SeatFeature, VenueKind};
use crate::map_geometry::{svg_points, ViewBox};
use crate::types::{format_cents, SeatStatus};
use leptos::prelude::*;
use std::sync::Arc;

/// Seats drawn at once at most: more than this in view shows sections.
const SEAT_BUDGET: usize = 4_000;
/// The smallest target a seat is picked by pointer at (CSS px).
const MIN_TARGET_PX: f64 = 24.0;
/// Seat radius: half the pitch, so the target is the seat's whole width.
const SEAT_RADIUS: f64 = SEAT_PITCH / 2.0 * 0.96;
const _: () = assert!(SEAT_RADIUS * 2.0 <= SEAT_PITCH && SEAT_RADIUS * 2.0 > SEAT_PITCH * 0.9);

/// The map's on-screen size and how plan metres map onto it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Screen {
    width: f64,
    height: f64,
}

impl Screen {
    /// Pixels per metre and the letterbox offset for `view`
    /// (`preserveAspectRatio` "xMidYMid meet").
    fn fit(self, view: &ViewBox) -> (f64, f64, f64) {
        let scale = (self.width / view.width).min(self.height / view.height);
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let dx = (self.width - view.width * scale) / 2.0;
        let dy = (self.height - view.height * scale) / 2.0;
        (scale, dx, dy)
    }

    fn plan_at(self, view: &ViewBox, px: f64, py: f64) -> (f64, f64) {
        let (scale, dx, dy) = self.fit(view);
        (view.x + (px - dx) / scale, view.y + (py - dy) / scale)
    }

    fn screen_at(self, view: &ViewBox, x: f64, y: f64) -> (f64, f64) {
        let (scale, dx, dy) = self.fit(view);
        ((x - view.x) * scale + dx, (y - view.y) * scale + dy)
    }
}

/// Pointer state for drag and pinch.
#[derive(Clone, Default)]
struct Gesture {
    pointers: Vec<(i32, f64, f64)>,
    travelled: f64,
}

#[derive(Clone, Copy)]
struct MapState {
    view: RwSignal<ViewBox>,
    /// The sections whose seats are drawn, or `None` at the overview.
    shown: Memo<Option<Vec<usize>>>,
    screen: RwSignal<Screen>,
    /// The seat with the tab stop (roving tabindex) in seats mode.
    active_seat: RwSignal<Option<usize>>,
    /// The section with the tab stop at the overview.
    active_section: RwSignal<usize>,
    /// The seat whose tooltip shows.
    tip: RwSignal<Option<usize>>,
    /// A drag just ended: the click that follows it is not a pick.
    dragged: StoredValue<bool>,
    gesture: StoredValue<Gesture>,
    #[cfg_attr(
        not(feature = "hydrate"),
        expect(dead_code, reason = "measured in the browser")
    )]
    svg: NodeRef<leptos::svg::Svg>,
}

impl MapState {
    fn scale(&self) -> f64 {
        let view = self.view.get();
        self.screen.get().fit(&view).0
    }

    fn pickable(&self) -> bool {
        self.scale() * SEAT_PITCH >= MIN_TARGET_PX
    }

    /// The closest zoom, in metres across: seats twice the 24 px a pointer
    /// needs on this screen. The view's shape counts: a tall view on a wide
    /// screen is fitted by its height, so a fixed width could stop short of
    /// pickable seats. 8 m before the map has been measured.
    fn closest_width(&self) -> f64 {
        let view = self.view.get_untracked();
        let screen = self.screen.get_untracked();
        let fitted_px = screen.width.min(screen.height * view.width / view.height);
        let closest = fitted_px * SEAT_PITCH / (2.0 * MIN_TARGET_PX);
        if closest.is_finite() && closest > 0.0 {
            closest
        } else {
            8.0
        }
    }

    /// A client (viewport) position relative to the map's corner.
    fn local(&self, x: f64, y: f64) -> (f64, f64) {
        #[cfg(feature = "hydrate")]
        if let Some(svg) = self.svg.get_untracked() {
            let rect = svg.get_bounding_client_rect();
            return (x - rect.left(), y - rect.top());
        }
        (x, y)
    }
}

#[component]
pub fn MapView(data: Arc<MapData>, picker: Picker) -> impl IntoView {
    let home = data.home;
    let view = RwSignal::new(home);
    // The sections whose seats are drawn, or `None` at the overview.
    let shown = {
        let data = data.clone();
        Memo::new(move |_| seats_to_draw(&data, &view.get()))
    };
    let svg: NodeRef<leptos::svg::Svg> = NodeRef::new();
    let state = MapState {
        svg,
        view,
        shown,
        screen: RwSignal::new(Screen {
            width: 800.0,
            height: 800.0 * home.height / home.width.max(1.0),
        }),
        active_seat: RwSignal::new(None),
        active_section: RwSignal::new(0),
        tip: RwSignal::new(None),
        dragged: StoredValue::new(false),
        gesture: StoredValue::new(Gesture::default()),
    };
    #[cfg(feature = "hydrate")]
    dom::watch_size(svg, state.screen);

    let overview = move || shown.with(Option::is_none);

    let zoom_by = move |factor: f64| {
        let view = state.view.get_untracked();
        state
            .view
            .set(view.zoom(factor, view.centre(), &home, state.closest_width()));
    };
    let reset = move || {
        state.view.set(home);
        picker.focus_section.set(None);
    };

    let data_for_keys = data.clone();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let handled = if overview() {
            overview_key(&ev.key(), &data_for_keys, state, picker)
        } else {
            seat_key(&ev.key(), &data_for_keys, state, picker)
        };
        if handled {
            ev.prevent_default();
        }
    };

    let tiers = data.tiers.clone();
    let tier_options = tiers.clone();
    let (feature_data, sections_data, seats_data, tip_data) =
        (data.clone(), data.clone(), data.clone(), data.clone());
    view! {
        <div class="map-canvas">
            <svg node_ref=svg class="seat-map" data-testid="seat-map"
                class:overview=overview
                data-scale=move || format!("{:.1}", state.scale())
                data-pickable=move || state.pickable().to_string()
                viewBox=move || state.view.get().to_attr()
                style=format!("aspect-ratio: {:.2} / {:.2}", home.width, home.height)
                role=move || if overview() { "group" } else { "grid" }
                aria-label=move || if overview() {
                    "Seat map, sections: arrow keys move between sections, Enter shows a section's seats"
                } else {
                    "Seat map: arrow keys move between seats, Enter or Space picks, Escape shows the whole venue"
                }
                on:keydown=on_keydown
                on:wheel=move |ev: leptos::ev::WheelEvent| {
                    ev.prevent_default();
                    let (px, py) = state.local(f64::from(ev.client_x()), f64::from(ev.client_y()));
                    let view = state.view.get_untracked();
                    let at = state.screen.get_untracked().plan_at(&view, px, py);
                    let factor = (-ev.delta_y() * 0.002).exp();
                    state.view.set(view.zoom(factor, at, &home, state.closest_width()));
                }
                on:pointerdown=move |ev: leptos::ev::PointerEvent| pointer_down(&ev, state)
                on:pointermove=move |ev: leptos::ev::PointerEvent| pointer_move(&ev, state, &home)
                on:pointerup=move |ev: leptos::ev::PointerEvent| pointer_up(&ev, state)
                on:pointercancel=move |ev: leptos::ev::PointerEvent| pointer_up(&ev, state)
                on:pointerleave=move |ev: leptos::ev::PointerEvent| pointer_up(&ev, state)>
                <defs>
                    <pattern id="hatch" patternUnits="userSpaceOnUse" width="0.3" height="0.3" patternTransform="rotate(45)">
                        <rect width="0.3" height="0.3" class="hatch-bg"/>
                        <line x1="0" y1="0" x2="0" y2="0.3" class="hatch-line"/>
                    </pattern>
                </defs>
                <VenueFeature data=feature_data/>
                <Sections data=sections_data picker state overview=Signal::derive(overview)/>
                <For each=move || shown.get().unwrap_or_default() key=|i| *i let:section>
                    <SectionSeats data=seats_data.clone() section picker state/>
                </For>
            </svg>
            <Tooltip data=tip_data picker state/>
            <div class="zoom-controls" role="group" aria-label="Zoom">
                <button type="button" class="secondary" aria-label="Zoom in" data-testid="zoom-in" on:click=move |_| zoom_by(2.0)>"+"</button>
                <button type="button" class="secondary" aria-label="Zoom out" data-testid="zoom-out" on:click=move |_| zoom_by(0.5)>"−"</button>
                <button type="button" class="secondary" data-testid="zoom-reset" on:click=move |_| reset()>
                    {move || if picker.focus_section.get().is_some() { "← All sections" } else { "Whole venue" }}
                </button>
            </div>
            <p class="map-hint" aria-hidden="true">
                {move || if overview() {
                    "Pick a section, or zoom in (wheel, pinch or +)."
                } else if state.pickable() {
                    "Tap or click a seat to pick it; drag to move around."
                } else {
                    "Tap the seats to zoom in close enough to pick one."
                }}
            </p>
        </div>
        <div class="map-toolbar">
            <label>"Max price "
                <select on:change=move |ev| picker.max_price.set(event_target_value(&ev).parse::<i64>().ok())>
                    <option value="">"Any"</option>
                    {tier_options.iter().map(|tier| view! {
                        <option value=tier.price_cents.to_string()>{format_cents(tier.price_cents)}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"Accessible seating "
                <select data-testid="need" on:change=move |ev| {
                    picker.need.set(SeatFeature::parse(&event_target_value(&ev)));
                }>
                    <option value="">"All seats"</option>
                    {SeatFeature::ALL.iter().map(|f| view! {
                        <option value=f.as_str()>{filter_label(*f)}</option>
                    }).collect_view()}
                </select>
            </label>
        </div>
        <Legend tiers/>
    }
}

/// Every section in view if their seats fit the budget; zoomed in, the
/// sections nearest the middle of the view that fit; zoomed out, none
/// (the overview).
fn seats_to_draw(data: &MapData, view: &ViewBox) -> Option<Vec<usize>> {
    let mut shown: Vec<usize> = (0..data.sections.len())
        .filter(|&i| data.sections[i].bounds.intersects(view))
        .collect();
    let total: usize = shown.iter().map(|&i| data.sections[i].seat_count).sum();
    if total <= SEAT_BUDGET {
        return Some(shown);
    }
    if view.width > data.home.width * 0.4 {
        return None;
    }
    let (cx, cy) = view.centre();
    let distance = |i: usize| {
        let (x, y) = data.sections[i].centre;
        (x - cx).hypot(y - cy)
    };
    shown.sort_by(|&a, &b| distance(a).total_cmp(&distance(b)));
    let mut kept = Vec::new();
    let mut seats = 0;
    for section in shown {
        let count = data.sections[section].seat_count;
        if seats + count > SEAT_BUDGET && !kept.is_empty() {
            break;
        }
        seats += count;
        kept.push(section);
    }
    kept.sort_unstable();
    Some(kept)
}

fn filter_label(feature: SeatFeature) -> &'static str {
    match feature {
        SeatFeature::Wheelchair => "Wheelchair spaces",
        SeatFeature::Companion => "Companion seats",
        SeatFeature::LimitedMobility => "Limited mobility seats",
        SeatFeature::RestrictedView => "Restricted view seats",
    }
}

/// Zooms to a section and gives its first free seat the tab stop.
fn open_section(data: &MapData, section: usize, state: MapState, picker: Picker) {
    let bounds = data.sections[section].bounds;
    let view = ViewBox::fit(&bounds, 1.0, &data.home);
    state.view.set(view);
    picker.focus_section.set(Some(section));
    state.active_section.set(section);
    let seats = data.sections[section].seats();
    let first_free = seats
        .clone()
        .find(|&i| data.status_untracked(i) == SeatStatus::Available)
        .or(seats.clone().next());
    state.active_seat.set(first_free);
}

fn overview_key(key: &str, data: &MapData, state: MapState, picker: Picker) -> bool {
    let count = data.sections.len().max(1);
    let at = state.active_section.get_untracked().min(count - 1);
    let next = match key {
        "ArrowRight" | "ArrowDown" => (at + 1) % count,
        "ArrowLeft" | "ArrowUp" => (at + count - 1) % count,
        "Home" => 0,
        "End" => count - 1,
        "Enter" | " " => {
            open_section(data, at, state, picker);
            #[cfg(feature = "hydrate")]
            dom::focus_later(".seat-map [tabindex=\"0\"]");
            return true;
        }
        _ => return false,
    };
    state.active_section.set(next);
    #[cfg(feature = "hydrate")]
    dom::focus_later(&format!(".seat-map [data-section-index=\"{next}\"]"));
    true
}

fn seat_key(key: &str, data: &MapData, state: MapState, picker: Picker) -> bool {
    let Some(at) = state.active_seat.get_untracked() else {
        return false;
    };
    let row = &data.rows[data.seats[at].row];
    let next = match key {
        "ArrowRight" => data.along_row(at, 1),
        "ArrowLeft" => data.along_row(at, -1),
        "ArrowDown" => data.across_rows(at, 1),
        "ArrowUp" => data.across_rows(at, -1),
        "Home" => row.seats.first().copied(),
        "End" => row.seats.last().copied(),
        "Enter" | " " => {
            picker.toggle(at);
            return true;
        }
        "Escape" => {
            state.view.set(data.home);
            picker.focus_section.set(None);
            state.active_section.set(data.seats[at].section);
            #[cfg(feature = "hydrate")]
            dom::focus_later(".seat-map [tabindex=\"0\"]");
            return true;
        }
        _ => return false,
    };
    if let Some(next) = next {
        state.active_seat.set(Some(next));
        state.tip.set(Some(next));
        bring_into_view(data, next, state);
        #[cfg(feature = "hydrate")]
        dom::focus_later(&format!(".seat-map [data-index=\"{next}\"]"));
    }
    true
}

/// Pans so the seat is well inside the view.
fn bring_into_view(data: &MapData, seat: usize, state: MapState) {
    let view = state.view.get_untracked();
    let (x, y) = (data.seats[seat].x, data.seats[seat].y);
    let margin_x = view.width * 0.1;
    let margin_y = view.height * 0.1;
    let inside = x > view.x + margin_x
        && x < view.x + view.width - margin_x
        && y > view.y + margin_y
        && y < view.y + view.height - margin_y;
    if !inside {
        let (cx, cy) = view.centre();
        state.view.set(view.pan(x - cx, y - cy, &data.home));
    }
}

fn pointer_down(ev: &leptos::ev::PointerEvent, state: MapState) {
    let point = (
        ev.pointer_id(),
        f64::from(ev.client_x()),
        f64::from(ev.client_y()),
    );
    state.gesture.update_value(|g| {
        if g.pointers.is_empty() {
            g.travelled = 0.0;
        }
        g.pointers.retain(|p| p.0 != point.0);
        g.pointers.push(point);
    });
    state.dragged.set_value(false);
}

fn pointer_move(ev: &leptos::ev::PointerEvent, state: MapState, home: &ViewBox) {
    let id = ev.pointer_id();
    let (x, y) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
    let Some(before) = state
        .gesture
        .with_value(|g| g.pointers.iter().find(|p| p.0 == id).copied())
    else {
        return;
    };
    let others: Vec<(i32, f64, f64)> = state
        .gesture
        .with_value(|g| g.pointers.iter().filter(|p| p.0 != id).copied().collect());
    let view = state.view.get_untracked();
    let screen = state.screen.get_untracked();
    let (scale, _, _) = screen.fit(&view);
    if let Some(&(_, ox, oy)) = others.first() {
        // Pinch: the change in finger spread zooms about their midpoint.
        let spread_before = (before.1 - ox).hypot(before.2 - oy);
        let spread_now = (x - ox).hypot(y - oy);
        if spread_before > 1.0 {
            let (mx, my) = state.local((x + ox) / 2.0, (y + oy) / 2.0);
            let at = screen.plan_at(&view, mx, my);
            state
                .view
                .set(view.zoom(spread_now / spread_before, at, home, state.closest_width()));
        }
    } else {
        let (dx, dy) = (x - before.1, y - before.2);
        state.view.set(view.pan(-dx / scale, -dy / scale, home));
    }
    state.gesture.update_value(|g| {
        g.travelled += (x - before.1).hypot(y - before.2);
        if let Some(p) = g.pointers.iter_mut().find(|p| p.0 == id) {
            *p = (id, x, y);
        }
    });
    if state.gesture.with_value(|g| g.travelled > 6.0) {
        state.dragged.set_value(true);
    }
}

fn pointer_up(ev: &leptos::ev::PointerEvent, state: MapState) {
    let id = ev.pointer_id();
    state
        .gesture
        .update_value(|g| g.pointers.retain(|p| p.0 != id));
}

/// The pitch of a bowl, or the stage in front of a theatre's rows.
#[component]
fn VenueFeature(data: Arc<MapData>) -> impl IntoView {
    let all = crate::map_geometry::Bounds::of(data.seats.iter().map(|s| (s.x, s.y)));
    match data.kind {
        VenueKind::Bowl => {
            // Inside the innermost seats along each axis.
            let half_length = data
                .seats
                .iter()
                .filter(|s| s.y.abs() < 10.0)
                .map(|s| s.x.abs())
                .fold(f64::MAX, f64::min);
            let half_width = data
                .seats
                .iter()
                .filter(|s| s.x.abs() < 10.0)
                .map(|s| s.y.abs())
                .fold(f64::MAX, f64::min);
            let (a, b) = (half_length * 0.78, half_width * 0.7);
            if !(a.is_finite() && b.is_finite()) {
                return ().into_any();
            }
            view! {
                <g class="venue-feature" aria-hidden="true">
                    <rect class="pitch" x={-a} y={-b} width={2.0 * a} height={2.0 * b}/>
                    <line class="pitch-line" x1="0" y1={-b} x2="0" y2=b/>
                    <circle class="pitch-line" cx="0" cy="0" r={b * 0.25}/>
                </g>
            }
            .into_any()
        }
        VenueKind::Stage => {
            let width = (all.max_x - all.min_x) * 0.6;
            let depth = (all.min_y - 1.0 - data.home.y).max(0.5);
            let font = (width / 12.0).clamp(0.6, 3.0);
            view! {
                <g class="venue-feature" aria-hidden="true">
                    <rect class="stage" x={-width / 2.0} y={data.home.y} width=width height=depth rx="0.3"/>
                    <text class="stage-label" x="0" y={data.home.y + depth / 2.0} font-size=font>"STAGE"</text>
                </g>
            }
            .into_any()
        }
    }
}

/// Section shapes: buttons at the overview (roving tab stop), a light
/// backdrop behind the seats when close.
#[component]
fn Sections(
    data: Arc<MapData>,
    picker: Picker,
    state: MapState,
    overview: Signal<bool>,
) -> impl IntoView {
    data.sections
        .iter()
        .enumerate()
        .map(|(i, section)| {
            let statuses = section.statuses;
            let total = section.seat_count;
            let free = Memo::new(move |_| statuses.with(|s| s.iter().filter(|&&s| s == SeatStatus::Available).count()));
            let name = section.name.clone();
            let label_name = name.clone();
            let section_attr = name.clone();
            let (cx, cy) = section.centre;
            let font = (section.bounds.max_x - section.bounds.min_x).clamp(4.0, 40.0) / 6.0;
            let data = data.clone();
            let open = {
                let data = data.clone();
                move || {
                    if !state.dragged.get_value() {
                        open_section(&data, i, state, picker);
                    }
                }
            };
            view! {
                <g class="section-area" data-section=section_attr data-section-index=i.to_string()
                    role=move || overview.get().then_some("button")
                    tabindex=move || (overview.get() && state.active_section.get() == i).then_some("0")
                    aria-hidden=move || (!overview.get()).then_some("true")
                    aria-label=move || format!("Section {label_name}: {} of {total} seats available", free.get())
                    on:click=move |_| if overview.get_untracked() { open() }
                    on:focus=move |_| state.active_section.set(i)>
                    <polygon points=svg_points(&section.outline)
                        class=move || {
                            let share = free.get() as f64 / total.max(1) as f64;
                            let level = if share == 0.0 { "none" } else if share < 0.25 { "few" } else if share < 0.75 { "some" } else { "many" };
                            format!("fill-{level}")
                        }/>
                    <text x=cx y=cy class="section-label" font-size=font>{name}</text>
                </g>
            }
        })
        .collect_view()
}

/// One section's seats as grid rows.
#[component]
fn SectionSeats(
    data: Arc<MapData>,
    section: usize,
    picker: Picker,
    state: MapState,
) -> impl IntoView {
    let name = data.sections[section].name.clone();
    let rows = data.sections[section]
        .rows
        .iter()
        .map(|&row| {
            let label = format!("Section {name}, row {}", data.rows[row].label);
            let seats = data.rows[row]
                .seats
                .iter()
                .map(|&seat| view! { <SeatMark data=data.clone() seat picker state/> })
                .collect_view();
            view! { <g role="row" aria-label=label>{seats}</g> }
        })
        .collect_view();
    view! { <g class="section-seats" data-section-seats=name.clone()>{rows}</g> }
}

/// The tab stop of the grid: the active seat if it is drawn, else the
/// first seat drawn.
fn has_tab_stop(data: &MapData, seat: usize, state: MapState) -> bool {
    state.shown.with(|shown| {
        let Some(shown) = shown else { return false };
        match state.active_seat.get() {
            Some(active) if shown.contains(&data.seats[active].section) => active == seat,
            _ => shown
                .first()
                .is_some_and(|&s| data.sections[s].first_seat == seat),
        }
    })
}

#[component]
fn SeatMark(data: Arc<MapData>, seat: usize, picker: Picker, state: MapState) -> impl IntoView {
    let info = &data.seats[seat];
    let id = info.id;
    // The seat's own status signal, so a change elsewhere in its section
    // re-renders nothing here.
    let status = RwSignal::from(data.watch(seat));
    {
        let data = data.clone();
        on_cleanup(move || data.unwatch(seat));
    }
    let tier = info.tier.min(3);
    let (x, y) = (info.x, info.y);
    let wheelchair = info.features.contains(&SeatFeature::Wheelchair);
    let feature_classes: String = info
        .features
        .iter()
        .map(|f| format!(" feat-{}", f.as_str()))
        .collect();
    let selected = move || picker.is_selected(id);
    let class = {
        let data = data.clone();
        move || {
            let state_class = match status.get() {
                _ if selected() => "selected".to_string(),
                SeatStatus::Available => format!("available tier-{tier}"),
                SeatStatus::Held => "held".to_string(),
                SeatStatus::Sold => "sold".to_string(),
                SeatStatus::Blocked => "blocked".to_string(),
            };
            let filtered = if picker.filter().matches(&data, seat) {
                ""
            } else {
                " filtered"
            };
            format!("seat {state_class}{feature_classes}{filtered}")
        }
    };
    let label = {
        let data = data.clone();
        move || data.label(seat, status.get(), selected())
    };
    let tabindex = {
        let data = data.clone();
        move || {
            if has_tab_stop(&data, seat, state) {
                "0"
            } else {
                "-1"
            }
        }
    };
    let click = {
        let data = data.clone();
        move |_| {
            if state.dragged.get_value() {
                return;
            }
            if state.pickable() {
                state.active_seat.set(Some(seat));
                state.tip.set(Some(seat));
                picker.toggle(seat);
            } else {
                // Too small to pick by pointer: zoom in on it first.
                let view = state.view.get_untracked();
                let needed = MIN_TARGET_PX / (state.scale() * SEAT_PITCH);
                state
                    .view
                    .set(view.zoom(needed * 1.05, (x, y), &data.home, state.closest_width()));
            }
        }
    };
    let common = move || {
        (
            status.get().as_str(),
            (status.get() != SeatStatus::Available && !selected()).then_some("true"),
        )
    };
    if wheelchair {
        let side = SEAT_RADIUS * 2.0;
        view! {
            <rect x={x - SEAT_RADIUS} y={y - SEAT_RADIUS} width=side height=side rx="0.05"
                class=class role="gridcell" tabindex=tabindex data-seat=id.0 data-index=seat.to_string()
                data-status=move || common().0 aria-disabled=move || common().1
                aria-selected=move || selected().to_string() aria-label=label
                on:click=click
                on:focus=move |_| { state.active_seat.set(Some(seat)); state.tip.set(Some(seat)); }
                on:pointerenter=move |_| state.tip.set(Some(seat))/>
        }
        .into_any()
    } else {
        view! {
            <circle cx=x cy=y r=SEAT_RADIUS
                class=class role="gridcell" tabindex=tabindex data-seat=id.0 data-index=seat.to_string()
                data-status=move || common().0 aria-disabled=move || common().1
                aria-selected=move || selected().to_string() aria-label=label
                on:click=click
                on:focus=move |_| { state.active_seat.set(Some(seat)); state.tip.set(Some(seat)); }
                on:pointerenter=move |_| state.tip.set(Some(seat))/>
        }
        .into_any()
    }
}

/// Section, row, seat, price and state of the seat under the pointer or
/// with the focus (the same words are its accessible name).
#[component]
fn Tooltip(data: Arc<MapData>, picker: Picker, state: MapState) -> impl IntoView {
    move || {
        let seat = state.tip.get()?;
        let info = data.seats.get(seat)?;
        let view = state.view.get();
        let (left, top) = state.screen.get().screen_at(&view, info.x, info.y);
        let status = data.status(seat);
        let selected = picker.is_selected(info.id);
        let features: String = info
            .features
            .iter()
            .map(|f| format!(" · {}", f.label()))
            .collect();
        Some(view! {
            <div class="seat-tip" aria-hidden="true" data-testid="seat-tip"
                style=format!("left: {left:.0}px; top: {top:.0}px")>
                <strong>{data.place(seat)}</strong>
                <span>{format!("{}{features}", format_cents(data.price(seat)))}</span>
                <span class="tip-state">{state_text(status, selected)}</span>
            </div>
        })
    }
}

#[component]
fn Legend(tiers: Vec<crate::layout::LayoutTier>) -> impl IntoView {
    view! {
        <ul class="legend" aria-label="Legend">
            {tiers.iter().enumerate().map(|(i, tier)| view! {
                <li><span class=format!("swatch tier-{}", i.min(3)) aria-hidden="true"></span>{format!("{} {}", tier.name, format_cents(tier.price_cents))}</li>
            }).collect_view()}
            <li><span class="swatch held" aria-hidden="true"></span>"Held (ring)"</li>
            <li><span class="swatch sold" aria-hidden="true"></span>"Sold (hatched)"</li>
            <li><span class="swatch selected" aria-hidden="true"></span>"Your pick (dot in a ring)"</li>
            <li><span class="swatch wheelchair" aria-hidden="true"></span>"Wheelchair space (square)"</li>
            <li><span class="swatch companion" aria-hidden="true"></span>"Companion seat (double ring)"</li>
        </ul>
    }
}

/// What only the browser can do: measure the map and move the focus.
#[cfg(feature = "hydrate")]
mod dom {
    use super::Screen;
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    /// Keeps `screen` equal to the map's size on screen.
    pub fn watch_size(svg: NodeRef<leptos::svg::Svg>, screen: RwSignal<Screen>) {
        let measure = move || {
            if let Some(element) = svg.get_untracked() {
                let rect = element.get_bounding_client_rect();
                if rect.width() > 0.0 && rect.height() > 0.0 {
                    screen.set(Screen {
                        width: rect.width(),
                        height: rect.height(),
                    });
                }
            }
        };
        Effect::new(move |_| {
            if svg.get().is_some() {
                request_animation_frame(measure);
            }
        });
        let handle = window_event_listener(leptos::ev::resize, move |_| measure());
        on_cleanup(move || handle.remove());
    }

    /// Focuses the element matching `selector` once the view has caught up.
    pub fn focus_later(selector: &str) {
        let selector = selector.to_string();
        request_animation_frame(move || {
            let element = document()
                .query_selector(&selector)
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::SvgElement>().ok());
            if let Some(element) = element {
                let _ = element.focus();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signals need an owner: with the server's features on (as when the
    /// workspace's tests build together) also its arena.
    fn owned<T>(test: impl FnOnce() -> T) -> T {
        Owner::new().with(test)
    }

    #[test]
    fn plan_and_screen_positions_convert_both_ways_with_letterboxing() {
        let screen = Screen {
            width: 400.0,
            height: 300.0,
        };
        let view = ViewBox {
            x: -10.0,
            y: -10.0,
            width: 20.0,
            height: 20.0,
        };
        // 15 px per metre (height-bound), 50 px bars left and right.
        assert_eq!(screen.fit(&view), (15.0, 50.0, 0.0));
        let (px, py) = screen.screen_at(&view, 2.0, -4.0);
        assert_eq!((px, py), (230.0, 90.0));
        assert_eq!(screen.plan_at(&view, px, py), (2.0, -4.0));
    }

    /// Ten blocks of 1,000 seats (20 x 50) in two rows of five, 30 m apart.
    fn blocks() -> MapData {
        use crate::layout::{LayoutRow, LayoutSeat, LayoutSection, LayoutTier, SeatLayout};
        let mut id = 0;
        let sections = (0..10)
            .map(|block| LayoutSection {
                name: format!("S{block}"),
                rows: (0..20)
                    .map(|row| LayoutRow {
                        label: row.to_string(),
                        seats: (0..50)
                            .map(|seat| {
                                id += 1;
                                LayoutSeat {
                                    id: crate::types::SeatId(id),
                                    number: seat + 1,
                                    x: (block % 5) as f64 * 30.0 + seat as f64 * 0.4,
                                    y: (block / 5) as f64 * 30.0 - 10.0 + row as f64 * 0.8,
                                    tier: 0,
                                    features: Vec::new(),
                                }
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        let layout = SeatLayout {
            event_id: crate::types::EventId(1),
            kind: VenueKind::Bowl,
            tiers: vec![LayoutTier {
                name: "A".into(),
                price_cents: 100,
            }],
            sections,
        };
        MapData::new("h".into(), layout)
    }

    #[test]
    fn sections_at_the_overview_and_the_nearest_seats_when_close() {
        owned(|| {
            let data = blocks();
            assert_eq!(
                seats_to_draw(&data, &data.home),
                None,
                "10,000 seats: sections"
            );
            let section = ViewBox::fit(&data.sections[3].bounds, 1.0, &data.home);
            let drawn = seats_to_draw(&data, &section).expect("seats");
            assert!(drawn.contains(&3));
            assert!(drawn.len() <= 4, "{drawn:?}");
            // Zoomed in on the corner of four blocks: no more than fit the budget.
            let corner = data.home.zoom(3.0, (55.0, 12.0), &data.home, 8.0);
            let drawn = seats_to_draw(&data, &corner).expect("seats");
            let seats: usize = drawn.iter().map(|&i| data.sections[i].seat_count).sum();
            assert!(seats <= SEAT_BUDGET && !drawn.is_empty(), "{drawn:?}");
        })
    }
}
