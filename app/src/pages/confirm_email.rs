//! `/account/confirm?token=…`: the link from a confirmation or claim email.
//! The token is sent from the browser after hydration rather than on the
//! server render, so a mail scanner that only fetches the page does not
//! use it up.
//!
//! Signed in to the link's account, following it confirms the email. In
//! any other browser the API asks for a new password first: whoever proves
//! the mailbox takes the account (its other sessions are signed out), so a
//! stranger who registered the address first never sees what was bought
//! with it.

use crate::client;
use crate::error::{ApiError, ErrorCode};
use crate::pages::browser_action;
use crate::types::ConfirmEmailRequest;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    /// Until the API has answered.
    Confirming,
    Confirmed,
    /// Confirmed, and this browser signed in with the new password.
    Claimed,
    /// The link is good, but from this browser it also sets the password.
    NeedsPassword,
    Failed(String),
}

fn failure_message(error: ApiError) -> String {
    match error.code {
        ErrorCode::NotFound => "This link is not valid, has expired or has already been used. \
             Register again with the same email for a new one."
            .into(),
        _ => error.message,
    }
}

#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let query = use_query_map();
    let password = RwSignal::new(String::new());
    let hydrated = crate::use_hydrated();
    let token = move || {
        query
            .with_untracked(|params| params.get("token"))
            .map(|token| token.trim().to_string())
            .unwrap_or_default()
    };
    // Answers whether the account was claimed (a new password was sent).
    let confirm = browser_action(|request: &ConfirmEmailRequest| {
        let request = request.clone();
        async move {
            client::confirm_email(&request).await?;
            Ok::<bool, ApiError>(request.new_password.is_some())
        }
    });
    let send = move |new_password: Option<String>| {
        confirm.dispatch(ConfirmEmailRequest {
            token: token(),
            new_password,
        });
    };
    // Effects run only in the browser: the render never uses the token.
    Effect::new(move |_| {
        if !token().is_empty() {
            send(None);
        }
    });
    let busy = confirm.pending();
    let outcome = move || match confirm.value().get() {
        _ if token().is_empty() => Outcome::Failed(
            "This link has no confirmation token. Open the link from the email again.".into(),
        ),
        None => Outcome::Confirming,
        Some(Ok(true)) => Outcome::Claimed,
        Some(Ok(false)) => Outcome::Confirmed,
        Some(Err(error)) if error.code == ErrorCode::NewPasswordRequired => Outcome::NeedsPassword,
        Some(Err(error)) => Outcome::Failed(failure_message(error)),
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send(Some(password.get_untracked()));
    };

    view! {
        <section class="confirm-email" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Confirm your email"</h1>
            {move || match outcome() {
                Outcome::Confirming => view! { <p class="loading">"Confirming your email…"</p> }.into_any(),
                Outcome::Confirmed => view! {
                    <p class="confirmed" role="status" data-testid="confirm-result">
                        "Thanks — your email is confirmed."
                    </p>
                }.into_any(),
                Outcome::Claimed => view! {
                    <p class="confirmed" role="status" data-testid="confirm-result">
                        "Your email is confirmed and you are signed in with your new password. "
                        "Anyone else who was signed in to this account has been signed out."
                    </p>
                }.into_any(),
                Outcome::NeedsPassword => view! {
                    <form class="account-form" data-testid="confirm-password-form" on:submit=submit>
                        <p>
                            "To confirm this address here, choose the account's password. "
                            "It replaces the current one, and anyone signed in to the account "
                            "elsewhere is signed out. (Or sign in on this browser first, then "
                            "open the link again.)"
                        </p>
                        <label>"New password (8 to 128 characters)"
                            <input type="password" required minlength="8" maxlength="128"
                                autocomplete="new-password" data-testid="confirm-new-password"
                                prop:value=move || password.get()
                                on:input=move |ev| password.set(event_target_value(&ev))/>
                        </label>
                        <button type="submit" class="primary" data-testid="confirm-submit"
                            disabled=move || busy.get()>
                            {move || if busy.get() { "Confirming…" } else { "Confirm and sign in" }}
                        </button>
                    </form>
                }.into_any(),
                Outcome::Failed(message) => view! {
                    <p class="error" role="alert" data-testid="confirm-result">{message}</p>
                }.into_any(),
            }}
            <p><a href="/account">"Go to your account"</a></p>
        </section>
    }
}
