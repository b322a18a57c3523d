//! Test harness: a real server on a free port with a fresh database per test.
//! SQLite by default; PostgreSQL when `TEST_DATABASE_URL` names a server
//! (a fresh database is created on it for every test).

#![allow(dead_code)] // Not every helper is used in every configuration.

use app::staff::RefundPolicy;
use app::types::{EventId, HoldId, HoldView, Role, SeatMap, SeatStatus, VenueId};
use server::catalog::create::{
    create_event, create_venue, EventSpec, SeatSpec, SectionSpec, TierSpec, VenueSpec,
};
use server::clock::now_ms;
use server::config::Config;
use server::store::Store;
use server::web::build_app;
use server::web::serve::{serve, ServeSettings};
use server::web::state::AppState;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

pub const DAY_MS: i64 = 86_400_000;

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub state: AppState,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Waits until the outbox is empty (sent by the app's worker or by
    /// this call), then the latest email the log mailer sent to `to` whose
    /// text contains `containing`. Not simply the latest: two letters due
    /// at once may be sent in either order (on PostgreSQL `UPDATE …
    /// RETURNING` gives no order, and the app's own worker sends beside
    /// this call), so a guest's tickets can follow a confirmation link.
    pub async fn mailed(&self, to: &str, containing: &str) -> Option<server::mail::Mail> {
        for _ in 0..100 {
            self.state.mail.round().await;
            let unsent = server::mail::outbox::unsent(&self.state.store)
                .await
                .expect("outbox");
            if unsent == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.state.mail.mailer().last_to(to, containing)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        let body = response.json().await.expect("JSON body");
        (status, body)
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber_init();
        }
    });
}

fn tracing_subscriber_init() {
    let _ = tracing::subscriber::set_global_default(tracing_subscriber_fmt());
}

fn tracing_subscriber_fmt() -> impl tracing::Subscriber + Send + Sync {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("debug,sqlx=info,hyper=info"))
        .with_test_writer()
        .finish()
}

/// A database URL no other test uses.
pub async fn fresh_database_url() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let unique = format!(
        "{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        now_ms()
    );
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if admin_url.starts_with("postgres") => {
            let name = format!("tessera_test_{unique}");
            let admin = sqlx::PgPool::connect(&admin_url)
                .await
                .expect("connect to test PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("create test database");
            admin.close().await;
            let (server, _) = admin_url
                .rsplit_once('/')
                .expect("URL with a database path");
            format!("{server}/{name}")
        }
        _ => {
            // In target/tmp, not the system's temporary folder: every run
            // leaves a few hundred of these, and `cargo clean` removes them.
            let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("tessera-test-{unique}.db"));
            format!("sqlite://{}", path.display())
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Config::for_database(fresh_database_url().await)).await
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    launch(config, None).await
}

/// Serves the app built from `config` (with `gateway` for payments, or the
/// one `config` names) on a free port, and waits until it answers.
async fn launch(
    config: Config,
    gateway: Option<std::sync::Arc<dyn server::payments::PaymentGateway>>,
) -> TestApp {
    init_logs();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let options = server::default_leptos_options(addr);
    let built = match gateway {
        Some(gateway) => server::web::build_app_with_gateway(&config, options, gateway).await,
        None => build_app(&config, options).await,
    };
    let (router, state) = built.expect("build app");
    let settings = ServeSettings::from_config(&config);
    tokio::spawn(serve(listener, router, settings, std::future::pending()));
    let app = TestApp {
        base_url: format!("http://{addr}"),
        // A hung response fails its test in seconds instead of hanging CI.
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("HTTP client"),
        state,
    };
    // Ready when the health check answers (no sleeps).
    for _ in 0..100 {
        if let Ok(response) = app.client.get(app.url("/healthz")).send().await {
            if response.status().is_success() {
                return app;
            }
        }
        tokio::task::yield_now().await;
    }
    panic!("server did not become healthy");
}

/// The password test accounts register with.
pub const PASSWORD: &str = "correct horse battery";

/// An app with one show on sale (a small hall's event five days ahead):
/// the app, the event and its seat ids.
pub async fn spawn_app_with_a_show() -> (TestApp, EventId, Vec<i64>) {
    with_a_show(spawn_app().await).await
}

