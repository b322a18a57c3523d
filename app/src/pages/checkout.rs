//! Checkout: the held seats with a countdown, guest payment with a test-card
//! token, and the confirmation with tickets. Rendered in the browser (the
//! hold belongs to the browser's session cookie).

use crate::client;
use crate::error::{ApiError, ErrorCode};
use crate::types::{
    format_cents, HoldId, HoldStatus, HoldView, PaymentChoice, PurchaseRequest, PurchaseView,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn CheckoutPage() -> impl IntoView {
    let params = use_params_map();
    let hold_id = move || {
        params
            .read()
            .get("hold_id")
            .and_then(|raw| HoldId::parse(&raw))
    };
    let hold: RwSignal<Option<Result<HoldView, ApiError>>> = RwSignal::new(None);
    let deadline = RwSignal::new(0.0_f64);
    let now = RwSignal::new(0.0_f64);
    let purchase: RwSignal<Option<PurchaseView>> = RwSignal::new(None);
    let notice: RwSignal<Option<String>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let email = RwSignal::new(String::new());
    let token = RwSignal::new("tok_visa".to_string());

    // Load the hold and tick the countdown, in the browser only.
    Effect::new(move |_| {
        let Some(id) = hold_id() else {
            hold.set(Some(Err(ApiError::not_found("no such hold"))));
            return;
        };
        leptos::task::spawn_local(async move {
            let answer =
                client::call::<(), HoldView>("GET", &format!("/api/holds/{id}"), None, None).await;
            let answer = answer.and_then(|h| h.ok_or_else(ApiError::internal));
            if let Ok(view) = &answer {
                now.set(client::now_ms());
                deadline.set(client::now_ms() + view.expires_in_ms as f64);
            }
            hold.set(Some(answer));
        });
        if let Ok(handle) = set_interval_with_handle(
            move || now.set(client::now_ms()),
            std::time::Duration::from_millis(500),
        ) {
            on_cleanup(move || handle.clear());
        }
    });

    let seconds_left = move || ((deadline.get() - now.get()) / 1000.0).max(0.0).ceil() as i64;
    let expired = move || {
        hold.with(|h| match h {
            Some(Ok(view)) => {
                view.status != HoldStatus::Active || (deadline.get() > 0.0 && seconds_left() == 0)
            }
            _ => false,
        }) && purchase.with(Option::is_none)
    };

    let pay = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(id) = hold_id() else { return };
        busy.set(true);
        notice.set(None);
        let request = PurchaseRequest {
            email: email.get_untracked(),
            payment: PaymentChoice {
                token: Some(token.get_untracked()),
                saved: None,
            },
            save_payment_method: false,
        };
        leptos::task::spawn_local(async move {
            let key = client::new_idempotency_key();
            let answer: Result<Option<PurchaseView>, ApiError> = client::call(
                "POST",
                &format!("/api/holds/{id}/purchase"),
                Some(&request),
                Some(&key),
            )
            .await;
            busy.set(false);
            match answer {
                Ok(Some(view)) => purchase.set(Some(view)),
                Ok(None) => notice.set(Some("Unexpected answer; please try again.".into())),
                Err(error) if error.code == ErrorCode::PaymentDeclined => notice.set(Some(
                    "Your card was declined. Your seats are still held — try another card.".into(),
                )),
                Err(error) => notice.set(Some(error.message)),
            }
        });
    };

    let navigate = use_navigate();
    let release = Callback::new(move |_: ()| {
        let Some(id) = hold_id() else { return };
        let event =
            hold.with_untracked(|h| h.as_ref().and_then(|h| h.as_ref().ok()).map(|h| h.event_id));
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let _ = client::call::<(), ()>("DELETE", &format!("/api/holds/{id}"), None, None).await;
            if let Some(event) = event {
                navigate(&format!("/events/{event}"), Default::default());
            }
        });
    });

    view! {
        <section class="checkout">
            <h1>"Checkout"</h1>
            {move || notice.get().map(|text| view! { <p class="notice" role="alert" data-testid="notice">{text}</p> })}
            {move || match hold.get() {
                None => view! { <p class="loading">"Loading your seats…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error.message}</p> }.into_any(),
                Some(Ok(view)) => {
                    let event_link = format!("/events/{}", view.event_id);
                    let seats = view.seats.iter().map(|s| view! {
                        <li>{format!("Section {} · Row {} · Seat {} — {}", s.section, s.row, s.number, format_cents(s.price_cents))}</li>
                    }).collect_view();
                    view! {
                        <ul class="held-seats" data-testid="held-seats">{seats}</ul>
                        <p class="total">"Total "<strong>{format_cents(view.total_cents)}</strong></p>
                        {move || match purchase.get() {
                            Some(done) => view! { <Confirmation purchase=done/> }.into_any(),
                            None if expired() => view! {
                                <p class="expired" role="alert" data-testid="expired">
                                    "Your hold has expired and the seats were released. "
                                    <a href=event_link.clone()>"Pick seats again"</a>
                                </p>
                            }.into_any(),
                            None => view! {
                                <p class="countdown" role="timer" data-testid="countdown">
                                    "Seats held for you for "
                                    <strong>{move || { let s = seconds_left(); format!("{}:{:02}", s / 60, s % 60) }}</strong>
                                </p>
                                <form class="payment" on:submit=pay>
                                    <label>"Email for your tickets"
                                        <input type="email" required autocomplete="email" data-testid="email"
                                            prop:value=move || email.get()
                                            on:input=move |ev| email.set(event_target_value(&ev))/>
                                    </label>
                                    <label>"Card (test mode)"
                                        <select data-testid="card" on:change=move |ev| token.set(event_target_value(&ev))>
                                            <option value="tok_visa">"Visa •••• 4242 — succeeds"</option>
                                            <option value="tok_chargeDeclined">"Visa •••• 0002 — declined"</option>
                                        </select>
                                    </label>
                                    <p class="fine-print">"Card details are entered in the payment provider's form; Tessera only ever sees a token."</p>
                                    <button type="submit" class="primary" data-testid="pay" disabled=move || busy.get()>
                                        {move || if busy.get() { "Paying…" } else { "Pay now" }}
                                    </button>
                                    <button type="button" class="secondary" on:click=move |_| release.run(())>"Release seats"</button>
                                </form>
                            }.into_any(),
                        }}
                    }.into_any()
                }
            }}
        </section>
    }
}

#[component]
fn Confirmation(purchase: PurchaseView) -> impl IntoView {
    view! {
        <div class="confirmation" data-testid="confirmation">
            <h2>"You're going! 🎟"</h2>
            <p>"Purchase #"{purchase.purchase_id.0}" · "{format_cents(purchase.total_cents)}" paid"</p>
            <ul class="tickets">
                {purchase.tickets.into_iter().map(|t| view! {
                    <li class="ticket">
                        <strong>{format!("Section {} · Row {} · Seat {}", t.section, t.row, t.number)}</strong>
                        <code>{t.code}</code>
                    </li>
                }).collect_view()}
            </ul>
        </div>
    }
}
