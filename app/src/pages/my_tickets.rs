//! My tickets: the signed-in account's upcoming and past tickets, each with
//! the QR code the gate scans, and a refund while the purchase allows one.
//! Loaded from the browser: the list belongs to the session cookie.

use crate::client;
use crate::error::ErrorCode;
use crate::pages::browser_action;
use crate::types::{
    format_cents, format_starts_at, MyTicket, MyTicketsView, PurchaseId, TicketStatus,
};
use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
enum TicketsState {
    /// On the server and until the API has answered.
    Loading,
    SignedOut,
    Loaded(MyTicketsView),
    Failed(String),
}

#[component]
pub fn MyTicketsPage() -> impl IntoView {
    let notice: RwSignal<Option<String>> = RwSignal::new(None);
    let hydrated = crate::use_hydrated();

    // Loaded in the browser only: the server renders "Loading".
    let tickets = LocalResource::new(client::my_tickets);
    let state = move || match tickets.get() {
        None => TicketsState::Loading,
        Some(Ok(view)) => TicketsState::Loaded(view),
        Some(Err(error)) if error.code == ErrorCode::Unauthenticated => TicketsState::SignedOut,
        Some(Err(error)) => TicketsState::Failed(error.message),
    };

    // Answers the refunded purchase, for the notice.
    let refund = browser_action(|purchase_id: &PurchaseId| {
        let purchase_id = *purchase_id;
        async move { client::refund(purchase_id).await.map(|()| purchase_id) }
    });
    // The purchase being refunded, so its buttons cannot be pressed twice.
    let refunding = Signal::derive(move || refund.input().get());
    Effect::new(move |_| match refund.value().get() {
        Some(Ok(purchase_id)) => {
            notice.set(Some(format!(
                "Purchase #{purchase_id} was refunded and its seats are back on sale."
            )));
            // The refund changes every ticket of the purchase; ask again
            // rather than guess which rows it touched.
            tickets.refetch();
        }
        Some(Err(error)) => notice.set(Some(error.message)),
        None => {}
    });
    let start_refund = Callback::new(move |purchase_id: PurchaseId| {
        notice.set(None);
        refund.dispatch(purchase_id);
    });

    view! {
        <section class="my-tickets" data-hydrated=move || hydrated.get().to_string()>
            <h1>"My tickets"</h1>
            {move || notice.get().map(|text| view! {
                <p class="notice" role="status" data-testid="tickets-notice">{text}</p>
            })}
            {move || match state() {
                TicketsState::Loading => view! { <p class="loading">"Loading your tickets…"</p> }.into_any(),
                TicketsState::Failed(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                TicketsState::SignedOut => view! {
                    <p data-testid="signed-out">
                        "Tickets bought with an account are listed here. "
                        <a href="/account">"Sign in or create an account"</a>
                        " to see yours."
                    </p>
                }.into_any(),
                TicketsState::Loaded(view) => view! {
                    <TicketList title="Upcoming" empty="No upcoming tickets." tickets=view.upcoming refund=start_refund refunding/>
                    <TicketList title="Past" empty="No past tickets." tickets=view.past refund=start_refund refunding/>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn TicketList(
    title: &'static str,
    empty: &'static str,
    tickets: Vec<MyTicket>,
    refund: Callback<PurchaseId>,
    refunding: Signal<Option<PurchaseId>>,
) -> impl IntoView {
    let body = if tickets.is_empty() {
        view! { <p class="empty">{empty}</p> }.into_any()
    } else {
        view! {
            <ul class="my-ticket-list">
                {tickets.into_iter().map(|ticket| view! { <TicketCard ticket refund refunding/> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <h2>{title}</h2>
        {body}
    }
}

#[component]
fn TicketCard(
    ticket: MyTicket,
    refund: Callback<PurchaseId>,
    refunding: Signal<Option<PurchaseId>>,
) -> impl IntoView {
    let seat = format!(
        "Section {} · Row {} · Seat {}",
        ticket.section, ticket.row, ticket.number
    );
    let status_label = ticket.status.label();
    // A refunded ticket no longer admits anyone, so its code is not offered
    // for scanning.
    let qr = (ticket.status != TicketStatus::Refunded).then(|| {
        view! {
            <img class="qr" width="160" height="160"
                src=client::ticket_qr_url(ticket.ticket_id, None)
                alt=format!("QR code for {}, {}", ticket.event_name, seat)/>
        }
    });
    let purchase_id = ticket.purchase_id;
    let refund_button = ticket.refundable.then(|| {
        view! {
            <button type="button" class="secondary" data-testid="refund"
                title=format!("Refunds every ticket of purchase #{purchase_id}")
                disabled=move || refunding.get().is_some()
                on:click=move |_| refund.run(purchase_id)>
                {move || if refunding.get() == Some(purchase_id) { "Refunding…" } else { "Refund" }}
            </button>
        }
    });

    view! {
        <li class="my-ticket" data-testid="my-ticket"
            data-ticket-id=ticket.ticket_id.to_string()
            data-status=ticket.status.as_str()>
            {qr}
            <div class="my-ticket-details">
                <h3><a href=format!("/events/{}", ticket.event_id)>{ticket.event_name}</a></h3>
                <p class="when">{format_starts_at(&ticket.starts_at)}</p>
                <p class="where">{ticket.venue}", "{ticket.city}</p>
                <p class="seat">{seat}" — "{format_cents(ticket.price_cents)}</p>
                <p class=format!("ticket-status status-{}", ticket.status.as_str()) data-testid="ticket-status">
                    {status_label}
                </p>
                <code class="ticket-code" data-testid="ticket-code">{ticket.code}</code>
                {refund_button}
            </div>
        </li>
    }
}
