//! Stripe's webhooks, on the wire: checking `Stripe-Signature` and reading
//! the few events checkout acts on. What checkout does with them is in
//! [`crate::checkout::webhook`].
//!
//! Stripe signs each delivery with the endpoint's secret: the header is
//! `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` (more than
//! one `v1` while a secret is being rolled). A delivery is genuine if any
//! `v1` matches, compared in constant time, and its timestamp is within
//! [`TOLERANCE_SECS`] of now, so a captured delivery cannot be replayed
//! later; a replay inside the window is caught by the event's id.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::fmt;

/// How far a signature's timestamp may be from now (Stripe's libraries use
/// five minutes).
pub const TOLERANCE_SECS: i64 = 300;

/// The endpoint's signing secret (`whsec_…`). `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature's timestamp is more than five minutes from now")]
    OutsideTolerance,
    #[error("no signature matches the payload")]
    Mismatch,
}

/// Checks a delivery's `Stripe-Signature` header against its raw body.
pub fn verify(
    secret: &WebhookSecret,
    header: Option<&str>,
    payload: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            // A signature that is not hex cannot match; skip it.
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now_secs.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::OutsideTolerance);
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.0.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    // `verify_slice` compares in constant time.
    let genuine = signatures
        .iter()
        .any(|signature| mac.clone().verify_slice(signature).is_ok());
    genuine.then_some(()).ok_or(SignatureError::Mismatch)
}

/// A Stripe `Event`, as much of it as checkout reads.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// What an event says that checkout acts on.
#[derive(Debug, PartialEq, Eq)]
pub enum Notice {
    /// A payment's state changed (succeeded, failed, canceled, …): the
    /// payment itself is looked up again before acting, because events
    /// arrive late, more than once and in any order.
    Payment { intent_id: String },
    /// A payment was refunded, wholly or in part (from the processor's
    /// dashboard, say, or by our own refund).
    Refund { intent_id: String, whole: bool },
    /// An event checkout has no use for.
    Other,
}

impl Event {
    pub fn notice(&self) -> Notice {
        let object = &self.data.object;
        let text = |name: &str| object[name].as_str().map(str::to_string);
        match self.kind.as_str() {
            kind if kind.starts_with("payment_intent.") => match text("id") {
                Some(intent_id) => Notice::Payment { intent_id },
                None => Notice::Other,
            },
            "charge.refunded" => match text("payment_intent") {
                Some(intent_id) => Notice::Refund {
                    intent_id,
                    whole: object["refunded"].as_bool() == Some(true),
                },
                None => Notice::Other,
            },
            _ => Notice::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    // HMAC-SHA256("whsec_test", "1700000000.{}"), computed independently:
    // `printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test`.
    const GOOD: &str = "35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91";
    const AT: i64 = 1_700_000_000;

    fn check(header: &str, now: i64) -> Result<(), SignatureError> {
        verify(&WebhookSecret::new(SECRET.into()), Some(header), b"{}", now)
    }

    #[test]
    fn a_genuine_signature_is_accepted_within_the_tolerance_only() {
        let header = format!("t={AT},v1={GOOD}");
        assert_eq!(check(&header, AT), Ok(()));
        assert_eq!(check(&header, AT + TOLERANCE_SECS), Ok(()));
        assert_eq!(
            check(&header, AT + TOLERANCE_SECS + 1),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            check(&header, AT - TOLERANCE_SECS - 1),
            Err(SignatureError::OutsideTolerance)
        );
        // While a secret rolls, one of several signatures matching is enough.
        let rolling = format!("t={AT},v1={},v1={GOOD},v0=abc", "0".repeat(64));
        assert_eq!(check(&rolling, AT), Ok(()));
    }

    #[test]
    fn anything_else_is_refused() {
        let other_body = verify(
            &WebhookSecret::new(SECRET.into()),
            Some(&format!("t={AT},v1={GOOD}")),
            b"{ }",
            AT,
        );
        assert_eq!(other_body, Err(SignatureError::Mismatch));
        let other_time = format!("t={},v1={GOOD}", AT + 1);
        assert_eq!(check(&other_time, AT), Err(SignatureError::Mismatch));
        assert_eq!(
            check(&format!("t={AT},v1={}", "0".repeat(64)), AT),
            Err(SignatureError::Mismatch)
        );
        for malformed in [
            format!("v1={GOOD}"),
            format!("t=soon,v1={GOOD}"),
            format!("t={AT}"),
            format!("t={AT},v1=not-hex"),
            String::new(),
        ] {
            assert_eq!(
                check(&malformed, AT),
                Err(SignatureError::Malformed),
                "{malformed}"
            );
        }
        let missing = verify(&WebhookSecret::new(SECRET.into()), None, b"{}", AT);
        assert_eq!(missing, Err(SignatureError::Missing));
    }

    #[test]
    fn events_are_read_for_the_payment_they_concern() {
        let event =
            |json: serde_json::Value| -> Event { serde_json::from_value(json).expect("event") };
        let succeeded = event(
            serde_json::json!({"id": "evt_1", "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_1", "object": "payment_intent"}}}),
        );
        assert_eq!(
            succeeded.notice(),
            Notice::Payment {
                intent_id: "pi_1".into()
            }
        );
        let refunded = event(serde_json::json!({"id": "evt_2", "type": "charge.refunded",
            "data": {"object": {"id": "ch_1", "payment_intent": "pi_1", "refunded": false}}}));
        assert_eq!(
            refunded.notice(),
            Notice::Refund {
                intent_id: "pi_1".into(),
                whole: false
            }
        );
        let other = event(
            serde_json::json!({"id": "evt_3", "type": "customer.created",
            "data": {"object": {"id": "cus_1"}}}),
        );
        assert_eq!(other.notice(), Notice::Other);
    }
}
