//! Buyer sessions: every buyer has an unguessable session id in the
//! HttpOnly cookie `tessera_session`, created on the first request that
//! needs one. Holds and purchases belong to it; other sessions get 404.
//!
//! The database never sees the cookie value, only its SHA-256 (`key`): a
//! copy of the database lets nobody act as a buyer or a signed-in user.

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
    /// The cookie value; only ever sent back to its own browser.
    pub id: String,
    /// What the database stores for this session: hex SHA-256 of `id`.
    pub key: String,
    pub is_new: bool,
    /// The request came over TLS, so the cookie gets `Secure`.
    pub over_tls: bool,
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 128 random bits as 32 hex characters: session ids, email tokens.
pub fn random_hex_128() -> String {
    hex(&rand::rng().random::<[u8; 16]>())
}

/// Lower-case hex SHA-256, for values stored in place of secrets.
pub fn sha256_hex(value: &str) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(value.as_bytes()))
}

impl BuyerSession {
    pub fn generate() -> Self {
        let id = random_hex_128();
        Self {
            key: sha256_hex(&id),
            id,
            is_new: true,
            over_tls: false,
        }
    }

    /// A replacement id for this browser, issued at sign-in and sign-out
    /// so an id planted or seen before cannot ride on the new state.
    pub fn rotated(&self) -> Self {
        Self {
            over_tls: self.over_tls,
            ..Self::generate()
        }
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
            key: sha256_hex(raw),
            is_new: false,
            over_tls: false,
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

    /// Adds the `Set-Cookie` header when the session is new. `Secure` is
    /// added when the request came over TLS (directly or, per
    /// `X-Forwarded-Proto`, through the load balancer).
    pub fn attach(&self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        if self.is_new {
            let secure = if self.over_tls { "; Secure" } else { "" };
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_MAX_AGE_SECONDS}{secure}",
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
        let over_tls = parts.uri.scheme_str() == Some("https")
            || parts
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
        let session = Self::from_cookie_header(parts).unwrap_or_else(Self::generate);
        Ok(Self {
            over_tls,
            ..session
        })
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
