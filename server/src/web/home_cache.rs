//! The home page, rendered at most once per refresh interval. During an
//! onsale flood every request for `/` is served these bytes; one request per
//! interval renders a fresh copy while the others keep getting the old one.
//! The page is kept gzipped too, so browsers (which all ask for gzip) are
//! not served a fresh compression per request.

use crate::gzip::{accepts_gzip, gzip, Compression};
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};

/// A rendered page larger than this is not cached (it would be a bug).
const MAX_CACHED_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct HomeCache {
    inner: Arc<Inner>,
}

struct Inner {
    max_age: Duration,
    /// What a CDN in front is told (see [`cache_control`]).
    cache_control: HeaderValue,
    page: RwLock<Option<CachedPage>>,
    /// Held while rendering, so a flood triggers one render, not thousands.
    render_lock: Mutex<()>,
}

#[derive(Clone)]
struct CachedPage {
    rendered_at: Instant,
    html: Bytes,
    gzipped: Bytes,
}

impl CachedPage {
    fn new(html: Bytes) -> Self {
        Self {
            rendered_at: Instant::now(),
            gzipped: gzip(&html, Compression::default()),
            html,
        }
    }
}

impl HomeCache {
    pub fn new(max_age: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_age,
                cache_control: cache_control(max_age),
                page: RwLock::new(None),
                render_lock: Mutex::new(()),
            }),
        }
    }

    async fn fresh_page(&self) -> Option<CachedPage> {
        let page = self.inner.page.read().await.clone()?;
        (page.rendered_at.elapsed() < self.inner.max_age).then_some(page)
    }

    async fn any_page(&self) -> Option<CachedPage> {
        self.inner.page.read().await.clone()
    }
}

/// The page is the same for everyone, so a CDN may keep it as long as this
/// server does (`s-maxage`) and serve the old copy for a minute more while
/// it fetches a new one (`stale-while-revalidate`); browsers ask each time
/// (`max-age=0`), so what they see is never older than the CDN's copy.
fn cache_control(max_age: Duration) -> HeaderValue {
    let value = format!(
        "public, max-age=0, s-maxage={}, stale-while-revalidate=60",
        max_age.as_secs()
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("no-cache"))
}

fn html_response(
    cache: &HomeCache,
    page: &CachedPage,
    cache_state: &'static str,
    gzip: bool,
) -> Response {
    let age = page.rendered_at.elapsed().as_secs().to_string();
    let gzip = gzip && !page.gzipped.is_empty();
    let body = if gzip {
        page.gzipped.clone()
    } else {
        page.html.clone()
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert("x-tessera-cache", HeaderValue::from_static(cache_state));
    headers.insert(header::CACHE_CONTROL, cache.inner.cache_control.clone());
    if let Ok(age) = HeaderValue::from_str(&age) {
        headers.insert(header::AGE, age);
    }
    response
}

/// Middleware in front of the Leptos renderer: `GET /` without a query string
/// is served from the cache; anything else passes through.
pub async fn serve_cached_home(
    State(cache): State<HomeCache>,
    request: Request,
    next: Next,
) -> Response {
    let cacheable = request.method() == axum::http::Method::GET
        && request.uri().path() == "/"
        && request.uri().query().is_none_or(str::is_empty);
    if !cacheable {
        return next.run(request).await;
    }
    let gzip = accepts_gzip(request.headers());
    if let Some(page) = cache.fresh_page().await {
        return html_response(&cache, &page, "hit", gzip);
    }
    // Stale or empty. One request renders; while it does, others get the
    // stale copy if there is one, or wait for the render if there is none.
    let _render_guard = match cache.inner.render_lock.try_lock() {
        Ok(guard) => guard,
        Err(_) => {
            if let Some(page) = cache.any_page().await {
                return html_response(&cache, &page, "stale", gzip);
            }
            let guard = cache.inner.render_lock.lock().await;
            if let Some(page) = cache.fresh_page().await {
                return html_response(&cache, &page, "hit", gzip);
            }
            guard
        }
    };
    if let Some(page) = cache.fresh_page().await {
        return html_response(&cache, &page, "hit", gzip);
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    match to_bytes(response.into_body(), MAX_CACHED_BYTES).await {
        Ok(html) => {
            let page = CachedPage::new(html);
            *cache.inner.page.write().await = Some(page.clone());
            html_response(&cache, &page, "miss", gzip)
        }
        Err(error) => {
            tracing::error!(%error, "could not buffer the home page for the cache");
            (StatusCode::INTERNAL_SERVER_ERROR, "home page unavailable").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cdn_may_keep_the_home_page_as_long_as_the_server_does() {
        assert_eq!(
            cache_control(Duration::from_secs(2)),
            "public, max-age=0, s-maxage=2, stale-while-revalidate=60"
        );
    }

    #[test]
    fn the_cached_page_keeps_a_gzipped_copy_that_decompresses_to_it() {
        use std::io::Read;
        let html = Bytes::from("<html>".repeat(500));
        let page = CachedPage::new(html.clone());
        assert!(page.gzipped.len() < html.len());
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&page.gzipped[..])
            .read_to_end(&mut unzipped)
            .expect("gunzip");
        assert_eq!(unzipped, html);
    }
}