/// [`spawn_app_with_a_show`] whose payments go through `gateway`.
pub async fn spawn_app_with_a_show_and_gateway(
    gateway: std::sync::Arc<dyn server::payments::PaymentGateway>,
) -> (TestApp, EventId, Vec<i64>) {
    with_a_show(spawn_app_with_gateway(fresh_database_url().await, gateway).await).await
}

async fn with_a_show(app: TestApp) -> (TestApp, EventId, Vec<i64>) {
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let seats = seat_ids(&app, event).await;
    (app, event, seats)
}

/// A browser that registered `email` (with [`PASSWORD`]) and is signed in.
pub async fn register<'a>(app: &'a TestApp, email: &str, display_name: &str) -> Buyer<'a> {
    let mut browser = Buyer::new(app);
    let (status, body) = browser
        .send(
            reqwest::Method::POST,
            "/api/auth/register",
            Some(serde_json::json!({
                "email": email, "password": PASSWORD, "display_name": display_name
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    browser
}

/// A small hall: two sections ("Front", "Back") of 2 rows x 5 seats.
pub fn small_hall(name: &str, city: &str) -> VenueSpec {
    let section = |name: &str, y0: f64| SectionSpec {
        name: name.to_string(),
        seats: (0..2)
            .flat_map(|row| {
                (1..=5).map(move |number| SeatSpec {
                    row: ["A", "B"][row].to_string(),
                    number,
                    x: number as f64,
                    y: y0 + row as f64,
                    features: Vec::new(),
                })
            })
            .collect(),
    };
    VenueSpec {
        name: name.to_string(),
        city: city.to_string(),
        sections: vec![section("Front", 0.0), section("Back", 5.0)],
    }
}

pub async fn add_venue(store: &Store, name: &str, city: &str) -> VenueId {
    create_venue(store, &small_hall(name, city))
        .await
        .expect("create venue")
}

/// An event at `venue` starting `days_ahead` days from now, Front at 5000, Back at 3000.
pub async fn add_event(store: &Store, venue: VenueId, name: &str, days_ahead: i64) -> EventId {
    add_event_with(store, venue, name, now_ms() + days_ahead * DAY_MS, |_| {}).await
}

pub async fn add_event_with(
    store: &Store,
    venue: VenueId,
    name: &str,
    starts_at_ms: i64,
    customise: impl FnOnce(&mut EventSpec),
) -> EventId {
    let mut spec = EventSpec {
        venue_id: venue,
        name: name.to_string(),
        description: format!("{name}, live"),
        starts_at_ms,
        onsale_at_ms: now_ms() - DAY_MS,
        hold_seconds: 300,
        max_tickets_per_buyer: 8,
        refund_policy: RefundPolicy::UntilStart,
        tiers: vec![
            TierSpec {
                name: "Front".into(),
                price_cents: 5000,
            },
            TierSpec {
                name: "Back".into(),
                price_cents: 3000,
            },
        ],
        section_tiers: vec![
            ("Front".into(), "Front".into()),
            ("Back".into(), "Back".into()),
        ],
    };
    customise(&mut spec);
    create_event(store, &spec).await.expect("create event")
}

/// The password of accounts made by [`signed_in_member`].
pub const MEMBER_PASSWORD: &str = "correct horse battery";

/// Signs in an account made directly in the store with `role`, as the demo
/// seed makes its admin.
pub async fn signed_in_member<'a>(app: &'a TestApp, email: &str, role: Role) -> Buyer<'a> {
    app.state
        .staff
        .create_account(email, MEMBER_PASSWORD.into(), "Member", role)
        .await
        .expect("account");
    let mut member = Buyer::new(app);
    let (status, body) = member
        .send(
            reqwest::Method::POST,
            "/api/auth/login",
            Some(serde_json::json!({"email": email, "password": MEMBER_PASSWORD})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    member
}

/// A buyer with their own session cookie (set by the first response that
/// creates one), talking to the app over HTTP.
pub struct Buyer<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
}

impl<'a> Buyer<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self { app, cookie: None }
    }

    pub async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.app.client.request(method, self.app.url(path));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        if let Some(set_cookie) = response.headers().get("set-cookie") {
            let pair = set_cookie
                .to_str()
                .expect("ascii cookie")
                .split(';')
                .next()
                .expect("pair");
            self.cookie = Some(pair.to_string());
        }
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, json)
    }

    pub async fn hold(&mut self, event: EventId, seat_ids: &[i64]) -> (u16, serde_json::Value) {
        self.send(
            reqwest::Method::POST,
            &format!("/api/events/{event}/holds"),
            Some(serde_json::json!({ "seat_ids": seat_ids })),
        )
        .await
    }

    /// Holds `seat_ids`, which must succeed (201): the hold as its buyer sees it.
    pub async fn held(&mut self, event: EventId, seat_ids: &[i64]) -> HoldView {
        let (status, body) = self.hold(event, seat_ids).await;
        assert_eq!(status, 201, "{body}");
        serde_json::from_value(body).expect("hold view")
    }
}

