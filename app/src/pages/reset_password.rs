//! `/account/reset`: without a token, a form that mails a reset link; with
//! `?token=…` (the link from that email), a form for the new password. The
//! token is only sent when the fan submits, so a mail scanner that fetches
//! the page cannot use it up.

use crate::client;
use crate::error::ErrorCode;
use crate::types::{PasswordResetConfirm, PasswordResetRequest};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Editing,
    Sent,
    Reset,
    Failed(String),
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || {
        query
            .with(|q| q.get("token"))
            .map(|t| t.trim().to_string())
            .unwrap_or_default()
    };
    let hydrated = crate::use_hydrated();
    view! {
        <section class="reset-password" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Reset your password"</h1>
            {move || if token().is_empty() {
                view! { <RequestLink/> }.into_any()
            } else {
                view! { <NewPassword token=token()/> }.into_any()
            }}
            <p><a href="/account">"Back to sign in"</a></p>
        </section>
    }
}

#[component]
fn RequestLink() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let outcome = RwSignal::new(Outcome::Editing);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let request = PasswordResetRequest {
            email: email.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            let answer = client::request_password_reset(&request).await;
            busy.set(false);
            outcome.set(match answer {
                Ok(()) => Outcome::Sent,
                Err(error) => Outcome::Failed(error.message),
            });
        });
    };
    view! {
        <form class="account-form" data-testid="reset-request-form" on:submit=submit>
            <label>"Email"
                <input type="email" required autocomplete="email" data-testid="reset-email"
                    prop:value=move || email.get()
                    on:input=move |ev| email.set(event_target_value(&ev))/>
            </label>
            <button type="submit" class="primary" disabled=move || busy.get()>"Email me a reset link"</button>
        </form>
        {move || match outcome.get() {
            Outcome::Sent => Some(view! {
                <p role="status" data-testid="reset-result">
                    "If this address has an account, a reset link is on its way. It works for one hour."
                </p>
            }.into_any()),
            Outcome::Failed(message) => Some(view! {
                <p class="error" role="alert" data-testid="reset-result">{message}</p>
            }.into_any()),
            _ => None,
        }}
    }
}

#[component]
fn NewPassword(token: String) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let outcome = RwSignal::new(Outcome::Editing);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let request = PasswordResetConfirm {
            token: token.clone(),
            new_password: password.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            let answer = client::reset_password(&request).await;
            busy.set(false);
            outcome.set(match answer {
                Ok(()) => Outcome::Reset,
                Err(error) if error.code == ErrorCode::NotFound => Outcome::Failed(
                    "This link is not valid, has expired or has already been used. Ask for a \
                     new one below."
                        .into(),
                ),
                Err(error) => Outcome::Failed(error.message),
            });
        });
    };
    view! {
        {move || match outcome.get() {
            Outcome::Reset => view! {
                <p role="status" data-testid="reset-result">
                    "Your password is changed, and everyone signed in to the account has been "
                    "signed out. " <a href="/account">"Sign in"</a> " with the new password."
                </p>
            }.into_any(),
            other => view! {
                <form class="account-form" data-testid="reset-password-form" on:submit=submit.clone()>
                    <label>"New password (8 to 128 characters)"
                        <input type="password" required minlength="8" maxlength="128"
                            autocomplete="new-password" data-testid="reset-new-password"
                            prop:value=move || password.get()
                            on:input=move |ev| password.set(event_target_value(&ev))/>
                    </label>
                    <button type="submit" class="primary" disabled=move || busy.get()>"Set the new password"</button>
                </form>
                {match other {
                    Outcome::Failed(message) => Some(view! {
                        <p class="error" role="alert" data-testid="reset-result">{message}</p>
                        <p><a href="/account/reset">"Ask for a new link"</a></p>
                    }),
                    _ => None,
                }}
            }.into_any(),
        }}
    }
}
