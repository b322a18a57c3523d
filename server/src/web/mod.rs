//! The HTTP surface: REST API, health check, OpenAPI document, and the Leptos
//! pages (with the cached home page), assembled into one axum router.

pub mod card_guard;
pub mod csrf;
pub mod headers;
pub mod home_cache;
pub mod limits;
pub mod observe;
pub mod serve;
pub mod state;

use crate::accounts::{self, AccountPolicy, Accounts};
use crate::catalog::Catalog;
use crate::checkout::{self, Checkout};
use crate::clock::now_ms;
use crate::clock::Clock;
use crate::config::{Config, PaymentProcessor};
use crate::error::api_not_found;
use crate::inventory::{batcher::SeatWriter, sweeper, Inventory};
use crate::lifecycle::Lifecycle;
use crate::live::{self, LiveHub};
use crate::mail::letters::Renderer;
use crate::mail::links::LinkKeys;
use crate::mail::worker::MailWorker;
use crate::mail::Mailer;
use crate::net::ClientLimits;
use crate::openapi::Contract;
use crate::payments::stripe::StripeGateway;
use crate::payments::test_gateway::TestGateway;
use crate::payments::unconfigured::Unconfigured;
use crate::payments::PaymentGateway;
use crate::queue::{self, Queue};
use crate::session::SessionKey;
use crate::staff::{self, Staff};
use crate::store::{Store, StoreError};
use crate::ticket_codes::{self, TicketSigner};
use crate::tickets;
use crate::{catalog, demo, inventory};
use app::api::SharedBackend;
use app::{shell, App};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Extension, Json, Router};
use home_cache::{serve_cached_home, HomeCache};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use limits::CommonResponses;
use state::{AppState, Services};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use utoipa::OpenApi;

