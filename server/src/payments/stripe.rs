//! Stripe adapter, by the PaymentIntents API: a payment is created
//! unconfirmed under the purchase's processor key (`Idempotency-Key`),
//! confirmed once its id is recorded, and otherwise found by that id
//! (`GET /v1/payment_intents/{id}`), never through search, whose index
//! lags. Confirmations, cancellations and refunds carry keys derived from
//! the payment id, so repeating any of them is harmless. Selected when a
//! secret key is configured (`TESSERA_STRIPE_SECRET_KEY`).

use super::{
    Confirmation, Intent, IntentRequest, IntentStatus, PaymentError, PaymentGateway, PaymentToken,
    SavedCard,
};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

pub struct StripeGateway {
    api_base: String,
    secret_key: String,
    http: reqwest::Client,
}

impl fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeGateway")
            .field("api_base", &self.api_base)
            .field("secret_key", &"***")
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct PaymentIntent {
    id: String,
    amount: i64,
    status: String,
    #[serde(default)]
    last_payment_error: Option<StripeError>,
    #[serde(default)]
    client_secret: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PaymentMethod {
    id: String,
    card: CardDetails,
}

#[derive(Debug, Deserialize)]
struct CardDetails {
    brand: String,
    last4: String,
}

#[derive(Debug, Deserialize)]
struct Customer {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: StripeError,
}

#[derive(Debug, Deserialize)]
struct StripeError {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl StripeError {
    /// Classifies an error the way Stripe documents them.
    fn classify(self, status: u16) -> PaymentError {
        let code = self.code.unwrap_or_default();
        let message = self.message.unwrap_or_else(|| format!("HTTP {status}"));
        match (status, self.kind.as_str(), code.as_str()) {
            (_, "card_error", "processing_error") => PaymentError::Transient(message),
            // The buyer failed (or abandoned) the bank's 3-D Secure check:
            // for the buyer, a decline; another card may do.
            (_, _, "payment_intent_authentication_failure") => PaymentError::Declined(message),
            (_, "card_error", _) => PaymentError::Declined(message),
            (429, _, _) => PaymentError::Transient("rate limited".into()),
            // Another request under the same key is still running: its
            // outcome is not known yet.
            (409, _, _) => PaymentError::Unknown(message),
            (400..=404, _, _) => PaymentError::Invalid(message),
            // 5xx and anything unexpected: Stripe may or may not have acted.
            _ => PaymentError::Unknown(message),
        }
    }
}

impl PaymentIntent {
    fn into_intent(self) -> Result<Intent, PaymentError> {
        let status = IntentStatus::parse(&self.status).ok_or_else(|| {
            PaymentError::Unknown(format!("unexpected payment status {}", self.status))
        })?;
        Ok(Intent {
            id: self.id,
            amount_cents: self.amount,
            status,
            // Stripe's last_payment_error carries no HTTP status; a card
            // error is what it holds.
            last_error: self.last_payment_error.map(|error| error.classify(402)),
            client_secret: self.client_secret,
        })
    }
}

impl StripeGateway {
    pub fn new(
        api_base: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(25))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            api_base: api_base.into().trim_end_matches('/').to_string(),
            secret_key: secret_key.into(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.api_base, path)
    }

    /// The path of one payment.
    fn intent_path(intent_id: &str, action: &str) -> Result<String, PaymentError> {
        Self::object_path("/v1/payment_intents/", "pi_", intent_id, action)
    }

    /// The path of one object. Ids come from Stripe; anything else is
    /// refused rather than put into a URL.
    fn object_path(
        collection: &str,
        prefix: &str,
        id: &str,
        action: &str,
    ) -> Result<String, PaymentError> {
        let well_formed = id.starts_with(prefix)
            && id.len() <= 255
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !well_formed {
            return Err(PaymentError::Invalid(format!("not a Stripe id: {id:?}")));
        }
        Ok(format!("{collection}{id}{action}"))
    }

    async fn error_from(response: reqwest::Response) -> PaymentError {
        let status = response.status().as_u16();
        match response.json::<ErrorEnvelope>().await {
            Ok(ErrorEnvelope { error }) => error.classify(status),
            Err(_) => PaymentError::Unknown(format!("HTTP {status}")),
        }
    }

    /// Sends a request and reads the reply as `T`, or classifies the error.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, PaymentError> {
        let response = request
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .map_err(transport_error)?;
        if !response.status().is_success() {
            return Err(Self::error_from(response).await);
        }
        response.json().await.map_err(|_| {
            PaymentError::Unknown("unreadable reply from the payment processor".into())
        })
    }

    /// A POST under an idempotency key.
    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        form: &[(&str, String)],
    ) -> Result<T, PaymentError> {
        let request = self
            .http
            .post(self.url(path))
            .header("Idempotency-Key", key)
            .form(form);
        self.send(request).await
    }
}

fn transport_error(error: reqwest::Error) -> PaymentError {
    // A request that may have reached Stripe has an unknown outcome; one
    // that never connected certainly did nothing.
    if error.is_connect() {
        PaymentError::Transient("payment processor unreachable".into())
    } else {
        PaymentError::Unknown("no reply from the payment processor".into())
    }
}

