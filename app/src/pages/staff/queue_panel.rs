//! The waiting-room panel of the event's edit page: the queue settings,
//! the live figures (asked again every two seconds) and pause / resume.

use super::event_form::local_to_rfc3339;
use crate::client;
use crate::pages::browser_action;
use crate::queue::{QueueSettings, QueueSettingsRequest};
use leptos::prelude::*;

/// The form's fields, as typed.
#[derive(Clone, Copy)]
struct Fields {
    enabled: RwSignal<bool>,
    opens_at: RwSignal<String>,
    rate: RwSignal<String>,
    max_active: RwSignal<String>,
    minutes: RwSignal<String>,
    pow: RwSignal<String>,
    require_account: RwSignal<bool>,
}

impl Fields {
    fn new() -> Self {
        Self {
            enabled: RwSignal::new(false),
            opens_at: RwSignal::new(String::new()),
            rate: RwSignal::new("600".into()),
            max_active: RwSignal::new("2000".into()),
            minutes: RwSignal::new("10".into()),
            pow: RwSignal::new("0".into()),
            require_account: RwSignal::new(false),
        }
    }

    fn fill(&self, settings: &QueueSettings) {
        self.enabled.set(settings.enabled);
        self.opens_at
            .set(settings.opens_at.get(..16).unwrap_or_default().to_string());
        self.rate.set(settings.admit_per_minute.to_string());
        self.max_active.set(settings.max_active.to_string());
        self.minutes.set(settings.admission_minutes.to_string());
        self.pow.set(settings.pow_difficulty.to_string());
        self.require_account.set(settings.require_account);
    }

    fn request(&self) -> Result<QueueSettingsRequest, String> {
        let number = |raw: String, field: &str| {
            raw.trim()
                .parse::<i64>()
                .map_err(|_| format!("{field} must be a whole number"))
        };
        let opens = self.opens_at.get_untracked();
        Ok(QueueSettingsRequest {
            enabled: self.enabled.get_untracked(),
            opens_at: if opens.trim().is_empty() {
                None
            } else {
                Some(local_to_rfc3339(&opens).ok_or("Opens must be a date and time")?)
            },
            admit_per_minute: number(self.rate.get_untracked(), "Admissions per minute")?,
            max_active: number(self.max_active.get_untracked(), "Shoppers at once")?,
            admission_minutes: Some(number(self.minutes.get_untracked(), "Admission length")?),
            pow_difficulty: Some(
                u32::try_from(number(self.pow.get_untracked(), "Proof of work")?)
                    .map_err(|_| "Proof of work must be 0 or more")?,
            ),
            require_account: Some(self.require_account.get_untracked()),
        })
    }
}

/// What a button of the panel asks the server to do.
#[derive(Clone)]
enum Change {
    Save(QueueSettingsRequest),
    Pause,
    Resume,
}

