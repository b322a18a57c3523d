//! Account: create one or sign in when signed out; when signed in, the
//! account, whether its email is confirmed, its saved card, a new password
//! and sign-out.
//! Accounts are optional (guests can always buy), and the session cookie is
//! HttpOnly, so the page asks the API who is signed in once it has hydrated.

use crate::client::{self, RegisterAnswer};
use crate::error::{ApiError, ErrorCode};
use crate::pages::sign_in::SignInForm;
use crate::pages::{browser_action, send_action};
use crate::types::{
    ChangePasswordRequest, MeView, RegisterRequest, SavePaymentMethodRequest, SavedCardView,
};
use leptos::prelude::*;

/// The payment provider's test tokens a card can be saved with. In
/// production the provider's own card form produces the token instead.
const TEST_CARDS: [(&str, &str); 3] = [
    ("tok_visa", "Visa •••• 4242"),
    ("tok_mastercard", "Mastercard •••• 4444"),
    ("tok_amex", "American Express •••• 8431"),
];

/// What the page knows about the browser's account.
#[derive(Clone, Debug, PartialEq)]
enum AccountState {
    /// On the server and until the API has answered: not known yet.
    Loading,
    SignedOut,
    SignedIn(MeView),
    Failed(String),
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let state = RwSignal::new(AccountState::Loading);
    let notice: RwSignal<Option<String>> = RwSignal::new(None);
    let hydrated = crate::use_hydrated();

    // Effects run only in the browser, so the server renders "Loading".
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            state.set(match client::current_account().await {
                Ok(Some(me)) => AccountState::SignedIn(me),
                Ok(None) => AccountState::SignedOut,
                Err(error) => AccountState::Failed(error.message),
            });
        });
    });

    view! {
        <section class="account" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Your account"</h1>
            {move || notice.get().map(|text| view! {
                <p class="notice" role="status" data-testid="account-notice">{text}</p>
            })}
            {move || match state.get() {
                AccountState::Loading => view! { <p class="loading">"Loading your account…"</p> }.into_any(),
                AccountState::Failed(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                AccountState::SignedOut => view! {
                    <p class="fine-print">
                        "An account is optional: it keeps your tickets in one place and can remember a card. "
                        "Guests can buy without one."
                    </p>
                    <div class="account-forms">
                        <RegisterForm state notice/>
                        <SignInForm on_signed_in=move |me| {
                            notice.set(None);
                            state.set(AccountState::SignedIn(me));
                        }/>
                    </div>
                }.into_any(),
                AccountState::SignedIn(me) => view! { <AccountDetails me state notice/> }.into_any(),
            }}
        </section>
    }
}

/// The API's error, said the way a person filling in the form needs it.
fn register_error_message(error: ApiError) -> String {
    match error.code {
        ErrorCode::EmailTaken => {
            "An account with this email already exists. Sign in instead.".to_string()
        }
        _ => error.message,
    }
}

#[component]
fn RegisterForm(state: RwSignal<AccountState>, notice: RwSignal<Option<String>>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let register = send_action(client::register);
    let busy = register.pending();
    Effect::new(move |_| match register.value().get() {
        Some(Ok(RegisterAnswer::ClaimLinkSent(sent))) => notice.set(Some(format!(
            "{} already has an account whose email was never confirmed. We sent a link to \
             that address: open it to choose a password and make the account yours.",
            sent.email
        ))),
        Some(Ok(RegisterAnswer::SignedIn(me))) => {
            notice.set(Some(format!(
                "Welcome, {}! We sent a confirmation link to {}.",
                me.display_name, me.email
            )));
            // Replaces this form; nothing of it is touched afterwards.
            state.set(AccountState::SignedIn(me));
        }
        _ => {}
    });
    let refusal = move || match register.value().get() {
        Some(Err(error)) if !busy.get() => Some(register_error_message(error)),
        _ => None,
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        notice.set(None);
        register.dispatch(RegisterRequest {
            email: email.get_untracked().trim().to_string(),
            password: password.get_untracked(),
            display_name: display_name.get_untracked().trim().to_string(),
        });
    };

    view! {
        <form class="account-form" data-testid="register-form" on:submit=submit>
            <h2>"Create an account"</h2>
            <label>"Email"
                <input type="email" required autocomplete="email" data-testid="register-email"
                    prop:value=move || email.get()
                    on:input=move |ev| email.set(event_target_value(&ev))/>
            </label>
            <label>"Display name"
                <input type="text" required autocomplete="nickname" data-testid="register-name"
                    prop:value=move || display_name.get()
                    on:input=move |ev| display_name.set(event_target_value(&ev))/>
            </label>
            <label>"Password (8 to 128 characters)"
                <input type="password" required minlength="8" maxlength="128" autocomplete="new-password"
                    data-testid="register-password"
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))/>
            </label>
            {move || refusal().map(|text| view! {
                <p class="error" role="alert" data-testid="register-error">{text}</p>
            })}
            <button type="submit" class="primary" data-testid="register" disabled=move || busy.get()>
                {move || if busy.get() { "Creating…" } else { "Create account" }}
            </button>
        </form>
    }
}

/// Sets the saved card of the signed-in account shown on the page.
fn show_saved_card(state: RwSignal<AccountState>, card: Option<SavedCardView>) {
    state.update(|current| {
        if let AccountState::SignedIn(me) = current {
            me.payment_method = card;
        }
    });
}

