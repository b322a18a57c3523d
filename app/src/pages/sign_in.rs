//! The one sign-in form, used by the account page and by the staff pages.

use crate::client;
use crate::error::{ApiError, ErrorCode};
use crate::pages::send_action;
use crate::types::{LoginRequest, MeView};
use leptos::prelude::*;

/// The API's error, said the way a person filling in the form needs it.
fn sign_in_error_message(error: &ApiError) -> String {
    match error.code {
        ErrorCode::InvalidCredentials => {
            "That email and password do not match an account.".to_string()
        }
        ErrorCode::RateLimited => {
            "Too many sign-in attempts. Wait a minute, then try again.".to_string()
        }
        _ => error.message.clone(),
    }
}

/// Email and password; `on_signed_in` gets the account once the API has
/// accepted them, and a refusal is shown under the form.
#[component]
pub fn SignInForm(#[prop(into)] on_signed_in: Callback<MeView>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let sign_in = send_action(client::login);
    let busy = sign_in.pending();
    Effect::new(move |_| {
        if let Some(Ok(me)) = sign_in.value().get() {
            on_signed_in.run(me);
        }
    });
    let refusal = move || match sign_in.value().get() {
        Some(Err(error)) if !busy.get() => Some(sign_in_error_message(&error)),
        _ => None,
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        sign_in.dispatch(LoginRequest {
            email: email.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        });
    };

    view! {
        <form class="account-form" data-testid="sign-in-form" on:submit=submit>
            <h2>"Sign in"</h2>
            <label>"Email"
                <input type="email" required autocomplete="username" data-testid="sign-in-email"
                    prop:value=move || email.get()
                    on:input=move |ev| email.set(event_target_value(&ev))/>
            </label>
            <label>"Password"
                <input type="password" required autocomplete="current-password" data-testid="sign-in-password"
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))/>
            </label>
            {move || refusal().map(|text| view! {
                <p class="error" role="alert" data-testid="sign-in-error">{text}</p>
            })}
            <button type="submit" class="primary" data-testid="sign-in" disabled=move || busy.get()>
                {move || if busy.get() { "Signing in…" } else { "Sign in" }}
            </button>
            <p><a href="/account/reset" data-testid="forgot-password">"Forgot your password?"</a></p>
        </form>
    }
}