/// Anything that stops the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("seeding demo data failed: {0}")]
    Seed(#[from] catalog::create::CreateError),
    #[error("payment gateway: {0}")]
    Payments(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    TicketKey(#[from] ticket_codes::KeyError),
    #[error("creating the demo admin failed: {0}")]
    DemoAdmin(app::error::ApiError),
}

/// Connects, migrates, seeds (in demo mode, if empty) and builds the
/// router. Payments go to the processor [`Config::payment_processor`] names.
pub async fn build_app(
    config: &Config,
    leptos_options: LeptosOptions,
) -> Result<(Router, AppState), StartError> {
    let processor = (config.payment_processor(), &config.stripe_secret_key);
    let gateway: Arc<dyn PaymentGateway> = match processor {
        (PaymentProcessor::Stripe, Some(secret_key)) => Arc::new(
            StripeGateway::new(&config.stripe_api_base, secret_key)
                .map_err(|error| StartError::Payments(error.to_string()))?,
        ),
        (PaymentProcessor::TestGateway, _) => Arc::new(TestGateway::new(
            Duration::from_millis(config.payment_latency_ms),
            config.payment_fault_rate,
        )),
        _ => Arc::new(Unconfigured),
    };
    build_app_with_gateway(config, leptos_options, gateway).await
}

/// [`build_app`] with a given payment gateway.
///
/// Longer than most functions on purpose: it is the one place every
/// service is built and handed the others it needs, read top to bottom in
/// the order they depend on each other.
pub async fn build_app_with_gateway(
    config: &Config,
    leptos_options: LeptosOptions,
    gateway: Arc<dyn PaymentGateway>,
) -> Result<(Router, AppState), StartError> {
    let deadlines = checkout::Deadlines::new(
        Duration::from_secs(config.processor_timeout_secs),
        Duration::from_secs(config.reconcile_after_secs),
    )
    .map_err(StartError::Config)?;
    let (store, seeded_demo) = open_store(config).await?;
    let ticket_signer = Arc::new(match &config.ticket_key {
        Some(seed) => TicketSigner::from_seed_hex(seed)?,
        None => TicketSigner::load_or_create(&config.ticket_key_file)?,
    });
    let clock = Clock::default();
    let catalog = Catalog::new(store.clone(), clock.clone());
    let client_limits = ClientLimits::new(config.limit_settings(), config.trusted_proxy_list());
    if !config.limit_settings().enabled {
        tracing::warn!(
            "per-address limits are off (TESSERA_CLIENT_LIMITS=off): for load tests only"
        );
    }
    let links = LinkKeys::from_signer(&ticket_signer);
    let mail = mail_worker(config, &store, &links, &leptos_options, &clock)?;
    let accounts = Accounts::new(
        store.clone(),
        clock.clone(),
        gateway.clone(),
        AccountPolicy {
            link_lifetime_ms: config.confirm_link_hours * 3_600_000,
            sign_in_failures_per_account: config.sign_in_failures_per_account,
            sign_in_failures_per_address: config.sign_in_failures_per_address,
            limits: client_limits.clone(),
            links,
        },
    );
    let queue = Queue::new(
        store.clone(),
        clock.clone(),
        ticket_signer.derive_secret("tessera queue challenges v1"),
        config.queue_joins_per_minute(),
    );
    let lifecycle = Lifecycle::default();
    let live = LiveHub::new(
        store.clone(),
        catalog.clone(),
        clock.clone(),
        live::DEFAULT_BUFFER,
    )
    .with_send_timeout(Duration::from_secs(config.live_send_timeout_secs))
    .with_lifecycle(lifecycle.clone());
    // The one writer of seat state, shared by holds, checkout and staff.
    let seats = SeatWriter::spawn(store.clone(), live.clone());
    let staff = Staff::new(
        store.clone(),
        seats.clone(),
        clock.clone(),
        ticket_signer.clone(),
    );
    let state = AppState::new(Services {
        leptos_options,
        inventory: Inventory::new(
            store.clone(),
            seats.clone(),
            clock.clone(),
            live.clone(),
            client_limits.clone(),
        ),
        live,
        catalog,
        checkout: Checkout::new(
            store.clone(),
            seats,
            clock,
            gateway,
            ticket_signer.clone(),
            accounts.clone(),
        )
        .with_late_payment_watch(Duration::from_secs(config.late_payment_watch_hours * 3600))
        .with_card_form(config.card_form())
        .with_deadlines(deadlines)
        .with_webhook_secret(
            config
                .stripe_webhook_secret
                .clone()
                .map(crate::payments::webhook::WebhookSecret::new),
        ),
        store,
        home_cache: HomeCache::new(Duration::from_secs(config.home_cache_seconds)),
        staff,
        accounts,
        ticket_signer,
        client_limits,
        queue,
        lifecycle,
        mail,
    });
    if seeded_demo {
        create_demo_admin(&state).await?;
    }
    spawn_workers(config, &state);
    let request_timeout = Duration::from_secs(config.request_timeout_secs);
    Ok((router(state.clone(), request_timeout), state))
}

/// Connects and migrates; in demo mode seeds a fresh database (whether it
/// did is the second value). Outside demo mode nothing is ever seeded: a
/// deployment starts empty.
async fn open_store(config: &Config) -> Result<(Store, bool), StartError> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let seeded =
        config.demo && demo::seed_if_empty(&store, now_ms(), config.demo_hold_seconds).await?;
    Ok((store, seeded))
}

/// Demo mode's admin, whose password is public (see the README).
async fn create_demo_admin(state: &AppState) -> Result<(), StartError> {
    state
        .staff
        .create_account(
            demo::DEMO_ADMIN_EMAIL,
            demo::DEMO_ADMIN_PASSWORD.to_string(),
            "Demo admin",
            app::types::Role::Admin,
        )
        .await
        .map_err(StartError::DemoAdmin)?;
    tracing::info!("fresh database: demo data seeded");
    tracing::warn!(
        admin = demo::DEMO_ADMIN_EMAIL,
        "the demo data has an admin whose password is in the README: demo mode is for \
         local use only"
    );
    Ok(())
}

/// The server's background work, each turned off by a zero setting: the
/// hold sweeper, the payment reconciler, the waiting rooms' ticker, the
/// email sender and the live channel's pump.
fn spawn_workers(config: &Config, state: &AppState) {
    if config.sweep_every_ms > 0 {
        sweeper::spawn(
            state.inventory.clone(),
            Duration::from_millis(config.sweep_every_ms),
        );
    }
    if config.reconcile_every_secs > 0 {
        checkout::spawn_reconciler(
            state.checkout.clone(),
            Duration::from_secs(config.reconcile_every_secs),
        );
    }
    if config.queue_tick_ms > 0 {
        queue::spawn_ticker(
            state.queue.clone(),
            Duration::from_millis(config.queue_tick_ms),
        );
    }
    if config.mail_poll_ms > 0 {
        state
            .mail
            .clone()
            .spawn(Duration::from_millis(config.mail_poll_ms));
    }
    state.live.spawn_pump();
}

/// The outbox's sender: SMTP when `TESSERA_SMTP_URL` is set (in every
/// mode), otherwise the log — with the messages' links in demo mode, and
/// only a warning per message in production, where a link in a log would
/// be a key in a log.
fn mail_worker(
    config: &Config,
    store: &Store,
    links: &LinkKeys,
    leptos_options: &LeptosOptions,
    clock: &Clock,
) -> Result<MailWorker, StartError> {
    let mailer = match &config.smtp_url {
        Some(url) => Mailer::smtp(url, &config.mail_from).map_err(StartError::Config)?,
        None => {
            if !config.demo {
                tracing::warn!(
                    "no TESSERA_SMTP_URL: emails (tickets, links) are not sent, only logged"
                );
            }
            Mailer::log(config.demo)
        }
    };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", leptos_options.site_addr));
    let renderer = Renderer {
        store: store.clone(),
        keys: links.clone(),
        public_url: public_url.trim_end_matches('/').to_string(),
    };
    Ok(MailWorker::new(renderer, Arc::new(mailer), clock.clone()))
}

/// The whole HTTP surface. Outermost first, every request is searched for
/// card numbers (before anything logs it), logged and counted, given the
/// security headers, compressed, given the session key, has the framework's
/// refusals turned into JSON errors, is cut off after `request_timeout`,
/// has its body limited and is checked for cross-site forgery.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    // Before the first request, so no metric recorded before it is lost.
    observe::metrics_handle();
    let session_key = SessionKey::new(state.ticket_signer.derive_secret("tessera session ids v1"));
    let backend: SharedBackend = Arc::new(state.catalog.clone());
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            page_routes(),
            move || provide_context(backend.clone()),
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.home_cache.clone(),
            serve_cached_home,
        ))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell));

    Router::new()
        .merge(catalog::routes::router())
        .merge(inventory::routes::router())
        .merge(checkout::routes::router())
        .merge(checkout::webhook::router())
        .merge(live::routes::router())
        .merge(accounts::routes::router())
        .merge(tickets::router())
        .merge(staff::routes::router())
        .merge(queue::routes::router())
        .route("/api/openapi.json", get(openapi))
        .route("/api/{*rest}", any(api_not_found))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(observe::metrics_endpoint))
        .nest_service("/pkg", static_files(&state.leptos_options))
        .merge(pages)
        .route_layer(axum::middleware::from_fn(observe::record_route))
        .layer(axum::middleware::from_fn(csrf::refuse_cross_site))
        .layer(RequestBodyLimitLayer::new(limits::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            limits::time_limit,
        ))
        .layer(axum::middleware::from_fn(
            crate::error::json_framework_errors,
        ))
        .layer(Extension(session_key))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            headers::SecurityHeaders {
                trusted: state.client_limits.trusted_proxies().clone(),
                content_security_policy: headers::content_security_policy(
                    state.checkout.card_form(),
                ),
            },
            headers::security_headers,
        ))
        .layer(axum::middleware::from_fn(observe::access_log))
        // Outside the request log: a card number is never logged.
        .layer(axum::middleware::from_fn(card_guard::refuse_card_numbers))
        .with_state(state)
}