#[component]
fn AccountDetails(
    me: MeView,
    state: RwSignal<AccountState>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let token = RwSignal::new(TEST_CARDS[0].0.to_string());
    let save = send_action(client::save_payment_method);
    // No input to send: plain browser actions.
    let remove = browser_action(|_: &()| client::delete_payment_method());
    let leave = browser_action(|_: &()| client::logout());
    let busy = move || save.pending().get() || remove.pending().get() || leave.pending().get();
    // Each answer is told in the notice; a change of card or a sign-out
    // redraws the account.
    Effect::new(move |_| match save.value().get() {
        Some(Ok(card)) => {
            notice.set(Some(format!("Saved {}.", card.label())));
            show_saved_card(state, Some(card));
        }
        Some(Err(error)) if error.code == ErrorCode::PaymentDeclined => notice.set(Some(
            "That card was declined and was not saved. Try another.".into(),
        )),
        Some(Err(error)) => notice.set(Some(error.message)),
        None => {}
    });
    Effect::new(move |_| match remove.value().get() {
        Some(Ok(())) => {
            notice.set(Some("Your saved card was removed.".into()));
            show_saved_card(state, None);
        }
        Some(Err(error)) => notice.set(Some(error.message)),
        None => {}
    });
    Effect::new(move |_| match leave.value().get() {
        Some(Ok(())) => {
            notice.set(Some("You are signed out.".into()));
            state.set(AccountState::SignedOut);
        }
        Some(Err(error)) => notice.set(Some(error.message)),
        None => {}
    });
    let save_card = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        notice.set(None);
        save.dispatch(SavePaymentMethodRequest {
            token: token.get_untracked(),
        });
    };
    let remove_card = move |_| {
        notice.set(None);
        remove.dispatch(());
    };
    let sign_out = move |_| {
        notice.set(None);
        leave.dispatch(());
    };

    let confirmation = if me.email_confirmed {
        view! { <dd data-testid="email-confirmed">"Confirmed"</dd> }.into_any()
    } else {
        view! {
            <dd data-testid="email-confirmed">
                "Not confirmed yet — open the link in the email we sent you."
            </dd>
        }
        .into_any()
    };
    let has_card = me.payment_method.is_some();
    let saved_card = match me.payment_method {
        Some(card) => view! {
            <p class="saved-card">
                <span data-testid="saved-card">{card.label()}</span>
                " "
                <button type="button" class="secondary" data-testid="remove-card"
                    disabled=busy on:click=remove_card>
                    "Remove"
                </button>
            </p>
        }
        .into_any(),
        None => view! { <p class="empty" data-testid="saved-card">"No saved card."</p> }.into_any(),
    };

    view! {
        <div class="account-details" data-testid="account-details">
            <dl>
                <dt>"Name"</dt>
                <dd data-testid="account-name">{me.display_name}</dd>
                <dt>"Email"</dt>
                <dd data-testid="account-email">{me.email}</dd>
                <dt>"Email confirmation"</dt>
                {confirmation}
            </dl>
            <p><a href="/my/tickets">"See your tickets"</a></p>

            <h2>"Saved card"</h2>
            {saved_card}
            <form class="add-card" on:submit=save_card>
                <label>{if has_card { "Replace it with another card" } else { "Add a card" }}
                    <select data-testid="new-card" on:change=move |ev| token.set(event_target_value(&ev))>
                        // Selected from the signal: when the account changes this
                        // form is redrawn in place, and the list must not keep
                        // showing a card other than the one Save would send.
                        {TEST_CARDS.into_iter().map(|(value, label)| view! {
                            <option value=value prop:selected=move || token.get() == value>{label}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button type="submit" class="primary" data-testid="save-card" disabled=busy>
                    "Save card"
                </button>
                <p class="fine-print">
                    "Test mode: in production this is the payment provider's card form, "
                    "and Tessera only ever receives a token and the card's last four digits."
                </p>
            </form>

            <ChangePasswordForm notice/>

            <button type="button" class="secondary" data-testid="sign-out"
                disabled=busy on:click=sign_out>
                "Sign out"
            </button>
        </div>
    }
}

/// A new password, the current one required; the account's sessions in
/// other browsers are signed out, this one stays signed in.
#[component]
fn ChangePasswordForm(notice: RwSignal<Option<String>>) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let change = send_action(client::change_password);
    Effect::new(move |_| {
        let Some(answer) = change.value().get() else {
            return;
        };
        notice.set(Some(match answer {
            Ok(()) => {
                current.set(String::new());
                new.set(String::new());
                "Your password was changed, and you were signed out everywhere else.".into()
            }
            Err(error) if error.code == ErrorCode::InvalidCredentials => {
                "Your current password is not right; nothing was changed.".into()
            }
            Err(error) => error.message,
        }));
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        notice.set(None);
        change.dispatch(ChangePasswordRequest {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
        });
    };
    view! {
        <h2>"Password"</h2>
        <form class="change-password" on:submit=submit>
            <label>"Current password"
                <input type="password" required autocomplete="current-password"
                    data-testid="current-password" prop:value=move || current.get()
                    on:input=move |ev| current.set(event_target_value(&ev))/>
            </label>
            <label>"New password (8 to 128 characters)"
                <input type="password" required minlength="8" maxlength="128" autocomplete="new-password"
                    data-testid="new-password" prop:value=move || new.get()
                    on:input=move |ev| new.set(event_target_value(&ev))/>
            </label>
            <button type="submit" class="primary" data-testid="change-password" disabled=move || change.pending().get()>
                "Change password"
            </button>
        </form>
    }
}
