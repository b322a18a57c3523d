//! Stripe's wire format around the ledger: bearer auth, form-encoded
//! bodies, `Idempotency-Key` replay, latency, and the records endpoint.

use crate::ledger::{field, Form, Ledger, Reply};
use crate::webhooks::{self, Endpoint};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form as FormBody, Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Everything the stand-in knows, shared by its handlers.
#[derive(Debug)]
pub struct Shared {
    pub secret_key: String,
    pub latency: Duration,
    pub search_lag: Duration,
    pub ledger: Mutex<Ledger>,
    idempotency: Mutex<HashMap<String, Saved>>,
    /// Replies to drop (the request is carried out, the caller gets a 500):
    /// how many more, to requests whose path contains this.
    pub lost_replies: Mutex<(String, usize)>,
    pub webhooks: Mutex<Webhooks>,
}

/// Where events go, and the deliveries under way or done.
#[derive(Debug, Default)]
pub struct Webhooks {
    pub endpoint: Option<Endpoint>,
    /// Events before this index were sent (or there was no endpoint).
    next: usize,
    client: reqwest::Client,
    /// Per event id, its delivery: the status of each attempt.
    pub deliveries: Vec<(String, tokio::task::JoinHandle<Vec<u16>>)>,
}

/// What an idempotency key has been used for.
#[derive(Debug)]
enum Saved {
    InProgress { fingerprint: String },
    Done { fingerprint: String, reply: Reply },
}

impl Shared {
    pub fn new(secret_key: String, latency: Duration, search_lag: Duration) -> Self {
        Self {
            secret_key,
            latency,
            search_lag,
            ledger: Mutex::default(),
            idempotency: Mutex::default(),
            lost_replies: Mutex::default(),
            webhooks: Mutex::default(),
        }
    }

    pub fn webhooks(&self) -> MutexGuard<'_, Webhooks> {
        self.webhooks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends the events the last change made to the endpoint, if there is
    /// one (as at Stripe, events from before an endpoint existed are not
    /// sent to it).
    fn send_new_events(&self) {
        let events = self.ledger().events.clone();
        let mut webhooks = self.webhooks();
        let fresh = events.get(webhooks.next..).unwrap_or_default().to_vec();
        webhooks.next = events.len();
        let Some(endpoint) = webhooks.endpoint.clone() else {
            return;
        };
        for event in fresh {
            let id = event["id"].as_str().unwrap_or_default().to_string();
            let delivery = webhooks::deliver(webhooks.client.clone(), endpoint.clone(), event);
            webhooks.deliveries.push((id, delivery));
        }
    }

    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // Ledger updates are single assignments; a panic cannot leave one half done.
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keys(&self) -> MutexGuard<'_, HashMap<String, Saved>> {
        self.idempotency.lock().unwrap_or_else(|p| p.into_inner())
    }
}

type App = Arc<Shared>;

pub fn router(shared: App) -> Router {
    Router::new()
        .route("/v1/payment_intents", post(create_intent))
        .route("/v1/payment_intents/search", get(search_intents))
        .route("/v1/payment_intents/{id}", get(retrieve_intent))
        .route("/v1/payment_intents/{id}/confirm", post(confirm_intent))
        .route("/v1/payment_intents/{id}/cancel", post(cancel_intent))
        .route("/v1/refunds", post(create_refund))
        .route("/v1/payment_methods", post(create_payment_method))
        .route(
            "/v1/payment_methods/{id}/attach",
            post(attach_payment_method),
        )
        .route(
            "/v1/payment_methods/{id}/detach",
            post(detach_payment_method),
        )
        .route("/v1/customers", post(create_customer))
        .route("/_stand_in/payment_intents", get(records))
        .route("/_stand_in/3ds/{id}", post(authenticate))
        .route("/v3/", get(stripe_js))
        .with_state(shared)
        // Stripe.js calls the API from the shop's pages: other origins.
        .layer(tower_http::cors::CorsLayer::permissive())
}

/// The publishable key that goes with the secret key (`sk_…` → `pk_…`),
/// which Stripe.js uses in the browser.
pub fn publishable_key(secret_key: &str) -> String {
    match secret_key.strip_prefix("sk_") {
        Some(rest) => format!("pk_{rest}"),
        None => format!("pk_{secret_key}"),
    }
}

