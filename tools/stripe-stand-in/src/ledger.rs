//! The stand-in's books: PaymentIntents and their state machine, refunds,
//! saved payment methods and customers. Every operation takes the form
//! parameters of one request and gives the reply Stripe would send.

use crate::cards::{card, Card};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A reply: HTTP status and JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self { status: 200, body }
    }

    /// Stripe's error envelope.
    pub fn error(status: u16, kind: &str, code: &str, message: &str) -> Self {
        let mut error = json!({"type": kind, "message": message});
        if !code.is_empty() {
            error["code"] = json!(code);
        }
        Self {
            status,
            body: json!({ "error": error }),
        }
    }

    /// A request Stripe rejects before acting on it; such replies are not
    /// kept for idempotent replay.
    pub fn invalid_param(message: &str) -> Self {
        Self::error(400, "invalid_request_error", "parameter_invalid", message)
    }

    pub fn missing(kind: &str, id: &str) -> Self {
        Self::error(
            404,
            "invalid_request_error",
            "resource_missing",
            &format!("No such {kind}: '{id}'"),
        )
    }

    /// Whether Stripe keeps this reply for replays under its idempotency key.
    pub fn is_saved(&self) -> bool {
        let code = self.body["error"]["code"].as_str().unwrap_or_default();
        !(self.status == 401 || code.starts_with("parameter_"))
    }
}

/// Form parameters of one request, in order.
pub type Form = [(String, String)];

pub fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    RequiresPaymentMethod,
    RequiresConfirmation,
    /// Waiting for the buyer's 3-D Secure challenge.
    RequiresAction,
    Succeeded,
    Canceled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequiresPaymentMethod => "requires_payment_method",
            Self::RequiresConfirmation => "requires_confirmation",
            Self::RequiresAction => "requires_action",
            Self::Succeeded => "succeeded",
            Self::Canceled => "canceled",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Intent {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: Status,
    pub customer: Option<String>,
    /// The attached payment method's id, and the test card it charges as.
    pub payment_method: Option<(String, String)>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub last_payment_error: Option<Value>,
    pub latest_charge: Option<String>,
    pub amount_refunded: i64,
    pub created: i64,
    /// When search can first see it (search is eventually consistent).
    pub searchable_at: Instant,
}

impl Intent {
    /// What the browser confirms the payment with, beside the publishable
    /// key (derived from the id: the stand-in keeps no secrets).
    pub fn client_secret(&self) -> String {
        format!("{}_secret_standin", self.id)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_received": if self.status == Status::Succeeded { self.amount } else { 0 },
            "currency": self.currency,
            "status": self.status.as_str(),
            "customer": self.customer,
            "payment_method": self.payment_method.as_ref().map(|(id, _)| id),
            "description": self.description,
            "metadata": self.metadata,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "client_secret": self.client_secret(),
            "next_action": (self.status == Status::RequiresAction)
                .then(|| json!({ "type": "use_stripe_sdk" })),
            "created": self.created,
            "livemode": false,
        })
    }
}

/// A saved payment method.
#[derive(Debug)]
pub struct Method {
    /// The test card it was made from (`tok_…`).
    pub token: String,
    /// The customer it is attached to: only with that customer can it be
    /// charged.
    pub customer: Option<String>,
}

#[derive(Debug, Default)]
pub struct Ledger {
    /// By id; ids sort in creation order.
    pub intents: BTreeMap<String, Intent>,
    /// Saved payment methods, by id.
    pub methods: HashMap<String, Method>,
    /// Customers' ids.
    pub customers: HashSet<String>,
    pub refunds: usize,
    /// Every event so far (Stripe's `Event` objects), oldest first, for
    /// webhook delivery ([`crate::webhooks`]).
    pub events: Vec<Value>,
    counter: u64,
}

