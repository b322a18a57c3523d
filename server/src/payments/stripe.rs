//! Stripe adapter: PaymentIntents created and confirmed in one call with the
//! purchase's `Idempotency-Key`, refunds, and a metadata search to find the
//! outcome of a charge whose reply was lost. Selected when a secret key is
//! configured (`TESSERA_STRIPE_SECRET_KEY`).

use super::{Charge, ChargeRequest, PaymentError, PaymentGateway, PaymentToken, SavedCard};
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
struct SearchResult {
    data: Vec<PaymentIntent>,
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

    /// Classifies a non-success reply the way Stripe documents its errors.
    async fn error_from(response: reqwest::Response) -> PaymentError {
        let status = response.status();
        let body: Option<ErrorEnvelope> = response.json().await.ok();
        let (kind, code, message) = match body {
            Some(ErrorEnvelope { error }) => (
                error.kind,
                error.code.unwrap_or_default(),
                error.message.unwrap_or_default(),
            ),
            None => (String::new(), String::new(), format!("HTTP {status}")),
        };
        match (kind.as_str(), code.as_str()) {
            ("card_error", "processing_error") => PaymentError::Transient(message),
            ("card_error", _) => PaymentError::Declined(message),
            (_, _) if status.as_u16() == 429 => PaymentError::Transient("rate limited".into()),
            ("invalid_request_error", _) => PaymentError::Declined(message),
            // 5xx and anything unexpected: Stripe may or may not have acted.
            _ => PaymentError::Unknown(message),
        }
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
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let token = request.token.expose();
        let mut form: Vec<(&str, String)> = vec![
            ("amount", request.amount_cents.to_string()),
            ("currency", request.currency.to_string()),
            ("confirm", "true".into()),
            ("description", request.description.clone()),
            ("metadata[idempotency_key]", request.idempotency_key.clone()),
            ("automatic_payment_methods[enabled]", "true".into()),
            ("automatic_payment_methods[allow_redirects]", "never".into()),
        ];
        if let Some(customer) = &request.customer {
            // A saved card, charged without the buyer re-entering it.
            form.push(("customer", customer.clone()));
            form.push(("off_session", "true".into()));
        }
        if token.starts_with("tok_") {
            form.push(("payment_method_data[type]", "card".into()));
            form.push(("payment_method_data[card][token]", token.to_string()));
        } else {
            form.push(("payment_method", token.to_string()));
        }
        let response = self
            .http
            .post(self.url("/v1/payment_intents"))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", &request.idempotency_key)
            .form(&form)
            .send()
            .await
            .map_err(transport_error)?;
        if !response.status().is_success() {
            return Err(Self::error_from(response).await);
        }
        let intent: PaymentIntent = response.json().await.map_err(|_| {
            PaymentError::Unknown("unreadable reply from the payment processor".into())
        })?;
        match intent.status.as_str() {
            "succeeded" => Ok(Charge {
                id: intent.id,
                amount_cents: intent.amount,
                refunded: false,
            }),
            "requires_payment_method" => {
                Err(PaymentError::Declined("the card was declined".into()))
            }
            // requires_action (3-D Secure) and the rest cannot finish here.
            other => Err(PaymentError::Declined(format!("payment needs {other}"))),
        }
    }

    async fn refund(&self, charge_id: &str) -> Result<(), PaymentError> {
        let response = self
            .http
            .post(self.url("/v1/refunds"))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", format!("refund-{charge_id}"))
            .form(&[("payment_intent", charge_id)])
            .send()
            .await
            .map_err(transport_error)?;
        if response.status().is_success() {
            return Ok(());
        }
        match Self::error_from(response).await {
            PaymentError::Declined(message) if message.contains("already been refunded") => Ok(()),
            error => Err(error),
        }
    }

    async fn find_charge(&self, idempotency_key: &str) -> Result<Option<Charge>, PaymentError> {
        // Keys are ours (visible ASCII, checked at the API); quotes escaped anyway.
        let query = format!(
            "metadata['idempotency_key']:'{}'",
            idempotency_key.replace('\'', "\\'")
        );
        let response = self
            .http
            .get(self.url("/v1/payment_intents/search"))
            .bearer_auth(&self.secret_key)
            .query(&[("query", query.as_str())])
            .send()
            .await
            .map_err(transport_error)?;
        if !response.status().is_success() {
            return Err(Self::error_from(response).await);
        }
        let found: SearchResult = response.json().await.map_err(|_| {
            PaymentError::Unknown("unreadable reply from the payment processor".into())
        })?;
        Ok(found
            .data
            .into_iter()
            .find(|intent| intent.status == "succeeded")
            .map(|intent| Charge {
                id: intent.id,
                amount_cents: intent.amount,
                refunded: false,
            }))
    }

    /// Creates a PaymentMethod from the token, then a Customer with it
    /// attached, so later PaymentIntents can charge it off-session.
    async fn save_card(
        &self,
        token: &PaymentToken,
        email: &str,
    ) -> Result<SavedCard, PaymentError> {
        let method: PaymentMethod = self
            .post_form(
                "/v1/payment_methods",
                &[("type", "card"), ("card[token]", token.expose())],
            )
            .await?;
        let customer: Customer = self
            .post_form(
                "/v1/customers",
                &[("email", email), ("payment_method", &method.id)],
            )
            .await?;
        Ok(SavedCard {
            method: PaymentToken::parse(&method.id).ok_or_else(|| {
                PaymentError::Unknown("unexpected payment method id from the processor".into())
            })?,
            customer: Some(customer.id),
            brand: method.card.brand,
            last4: method.card.last4,
        })
    }
}

impl StripeGateway {
    async fn post_form<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<T, PaymentError> {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.secret_key)
            .form(form)
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
}
