//! `/purchases/:id?key=…`: the link in the ticket email. It opens the
//! purchase's tickets, with their QR codes, in any browser — a guest's
//! phone at the gate included — without an account. Loaded from the
//! browser, so the key never passes through a server-rendered page cache.

use crate::client;
use crate::types::{format_cents, PurchaseStatus, PurchaseView, TicketStatus, TicketView};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn PurchasePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let hydrated = crate::use_hydrated();
    let id = move || params.with_untracked(|p| p.get("id")).unwrap_or_default();
    let key = move || query.with_untracked(|q| q.get("key")).unwrap_or_default();

    // Loaded in the browser only: the server renders "Loading".
    let purchase = LocalResource::new(move || {
        let (id, key) = (id(), key());
        async move { client::purchase_view(id, email_key(&key)).await }
    });

    view! {
        <section class="purchase-page" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Your tickets"</h1>
            {move || match purchase.get() {
                None => view! { <p class="loading">"Loading your tickets…"</p> }.into_any(),
                Some(Err(_)) => view! {
                    <p class="error" role="alert" data-testid="purchase-error">
                        "This link does not open a purchase. Check that the whole link from the email was opened."
                    </p>
                }.into_any(),
                Some(Ok(view)) => purchase_view(view, key()).into_any(),
            }}
        </section>
    }
}

/// The link's `key`, if it has one.
fn email_key(key: &str) -> Option<&str> {
    (!key.is_empty()).then_some(key)
}

fn purchase_view(view: PurchaseView, key: String) -> impl IntoView {
    let status = match view.status {
        PurchaseStatus::Paid => "Paid",
        PurchaseStatus::Pending => "Payment in progress",
        PurchaseStatus::Failed => "Not completed",
        PurchaseStatus::Refunding => "Being refunded",
        PurchaseStatus::Refunded => "Refunded",
    };
    view! {
        <p data-testid="purchase-summary">
            {format!("Purchase #{} · {} · {} ticket(s) · {}", view.purchase_id, status,
                view.tickets.len(), format_cents(view.total_cents))}
        </p>
        <ul class="my-ticket-list">
            {view.tickets.into_iter().map(|ticket| ticket_card(ticket, &key)).collect_view()}
        </ul>
    }
}

fn ticket_card(ticket: TicketView, key: &str) -> impl IntoView {
    let seat = format!(
        "Section {} · Row {} · Seat {}",
        ticket.section, ticket.row, ticket.number
    );
    let label = ticket.status.label();
    let qr = (ticket.status != TicketStatus::Refunded).then(|| {
        let src = client::ticket_qr_url(ticket.id, email_key(key));
        view! { <img class="qr" width="160" height="160" src=src alt=format!("QR code for {seat}")/> }
    });
    view! {
        <li class="my-ticket" data-testid="purchase-ticket">
            <p class="seat">{seat.clone()}</p>
            <p>{format!("{label} · {}", format_cents(ticket.price_cents))}</p>
            {qr}
            <p class="code"><code>{ticket.code}</code></p>
        </li>
    }
}