/// `event_id` is the edit page's route segment, sent as it is.
#[component]
pub fn QueuePanel(event_id: String) -> impl IntoView {
    let fields = Fields::new();
    let figures: RwSignal<Option<QueueSettings>> = RwSignal::new(None);
    let notice: RwSignal<Option<(bool, String)>> = RwSignal::new(None);
    // The figures stop being asked for when the page is left.
    let alive = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    on_cleanup({
        let alive = alive.clone();
        move || alive.store(false, std::sync::atomic::Ordering::Relaxed)
    });
    {
        let event_id = event_id.clone();
        Effect::new(move |_| {
            let event_id = event_id.clone();
            let alive = alive.clone();
            leptos::task::spawn_local(async move {
                let mut first = true;
                while alive.load(std::sync::atomic::Ordering::Relaxed) {
                    // No waiting room yet (404): the form keeps its defaults.
                    if let Ok(settings) = client::queue_settings(&event_id).await {
                        if first {
                            fields.fill(&settings);
                        }
                        figures.set(Some(settings));
                    }
                    first = false;
                    sleep_ms(2_000).await;
                }
            });
        });
    }
    let send = browser_action(move |change: &Change| {
        let (event_id, change) = (event_id.clone(), change.clone());
        async move {
            match change {
                Change::Save(request) => client::configure_queue(&event_id, &request).await,
                Change::Pause => client::pause_queue(&event_id).await,
                Change::Resume => client::resume_queue(&event_id).await,
            }
        }
    });
    Effect::new(move |_| {
        let Some(answer) = send.value().get() else {
            return;
        };
        notice.set(Some(match answer {
            Ok(settings) => {
                figures.set(Some(settings));
                (true, "Saved.".to_string())
            }
            Err(error) => (false, error.message),
        }));
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match fields.request() {
            Ok(request) => {
                send.dispatch(Change::Save(request));
            }
            Err(message) => notice.set(Some((false, message))),
        }
    };
    view! {
        <section class="queue-panel" data-testid="queue-panel">
            <h2>"Waiting room"</h2>
            {move || figures.get().filter(|f| f.enabled).map(|f| view! {
                <p class="queue-figures" data-testid="queue-figures">
                    {f.waiting}" waiting · "{f.active}" shopping · "{f.admitted_last_minute}" admitted in the last minute"
                    {f.expected_clear_seconds.map(|s| format!(" · clears in about {} min", (s + 59) / 60))}
                    {f.paused.then_some(" · paused")}
                </p>
            })}
            {move || notice.get().map(|(ok, text)| view! {
                <p class=if ok { "confirmation" } else { "notice" } role="status" data-testid="queue-notice-staff">{text}</p>
            })}
            <form class="payment" on:submit=save>
                <label><input type="checkbox" data-testid="queue-enabled" prop:checked=move || fields.enabled.get()
                    on:change=move |ev| fields.enabled.set(event_target_checked(&ev))/>" Fans queue for this onsale"</label>
                <label>"Opens (UTC; empty: 30 minutes before the onsale)"
                    <input type="datetime-local" data-testid="queue-opens" prop:value=move || fields.opens_at.get()
                        on:input=move |ev| fields.opens_at.set(event_target_value(&ev))/></label>
                <label>"Admissions per minute"
                    <input type="number" min="1" data-testid="queue-rate" prop:value=move || fields.rate.get()
                        on:input=move |ev| fields.rate.set(event_target_value(&ev))/></label>
                <label>"Shoppers at once"
                    <input type="number" min="1" data-testid="queue-max-active" prop:value=move || fields.max_active.get()
                        on:input=move |ev| fields.max_active.set(event_target_value(&ev))/></label>
                <label>"Admission lasts (minutes)"
                    <input type="number" min="1" max="240" prop:value=move || fields.minutes.get()
                        on:input=move |ev| fields.minutes.set(event_target_value(&ev))/></label>
                <label>"Proof of work (bits, 0 = none)"
                    <input type="number" min="0" max="28" prop:value=move || fields.pow.get()
                        on:input=move |ev| fields.pow.set(event_target_value(&ev))/></label>
                <label><input type="checkbox" prop:checked=move || fields.require_account.get()
                    on:change=move |ev| fields.require_account.set(event_target_checked(&ev))/>" Sign-in required (one place per account)"</label>
                <button type="submit" class="primary" data-testid="queue-save">"Save waiting room"</button>
            </form>
            <button data-testid="queue-pause" on:click=move |_| { send.dispatch(Change::Pause); }>"Pause admissions"</button>
            " "
            <button data-testid="queue-resume" on:click=move |_| { send.dispatch(Change::Resume); }>"Resume"</button>
        </section>
    }
}

async fn sleep_ms(ms: u32) {
    #[cfg(feature = "hydrate")]
    gloo_timers::future::TimeoutFuture::new(ms).await;
    #[cfg(not(feature = "hydrate"))]
    let _ = ms;
}
