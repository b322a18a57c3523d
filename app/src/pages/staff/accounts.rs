//! `/staff/accounts`: an admin creates staff (or admin) accounts, and finds
//! any account by email to change its role or disable it. Staff who are not
//! admins see the forms too, and the server refuses them (403).

use super::StaffGate;
use crate::client;
use crate::error::ErrorCode;
use crate::pages::browser_action;
use crate::staff::{CreateStaffRequest, UpdateUserRequest, UserView};
use crate::types::Role;
use leptos::prelude::*;

#[component]
pub fn StaffAccountsPage() -> impl IntoView {
    view! {
        <StaffGate>
            <NewStaffAccount/>
            <ManageAccount/>
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
    // Answers the new account's email, for the notice.
    let create = browser_action(|request: &CreateStaffRequest| {
        let request = request.clone();
        async move { client::create_staff(&request).await.map(|()| request.email) }
    });
    Effect::new(move |_| {
        let Some(answer) = create.value().get() else {
            return;
        };
        notice.set(Some(match answer {
            Ok(email) => {
                password.set(String::new());
                (true, format!("Account created for {email}."))
            }
            Err(error) => (false, error.message),
        }));
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateStaffRequest {
            email: email.get_untracked().trim().to_string(),
            display_name: display_name.get_untracked(),
            password: password.get_untracked(),
            role: if admin.get_untracked() {
                Role::Admin
            } else {
                Role::Staff
            },
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

/// Finds an account by email; then its role changes, or it is disabled
/// (signed out everywhere, cannot sign in) or enabled again.
#[component]
fn ManageAccount() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let found: RwSignal<Option<UserView>> = RwSignal::new(None);
    let notice: RwSignal<Option<(bool, String)>> = RwSignal::new(None);
    let lookup = browser_action(|address: &String| {
        let address = address.clone();
        async move { client::find_user(&address).await }
    });
    let change = browser_action(|(id, request): &(i64, UpdateUserRequest)| {
        let (id, request) = (*id, request.clone());
        async move { client::update_user(id, &request).await }
    });
    Effect::new(move |_| match lookup.value().get() {
        Some(Ok(user)) => {
            notice.set(None);
            found.set(Some(user));
        }
        Some(Err(error)) if error.code == ErrorCode::NotFound => {
            notice.set(Some((false, "No account has that email.".into())))
        }
        Some(Err(error)) => notice.set(Some((false, error.message))),
        None => {}
    });
    Effect::new(move |_| match change.value().get() {
        Some(Ok(user)) => {
            notice.set(Some((true, "Saved.".into())));
            found.set(Some(user));
        }
        Some(Err(error)) if error.code == ErrorCode::LastAdmin => notice.set(Some((
            false,
            "This is the last active admin: make another admin first.".into(),
        ))),
        Some(Err(error)) => notice.set(Some((false, error.message))),
        None => {}
    });
    let find = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        found.set(None);
        lookup.dispatch(email.get_untracked().trim().to_string());
    };
    let update = move |id: i64, request: UpdateUserRequest| {
        change.dispatch((id, request));
    };
    view! {
        <section class="staff-form">
            <h2>"Manage an account"</h2>
            <form class="payment" on:submit=find>
                <label>"Email"
                    <input type="email" required data-testid="find-user-email" prop:value=move || email.get()
                        on:input=move |ev| email.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="secondary" data-testid="find-user">"Find"</button>
            </form>
            {move || notice.get().map(|(ok, text)| view! {
                <p class=if ok { "confirmation" } else { "notice" } role="status" data-testid="manage-user-notice">{text}</p>
            })}
            {move || found.get().map(|user| {
                let id = user.id;
                let disabled = user.disabled;
                view! {
                    <dl data-testid="found-user">
                        <dt>"Account"</dt>
                        <dd>{user.display_name.clone()} " <" {user.email.clone()} ">"</dd>
                        <dt>"Status"</dt>
                        <dd data-testid="found-user-status">{if disabled { "Disabled" } else { "Active" }}</dd>
                    </dl>
                    <label>"Role "
                        <select data-testid="found-user-role" on:change=move |ev| {
                            let role = match event_target_value(&ev).as_str() {
                                "admin" => Role::Admin,
                                "staff" => Role::Staff,
                                _ => Role::Fan,
                            };
                            update(id, UpdateUserRequest { role: Some(role), disabled: None });
                        }>
                            {[Role::Fan, Role::Staff, Role::Admin].into_iter().map(|role| view! {
                                <option value=role.as_str() selected=role == user.role>{role.as_str()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    " "
                    <button type="button" class="secondary" data-testid="toggle-user-disabled"
                        on:click=move |_| update(id, UpdateUserRequest { role: None, disabled: Some(!disabled) })>
                        {if disabled { "Enable account" } else { "Disable account" }}
                    </button>
                }
            })}
        </section>
    }
}
