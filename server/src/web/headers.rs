//! Response headers for a public site: the security headers on every
//! response, and caching headers for the build's static files.

use crate::checkout::CardForm;
use crate::net::TrustedProxies;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;

/// The pages' Content-Security-Policy.
///
/// - Scripts: the site's own, WebAssembly compilation of its own bundle
///   (`'wasm-unsafe-eval'`), and inline scripts, because Leptos starts
///   hydration from an inline module script and streams resolved server
///   data as inline scripts. A nonce would have to differ per response, and
///   the home page is one cached response served to everyone.
/// - Styles: the site's stylesheet and the `style` attributes that place
///   seats on the map.
/// - `connect-src 'self'`: the API and the live WebSocket, same origin only
///   (CSP level 3 lets `'self'` cover `ws:`/`wss:` to the same host).
/// - Nothing may frame the site (`frame-ancestors 'none'`), no plugins, no
///   `<base>` or form posts elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
     script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
     frame-ancestors 'none'";

/// [`CONTENT_SECURITY_POLICY`], opened for the processor's card form when
/// there is one: Stripe.js from its origin, its frames (the card fields and
/// the 3-D Secure challenge, including Stripe's `hooks.stripe.com`), and its
/// calls to the processor's API — Stripe's own list of what it needs.
pub fn content_security_policy(card_form: Option<&CardForm>) -> HeaderValue {
    let Some(form) = card_form else {
        return HeaderValue::from_static(CONTENT_SECURITY_POLICY);
    };
    let js = origin(&form.js_url);
    let api = origin(&form.api_base);
    let policy = format!(
        "default-src 'self'; \
         script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval' {js}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: {js}; font-src 'self'; \
         connect-src 'self' {js} {api}; frame-src {js} https://hooks.stripe.com; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static(CONTENT_SECURITY_POLICY))
}

/// `scheme://host[:port]` of a URL (the whole text if it does not parse).
fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_string())
}

/// What [`security_headers`] needs.
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    pub trusted: TrustedProxies,
    pub content_security_policy: HeaderValue,
}

/// Two years, subdomains included: the value browsers' preload lists ask for.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// For hashed file names (`tessera.<hash>.wasm`): a new build has new
/// names, so a cached copy never goes stale.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For static files whose name does not change between builds.
const REVALIDATE: &str = "public, max-age=300, must-revalidate";

/// Adds the security headers to every response (a handler's own value, if
/// it set one, is kept). `Strict-Transport-Security` only when the request
/// came over TLS: from a trusted proxy that says `X-Forwarded-Proto: https`.
pub async fn security_headers(
    State(settings): State<SecurityHeaders>,
    request: Request,
    next: Next,
) -> Response {
    let over_tls = came_over_tls(&request, &settings.trusted);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(settings.content_security_policy);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        headers,
        header::REFERRER_POLICY,
        "strict-origin-when-cross-origin",
    );
    // For browsers older than `frame-ancestors`.
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    if over_tls {
        set(headers, header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}

fn came_over_tls(request: &Request, trusted: &TrustedProxies) -> bool {
    let from_trusted = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| trusted.contains(peer.ip()));
    from_trusted
        && request
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// `Cache-Control` for the build's files under `/pkg`: immutable when the
/// name carries a content hash (`hash-files`), revalidated otherwise.
pub async fn static_cache(State(hashed): State<bool>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status() == StatusCode::OK {
        let policy = if hashed { IMMUTABLE } else { REVALIDATE };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}