impl Ledger {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_standin{:08}", self.counter)
    }

    /// Records an event of `kind` about `object`, as Stripe does for every
    /// change a webhook endpoint can subscribe to.
    fn emit(&mut self, kind: &str, object: Value) {
        let id = self.next_id("evt");
        self.events.push(json!({
            "id": id, "object": "event", "type": kind, "api_version": "2024-06-20",
            "created": unix_now(), "livemode": false, "data": { "object": object },
        }));
    }

    /// `POST /v1/payment_intents`.
    pub fn create_intent(&mut self, form: &Form, search_lag: Duration) -> Reply {
        let amount = field(form, "amount").and_then(|a| a.parse::<i64>().ok());
        let Some(amount) = amount.filter(|a| *a > 0) else {
            return Reply::invalid_param("amount must be a positive integer");
        };
        let Some(currency) = field(form, "currency") else {
            return Reply::error(
                400,
                "invalid_request_error",
                "parameter_missing",
                "Missing required param: currency.",
            );
        };
        let customer = field(form, "customer").map(str::to_string);
        if let Some(customer) = &customer {
            if !self.customers.contains(customer) {
                return Reply::missing("customer", customer);
            }
        }
        let metadata = form
            .iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix("metadata[")?.strip_suffix(']')?;
                Some((name.to_string(), value.clone()))
            })
            .collect();
        let id = self.next_id("pi");
        let mut intent = Intent {
            id: id.clone(),
            amount,
            currency: currency.to_string(),
            status: Status::RequiresPaymentMethod,
            customer,
            payment_method: None,
            description: field(form, "description").map(str::to_string),
            metadata,
            last_payment_error: None,
            latest_charge: None,
            amount_refunded: 0,
            created: unix_now(),
            searchable_at: Instant::now() + search_lag,
        };
        if let Err(reply) = self.attach_method(&mut intent, form) {
            return reply;
        }
        let confirm = field(form, "confirm") == Some("true");
        self.intents.insert(id.clone(), intent);
        if confirm {
            return self.confirm_intent(&id, &[]);
        }
        Reply::ok(self.intents[&id].to_json())
    }

    /// Attaches the payment method a create or confirm request names.
    fn attach_method(&mut self, intent: &mut Intent, form: &Form) -> Result<(), Reply> {
        let typed = field(form, "payment_method_data[card][number]");
        let token = field(form, "payment_method_data[card][token]").or(match typed {
            Some(number) => match card_number_token(number) {
                Ok(token) => Some(token),
                Err(reply) => return Err(reply),
            },
            None => None,
        });
        let method = if let Some(token) = token {
            if card(token).is_none() {
                return Err(Reply::missing("token", token));
            }
            (self.next_id("pm"), token.to_string())
        } else if let Some(id) = field(form, "payment_method") {
            match (self.methods.get(id), card(id)) {
                (Some(saved), _) => (id.to_string(), saved.token.clone()),
                (None, Some(_)) => (id.to_string(), id.to_string()),
                (None, None) => return Err(Reply::missing("payment_method", id)),
            }
        } else {
            return Ok(());
        };
        // A saved method is charged only with the customer it is attached to.
        let attached_elsewhere = self
            .methods
            .get(&method.0)
            .is_some_and(|saved| saved.customer.is_none() || saved.customer != intent.customer);
        if attached_elsewhere {
            return Err(Reply::error(
                400,
                "invalid_request_error",
                "payment_method_unexpected_state",
                "The provided PaymentMethod belongs to another Customer or to none; \
                 pass the Customer it is attached to.",
            ));
        }
        intent.payment_method = Some(method);
        if intent.status == Status::RequiresPaymentMethod {
            intent.status = Status::RequiresConfirmation;
        }
        Ok(())
    }

    /// `POST /v1/payment_intents/{id}/confirm`.
    pub fn confirm_intent(&mut self, id: &str, form: &Form) -> Reply {
        let Some(mut intent) = self.intents.get(id).cloned() else {
            return Reply::missing("payment_intent", id);
        };
        if matches!(intent.status, Status::Succeeded | Status::Canceled) {
            return unexpected_state(&intent, "confirm");
        }
        if let Err(reply) = self.attach_method(&mut intent, form) {
            return reply;
        }
        let Some((_, test_card)) = intent.payment_method.clone() else {
            return Reply::error(
                400,
                "invalid_request_error",
                "payment_intent_unexpected_state",
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
            );
        };
        if card(&test_card) == Some(Card::ThreeDSecure) {
            intent.status = Status::RequiresAction;
            intent.last_payment_error = None;
            self.emit("payment_intent.requires_action", intent.to_json());
            let reply = Reply::ok(intent.to_json());
            self.intents.insert(id.to_string(), intent);
            return reply;
        }
        let failure = match card(&test_card) {
            Some(Card::Good { .. } | Card::ThreeDSecure) | None => None,
            Some(Card::Declined { decline_code }) => Some(json!({
                "type": "card_error", "code": "card_declined", "decline_code": decline_code,
                "message": "Your card was declined.",
            })),
            Some(Card::ProcessingError) => Some(json!({
                "type": "card_error", "code": "processing_error",
                "message": "An error occurred while processing your card. Try again in a little bit.",
            })),
        };
        let reply = match failure {
            None => {
                intent.status = Status::Succeeded;
                intent.last_payment_error = None;
                intent.latest_charge = Some(self.next_id("ch"));
                self.emit("payment_intent.succeeded", intent.to_json());
                Reply::ok(intent.to_json())
            }
            Some(error) => {
                intent.status = Status::RequiresPaymentMethod;
                intent.last_payment_error = Some(error.clone());
                self.emit("payment_intent.payment_failed", intent.to_json());
                let mut error = error;
                error["payment_intent"] = intent.to_json();
                Reply {
                    status: 402,
                    body: json!({ "error": error }),
                }
            }
        };
        self.intents.insert(id.to_string(), intent);
        reply
    }

    /// The buyer's answer to the 3-D Secure challenge (the bank's page, in
    /// Stripe.js's frame): passed, the payment succeeds; failed, it needs
    /// another payment method.
    pub fn authenticate(&mut self, id: &str, passed: bool) -> Reply {
        let Some(mut intent) = self.intents.get(id).cloned() else {
            return Reply::missing("payment_intent", id);
        };
        if intent.status != Status::RequiresAction {
            return unexpected_state(&intent, "authenticate");
        }
        if passed {
            intent.status = Status::Succeeded;
            intent.latest_charge = Some(self.next_id("ch"));
            self.emit("payment_intent.succeeded", intent.to_json());
        } else {
            intent.status = Status::RequiresPaymentMethod;
            intent.last_payment_error = Some(json!({
                "type": "invalid_request_error", "code": "payment_intent_authentication_failure",
                "message": "We are unable to authenticate your payment method. Please choose a \
                            different payment method and try again.",
            }));
            self.emit("payment_intent.payment_failed", intent.to_json());
        }
        let reply = Reply::ok(intent.to_json());
        self.intents.insert(id.to_string(), intent);
        reply
    }

    /// `POST /v1/payment_intents/{id}/cancel`.
    pub fn cancel_intent(&mut self, id: &str) -> Reply {
        let Some(intent) = self.intents.get_mut(id) else {
            return Reply::missing("payment_intent", id);
        };
        if matches!(intent.status, Status::Succeeded | Status::Canceled) {
            return unexpected_state(intent, "cancel");
        }
        intent.status = Status::Canceled;
        let canceled = intent.to_json();
        self.emit("payment_intent.canceled", canceled.clone());
        Reply::ok(canceled)
    }

    pub fn retrieve_intent(&self, id: &str) -> Reply {
        match self.intents.get(id) {
            Some(intent) => Reply::ok(intent.to_json()),
            None => Reply::missing("payment_intent", id),
        }
    }

    /// `POST /v1/refunds` for a PaymentIntent, in full or in part.
    pub fn refund(&mut self, form: &Form) -> Reply {
        let Some(id) = field(form, "payment_intent") else {
            return Reply::error(
                400,
                "invalid_request_error",
                "parameter_missing",
                "Missing required param: payment_intent.",
            );
        };
        let Some(intent) = self.intents.get_mut(id) else {
            return Reply::missing("payment_intent", id);
        };
        let Some(charge) = intent
            .latest_charge
            .clone()
            .filter(|_| intent.status == Status::Succeeded)
        else {
            return Reply::error(
                400,
                "invalid_request_error",
                "payment_intent_unexpected_state",
                "This PaymentIntent does not have a successful charge to refund.",
            );
        };
        let left = intent.amount - intent.amount_refunded;
        if left == 0 {
            return Reply::error(
                400,
                "invalid_request_error",
                "charge_already_refunded",
                &format!("Charge {charge} has already been refunded."),
            );
        }
        let amount = match field(form, "amount").map(str::parse::<i64>) {
            None => left,
            Some(Ok(amount)) if amount > 0 && amount <= left => amount,
            Some(_) => {
                return Reply::error(
                    400,
                    "invalid_request_error",
                    "amount_too_large",
                    "Refund amount is greater than the unrefunded amount on the charge.",
                )
            }
        };
        intent.amount_refunded += amount;
        let intent_id = intent.id.clone();
        let charge_object = json!({
            "id": charge, "object": "charge", "payment_intent": intent_id,
            "amount": intent.amount, "amount_refunded": intent.amount_refunded,
            "refunded": intent.amount_refunded == intent.amount,
        });
        self.refunds += 1;
        self.emit("charge.refunded", charge_object);
        Reply::ok(json!({
            "id": self.next_id("re"), "object": "refund", "amount": amount,
            "charge": charge, "payment_intent": intent_id, "status": "succeeded",
        }))
    }

    /// `POST /v1/payment_methods` from a card token.
    pub fn create_payment_method(&mut self, form: &Form) -> Reply {
        let token = field(form, "card[token]").unwrap_or_default();
        if field(form, "type") != Some("card") || !token.starts_with("tok_") {
            return Reply::error(
                400,
                "invalid_request_error",
                "parameter_missing",
                "Missing required param: card[token].",
            );
        }
        if card(token).is_none() {
            return Reply::missing("token", token);
        }
        let id = self.next_id("pm");
        let method = Method {
            token: token.to_string(),
            customer: None,
        };
        let reply = method_json(&id, &method);
        self.methods.insert(id, method);
        Reply::ok(reply)
    }

    /// `POST /v1/customers`, attaching a payment method if one is given.
    pub fn create_customer(&mut self, form: &Form) -> Reply {
        let id = self.next_id("cus");
        if let Some(method) = field(form, "payment_method") {
            if let Err(refused) = self.attach(method, &id) {
                return refused;
            }
        }
        self.customers.insert(id.clone());
        Reply::ok(json!({"id": id, "object": "customer", "email": field(form, "email")}))
    }

    /// `POST /v1/payment_methods/{id}/attach` with `customer`.
    pub fn attach_payment_method(&mut self, id: &str, form: &Form) -> Reply {
        let Some(customer) = field(form, "customer") else {
            return Reply::error(
                400,
                "invalid_request_error",
                "parameter_missing",
                "Missing required param: customer.",
            );
        };
        if !self.customers.contains(customer) {
            return Reply::missing("customer", customer);
        }
        match self.attach(id, customer) {
            Ok(()) => Reply::ok(method_json(id, &self.methods[id])),
            Err(refused) => refused,
        }
    }

    /// Attaching checks the card, as Stripe's does: one that declines is
    /// refused. A method is attached to one customer at most.
    fn attach(&mut self, id: &str, customer: &str) -> Result<(), Reply> {
        let Some(method) = self.methods.get_mut(id) else {
            return Err(Reply::missing("payment_method", id));
        };
        if !matches!(card(&method.token), Some(Card::Good { .. })) {
            return Err(Reply::error(
                402,
                "card_error",
                "card_declined",
                "Your card was declined.",
            ));
        }
        match &method.customer {
            Some(other) if other != customer => Err(Reply::error(
                400,
                "invalid_request_error",
                "payment_method_unexpected_state",
                "The payment method you provided has already been attached to a customer.",
            )),
            _ => {
                method.customer = Some(customer.to_string());
                Ok(())
            }
        }
    }

    /// `POST /v1/payment_methods/{id}/detach`: it can no longer be charged.
    pub fn detach_payment_method(&mut self, id: &str) -> Reply {
        let Some(method) = self.methods.get_mut(id) else {
            return Reply::missing("payment_method", id);
        };
        if method.customer.take().is_none() {
            return Reply::error(
                400,
                "invalid_request_error",
                "payment_method_unexpected_state",
                "The payment method you provided is not attached to a customer so detachment is impossible.",
            );
        }
        Reply::ok(method_json(id, method))
    }

    /// Per customer, the payment methods attached to it (for tests).
    pub fn attached(&self) -> BTreeMap<String, Vec<String>> {
        let mut attached: BTreeMap<String, Vec<String>> = self
            .customers
            .iter()
            .map(|c| (c.clone(), Vec::new()))
            .collect();
        for (id, method) in &self.methods {
            if let Some(customer) = &method.customer {
                attached
                    .entry(customer.clone())
                    .or_default()
                    .push(id.clone());
            }
        }
        attached.values_mut().for_each(|methods| methods.sort());
        attached
    }

    /// `GET /v1/payment_intents/search`: `metadata['key']:'value'` and
    /// `status:'value'` clauses joined by `AND`, over what the index has
    /// caught up with.
    pub fn search(&self, query: &str) -> Reply {
        let mut clauses = Vec::new();
        for clause in query.split(" AND ") {
            let Some((field, value)) = clause.trim().split_once(':') else {
                return Reply::invalid_param("unsupported search query");
            };
            let Some(value) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) else {
                return Reply::invalid_param("search values must be quoted");
            };
            clauses.push((field.to_string(), value.replace("\\'", "'")));
        }
        let now = Instant::now();
        let data: Vec<Value> = self
            .intents
            .values()
            .filter(|intent| intent.searchable_at <= now)
            .filter(|intent| {
                clauses.iter().all(|(field, value)| {
                    let key = field
                        .strip_prefix("metadata['")
                        .and_then(|k| k.strip_suffix("']"));
                    match key {
                        Some(key) => intent.metadata.get(key) == Some(value),
                        None => field == "status" && intent.status.as_str() == value,
                    }
                })
            })
            .map(Intent::to_json)
            .collect();
        Reply::ok(json!({
            "object": "search_result", "url": "/v1/payment_intents/search",
            "has_more": false, "data": data,
        }))
    }

    /// Every intent with its money, for checking the books after a test.
    pub fn records(&self) -> Vec<Value> {
        self.intents
            .values()
            .map(|intent| {
                let mut record = Map::new();
                record.insert("id".into(), json!(intent.id));
                record.insert("amount".into(), json!(intent.amount));
                record.insert("currency".into(), json!(intent.currency));
                record.insert("status".into(), json!(intent.status.as_str()));
                record.insert("amount_refunded".into(), json!(intent.amount_refunded));
                record.insert("customer".into(), json!(intent.customer));
                record.insert("metadata".into(), json!(intent.metadata));
                record.insert("created".into(), json!(intent.created));
                Value::Object(record)
            })
            .collect()
    }
}