/// A request from Stripe.js in a buyer's browser: the publishable key
/// (as `key` in the form, as Stripe.js sends it) and the payment's client
/// secret, which only the shop's server could have handed out.
fn browser_authorised(shared: &Shared, form: &[(String, String)], intent_id: &str) -> bool {
    let key_ok = field(form, "key") == Some(publishable_key(&shared.secret_key).as_str());
    let secret_ok = shared
        .ledger()
        .intents
        .get(intent_id)
        .is_some_and(|intent| {
            field(form, "client_secret") == Some(intent.client_secret().as_str())
        });
    key_ok && secret_ok
}

/// A change from the browser, after the configured latency: no
/// idempotency keys (Stripe.js does not send them), the same ledger.
async fn browser_change(
    shared: App,
    work: impl FnOnce(&mut Ledger) -> Reply + Send + 'static,
) -> Response {
    tokio::time::sleep(shared.latency).await;
    let reply = work(&mut shared.ledger());
    shared.send_new_events();
    respond(reply)
}

/// `POST /_stand_in/3ds/{id}` with `outcome=pass` or `fail`: the bank's
/// challenge page answering, as Stripe.js's 3-D Secure frame does.
async fn authenticate(
    State(shared): State<App>,
    Path(id): Path<String>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Response {
    if !browser_authorised(&shared, &form, &id) {
        return unauthorised();
    }
    let passed = field(&form, "outcome") == Some("pass");
    browser_change(shared, move |ledger| ledger.authenticate(&id, passed)).await
}

/// `GET /v3/`: a stand-in for Stripe.js (the Payment Element, confirming a
/// payment, the 3-D Secure challenge), talking to this stand-in.
async fn stripe_js() -> Response {
    (
        [
            ("content-type", "text/javascript; charset=utf-8"),
            ("cache-control", "no-store"),
        ],
        include_str!("stripe.js"),
    )
        .into_response()
}

fn respond(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(reply.body)).into_response()
}

