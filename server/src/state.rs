//! Shared application state, handed to axum handlers and Leptos context.

use crate::accounts::Accounts;
use crate::catalog::Catalog;
use crate::checkout::Checkout;
use crate::inventory::Inventory;
use crate::lifecycle::Lifecycle;
use crate::live::LiveHub;
use crate::mail::worker::MailWorker;
use crate::net::ClientLimits;
use crate::queue::Queue;
use crate::staff::Staff;
use crate::store::Store;
use crate::tickets::codes::TicketSigner;
use crate::web::home_cache::HomeCache;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub catalog: Catalog,
    pub inventory: Inventory,
    pub checkout: Checkout,
    pub live: LiveHub,
    pub home_cache: HomeCache,
    pub accounts: Accounts,
    pub staff: Staff,
    pub ticket_signer: Arc<TicketSigner>,
    pub client_limits: ClientLimits,
    pub queue: Queue,
    pub lifecycle: Lifecycle,
    pub mail: MailWorker,
}
