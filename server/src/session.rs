//! Buyer sessions: every buyer has an unguessable session id in an HttpOnly
//! cookie, created on the first request that needs one. Holds and purchases
//! belong to it; other sessions get 404.
//!
//! Ids are minted by the server only: 16 random bytes and a MAC over them
//! (HMAC-SHA256, cut to 16 bytes) under a [`SessionKey`], written as 64
//! letters `a`–`p`. So
//! - an id a client made up, well-formed or not, fails its MAC and is
//!   replaced by a fresh one: nobody can plant a chosen id in a browser;
//! - accepting an id needs no database: a flood of new guests writes
//!   nothing, and servers sharing one database (and so one key) accept each
//!   other's ids;
//! - an id has no digits, so it can never look like a card number.
//!
//! Over TLS the cookie is `__Host-tessera_session`: `Secure`, `Path=/` and
//! no `Domain`, so no sibling subdomain can set or overwrite it. Without TLS
//! (development) it is `tessera_session`. Both names are read, `__Host-`
//! first; an id that arrived under the plain name over TLS is moved to the
//! `__Host-` name.
//!
//! The database never sees the cookie value, only its SHA-256 (`key`): a
//! copy of the database lets nobody act as a buyer or a signed-in user.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The cookie's name without TLS.
pub const SESSION_COOKIE: &str = "tessera_session";
/// The cookie's name over TLS.
pub const SECURE_SESSION_COOKIE: &str = "__Host-tessera_session";
/// 30 days: long enough to come back to "my tickets" as a guest.
const SESSION_MAX_AGE_SECONDS: u64 = 30 * 24 * 3600;
const RANDOM_BYTES: usize = 16;
const MAC_BYTES: usize = 16;
/// Two letters per byte.
const ID_LEN: usize = 2 * (RANDOM_BYTES + MAC_BYTES);

/// The secret that session ids are signed with. Every server sharing a
/// database must have the same one; `web` derives it from the ticket
/// signing key, which they already share. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(Arc<[u8; 32]>);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(***)")
    }
}

impl SessionKey {
    pub fn new(secret: [u8; 32]) -> Self {
        Self(Arc::new(secret))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; 32 bytes cannot be refused.
        <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
    }

    /// A fresh id: random bytes and their MAC, as letters.
    fn mint(&self) -> String {
        let random: [u8; RANDOM_BYTES] = rand::rng().random();
        let mut mac = self.mac();
        mac.update(&random);
        let tag = mac.finalize().into_bytes();
        let mut id = letters(&random);
        id.push_str(&letters(&tag[..MAC_BYTES]));
        id
    }

    /// Whether `id` is one this key minted (compared in constant time).
    fn minted(&self, id: &str) -> bool {
        if id.len() != ID_LEN {
            return false;
        }
        let Some(bytes) = from_letters(id) else {
            return false;
        };
        let (random, tag) = bytes.split_at(RANDOM_BYTES);
        let mut mac = self.mac();
        mac.update(random);
        mac.verify_truncated_left(tag).is_ok()
    }
}

/// Each half-byte as one of the sixteen letters `a`–`p` (ids and
/// challenges: no digits, so no run of them can pass for a card number).
pub(crate) fn letters(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0f])
        .map(|nibble| char::from(b'a' + nibble))
        .collect()
}