/// An event's seat map (its version and its seats, in map order).
pub async fn seat_map(app: &TestApp, event: EventId) -> SeatMap {
    let (status, body) = app.get_json(&format!("/api/events/{event}/seats")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).expect("seat map")
}

/// The ids of an event's seats, in map order.
pub async fn seat_ids(app: &TestApp, event: EventId) -> Vec<i64> {
    seat_map(app, event)
        .await
        .seats
        .into_iter()
        .map(|seat| seat.id.0)
        .collect()
}

/// An app with `config` paying through the Stripe stand-in, one event five
/// days ahead in a small hall, and that event's seat ids.
pub async fn stripe_app_with(
    stripe: &stripe_stand_in::StripeStandIn,
    config: Config,
) -> (TestApp, EventId, Vec<i64>) {
    let gateway =
        server::payments::stripe::StripeGateway::new(&stripe.base_url, stripe_stand_in::SECRET_KEY)
            .expect("client");
    with_a_show(spawn_app_with_config_and_gateway(config, std::sync::Arc::new(gateway)).await).await
}

/// One seat's status on the event's seat map.
pub async fn seat_status(app: &TestApp, event: EventId, seat: i64) -> SeatStatus {
    seat_map(app, event)
        .await
        .seats
        .into_iter()
        .find(|s| s.id.0 == seat)
        .expect("seat")
        .status
}

/// An app whose payments go through `gateway` (kept by the test to inspect).
pub async fn spawn_app_with_gateway(
    database_url: String,
    gateway: std::sync::Arc<dyn server::payments::PaymentGateway>,
) -> TestApp {
    spawn_app_with_config_and_gateway(Config::for_database(database_url), gateway).await
}

/// An app with `config` whose payments go through `gateway`.
pub async fn spawn_app_with_config_and_gateway(
    config: Config,
    gateway: std::sync::Arc<dyn server::payments::PaymentGateway>,
) -> TestApp {
    launch(config, Some(gateway)).await
}

impl Buyer<'_> {
    /// Holds `seats` and pays with `body`: the purchase's status and answer.
    pub async fn buy_with(
        &mut self,
        event: EventId,
        seats: &[i64],
        key: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let hold = self.held(event, seats).await;
        self.purchase_with(hold.hold_id, key, body).await
    }

    /// Holds `seats` and pays with the test card that succeeds: the purchase.
    pub async fn buy(&mut self, event: EventId, seats: &[i64], key: &str) -> serde_json::Value {
        let hold = self.held(event, seats).await;
        let (status, purchase) = self.purchase(hold.hold_id, key, "tok_visa").await;
        assert_eq!(status, 201, "{purchase}");
        purchase
    }

    pub async fn purchase(
        &mut self,
        hold_id: HoldId,
        key: &str,
        token: &str,
    ) -> (u16, serde_json::Value) {
        let body = serde_json::json!({"email": "fan@example.com", "payment": {"token": token}});
        self.purchase_with(hold_id, key, body).await
    }

    /// Pays for a hold with any request body.
    pub async fn purchase_with(
        &mut self,
        hold_id: HoldId,
        key: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .app
            .client
            .post(self.app.url(&format!("/api/holds/{hold_id}/purchase")))
            .header("idempotency-key", key)
            .json(&body);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON"))
    }
}

/// Waits (polling, with a 10 s limit) until `sql`, a query returning one
/// count, reaches `at_least`: for sequencing a test against work in flight.
pub async fn wait_for_count(app: &TestApp, sql: &str, at_least: i64) {
    let poll = async {
        loop {
            let (count,): (i64,) = server::on_pool!(app.store(), pool =>
                sqlx::query_as(sql).fetch_one(pool).await)
            .expect("count");
            if count >= at_least {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), poll)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {sql} to reach {at_least}"));
}
