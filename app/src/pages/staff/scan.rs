//! `/staff/scan`: the gate. A USB scanner types the code and presses Enter,
//! as a keyboard would; the field clears and keeps focus for the next
//! ticket, and the answer is shown large and colour-coded.

use super::{StaffGate, STAFF_EVENT_LIMIT};
use crate::client;
use crate::error::ApiError;
use crate::pages::browser_action;
use crate::staff::{ScanOutcome, ScanRequest, ScanResult};
use crate::types::{format_starts_at, EventId};
use leptos::prelude::*;

/// How many earlier scans the history keeps.
const HISTORY: usize = 10;

#[component]
pub fn ScanPage() -> impl IntoView {
    view! {
        <StaffGate>
            <Scanner/>
        </StaffGate>
    }
}

/// One scan as the page shows it.
#[derive(Clone)]
struct Scanned {
    n: usize,
    code: String,
    answer: Result<ScanResult, ApiError>,
}

fn headline(answer: &Result<ScanResult, ApiError>) -> (&'static str, &'static str) {
    match answer {
        Ok(result) => match result.result {
            ScanOutcome::Valid => ("valid", "ADMIT"),
            ScanOutcome::AlreadyUsed => ("already-used", "ALREADY USED"),
            ScanOutcome::Invalid => ("invalid", "INVALID"),
        },
        Err(_) => ("error", "NOT CHECKED"),
    }
}

fn details(answer: &Result<ScanResult, ApiError>) -> String {
    match answer {
        Ok(result) => {
            let mut parts = vec![result.message.clone()];
            if let Some(seat) = &result.seat {
                parts.push(seat.clone());
            }
            if let Some(at) = &result.first_scanned_at {
                parts.push(format!("First scanned {}", format_starts_at(at)));
            }
            parts.join(" · ")
        }
        Err(error) => format!("{} — scan again", error.message),
    }
}

#[component]
fn Scanner() -> impl IntoView {
    // Loaded in the browser only; until then, or if it fails, the list
    // offers "Any event" alone.
    let events = LocalResource::new(|| client::events(STAFF_EVENT_LIMIT));
    let event: RwSignal<Option<EventId>> = RwSignal::new(None);
    let code = RwSignal::new(String::new());
    let history: RwSignal<Vec<Scanned>> = RwSignal::new(Vec::new());
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    // Answers with the code it checked, for the history.
    let check = browser_action(|request: &ScanRequest| {
        let request = request.clone();
        async move {
            let answer = client::scan(&request).await;
            (request.code, answer)
        }
    });
    let busy = check.pending();

    let refocus = move || {
        #[cfg(feature = "hydrate")]
        if let Some(element) = input.get_untracked() {
            let _ = element.focus();
        };
    };

    // Ready for the first scan as soon as the field exists.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(element) = input.get() {
            let _ = element.focus();
        };
    });

    // Each answer goes on top of the history, and the field is ready for the
    // next ticket.
    Effect::new(move |_| {
        let Some((scanned, answer)) = check.value().get() else {
            return;
        };
        history.update(|list| {
            let n = list.first().map_or(1, |last| last.n + 1);
            list.insert(
                0,
                Scanned {
                    n,
                    code: scanned,
                    answer,
                },
            );
            list.truncate(HISTORY + 1);
        });
        refocus();
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let scanned = code.get_untracked().trim().to_string();
        code.set(String::new());
        refocus();
        if scanned.is_empty() || busy.get_untracked() {
            return;
        }
        check.dispatch(ScanRequest {
            code: scanned,
            event_id: event.get_untracked(),
        });
    };

    view! {
        <section class="scan">
            <p class="fine-print"><a href="/staff">"← Staff"</a></p>
            <h1>"Gate scanning"</h1>
            <form class="scan-form" on:submit=submit>
                <label>"Event "
                    <select data-testid="scan-event" on:change=move |ev| {
                        event.set(EventId::parse(&event_target_value(&ev)));
                        refocus();
                    }>
                        <option value="">"Any event"</option>
                        {move || events.get().and_then(Result::ok).map(|list| list.events).unwrap_or_default()
                            .into_iter().map(|e| view! {
                                <option value=e.id.to_string()>{format!("{} — {}", e.name, format_starts_at(&e.starts_at))}</option>
                            }).collect_view()}
                    </select>
                </label>
                <label>"Ticket code"
                    <input type="text" node_ref=input data-testid="scan-code" autofocus autocomplete="off"
                        spellcheck="false" placeholder="Scan or type a ticket code, then Enter"
                        prop:value=move || code.get()
                        on:input=move |ev| code.set(event_target_value(&ev))/>
                </label>
                <button type="submit" disabled=move || busy.get()>"Check"</button>
            </form>
            {move || history.with(|list| list.first().cloned()).map(|last| {
                let (class, word) = headline(&last.answer);
                view! {
                    <div class=format!("scan-result scan-{class}") role="status" aria-live="assertive"
                        data-testid="scan-result" data-result=class data-scan=last.n>
                        <p class="scan-word">{word}</p>
                        <p class="scan-details">{details(&last.answer)}</p>
                    </div>
                }
            })}
            <h2>"Earlier scans"</h2>
            <ol class="scan-history" data-testid="scan-history">
                {move || history.with(|list| list.iter().skip(1).map(|scan| {
                    let (class, word) = headline(&scan.answer);
                    let shown: String = scan.code.chars().take(24).collect();
                    view! {
                        <li class=format!("scan-{class}")>
                            <strong>{word}</strong>" "{details(&scan.answer)}" "<code>{shown}"…"</code>
                        </li>
                    }
                }).collect_view())}
            </ol>
        </section>
    }
}
