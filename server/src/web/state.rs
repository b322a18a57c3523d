//! Shared application state, handed to axum handlers and Leptos context.

use super::home_cache::HomeCache;
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
use crate::ticket_codes::TicketSigner;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// The services, built once at start-up and shared by every request.
pub struct Services {
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

/// Shared application state. One reference count to clone, because axum
/// clones the state for every request it routes (and again for each
/// middleware that takes it): cloning the services field by field was
/// 14.5 % of the server's time in a waiting-room burst (BENCHMARKS.md).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// Handlers take the one service they need (`State<Queue>`), cloned from
/// the shared state.
macro_rules! services_from_state {
    ($($field:ident: $service:ty),* $(,)?) => {
        $(impl FromRef<AppState> for $service {
            fn from_ref(state: &AppState) -> Self {
                state.0.$field.clone()
            }
        })*
    };
}

services_from_state!(
    leptos_options: LeptosOptions,
    store: Store,
    catalog: Catalog,
    inventory: Inventory,
    checkout: Checkout,
    live: LiveHub,
    home_cache: HomeCache,
    accounts: Accounts,
    staff: Staff,
    ticket_signer: Arc<TicketSigner>,
    client_limits: ClientLimits,
    queue: Queue,
    lifecycle: Lifecycle,
    mail: MailWorker,
);
