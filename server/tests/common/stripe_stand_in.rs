//! A local stand-in for Stripe's API, speaking its wire format (form-encoded
//! requests, bearer auth, `Idempotency-Key` replay, JSON errors with
//! `type`/`code`), for the parts the adapter uses: PaymentIntents create +
//! confirm, refunds, search by metadata, and saving a card (PaymentMethods
//! from a token, Customers with a method attached).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const SECRET_KEY: &str = "sk_test_standin";

#[derive(Default)]
pub struct Ledger {
    /// Replies per idempotency key, replayed as Stripe does.
    replies: HashMap<String, (u16, Value)>,
    pub intents: HashMap<String, Value>,
    pub intents_created: usize,
    pub refunds: usize,
    /// Saved payment methods by id, with the token they were made from.
    pub methods: HashMap<String, String>,
    /// Customer id → attached payment method id.
    pub customers: HashMap<String, String>,
}

#[derive(Clone)]
pub struct StripeStandIn {
    pub base_url: String,
    pub ledger: Arc<Mutex<Ledger>>,
}

impl StripeStandIn {
    pub async fn start() -> Self {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let app = Router::new()
            .route("/v1/payment_intents", post(create_intent))
            .route("/v1/payment_intents/search", get(search_intents))
            .route("/v1/refunds", post(create_refund))
            .route("/v1/payment_methods", post(create_payment_method))
            .route("/v1/customers", post(create_customer))
            .with_state(ledger.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { base_url, ledger }
    }

    pub fn intents_created(&self) -> usize {
        self.ledger.lock().expect("ledger").intents_created
    }

    pub fn refunds(&self) -> usize {
        self.ledger.lock().expect("ledger").refunds
    }
}

type Shared = Arc<Mutex<Ledger>>;

fn stripe_error(status: u16, kind: &str, code: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"type": kind, "code": code, "message": message}}),
    )
}

fn reply((status, body): (u16, Value)) -> Response {
    (StatusCode::from_u16(status).expect("status"), Json(body)).into_response()
}

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {SECRET_KEY}"))
}

async fn create_intent(
    State(ledger): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !authorised(&headers) {
        return reply(stripe_error(
            401,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided",
        ));
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut ledger = ledger.lock().expect("ledger");
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(previous) = key.as_ref().and_then(|k| ledger.replies.get(k)) {
        return reply(previous.clone());
    }
    let amount: i64 = field("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    let token = field("payment_method_data[card][token]")
        .or_else(|| field("payment_method"))
        .unwrap_or_default();
    // A saved method charges like the token it was made from, and only
    // for the customer it is attached to.
    let saved_for_someone_else = ledger.methods.contains_key(&token)
        && field("customer").and_then(|c| ledger.customers.get(&c)) != Some(&token);
    let token = ledger.methods.get(&token).cloned().unwrap_or(token);
    let outcome = if saved_for_someone_else {
        stripe_error(
            400,
            "invalid_request_error",
            "resource_missing",
            "The payment method does not belong to this customer.",
        )
    } else if amount <= 0
        || field("currency").is_none()
        || field("confirm").as_deref() != Some("true")
    {
        stripe_error(
            400,
            "invalid_request_error",
            "parameter_missing",
            "Missing required param",
        )
    } else if token.ends_with("chargeDeclined") {
        stripe_error(
            402,
            "card_error",
            "card_declined",
            "Your card was declined.",
        )
    } else if token.ends_with("processing_error") {
        stripe_error(
            402,
            "card_error",
            "processing_error",
            "An error occurred while processing your card.",
        )
    } else {
        ledger.intents_created += 1;
        let id = format!("pi_standin_{}", ledger.intents_created);
        let intent = json!({
            "id": id, "object": "payment_intent", "amount": amount, "currency": field("currency"),
            "status": "succeeded", "refunded": false,
            "metadata": {"idempotency_key": field("metadata[idempotency_key]")},
        });
        ledger.intents.insert(id, intent.clone());
        (200, intent)
    };
    if let Some(key) = key {
        ledger.replies.insert(key, outcome.clone());
    }
    reply(outcome)
}

async fn create_refund(
    State(ledger): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !authorised(&headers) {
        return reply(stripe_error(
            401,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided",
        ));
    }
    let intent_id = form
        .iter()
        .find(|(k, _)| k == "payment_intent")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut ledger = ledger.lock().expect("ledger");
    let Some(intent) = ledger.intents.get_mut(&intent_id) else {
        return reply(stripe_error(
            400,
            "invalid_request_error",
            "resource_missing",
            "No such payment_intent",
        ));
    };
    if intent["refunded"] == true {
        return reply(stripe_error(
            400,
            "invalid_request_error",
            "charge_already_refunded",
            "Charge has already been refunded.",
        ));
    }
    intent["refunded"] = json!(true);
    ledger.refunds += 1;
    reply((
        200,
        json!({"id": format!("re_standin_{}", ledger.refunds), "object": "refund", "status": "succeeded", "payment_intent": intent_id}),
    ))
}

async fn search_intents(
    State(ledger): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if !authorised(&headers) {
        return reply(stripe_error(
            401,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided",
        ));
    }
    let query = params.get("query").cloned().unwrap_or_default();
    let Some(key) = query
        .strip_prefix("metadata['idempotency_key']:'")
        .and_then(|rest| rest.strip_suffix('\''))
    else {
        return reply(stripe_error(
            400,
            "invalid_request_error",
            "parameter_invalid",
            "Unsupported query",
        ));
    };
    let ledger = ledger.lock().expect("ledger");
    let data: Vec<Value> = ledger
        .intents
        .values()
        .filter(|i| i["metadata"]["idempotency_key"] == key)
        .cloned()
        .collect();
    reply((200, json!({"object": "search_result", "data": data})))
}

async fn create_payment_method(
    State(ledger): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !authorised(&headers) {
        return reply(stripe_error(
            401,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided",
        ));
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let token = field("card[token]").unwrap_or_default();
    if field("type").as_deref() != Some("card") || !token.starts_with("tok_") {
        return reply(stripe_error(
            400,
            "invalid_request_error",
            "parameter_missing",
            "Missing card token",
        ));
    }
    if token.ends_with("chargeDeclined") {
        return reply(stripe_error(
            402,
            "card_error",
            "card_declined",
            "Your card was declined.",
        ));
    }
    let (brand, last4) = match token.as_str() {
        "tok_mastercard" => ("mastercard", "4444"),
        "tok_amex" => ("amex", "8431"),
        _ => ("visa", "4242"),
    };
    let mut ledger = ledger.lock().expect("ledger");
    let id = format!("pm_standin_{}", ledger.methods.len() + 1);
    ledger.methods.insert(id.clone(), token);
    reply((
        200,
        json!({"id": id, "object": "payment_method", "type": "card",
        "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034}}),
    ))
}

async fn create_customer(
    State(ledger): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !authorised(&headers) {
        return reply(stripe_error(
            401,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided",
        ));
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut ledger = ledger.lock().expect("ledger");
    let method = field("payment_method").unwrap_or_default();
    if !ledger.methods.contains_key(&method) {
        return reply(stripe_error(
            400,
            "invalid_request_error",
            "resource_missing",
            "No such PaymentMethod",
        ));
    }
    let id = format!("cus_standin_{}", ledger.customers.len() + 1);
    ledger.customers.insert(id.clone(), method);
    reply((
        200,
        json!({"id": id, "object": "customer", "email": field("email")}),
    ))
}
