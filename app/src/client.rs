//! Browser-side calls to the public API (same origin, so the session cookie
//! travels with them). On the server these are never reached: pages call
//! them only from event handlers and effects, which run in the browser.

#[cfg(feature = "hydrate")]
use crate::error::ErrorBody;
use crate::error::{ApiError, ErrorCode};
use crate::types::MeView;
use serde::de::DeserializeOwned;
use serde::Serialize;

#[cfg(feature = "hydrate")]
fn network_error() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "could not reach Tessera; check your connection",
    )
}

/// Sends a JSON request and decodes the JSON answer or the API's error body.
pub async fn call<B: Serialize, R: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&B>,
    idempotency_key: Option<&str>,
) -> Result<Option<R>, ApiError> {
    #[cfg(feature = "hydrate")]
    {
        use gloo_net::http::{Method, RequestBuilder};
        let method = match method {
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "DELETE" => Method::DELETE,
            "PATCH" => Method::PATCH,
            _ => Method::GET,
        };
        let mut builder = RequestBuilder::new(path).method(method);
        if let Some(key) = idempotency_key {
            builder = builder.header("idempotency-key", key);
        }
        let request = match body {
            Some(body) => builder.json(body).map_err(|_| network_error())?,
            None => builder.build().map_err(|_| network_error())?,
        };
        let response = request.send().await.map_err(|_| network_error())?;
        if response.status() == 204 {
            return Ok(None);
        }
        if response.ok() {
            // Some answers (201 for a created account) have no body.
            let text = response.text().await.map_err(|_| network_error())?;
            if text.is_empty() {
                return Ok(None);
            }
            return serde_json::from_str::<R>(&text)
                .map(Some)
                .map_err(|_| network_error());
        }
        let error: ErrorBody = response.json().await.map_err(|_| network_error())?;
        Err(error.error)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (method, path, body, idempotency_key);
        Err(ApiError::new(ErrorCode::Internal, "browser-only call"))
    }
}

/// The signed-in account, or `None` for a guest (the API's 401 is the
/// ordinary answer for a browser without an account, not a failure).
pub async fn current_account() -> Result<Option<MeView>, ApiError> {
    match call::<(), MeView>("GET", "/api/me", None, None).await {
        Ok(me) => Ok(me),
        Err(error) if error.code == ErrorCode::Unauthenticated => Ok(None),
        Err(error) => Err(error),
    }
}

/// A fresh random key for one purchase attempt (128 bits, hex).
pub fn new_idempotency_key() -> String {
    #[cfg(feature = "hydrate")]
    {
        let mut bytes = [0u8; 16];
        if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
            let _ = crypto.get_random_values_with_u8_array(&mut bytes);
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

/// `ws://host/path` or `wss://host/path` for the current page.
#[cfg(feature = "hydrate")]
pub fn websocket_url(path: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}{path}", location.host().ok()?))
}

/// Milliseconds since the epoch, in the browser.
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}