fn method_json(id: &str, method: &Method) -> Value {
    let (brand, last4) = match card(&method.token) {
        Some(Card::Good { brand, last4 }) => (brand, last4),
        _ => ("visa", "0002"),
    };
    json!({
        "id": id, "object": "payment_method", "type": "card",
        "customer": method.customer,
        "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034},
    })
}

/// The test token for a typed card number, or Stripe's answer to a number
/// that is not one of its test cards.
fn card_number_token(number: &str) -> Result<&'static str, Reply> {
    crate::cards::token_for_number(number).ok_or_else(|| {
        Reply::error(
            402,
            "card_error",
            "card_declined",
            "Your card was declined. Your request was in test mode, but used a non test card.",
        )
    })
}

fn unexpected_state(intent: &Intent, action: &str) -> Reply {
    let mut reply = Reply::error(
        400,
        "invalid_request_error",
        "payment_intent_unexpected_state",
        &format!(
            "You cannot {action} this PaymentIntent because it has a status of {}.",
            intent.status.as_str()
        ),
    );
    reply.body["error"]["payment_intent"] = intent.to_json();
    reply
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn created(ledger: &mut Ledger, token: &str) -> String {
        let reply = ledger.create_intent(
            &form(&[
                ("amount", "5000"),
                ("currency", "usd"),
                ("payment_method_data[type]", "card"),
                ("payment_method_data[card][token]", token),
            ]),
            Duration::ZERO,
        );
        assert_eq!(reply.body["status"], "requires_confirmation");
        reply.body["id"].as_str().expect("id").to_string()
    }

    #[test]
    fn intents_move_through_stripes_states() {
        let mut ledger = Ledger::default();
        let id = created(&mut ledger, "tok_visa");
        let confirmed = ledger.confirm_intent(&id, &[]);
        assert_eq!(confirmed.body["status"], "succeeded");
        assert_eq!(ledger.confirm_intent(&id, &[]).status, 400);
        assert_eq!(
            ledger.cancel_intent(&id).body["error"]["code"],
            "payment_intent_unexpected_state"
        );

        let declined = created(&mut ledger, "tok_chargeDeclined");
        let reply = ledger.confirm_intent(&declined, &[]);
        assert_eq!(reply.status, 402);
        assert_eq!(
            reply.body["error"]["payment_intent"]["status"],
            "requires_payment_method"
        );
        assert_eq!(
            ledger.retrieve_intent(&declined).body["last_payment_error"]["code"],
            "card_declined"
        );
        assert_eq!(ledger.cancel_intent(&declined).body["status"], "canceled");
        assert_eq!(ledger.confirm_intent(&declined, &[]).status, 400);
    }

    #[test]
    fn refunds_are_whole_or_partial_and_never_exceed_the_charge() {
        let mut ledger = Ledger::default();
        let id = created(&mut ledger, "tok_visa");
        let pi = form(&[("payment_intent", &id)]);
        assert_eq!(
            ledger.refund(&pi).body["error"]["code"],
            "payment_intent_unexpected_state"
        );
        ledger.confirm_intent(&id, &[]);
        let part = form(&[("payment_intent", &id), ("amount", "1000")]);
        assert_eq!(ledger.refund(&part).body["amount"], 1000);
        assert_eq!(ledger.refund(&pi).body["amount"], 4000);
        assert_eq!(
            ledger.refund(&pi).body["error"]["code"],
            "charge_already_refunded"
        );
        assert_eq!(ledger.records()[0]["amount_refunded"], 5000);
    }

    #[test]
    fn search_sees_only_what_the_index_has_caught_up_with() {
        let mut ledger = Ledger::default();
        let params = form(&[
            ("amount", "100"),
            ("currency", "usd"),
            ("metadata[order]", "7"),
        ]);
        ledger.create_intent(&params, Duration::ZERO);
        ledger.create_intent(&params, Duration::from_secs(3600));
        let found = ledger.search("metadata['order']:'7'");
        assert_eq!(found.body["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(ledger.search("nonsense").status, 400);
    }
}
