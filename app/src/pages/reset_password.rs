//! `/account/reset`: without a token, a form that mails a reset link; with
//! `?token=…` (the link from that email), a form for the new password. The
//! token is only sent when the fan submits, so a mail scanner that fetches
//! the page cannot use it up.

use crate::client;
use crate::error::{ApiError, ErrorCode};
use crate::pages::send_action;
use crate::types::{PasswordResetConfirm, PasswordResetRequest};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

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
    let send = send_action(client::request_password_reset);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send.dispatch(PasswordResetRequest {
            email: email.get_untracked(),
        });
    };
    view! {
        <form class="account-form" data-testid="reset-request-form" on:submit=submit>
            <label>"Email"
                <input type="email" required autocomplete="email" data-testid="reset-email"
                    prop:value=move || email.get()
                    on:input=move |ev| email.set(event_target_value(&ev))/>
            </label>
            <button type="submit" class="primary" disabled=move || send.pending().get()>"Email me a reset link"</button>
        </form>
        {move || send.value().get().map(|answer| match answer {
            Ok(()) => view! {
                <p role="status" data-testid="reset-result">
                    "If this address has an account, a reset link is on its way. It works for one hour."
                </p>
            }.into_any(),
            Err(error) => view! {
                <p class="error" role="alert" data-testid="reset-result">{error.message}</p>
            }.into_any(),
        })}
    }
}

#[component]
fn NewPassword(token: String) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let reset = send_action(client::reset_password);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        reset.dispatch(PasswordResetConfirm {
            token: token.clone(),
            new_password: password.get_untracked(),
        });
    };
    let failure = |error: ApiError| match error.code {
        ErrorCode::NotFound => "This link is not valid, has expired or has already been used. \
                                Ask for a new one below."
            .to_string(),
        _ => error.message,
    };
    view! {
        {move || match reset.value().get() {
            Some(Ok(())) => view! {
                <p role="status" data-testid="reset-result">
                    "Your password is changed, and everyone signed in to the account has been "
                    "signed out. " <a href="/account">"Sign in"</a> " with the new password."
                </p>
            }.into_any(),
            answer => view! {
                <form class="account-form" data-testid="reset-password-form" on:submit=submit.clone()>
                    <label>"New password (8 to 128 characters)"
                        <input type="password" required minlength="8" maxlength="128"
                            autocomplete="new-password" data-testid="reset-new-password"
                            prop:value=move || password.get()
                            on:input=move |ev| password.set(event_target_value(&ev))/>
                    </label>
                    <button type="submit" class="primary" disabled=move || reset.pending().get()>"Set the new password"</button>
                </form>
                {answer.and_then(Result::err).map(|error| view! {
                    <p class="error" role="alert" data-testid="reset-result">{failure(error)}</p>
                    <p><a href="/account/reset">"Ask for a new link"</a></p>
                })}
            }.into_any(),
        }}
    }
}
