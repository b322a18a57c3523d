//! Buyer sessions: every buyer has an unguessable session id in the
//! HttpOnly cookie `tessera_session`, created on the first request that
//! needs one. Holds and purchases belong to it; other sessions get 404.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use std::convert::Infallible;

pub const SESSION_COOKIE: &str = "tessera_session";
/// 30 days: long enough to come back to "my tickets" as a guest.
const SESSION_MAX_AGE_SECONDS: u64 = 30 * 24 * 3600;

/// The caller's session; `is_new` when this request created it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyerSession {
    pub id: String,
    pub is_new: bool,
}

impl BuyerSession {
    pub fn generate() -> Self {
        let bytes: [u8; 16] = rand::rng().random();
        let id = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self { id, is_new: true }
    }

    /// Only ids of the shape we issue are accepted, so a forged cookie can't
    /// smuggle anything into queries or logs.
    fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| Self {
            id: raw.to_string(),
            is_new: false,
        })
    }

    fn from_cookie_header(parts: &Parts) -> Option<Self> {
        parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE)
            .and_then(|(_, value)| Self::parse(value))
    }

    /// Adds the `Set-Cookie` header when the session is new.
    pub fn attach(&self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        if self.is_new {
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_MAX_AGE_SECONDS}",
                self.id
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BuyerSession {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_cookie_header(parts).unwrap_or_else(Self::generate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_session_ids_are_accepted() {
        let good = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            BuyerSession::parse(good).map(|s| s.id),
            Some(good.to_string())
        );
        for bad in [
            "",
            "abc",
            "0123456789ABCDEF0123456789ABCDEF",
            "zz23456789abcdef0123456789abcdef",
            "' OR 1=1 --------------------------",
        ] {
            assert!(BuyerSession::parse(bad).is_none(), "{bad}");
        }
        let generated = BuyerSession::generate();
        assert!(BuyerSession::parse(&generated.id).is_some());
    }
}
