//! `/account/confirm?token=…`: the link from the confirmation email. The
//! token is sent from the browser after hydration rather than on the server
//! render, so a mail scanner that only fetches the page does not confirm it.

use crate::client;
use crate::error::ErrorCode;
use crate::types::ConfirmEmailRequest;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let query = use_query_map();
    // `None` until the API has answered.
    let outcome: RwSignal<Option<Result<(), String>>> = RwSignal::new(None);
    let hydrated = crate::use_hydrated();

    Effect::new(move |_| {
        let token = query
            .with_untracked(|params| params.get("token"))
            .map(|token| token.trim().to_string())
            .unwrap_or_default();
        if token.is_empty() {
            outcome.set(Some(Err(
                "This link has no confirmation token. Open the link from the email again.".into(),
            )));
            return;
        }
        leptos::task::spawn_local(async move {
            let request = ConfirmEmailRequest { token };
            let answer =
                client::call::<_, ()>("POST", "/api/auth/confirm", Some(&request), None).await;
            outcome.set(Some(match answer {
                Ok(_) => Ok(()),
                Err(error) if error.code == ErrorCode::NotFound => {
                    Err("This confirmation link is not valid or has already been used.".into())
                }
                Err(error) => Err(error.message),
            }));
        });
    });

    view! {
        <section class="confirm-email" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Confirm your email"</h1>
            {move || match outcome.get() {
                None => view! { <p class="loading">"Confirming your email…"</p> }.into_any(),
                Some(Ok(())) => view! {
                    <p class="confirmed" role="status" data-testid="confirm-result">
                        "Thanks — your email is confirmed."
                    </p>
                }.into_any(),
                Some(Err(message)) => view! {
                    <p class="error" role="alert" data-testid="confirm-result">{message}</p>
                }.into_any(),
            }}
            <p><a href="/account">"Go to your account"</a></p>
        </section>
    }
}