/// The build's files under `/pkg` (the wasm bundle, its JS glue, the
/// stylesheet), sent as the `.br` or `.gz` that `cargo leptos build
/// --release --precompress` wrote beside each, when the client accepts it,
/// and cached for ever when their names are hashed.
fn static_files(options: &LeptosOptions) -> Router {
    let dir = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    Router::new()
        .fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip())
        .layer(axum::middleware::from_fn_with_state(
            options.hash_files,
            headers::static_cache,
        ))
}

/// The page routes, listed once per process.
///
/// Listing runs the app with resource loading suppressed through a
/// process-wide flag (leptos-rs/leptos#4773): a resource first polled while
/// any listing runs never resolves, and its page hangs. A server builds one
/// router, but tests build many, in parallel, while other servers render
/// pages; listing once, before any router exists, closes that window.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&CommonResponses, &Contract),
    info(
        title = "Tessera API",
        description = "Ticket sales: events, seats, holds, purchases."
    ),
    paths(
        catalog::routes::list_events,
        catalog::routes::event_detail,
        live::routes::seat_map,
        live::routes::event_layout,
        live::routes::layout,
        inventory::routes::create_hold,
        inventory::routes::get_hold,
        inventory::routes::release_hold,
        inventory::routes::extend_hold,
        checkout::routes::purchase,
        checkout::routes::purchase_view,
        checkout::routes::refund,
        checkout::routes::payment_config,
        checkout::webhook::stripe_webhook,
        live::routes::live,
        accounts::routes::register,
        accounts::routes::login,
        accounts::routes::logout,
        accounts::routes::confirm,
        accounts::routes::request_password_reset,
        accounts::routes::reset_password,
        accounts::routes::me,
        accounts::routes::change_password,
        accounts::routes::save_payment_method,
        accounts::routes::delete_payment_method,
        accounts::routes::my_tickets,
        tickets::public_key,
        tickets::qr_code,
        staff::routes::stats,
        staff::routes::live,
        staff::routes::block_seats,
        staff::routes::scan,
        staff::routes::resend_tickets,
        staff::routes::create_staff,
        staff::routes::find_user,
        staff::routes::update_user,
        staff::routes::create_venue,
        staff::routes::create_event,
        staff::routes::update_event,
        queue::routes::configure,
        queue::routes::staff_settings,
        queue::routes::pause,
        queue::routes::resume,
        queue::routes::join,
        queue::routes::status,
        queue::routes::draw_audit,
        queue::routes::challenge,
    )
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Readiness: 200 while this instance should be sent traffic (the
/// database answers and it is not shutting down), 503 otherwise.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let stopping = state.lifecycle.is_stopping();
    let database = state.store.ping().await;
    let ready = !stopping && database.is_ok();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({
            "status": if ready { "ready" } else { "not_ready" },
            "database": if database.is_ok() { "ok" } else { "unavailable" },
            "stopping": stopping,
        })),
    )
}

/// Liveness: 200 when the database answers, 503 otherwise.
async fn healthz(State(store): State<Store>) -> impl IntoResponse {
    match store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ok", "database": store.backend_name()})),
        ),
        Err(error) => {
            tracing::error!(%error, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    serde_json::json!({"status": "unavailable", "database": store.backend_name()}),
                ),
            )
        }
    }
}
