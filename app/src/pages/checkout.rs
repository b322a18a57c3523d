//! Checkout: the held seats with a countdown, payment with a test-card token
//! (or, signed in, the account's saved card), and the confirmation with
//! tickets. Rendered in the browser (the hold belongs to the browser's
//! session cookie).

use crate::card_form::CardForm;
use crate::client;
use crate::error::{ApiError, ErrorCode};
use crate::pages::browser_action;
use crate::types::{
    format_cents, HoldId, HoldStatus, HoldView, MeView, PaymentChoice, PurchaseRequest,
    PurchaseView,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use send_wrapper::SendWrapper;

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
    let refund_policy: RwSignal<Option<&'static str>> = RwSignal::new(None);
    let deadline = RwSignal::new(0.0_f64);
    let now = RwSignal::new(0.0_f64);
    // What the page has to say besides a failed payment: the card form
    // did not load, or how an extension went.
    let notice: RwSignal<Option<String>> = RwSignal::new(None);
    let email = RwSignal::new(String::new());
    let token = RwSignal::new("tok_visa".to_string());
    // Signed-in buyers: the account, whether to pay with its saved card, and
    // whether to save a newly entered one. Guests never leave the defaults.
    let account: RwSignal<Option<MeView>> = RwSignal::new(None);
    let pay_with_saved = RwSignal::new(false);
    let save_card = RwSignal::new(false);
    // One extension per hold; after a refresh the server says so (409).
    let extended = RwSignal::new(false);
    // The processor's card form, when the site uses one (else test tokens).
    // Wrapped rather than in thread-local storage: it stays empty on the
    // server, whose multi-threaded runtime may drop the page on another
    // thread than the one that rendered it, which thread-local storage
    // refuses with a panic.
    let card_form: StoredValue<Option<SendWrapper<CardForm>>> = StoredValue::new(None);
    let uses_card_form = RwSignal::new(false);
    // Which card entry the site uses does not depend on the hold: asked for
    // at once, beside the hold, not after it (browser only).
    let payment_config = LocalResource::new(client::payment_config);

    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            // A failure here only loses the conveniences; guest checkout still works.
            let Ok(Some(me)) = client::current_account().await else {
                return;
            };
            // Never overwrite what the buyer already typed. `try_`: the buyer
            // may have left the page while the answer was on its way.
            if email
                .try_with_untracked(|typed| typed.trim().is_empty())
                .unwrap_or(false)
            {
                email.set(me.email.clone());
            }
            pay_with_saved.set(me.payment_method.is_some());
            account.set(Some(me));
        });
    });

    // Load the hold and tick the countdown, in the browser only.
    Effect::new(move |_| {
        let Some(id) = hold_id() else {
            hold.set(Some(Err(ApiError::not_found("no such hold"))));
            return;
        };
        leptos::task::spawn_local(async move {
            let answer = client::get_hold(id).await;
            let Ok(view) = &answer else {
                hold.set(Some(answer));
                return;
            };
            now.set(client::now_ms());
            deadline.set(client::now_ms() + view.expires_in_ms as f64);
            let total = view.total_cents;
            // What the form shows around the seats (the event's refund
            // policy, and which card entry the site uses) is read before
            // the form is drawn: arriving after it, each moved the form
            // down under the buyer's finger, and a tap meant for "Save this
            // card" fell beside it.
            let event = client::event(view.event_id).await;
            let config = payment_config.await;
            refund_policy.set(event.ok().map(|event| event.refund_policy.describe()));
            let form_config = config.ok().and_then(|config| config.card_form);
            uses_card_form.set(form_config.is_some());
            hold.set(Some(answer));
            if let Some(form_config) = form_config {
                // The form's box is drawn once the hold is set.
                gloo_tick().await;
                match CardForm::mount(&form_config, total, "#payment-element").await {
                    Ok(form) => card_form.set_value(Some(SendWrapper::new(form))),
                    Err(message) => notice.set(Some(message)),
                }
            }
        });
        if let Ok(handle) = set_interval_with_handle(
            move || now.set(client::now_ms()),
            std::time::Duration::from_millis(500),
        ) {
            on_cleanup(move || handle.clear());
        }
    });

    // Paying and extending are actions: their `pending` is what disables
    // the buttons, and a purchase is the payment's successful answer.
    let pay = browser_action(move |(id, payment): &(HoldId, Payment)| {
        let (id, payment) = (*id, payment.clone());
        async move {
            match payment {
                Payment::CardForm { email } => match card_form.get_value().map(SendWrapper::take) {
                    Some(form) => pay_with_card_form(id, email, form).await,
                    None => Err("The card form is not ready yet; try again in a moment.".into()),
                },
                Payment::Request(request) => {
                    let key = client::new_idempotency_key();
                    client::purchase(id, &request, &key)
                        .await
                        .map_err(payment_message)
                }
            }
        }
    });
    // A memo, so a failed payment (no purchase before, none after) leaves
    // the form, and the card form mounted in it, as they are.
    let purchase = Memo::new(move |_| pay.value().get().and_then(Result::ok));
    let payment_error = move || {
        (!pay.pending().get())
            .then(|| pay.value().get().and_then(Result::err))
            .flatten()
    };
    let extend = browser_action(move |id: &HoldId| {
        let id = *id;
        async move {
            match client::extend_hold(id).await {
                Ok(view) => {
                    now.set(client::now_ms());
                    deadline.set(client::now_ms() + view.expires_in_ms as f64);
                    // Only the deadline changes: the form (and the card form
                    // mounted in it, with what the buyer typed) stays as it is.
                    extended.set(true);
                    notice.set(Some("Done: your seats are held for longer.".into()));
                }
                Err(error) if error.code == ErrorCode::ExtensionUsed => {
                    extended.set(true);
                    notice.set(Some(
                        "This hold was already extended once; it cannot be extended again.".into(),
                    ));
                }
                Err(error) => notice.set(Some(error.message)),
            }
        }
    });
    let busy = move || pay.pending().get() || extend.pending().get();

    let seconds_left = move || ((deadline.get() - now.get()) / 1000.0).max(0.0).ceil() as i64;
    // A memo, so the views that read it are redrawn when the hold runs out,
    // not on every tick of the countdown: a redraw builds the payment form
    // anew, and the card form mounted in it would be lost with what the
    // buyer typed.
    let expired = Memo::new(move |_| {
        hold.with(|h| match h {
            Some(Ok(view)) => {
                view.status != HoldStatus::Active || (deadline.get() > 0.0 && seconds_left() == 0)
            }
            _ => false,
        }) && purchase.with(Option::is_none)
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(id) = hold_id() else { return };
        notice.set(None);
        let email = email.get_untracked();
        let payment = if pay_with_saved.get_untracked() {
            Payment::Request(PurchaseRequest {
                email,
                payment: PaymentChoice {
                    token: None,
                    saved: Some(true),
                    element: None,
                },
                save_payment_method: false,
            })
        } else if uses_card_form.get_untracked() {
            Payment::CardForm { email }
        } else {
            Payment::Request(PurchaseRequest {
                email,
                payment: PaymentChoice {
                    token: Some(token.get_untracked()),
                    saved: None,
                    element: None,
                },
                save_payment_method: account.with_untracked(Option::is_some)
                    && save_card.get_untracked(),
            })
        };
        pay.dispatch((id, payment));
    };

    let navigate = use_navigate();
    let release = Callback::new(move |_: ()| {
        let Some(id) = hold_id() else { return };
        let event =
            hold.with_untracked(|h| h.as_ref().and_then(|h| h.as_ref().ok()).map(|h| h.event_id));
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let _ = client::release_hold(id).await;
            if let Some(event) = event {
                navigate(&format!("/events/{event}"), Default::default());
            }
        });
    });

    view! {
        <section class="checkout">
            <h1>"Checkout"</h1>
            {move || notice.get().or_else(payment_error).map(|text| view! { <p class="notice" role="alert" data-testid="notice">{text}</p> })}
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
                        {move || refund_policy.get().map(|text| view! {
                            <p class="refund-policy" data-testid="refund-policy">{text}</p>
                        })}
                        {move || match purchase.get() {
                            Some(done) => view! {
                                <Confirmation purchase=done/>
                                {move || account.with(Option::is_some).then(|| view! {
                                    <p><a href="/my/tickets" data-testid="see-my-tickets">"See all your tickets"</a></p>
                                })}
                            }.into_any(),
                            None if expired.get() => view! {
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
                                {move || (deadline.get() > 0.0 && seconds_left() <= 60).then(|| view! {
                                    <div class="hold-warning" role="alert" data-testid="hold-warning">
                                        <p>"Less than a minute left: your seats go back on sale when the timer runs out."</p>
                                        {move || (!extended.get()).then(|| view! {
                                            <button type="button" class="primary" data-testid="extend-hold"
                                                disabled=busy on:click=move |_| { if let Some(id) = hold_id() { extend.dispatch(id); } }>"Keep my seats longer"</button>
                                        })}
                                    </div>
                                })}
                                <form class="payment" on:submit=submit>
                                    <label>"Email for your tickets"
                                        <input type="email" required autocomplete="email" data-testid="email"
                                            prop:value=move || email.get()
                                            on:input=move |ev| email.set(event_target_value(&ev))/>
                                    </label>
                                    {move || saved_card(account).map(|card| view! {
                                        <fieldset class="payment-choice">
                                            <legend>"Payment"</legend>
                                            <label class="choice">
                                                <input type="radio" name="payment-choice" data-testid="pay-saved"
                                                    prop:checked=move || pay_with_saved.get()
                                                    on:change=move |_| pay_with_saved.set(true)/>
                                                {format!("Pay with {}", card.label())}
                                            </label>
                                            <label class="choice">
                                                <input type="radio" name="payment-choice" data-testid="pay-new-card"
                                                    prop:checked=move || !pay_with_saved.get()
                                                    on:change=move |_| {
                                                        // The card list below is drawn afresh, on its first option.
                                                        token.set("tok_visa".to_string());
                                                        pay_with_saved.set(false);
                                                    }/>
                                                "Use another card"
                                            </label>
                                        </fieldset>
                                    })}
                                    // Always in the page once the card form is used (hidden
                                    // while the saved card is chosen): Stripe.js mounts into it
                                    // once, and it keeps what the buyer typed.
                                    {move || uses_card_form.get().then(|| view! {
                                        <div id="payment-element" class="payment-element" data-testid="payment-element"
                                            style:display=move || if pay_with_saved.get() { "none" } else { "block" }></div>
                                    })}
                                    {move || (!pay_with_saved.get() && !uses_card_form.get()).then(|| view! {
                                        <label>"Card (test mode)"
                                            <select data-testid="card" on:change=move |ev| token.set(event_target_value(&ev))>
                                                <option value="tok_visa">"Visa •••• 4242 — succeeds"</option>
                                                <option value="tok_chargeDeclined">"Visa •••• 0002 — declined"</option>
                                            </select>
                                        </label>
                                    })}
                                    {move || (account.with(Option::is_some) && !pay_with_saved.get() && !uses_card_form.get()).then(|| view! {
                                        <label class="choice">
                                            <input type="checkbox" data-testid="save-card"
                                                prop:checked=move || save_card.get()
                                                on:change=move |ev| save_card.set(event_target_checked(&ev))/>
                                            "Save this card for next time"
                                        </label>
                                    })}
                                    <p class="fine-print">"Card details are entered in the payment provider's form; Tessera only ever sees a token."</p>
                                    <button type="submit" class="primary" data-testid="pay" disabled=busy>
                                        {move || if pay.pending().get() { "Paying…" } else { "Pay now" }}
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

/// How the buyer pays, read from the form when they press Pay.
#[derive(Clone)]
enum Payment {
    /// In the processor's card form mounted on the page.
    CardForm { email: String },
    /// With a test-card token or the account's saved card.
    Request(PurchaseRequest),
}

/// Lets the page draw what a signal change asked for before it goes on.
async fn gloo_tick() {
    #[cfg(feature = "hydrate")]
    gloo_timers::future::TimeoutFuture::new(0).await;
}

/// Pays in the processor's card form: the fields are checked, the server
/// creates the payment (`202` with its client secret), Stripe.js confirms
/// it (3-D Secure if the bank asks), and the same request again lets the
/// server act on the outcome, which it reads from the processor itself.
async fn pay_with_card_form(
    hold_id: HoldId,
    email: String,
    form: CardForm,
) -> Result<PurchaseView, String> {
    form.submit().await?;
    let request = PurchaseRequest {
        email,
        payment: PaymentChoice {
            token: None,
            saved: None,
            element: Some(true),
        },
        save_payment_method: false,
    };
    let key = client::new_idempotency_key();
    let ask = || client::purchase(hold_id, &request, &key);
    let first = ask().await.map_err(payment_message)?;
    let Some(secret) = first.client_secret.clone() else {
        return Ok(first);
    };
    // The processor's own words, when Stripe.js has some, say more than
    // "declined".
    let confirmed = form
        .confirm(&secret)
        .await
        .map_err(|message| format!("{message} Your seats are still held — try again."));
    let settled = ask().await.map_err(|error| match &confirmed {
        Err(message) => message.clone(),
        Ok(()) => payment_message(error),
    })?;
    if settled.client_secret.is_none() {
        return Ok(settled);
    }
    let pending = "Your payment is still being processed; try again in a moment.";
    Err(confirmed.err().unwrap_or_else(|| pending.into()))
}

fn payment_message(error: ApiError) -> String {
    if error.code == ErrorCode::PaymentDeclined {
        "Your card was declined. Your seats are still held — try another card.".into()
    } else {
        error.message
    }
}

/// The signed-in account's saved card, if there is one.
fn saved_card(account: RwSignal<Option<MeView>>) -> Option<crate::types::SavedCardView> {
    account.with(|me| me.as_ref().and_then(|me| me.payment_method.clone()))
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
