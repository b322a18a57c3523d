//! A local stand-in for the parts of Stripe's API that Tessera uses, for
//! tests: in memory, one process, no network beyond loopback.
//!
//! It follows Stripe's documented behaviour for those calls:
//! PaymentIntents created, confirmed, retrieved and canceled through
//! Stripe's statuses (`requires_payment_method`, `requires_confirmation`,
//! `succeeded`, `canceled`, with `last_payment_error` after a failed
//! confirmation); refunds in full or in part (`charge_already_refunded`
//! once nothing is left); saved cards (PaymentMethods from a token,
//! Customers, methods attached to a customer, checked as they are
//! attached, and detached); Stripe's test cards (`tok_visa`,
//! `tok_mastercard`, `tok_amex`, `tok_chargeDeclined`,
//! `tok_processing_error`, the `pm_card_…` methods); idempotent requests
//! (the same `Idempotency-Key` and parameters get the first reply, other
//! parameters `400 idempotency_error`, a key still in use `409`); and an
//! eventually consistent search (`GET /v1/payment_intents/search` sees an
//! intent only once the configured lag has passed).
//!
//! Every change is also an event (`payment_intent.succeeded`,
//! `payment_intent.payment_failed`, `payment_intent.canceled`,
//! `charge.refunded`), sent to a webhook endpoint once one is set
//! ([`StripeStandIn::send_webhooks_to`]): signed, late, and retried until
//! accepted (see [`webhooks`]).
//!
//! Every request waits the configured latency before it is carried out,
//! and is carried out even if the caller has gone (a killed client's
//! request still lands, as at Stripe). `GET /_stand_in/payment_intents`,
//! outside Stripe's namespace, lists every intent with its amount, status,
//! refunded amount and metadata, for a test to check the books.

mod api;
pub mod cards;
pub mod ledger;
pub mod webhooks;

pub use webhooks::Endpoint;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The secret key the stand-in accepts unless told otherwise.
pub const SECRET_KEY: &str = "sk_test_standin";

#[derive(Clone, Debug)]
pub struct Options {
    pub secret_key: String,
    /// Added before every request is carried out.
    pub latency: Duration,
    /// How long a new intent stays invisible to search.
    pub search_lag: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            secret_key: SECRET_KEY.to_string(),
            latency: Duration::ZERO,
            search_lag: Duration::ZERO,
        }
    }
}

/// A running stand-in.
#[derive(Clone, Debug)]
pub struct StripeStandIn {
    /// `http://127.0.0.1:PORT`, the API base to configure.
    pub base_url: String,
    shared: Arc<api::Shared>,
}

impl StripeStandIn {
    /// Starts one on a free loopback port with the default options.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> std::io::Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), options).await
    }

    /// Starts one on `addr` (port 0: a free port), serving in the background.
    pub async fn bind(addr: SocketAddr, options: Options) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(api::Shared::new(
            options.secret_key,
            options.latency,
            options.search_lag,
        ));
        let app = api::router(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { base_url, shared })
    }

    /// The publishable key that goes with its secret key, for Stripe.js.
    pub fn publishable_key(&self) -> String {
        api::publishable_key(&self.shared.secret_key)
    }

    /// The next `n` replies to POSTs are lost: their requests are carried
    /// out (and kept for idempotent replay), but the caller gets a `500`.
    pub fn lose_next_replies(&self, n: usize) {
        self.lose_next_replies_to("", n);
    }

    /// As [`Self::lose_next_replies`], for POSTs whose path contains
    /// `fragment` (`"/confirm"`, `"/v1/refunds"`).
    pub fn lose_next_replies_to(&self, fragment: &str, n: usize) {
        *self
            .shared
            .lost_replies
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = (fragment.to_string(), n);
    }

    /// PaymentIntents created so far.
    pub fn intents_created(&self) -> usize {
        self.shared.ledger().intents.len()
    }

    /// Refunds made so far.
    pub fn refunds(&self) -> usize {
        self.shared.ledger().refunds
    }

    /// Per customer, the ids of the payment methods attached to it.
    pub fn customers(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        self.shared.ledger().attached()
    }

    /// From now on, every event is sent to `endpoint`.
    pub fn send_webhooks_to(&self, endpoint: Endpoint) {
        self.shared.webhooks().endpoint = Some(endpoint);
    }

    /// Every event so far, oldest first (sent or not).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.shared.ledger().events.clone()
    }

    /// Waits for the deliveries started since the last call to finish; per
    /// event id, the status of each attempt (0: no answer).
    pub async fn deliveries(&self) -> Vec<(String, Vec<u16>)> {
        let started = std::mem::take(&mut self.shared.webhooks().deliveries);
        let mut done = Vec::new();
        for (id, delivery) in started {
            done.push((id, delivery.await.unwrap_or_default()));
        }
        done
    }

    /// What `GET /_stand_in/payment_intents` lists.
    pub fn records(&self) -> Vec<serde_json::Value> {
        self.shared.ledger().records()
    }
}
