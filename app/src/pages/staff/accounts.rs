//! `/staff/accounts`: an admin creates staff (or admin) accounts. Staff who
//! are not admins see the form too, and the server refuses them (403).

use super::StaffGate;
use crate::client;
use crate::staff::CreateStaffRequest;
use crate::types::Role;
use leptos::prelude::*;

#[component]
pub fn StaffAccountsPage() -> impl IntoView {
    view! {
        <StaffGate>
            <NewStaffAccount/>
        </StaffGate>
    }
}

#[component]
fn NewStaffAccount() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let admin = RwSignal::new(false);
    let notice: RwSignal<Option<(bool, String)>> = RwSignal::new(None);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = CreateStaffRequest {
            email: email.get_untracked().trim().to_string(),
            display_name: display_name.get_untracked(),
            password: password.get_untracked(),
            role: if admin.get_untracked() {
                Role::Admin
            } else {
                Role::Staff
            },
        };
        leptos::task::spawn_local(async move {
            let answer =
                client::call::<_, ()>("POST", "/api/admin/staff", Some(&request), None).await;
            notice.set(Some(match answer {
                Ok(_) => {
                    password.set(String::new());
                    (true, format!("Account created for {}.", request.email))
                }
                Err(error) => (false, error.message),
            }));
        });
    };
    view! {
        <section class="staff-form">
            <p class="fine-print"><a href="/staff">"← Staff"</a></p>
            <h1>"New staff account"</h1>
            <p class="fine-print">"Admins only. Give the new member their password in person; they sign in at /staff."</p>
            <form class="payment" on:submit=submit>
                {move || notice.get().map(|(ok, text)| view! {
                    <p class=if ok { "confirmation" } else { "notice" } role="status" data-testid="staff-account-notice">{text}</p>
                })}
                <label>"Email"
                    <input type="email" required data-testid="new-staff-email" prop:value=move || email.get()
                        on:input=move |ev| email.set(event_target_value(&ev))/>
                </label>
                <label>"Name"
                    <input required data-testid="new-staff-name" prop:value=move || display_name.get()
                        on:input=move |ev| display_name.set(event_target_value(&ev))/>
                </label>
                <label>"Password (8 characters or more)"
                    <input type="password" required minlength="8" autocomplete="new-password" data-testid="new-staff-password"
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
                <label class="checkbox">
                    <input type="checkbox" data-testid="new-staff-admin" prop:checked=move || admin.get()
                        on:change=move |ev| admin.set(event_target_checked(&ev))/>
                    " Admin (can create accounts)"
                </label>
                <button type="submit" class="primary" data-testid="create-staff">"Create account"</button>
            </form>
        </section>
    }
}