fn authorised(shared: &Shared, headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {}", shared.secret_key);
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn unauthorised() -> Response {
    respond(Reply::error(
        401,
        "invalid_request_error",
        "api_key_invalid",
        "Invalid API Key provided.",
    ))
}

/// Carries out a POST as Stripe does: after the configured latency, once
/// per idempotency key (the same key and parameters again get the first
/// reply; other parameters get `idempotency_error`; a key still in use
/// gets 409). The work runs in its own task, so it completes even if the
/// caller hangs up, as it would at Stripe.
async fn post_once(
    shared: App,
    headers: HeaderMap,
    path: String,
    form: Vec<(String, String)>,
    work: impl FnOnce(&mut Ledger, &Form, Duration) -> Reply + Send + 'static,
) -> Response {
    if !authorised(&shared, &headers) {
        return unauthorised();
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut sorted = form.clone();
    sorted.sort();
    let fingerprint = format!("{path}?{sorted:?}");
    let task = tokio::spawn(async move {
        if let Some(key) = &key {
            if let Some(reply) = claim_key(&shared, key, &fingerprint) {
                tokio::time::sleep(shared.latency).await;
                return reply;
            }
        }
        tokio::time::sleep(shared.latency).await;
        let reply = work(&mut shared.ledger(), &form, shared.search_lag);
        shared.send_new_events();
        if let Some(key) = key {
            let mut keys = shared.keys();
            if reply.is_saved() {
                keys.insert(
                    key,
                    Saved::Done {
                        fingerprint,
                        reply: reply.clone(),
                    },
                );
            } else {
                keys.remove(&key);
            }
        }
        drop_if_lost(&shared, &path, reply)
    });
    respond(task.await.unwrap_or_else(|_| {
        Reply::error(
            500,
            "api_error",
            "",
            "the stand-in failed to handle this request",
        )
    }))
}

/// Marks `key` in use, or gives the reply a retry under it gets instead.
fn claim_key(shared: &Shared, key: &str, fingerprint: &str) -> Option<Reply> {
    let mut keys = shared.keys();
    let Some(saved) = keys.get(key) else {
        let fingerprint = fingerprint.to_string();
        keys.insert(key.to_string(), Saved::InProgress { fingerprint });
        return None;
    };
    let (Saved::InProgress { fingerprint: first }
    | Saved::Done {
        fingerprint: first, ..
    }) = saved;
    if first != fingerprint {
        return Some(Reply::error(
            400,
            "idempotency_error",
            "",
            &format!(
                "Keys for idempotent requests can only be used with the same parameters \
                 they were first used with. Try using a key other than '{key}' if you \
                 meant to execute a different request."
            ),
        ));
    }
    Some(match saved {
        Saved::Done { reply, .. } => reply.clone(),
        Saved::InProgress { .. } => Reply::error(
            409,
            "idempotency_error",
            "",
            &format!(
                "There is currently another in-progress request using this Idempotent Key \
                 (that probably means you submitted twice, and the other request is still \
                 going through): {key}. Please try again later."
            ),
        ),
    })
}

fn drop_if_lost(shared: &Shared, path: &str, reply: Reply) -> Reply {
    let mut lost = shared
        .lost_replies
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let (fragment, left) = &mut *lost;
    if *left > 0 && path.contains(fragment.as_str()) {
        *left -= 1;
        Reply::error(
            500,
            "api_error",
            "",
            "An unknown error occurred (reply lost).",
        )
    } else {
        reply
    }
}

/// A GET after the configured latency.
async fn read(
    shared: App,
    headers: HeaderMap,
    look: impl FnOnce(&Ledger) -> Reply + Send + 'static,
) -> Response {
    if !authorised(&shared, &headers) {
        return unauthorised();
    }
    tokio::time::sleep(shared.latency).await;
    let reply = look(&shared.ledger());
    respond(reply)
}

async fn create_intent(
    State(shared): State<App>,
    headers: HeaderMap,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Response {
    post_once(
        shared,
        headers,
        "/v1/payment_intents".into(),
        form,
        |ledger, form, lag| ledger.create_intent(form, lag),
    )
    .await
}

async fn confirm_intent(
    State(shared): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Response {
    if !authorised(&shared, &headers) && browser_authorised(&shared, &form, &id) {
        return browser_change(shared, move |ledger| ledger.confirm_intent(&id, &form)).await;
    }
    let path = format!("/v1/payment_intents/{id}/confirm");
    post_once(shared, headers, path, form, move |ledger, form, _| {
        ledger.confirm_intent(&id, form)
    })
    .await
}

async fn cancel_intent(
    State(shared): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Response {
    let path = format!("/v1/payment_intents/{id}/cancel");
    post_once(shared, headers, path, form, move |ledger, _, _| {
        ledger.cancel_intent(&id)
    })
    .await
}

async fn retrieve_intent(
    State(shared): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    read(shared, headers, move |ledger| ledger.retrieve_intent(&id)).await
}

async fn search_intents(
    State(shared): State<App>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let query = params.get("query").cloned().unwrap_or_default();
    read(shared, headers, move |ledger| ledger.search(&query)).await
}

async fn create_refund(
    State(shared): State<App>,
    headers: HeaderMap,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Response {
    post_once(
        shared,
        headers,
        "/v1/refunds".into(),
        form,
        |ledger, form, _| ledger.refund(form),
    )
    .await
}

async fn create_payment_method(
    State(shared): State<App>,
    headers: HeaderMap,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Response {
    post_once(
        shared,
        headers,
        "/v1/payment_methods".into(),
        form,
        |ledger, form, _| ledger.create_payment_method(form),
    )
    .await
}

async fn attach_payment_method(
    State(shared): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Response {
    let path = format!("/v1/payment_methods/{id}/attach");
    post_once(shared, headers, path, form, move |ledger, form, _| {
        ledger.attach_payment_method(&id, form)
    })
    .await
}

async fn detach_payment_method(
    State(shared): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Response {
    let path = format!("/v1/payment_methods/{id}/detach");
    post_once(shared, headers, path, form, move |ledger, _, _| {
        ledger.detach_payment_method(&id)
    })
    .await
}

async fn create_customer(
    State(shared): State<App>,
    headers: HeaderMap,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Response {
    post_once(
        shared,
        headers,
        "/v1/customers".into(),
        form,
        |ledger, form, _| ledger.create_customer(form),
    )
    .await
}

/// `GET /_stand_in/payment_intents`: outside Stripe's namespace and
/// without auth, for a test to check the books.
async fn records(State(shared): State<App>) -> Response {
    let data = shared.ledger().records();
    Json(json!({ "data": data })).into_response()
}
