//! The waiting room page (`/events/:id/queue`): joins the event's queue
//! (solving the proof of work when the event asks for one, in small slices
//! so the page stays responsive), then shows the countdown to the onsale,
//! the position and the estimated wait, asking the server again at the
//! interval it sets, until "your turn" takes the fan to the seat map. The
//! place belongs to the session cookie: a refresh or a second tab shows
//! the same place.

use crate::client;
use crate::error::{ApiError, ErrorCode};
use crate::queue::{JoinRequest, PowChallenge, QueueState, QueueStatus};
use crate::types::EventId;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Joining,
    /// Solving the event's proof of work.
    Proving,
    In(QueueStatus),
    Failed(String),
}

#[component]
pub fn QueuePage() -> impl IntoView {
    let params = use_params_map();
    let event_id = params
        .read_untracked()
        .get("id")
        .and_then(|raw| EventId::parse(&raw));
    let phase = RwSignal::new(Phase::Joining);
    // Seconds left to the onsale, counted down in the browser between polls.
    let countdown: RwSignal<Option<i64>> = RwSignal::new(None);
    let hydrated = crate::use_hydrated();
    // Polling stops when the page is left.
    let alive = Arc::new(AtomicBool::new(true));
    on_cleanup({
        let alive = alive.clone();
        move || alive.store(false, Ordering::Relaxed)
    });

    Effect::new(move |_| {
        let Some(event_id) = event_id else {
            phase.set(Phase::Failed("no such event".into()));
            return;
        };
        leptos::task::spawn_local(run(event_id, phase, countdown, alive.clone()));
    });

    view! {
        <Title text="Waiting room — Tessera"/>
        <section class="waiting-room" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Waiting room"</h1>
            {move || match phase.get() {
                Phase::Joining => view! { <p class="loading">"Finding your place…"</p> }.into_any(),
                Phase::Proving => view! {
                    <p class="loading" data-testid="queue-proving">"Checking your browser… (a few seconds)"</p>
                }.into_any(),
                Phase::Failed(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                Phase::In(status) => view! { <Place status countdown event_id/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Place(
    status: QueueStatus,
    countdown: RwSignal<Option<i64>>,
    event_id: Option<EventId>,
) -> impl IntoView {
    let map = event_id
        .map(|id| format!("/events/{id}"))
        .unwrap_or_default();
    let body = match status.state {
        QueueState::Admitted => view! {
            <div class="your-turn" role="alert" data-testid="queue-your-turn">
                <h2>"It's your turn!"</h2>
                <p>"Pick your seats now: your turn lasts until "{status.admission_expires_at.clone().unwrap_or_default()}"."</p>
                <a class="button" href=map data-testid="queue-to-map">"Go to the seat map"</a>
            </div>
        }
        .into_any(),
        QueueState::Expired => view! {
            <div data-testid="queue-expired">
                <p>"Your turn has ended. Join again to queue for more."</p>
                <button on:click=move |_| navigate(None)>"Join again"</button>
            </div>
        }
        .into_any(),
        QueueState::Waiting => view! {
            <div data-testid="queue-waiting">
                {move || countdown.get().filter(|s| *s > 0).map(|seconds| view! {
                    <p class="countdown" data-testid="queue-countdown">
                        "The onsale starts in "{format_duration(seconds)}". Everyone here by then gets a place in a random draw."
                    </p>
                })}
                {status.position.map(|position| view! {
                    <p class="position">"Your place in line: "<strong data-testid="queue-position">{position}</strong></p>
                })}
                {status.estimated_wait_seconds.map(|seconds| view! {
                    <p class="wait">"Estimated wait: about "{format_duration(seconds)}</p>
                })}
                {status.paused.then(|| view! { <p class="notice">"The organiser has paused the line for a moment; your place is kept."</p> })}
                <p class="fine-print">"Keep this page open; it updates by itself. Refreshing keeps your place."</p>
            </div>
        }
        .into_any(),
    };
    view! { <div class="queue-place" data-queue-id=status.queue_id.clone()>{body}</div> }
}

/// Loads `url` in this tab (or reloads it with `None`).
fn navigate(url: Option<&str>) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = match url {
            Some(url) => window.location().set_href(url),
            None => window.location().reload(),
        };
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}

fn format_duration(seconds: i64) -> String {
    match seconds {
        s if s >= 3600 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// Joins (or finds the place), then polls until the fan's turn.
async fn run(
    event_id: EventId,
    phase: RwSignal<Phase>,
    countdown: RwSignal<Option<i64>>,
    alive: Arc<AtomicBool>,
) {
    let mut status = match join(event_id, phase).await {
        Ok(status) => status,
        Err(error) => {
            phase.set(Phase::Failed(error.message));
            return;
        }
    };
    while alive.load(Ordering::Relaxed) {
        let admitted = status.state == QueueState::Admitted;
        let poll_after = i64::from(status.poll_after_seconds.max(1));
        let onsale_in = seconds_until(&status.onsale_at);
        phase.set(Phase::In(status.clone()));
        if admitted {
            // The "your turn" moment, then the map.
            sleep_ms(1_500).await;
            navigate(Some(&format!("/events/{event_id}")));
            return;
        }
        if status.state == QueueState::Expired {
            return;
        }
        for elapsed in 0..poll_after {
            countdown.set(onsale_in.map(|s| s - elapsed));
            sleep_ms(1_000).await;
        }
        // A lost answer keeps the last known place until the next one.
        if let Ok(fresh) = client::queue_status(event_id).await {
            status = fresh;
        }
    }
}

/// Joins: first without a proof of work; when the event asks for one,
/// fetches a challenge, solves it and joins with the answer.
async fn join(event_id: EventId, phase: RwSignal<Phase>) -> Result<QueueStatus, ApiError> {
    match client::join_queue(event_id, &JoinRequest::default()).await {
        Ok(status) => return Ok(status),
        Err(error) if error.code == ErrorCode::Forbidden => {}
        Err(error) => return Err(error),
    }
    phase.set(Phase::Proving);
    let challenge = client::queue_challenge(event_id).await?;
    let nonce = solve(&challenge).await;
    let answer = JoinRequest {
        challenge: Some(challenge.challenge),
        nonce: Some(nonce),
    };
    client::join_queue(event_id, &answer).await
}

/// Solves in slices of a few thousand hashes, yielding to the browser
/// between slices so the page stays responsive.
async fn solve(challenge: &PowChallenge) -> u64 {
    const SLICE: u64 = 4_096;
    let mut start = 0u64;
    loop {
        if let Some(nonce) =
            crate::queue::pow_solve(&challenge.challenge, challenge.difficulty, start, SLICE)
        {
            return nonce;
        }
        start += SLICE;
        sleep_ms(0).await;
    }
}

async fn sleep_ms(ms: u32) {
    #[cfg(feature = "hydrate")]
    gloo_timers::future::TimeoutFuture::new(ms).await;
    #[cfg(not(feature = "hydrate"))]
    let _ = ms;
}

/// Whole seconds from now to an RFC 3339 time, by the browser's clock.
fn seconds_until(rfc3339: &str) -> Option<i64> {
    #[cfg(feature = "hydrate")]
    {
        let at = js_sys::Date::parse(rfc3339);
        (!at.is_nan()).then(|| ((at - js_sys::Date::now()) / 1000.0).ceil() as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = rfc3339;
        None
    }
}

/// On the event page of a queue-protected event: the way in is the queue,
/// not a hold that would be refused. The event's own details say whether
/// its waiting room is on.
#[component]
pub fn QueueNotice(event_id: EventId, waiting_room: bool) -> impl IntoView {
    waiting_room.then(|| {
        view! {
            <p class="queue-notice" data-testid="queue-notice">
                "This onsale runs through a waiting room. "
                <a class="button" href=format!("/events/{event_id}/queue") data-testid="join-queue">"Join the queue"</a>
                " — once it is your turn you can pick seats here."
            </p>
        }
    })
}