#[async_trait::async_trait]
impl PaymentGateway for StripeGateway {
    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, PaymentError> {
        // Everything here comes from the purchase row, so a replay after a
        // crash sends exactly the same parameters.
        let mut form: Vec<(&str, String)> = vec![
            ("amount", request.amount_cents.to_string()),
            ("currency", request.currency.to_string()),
            ("description", request.description.clone()),
            ("metadata[purchase_id]", request.purchase_id.to_string()),
            ("automatic_payment_methods[enabled]", "true".into()),
            ("automatic_payment_methods[allow_redirects]", "never".into()),
        ];
        if let Some(customer) = &request.customer {
            form.push(("customer", customer.clone()));
        }
        let intent: PaymentIntent = self
            .post("/v1/payment_intents", &request.idempotency_key, &form)
            .await?;
        intent.into_intent()
    }

    async fn confirm(
        &self,
        intent_id: &str,
        confirmation: &Confirmation,
    ) -> Result<Intent, PaymentError> {
        let token = confirmation.method.expose();
        let mut form: Vec<(&str, String)> = Vec::new();
        if token.starts_with("tok_") {
            form.push(("payment_method_data[type]", "card".into()));
            form.push(("payment_method_data[card][token]", token.to_string()));
        } else {
            form.push(("payment_method", token.to_string()));
        }
        if confirmation.off_session {
            form.push(("off_session", "true".into()));
        }
        let path = Self::intent_path(intent_id, "/confirm")?;
        let intent: PaymentIntent = self
            .post(&path, &format!("{intent_id}-confirm"), &form)
            .await?;
        intent.into_intent()
    }

    async fn retrieve(&self, intent_id: &str) -> Result<Intent, PaymentError> {
        let path = Self::intent_path(intent_id, "")?;
        let intent: PaymentIntent = self.send(self.http.get(self.url(&path))).await?;
        intent.into_intent()
    }

    async fn cancel(&self, intent_id: &str) -> Result<Intent, PaymentError> {
        let path = Self::intent_path(intent_id, "/cancel")?;
        let intent: PaymentIntent = self
            .post(&path, &format!("{intent_id}-cancel"), &[])
            .await?;
        intent.into_intent()
    }

    async fn refund(&self, intent_id: &str) -> Result<(), PaymentError> {
        Self::intent_path(intent_id, "")?;
        let form = [("payment_intent", intent_id.to_string())];
        let refunded: Result<serde_json::Value, _> = self
            .post("/v1/refunds", &format!("{intent_id}-refund"), &form)
            .await;
        match refunded {
            Ok(_) => Ok(()),
            Err(PaymentError::Invalid(message)) if message.contains("already been refunded") => {
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Creates a PaymentMethod from the token and attaches it to the
    /// account's Customer, or to a new Customer if it has none (or Stripe
    /// no longer knows it), so later PaymentIntents can charge it
    /// off-session. Attaching checks the card.
    async fn save_card(
        &self,
        token: &PaymentToken,
        email: &str,
        customer: Option<&str>,
    ) -> Result<SavedCard, PaymentError> {
        // A token Stripe does not know is the buyer's card problem.
        let declined = |error| match error {
            PaymentError::Invalid(message) => PaymentError::Declined(message),
            other => other,
        };
        let form = [
            ("type", "card".to_string()),
            ("card[token]", token.expose().to_string()),
        ];
        let request = self.http.post(self.url("/v1/payment_methods")).form(&form);
        let method: PaymentMethod = self.send(request).await.map_err(declined)?;
        let method_path = Self::object_path("/v1/payment_methods/", "pm_", &method.id, "/attach")?;
        let attached = match customer {
            Some(customer) => {
                let form = [("customer", customer.to_string())];
                let key = format!("{}-attach", method.id);
                match self.post::<PaymentMethod>(&method_path, &key, &form).await {
                    Ok(_) => Some(customer.to_string()),
                    // Deleted in Stripe's dashboard: start a new one.
                    Err(PaymentError::Invalid(message)) if message.contains("No such customer") => {
                        None
                    }
                    Err(error) => return Err(declined(error)),
                }
            }
            None => None,
        };
        let customer = match attached {
            Some(customer) => customer,
            None => {
                let form = [
                    ("email", email.to_string()),
                    ("payment_method", method.id.clone()),
                ];
                let request = self.http.post(self.url("/v1/customers")).form(&form);
                let customer: Customer = self.send(request).await.map_err(declined)?;
                customer.id
            }
        };
        Ok(SavedCard {
            method: PaymentToken::parse(&method.id).ok_or_else(|| {
                PaymentError::Unknown("unexpected payment method id from the processor".into())
            })?,
            customer: Some(customer),
            brand: method.card.brand,
            last4: method.card.last4,
        })
    }

    /// Detaches the PaymentMethod from its Customer.
    async fn forget_card(&self, method: &PaymentToken) -> Result<(), PaymentError> {
        let path = Self::object_path("/v1/payment_methods/", "pm_", method.expose(), "/detach")?;
        let key = format!("{}-detach", method.expose());
        match self.post::<PaymentMethod>(&path, &key, &[]).await {
            Ok(_) => Ok(()),
            Err(PaymentError::Invalid(message)) if message.contains("not attached") => Ok(()),
            Err(error) => Err(error),
        }
    }
}