/// The bytes [`letters`] made; `None` for anything else.
pub(crate) fn from_letters(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |b: u8| (b'a'..=b'p').contains(&b).then(|| b - b'a');
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

/// The caller's session; `is_new` when this request created it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyerSession {
    /// The cookie value; only ever sent back to its own browser.
    pub id: String,
    /// What the database stores for this session: hex SHA-256 of `id`.
    pub key: String,
    pub is_new: bool,
    /// The request came over TLS, so the cookie is `__Host-` and `Secure`.
    pub over_tls: bool,
    /// The id came under the plain cookie name over TLS: it is moved to
    /// the `__Host-` name with the next response.
    pub plain_cookie_over_tls: bool,
    /// Mints the replacement at sign-in and sign-out.
    pub minter: SessionKey,
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 lower-case hex characters, 125 random bits: email confirmation
/// tokens. The 13th and 26th characters are always letters (`a`–`f`), so no
/// run of 13 digits, the shortest card number, can appear: the card-number
/// guard never refuses a token we minted.
pub fn random_hex_128() -> String {
    let mut rng = rand::rng();
    (0..32)
        .map(|i| {
            let digit = if i == 12 || i == 25 {
                rng.random_range(10..16)
            } else {
                rng.random_range(0..16)
            };
            char::from_digit(digit, 16).unwrap_or('f')
        })
        .collect()
}

/// Lower-case hex SHA-256, for values stored in place of secrets.
pub fn sha256_hex(value: &str) -> String {
    use sha2::Digest;
    hex(&Sha256::digest(value.as_bytes()))
}

impl BuyerSession {
    /// A new session with an id minted under `key`.
    pub fn generate(key: &SessionKey) -> Self {
        let id = key.mint();
        Self {
            key: sha256_hex(&id),
            id,
            is_new: true,
            over_tls: false,
            plain_cookie_over_tls: false,
            minter: key.clone(),
        }
    }

    /// A replacement id for this browser, issued at sign-in and sign-out
    /// so an id planted or seen before cannot ride on the new state.
    pub fn rotated(&self) -> Self {
        Self {
            over_tls: self.over_tls,
            plain_cookie_over_tls: self.plain_cookie_over_tls,
            ..Self::generate(&self.minter)
        }
    }

    /// The session of a cookie value, if `key` minted it.
    fn accept(raw: &str, key: &SessionKey) -> Option<Self> {
        key.minted(raw).then(|| Self {
            id: raw.to_string(),
            key: sha256_hex(raw),
            is_new: false,
            over_tls: false,
            plain_cookie_over_tls: false,
            minter: key.clone(),
        })
    }

    /// The request's session: its `__Host-` cookie, else its plain one,
    /// else (absent, or not minted here) a new one.
    fn from_cookies(parts: &Parts, key: &SessionKey, over_tls: bool) -> Self {
        let cookie = |wanted: &str| {
            parts
                .headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|header| header.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .filter(|(name, _)| *name == wanted)
                .find_map(|(_, value)| Self::accept(value, key))
        };
        let session = match cookie(SECURE_SESSION_COOKIE) {
            Some(session) => session,
            None => match cookie(SESSION_COOKIE) {
                Some(session) => Self {
                    plain_cookie_over_tls: over_tls,
                    ..session
                },
                None => Self::generate(key),
            },
        };
        Self {
            over_tls,
            ..session
        }
    }

    /// Adds the `Set-Cookie` header when the session is new (or moves to
    /// the `__Host-` name). `Secure` and the `__Host-` name are used when
    /// the request came over TLS (directly or, per `X-Forwarded-Proto`,
    /// through the load balancer).
    pub fn attach(&self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        if !self.is_new && !self.plain_cookie_over_tls {
            return response;
        }
        let (name, secure) = if self.over_tls {
            (SECURE_SESSION_COOKIE, "; Secure")
        } else {
            (SESSION_COOKIE, "")
        };
        let mut cookies = vec![format!(
            "{name}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_MAX_AGE_SECONDS}{secure}",
            self.id
        )];
        if self.plain_cookie_over_tls {
            cookies.push(format!(
                "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
            ));
        }
        for cookie in cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }
}

/// The key for a request: the one the router installs ([`crate::web::router`]).
/// Without it (a router assembled without that layer) ids cannot be shared
/// with other servers, so the mistake is logged and a per-process key used.
fn key_of(parts: &Parts) -> SessionKey {
    if let Some(key) = parts.extensions.get::<SessionKey>() {
        return key.clone();
    }
    static FALLBACK: OnceLock<SessionKey> = OnceLock::new();
    FALLBACK
        .get_or_init(|| {
            tracing::error!("no session key installed: sessions are valid on this process only");
            SessionKey::new(rand::rng().random())
        })
        .clone()
}

impl<S: Send + Sync> FromRequestParts<S> for BuyerSession {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let over_tls = parts.uri.scheme_str() == Some("https")
            || parts
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
        Ok(Self::from_cookies(parts, &key_of(parts), over_tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::card_guard::contains_card_number;

    fn key() -> SessionKey {
        SessionKey::new([7; 32])
    }

    fn parts(cookie: Option<&str>) -> Parts {
        let mut builder = axum::http::Request::builder().uri("/api/me");
        if let Some(cookie) = cookie {
            builder = builder.header(COOKIE, cookie);
        }
        builder.body(()).expect("request").into_parts().0
    }

    #[test]
    fn only_ids_this_server_minted_are_accepted() {
        let minted = BuyerSession::generate(&key());
        assert_eq!(minted.id.len(), ID_LEN);
        let cookie = format!("{SESSION_COOKIE}={}", minted.id);
        let session = BuyerSession::from_cookies(&parts(Some(&cookie)), &key(), false);
        assert_eq!(
            (session.id.as_str(), session.is_new),
            (minted.id.as_str(), false)
        );

        // Another key (another deployment), a made-up id of the right shape,
        // the old hex shape, garbage: each is replaced by a fresh id.
        let foreign = BuyerSession::generate(&SessionKey::new([8; 32])).id;
        let mut tampered = minted.id.clone();
        tampered.replace_range(0..1, if tampered.starts_with('a') { "b" } else { "a" });
        for chosen in [
            foreign,
            tampered,
            "a".repeat(ID_LEN),
            "0123456789abcdef0123456789abcdef".to_string(),
            "' OR 1=1 --".to_string(),
            String::new(),
        ] {
            let cookie = format!("{SESSION_COOKIE}={chosen}");
            let session = BuyerSession::from_cookies(&parts(Some(&cookie)), &key(), false);
            assert!(session.is_new, "{chosen}");
            assert_ne!(session.id, chosen);
            assert!(key().minted(&session.id));
        }
    }

    #[test]
    fn the_host_prefixed_cookie_is_read_first_and_the_plain_one_moved_to_it_over_tls() {
        let first = BuyerSession::generate(&key()).id;
        let second = BuyerSession::generate(&key()).id;
        let both = format!("{SESSION_COOKIE}={first}; {SECURE_SESSION_COOKIE}={second}");
        let session = BuyerSession::from_cookies(&parts(Some(&both)), &key(), true);
        assert_eq!(session.id, second);
        assert!(!session.plain_cookie_over_tls);
        let response = session.attach(());
        assert!(
            response.headers().get(SET_COOKIE).is_none(),
            "nothing to change"
        );

        let plain = format!("{SESSION_COOKIE}={first}");
        let session = BuyerSession::from_cookies(&parts(Some(&plain)), &key(), true);
        assert_eq!(
            (session.id.as_str(), session.is_new),
            (first.as_str(), false)
        );
        let response = session.attach(());
        let set: Vec<_> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_string())
            .collect();
        assert!(set[0].starts_with(&format!("{SECURE_SESSION_COOKIE}={first}; Path=/;")));
        assert!(set[0].ends_with("; Secure") && !set[0].contains("Domain"));
        assert!(set[1].starts_with(&format!("{SESSION_COOKIE}=;")) && set[1].contains("Max-Age=0"));
    }

    #[test]
    fn new_sessions_get_the_cookie_their_transport_allows() {
        let plain = BuyerSession::from_cookies(&parts(None), &key(), false).attach(());
        let cookie = plain.headers()[SET_COOKIE].to_str().expect("ascii");
        assert!(cookie.starts_with(&format!("{SESSION_COOKIE}=")) && !cookie.contains("Secure"));
        let tls = BuyerSession::from_cookies(&parts(None), &key(), true).attach(());
        let cookie = tls.headers()[SET_COOKIE].to_str().expect("ascii");
        assert!(
            cookie.starts_with(&format!("{SECURE_SESSION_COOKIE}=")) && cookie.contains("; Secure")
        );
    }

    /// No token we mint can be taken for a card number.
    #[test]
    fn minted_ids_and_tokens_never_look_like_card_numbers() {
        let key = key();
        for _ in 0..100_000 {
            let id = BuyerSession::generate(&key).id;
            assert!(!id.bytes().any(|b| b.is_ascii_digit()), "{id}");
            let token = random_hex_128();
            assert_eq!(token.len(), 32);
            assert!(token
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            let longest_digit_run = token
                .split(|c: char| !c.is_ascii_digit())
                .map(str::len)
                .max()
                .unwrap_or(0);
            assert!(longest_digit_run < 13, "{token}");
            assert!(!contains_card_number(&token) && !contains_card_number(&id));
        }
    }
}
