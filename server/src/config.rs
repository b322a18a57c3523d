//! Configuration from the environment (or flags), with secrets redacted.

use crate::net::{LimitSettings, TrustedProxies};
use crate::store::redact_url;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::ValueEnum;
use ipnet::IpNet;
use std::fmt;
use std::num::NonZeroU32;

// Per-address defaults, for a real onsale: see the README's configuration
// table for why these numbers.
const HOLDS_PER_MINUTE: NonZeroU32 = non_zero(120);
const SESSIONS_PER_MINUTE: NonZeroU32 = non_zero(60);
const REGISTRATIONS_PER_HOUR: NonZeroU32 = non_zero(20);
/// A campus or office NAT of fans joining one onsale, at a minute.
const QUEUE_JOINS_PER_MINUTE: NonZeroU32 = non_zero(60);

const fn non_zero(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => panic!("a rate of zero"),
    }
}

/// Server settings. The listen address comes from `LEPTOS_SITE_ADDR`
/// (read by Leptos), everything else from here.
///
/// Production is the default: a fresh database starts empty, nobody can
/// sign in until an operator creates the first admin (`server admin
/// create`), and nothing can be bought until a payment processor is
/// configured. Demo mode (`TESSERA_DEMO=1`, for development, tests and
/// benchmarks) seeds demo data with a demo admin and takes test cards.
#[derive(Clone, clap::Args)]
pub struct Config {
    /// `sqlite://path/to/file.db` (embedded, the default) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/tessera.db")]
    pub database_url: String,

    /// Demo and development mode: a fresh database is seeded with the demo
    /// venues, events and admin (whose password is public), and without a
    /// processor configured payments go to the built-in test gateway. Never
    /// on a server others can reach.
    #[arg(
        long,
        env = "TESSERA_DEMO",
        default_value = "0",
        num_args = 0..=1,
        default_missing_value = "1",
        value_parser = PossibleValuesParser::new(["1", "0", "true", "false"])
            .map(|value| value == "1" || value == "true"),
    )]
    pub demo: bool,

    /// Not a setting: lets tests and tools use the built-in test gateway
    /// without demo mode's data (see [`Config::for_database`]).
    #[arg(skip)]
    pub test_payments: bool,

    /// Demo mode: hold length of the seeded demo events, in seconds (the
    /// end2end suite shortens it to watch holds expire).
    #[arg(long, env = "TESSERA_DEMO_HOLD_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(i64).range(1..=3600))]
    pub demo_hold_seconds: i64,

    /// How long the cached home page may be served before it is rendered again.
    #[arg(long, env = "TESSERA_HOME_CACHE_SECONDS", default_value_t = 60)]
    pub home_cache_seconds: u64,

    /// How often expired holds are swept back on sale, in milliseconds; 0
    /// turns the sweeper off (lazy reclaim still frees expired seats).
    #[arg(long, env = "TESSERA_SWEEP_MS", default_value_t = 500)]
    pub sweep_every_ms: u64,

    /// How often each server runs the waiting rooms' admission step (the
    /// draw at the onsale, admissions at each event's pace, expiries), in
    /// milliseconds; 0 turns it off. Several servers may all run it.
    #[arg(long, env = "TESSERA_QUEUE_TICK_MS", default_value_t = 1000)]
    pub queue_tick_ms: u64,

    /// New waiting-room joins one client address may make per minute.
    #[arg(long, env = "TESSERA_ADDRESS_QUEUE_JOINS_PER_MINUTE", default_value_t = QUEUE_JOINS_PER_MINUTE)]
    pub address_queue_joins_per_minute: NonZeroU32,

    /// How often the reconciler settles what a crash or a lost reply left
    /// open (pending purchases, unfinished refunds, late payments), in
    /// seconds (also once at start-up); 0 turns it off.
    #[arg(long, env = "TESSERA_RECONCILE_SECONDS", default_value_t = 30)]
    pub reconcile_every_secs: u64,

    /// How long a call to the payment processor may take, in seconds; one
    /// that has not answered by then has an unknown outcome (the purchase
    /// stays pending for a retry or the reconciler).
    #[arg(long, env = "TESSERA_PROCESSOR_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub processor_timeout_secs: u64,

    /// How long after its last attempt began a pending purchase is left to
    /// the reconciler, in seconds: at least twice the processor timeout (a
    /// retry makes two calls), and below the 120-second payment grace.
    #[arg(long, env = "TESSERA_RECONCILE_AFTER_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..=119))]
    pub reconcile_after_secs: u64,

    /// How long a failed purchase whose payment could still succeed late
    /// (its confirmation was in flight when it was settled) is watched, in
    /// hours; a late success is refunded.
    #[arg(long, env = "TESSERA_LATE_PAYMENT_WATCH_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=720))]
    pub late_payment_watch_hours: u64,

    /// Built-in test gateway (demo mode): added latency per call, in milliseconds.
    #[arg(long, env = "TESSERA_PAYMENT_LATENCY_MS", default_value_t = 0)]
    pub payment_latency_ms: u64,

    /// Built-in test gateway (demo mode): share of charges that fail transiently (0 to 1).
    #[arg(long, env = "TESSERA_PAYMENT_FAULT_RATE", default_value_t = 0.0)]
    pub payment_fault_rate: f64,

    /// Stripe secret key: payments go to Stripe. Without it (or another
    /// processor) a production server sells nothing: purchases answer
    /// `503 payments_not_configured`.
    #[arg(long, env = "TESSERA_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,

    /// Stripe publishable key (`pk_…`): with it (and the secret key) the
    /// checkout takes cards in Stripe's Payment Element, 3-D Secure
    /// included; without it, buyers pay with a token.
    #[arg(long, env = "TESSERA_STRIPE_PUBLISHABLE_KEY")]
    pub stripe_publishable_key: Option<String>,

    /// Where the checkout page loads Stripe.js from (a stand-in in tests).
    #[arg(
        long,
        env = "TESSERA_STRIPE_JS_URL",
        default_value = "https://js.stripe.com/v3/"
    )]
    pub stripe_js_url: String,

    /// Stripe API base URL (a local stand-in in tests).
    #[arg(long, env = "TESSERA_STRIPE_API_BASE", default_value = crate::payments::stripe::DEFAULT_API_BASE)]
    pub stripe_api_base: String,

    /// The signing secret (`whsec_…`) of the Stripe webhook endpoint that
    /// points at `POST /api/webhooks/stripe`. Without it that endpoint
    /// answers `404` and payments are settled by the buyer's own request
    /// and the reconciler only.
    #[arg(long, env = "TESSERA_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<String>,

    /// Ed25519 seed (64 hex characters) that signs ticket codes. Servers
    /// sharing one database must share it. Unset: the key file below.
    #[arg(long, env = "TESSERA_TICKET_KEY", hide_env_values = true)]
    pub ticket_key: Option<String>,

    /// Where the ticket signing key is kept when `TESSERA_TICKET_KEY` is
    /// unset; created on first start.
    #[arg(
        long,
        env = "TESSERA_TICKET_KEY_FILE",
        default_value = "data/ticket-signing.key"
    )]
    pub ticket_key_file: std::path::PathBuf,

    /// The SMTP server that sends email: `smtp://user:pass@host:port`
    /// (unencrypted, for a relay on the same host), `smtp://…?starttls=true`
    /// (STARTTLS required) or `smtps://…:465` (TLS). Unset: email is written
    /// to the log instead (in demo mode with its links; otherwise only who
    /// it was for, with a warning: nothing reaches the buyer).
    #[arg(long, env = "TESSERA_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of every email.
    #[arg(
        long,
        env = "TESSERA_MAIL_FROM",
        default_value = "Tessera <tickets@localhost>"
    )]
    pub mail_from: String,

    /// The site's address as buyers reach it (the base of links in emails),
    /// e.g. `https://tickets.example.com`. Unset: `http://` and the listen
    /// address, which only works on this machine.
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// How often each server looks for email to send (letters written by
    /// any server, retries coming due), in milliseconds; 0 turns sending off.
    #[arg(long, env = "TESSERA_MAIL_POLL_MS", default_value_t = 1000)]
    pub mail_poll_ms: u64,

    /// How long an email confirmation (or claim) link works, in hours.
    #[arg(long, env = "TESSERA_CONFIRM_LINK_HOURS", default_value_t = 24, value_parser = clap::value_parser!(i64).range(1..=24 * 30))]
    pub confirm_link_hours: i64,

    /// Our own proxies and load balancers (comma-separated CIDRs or
    /// addresses): only from these is `X-Forwarded-For` believed.
    #[arg(long, env = "TESSERA_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<IpNet>,

    /// `off` turns the per-address caps and rates off (load tests and
    /// benchmarks from one address only); the per-buyer limit stays.
    #[arg(long, env = "TESSERA_CLIENT_LIMITS", value_enum, default_value = "on")]
    pub client_limits: Switch,

    /// Seats one client address may hold at once in one event.
    #[arg(long, env = "TESSERA_ADDRESS_SEATS_PER_EVENT", default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
    pub address_seats_per_event: i64,

    /// New holds one client address may start per minute (all at once, then
    /// spread over the minute).
    #[arg(long, env = "TESSERA_ADDRESS_HOLDS_PER_MINUTE", default_value_t = HOLDS_PER_MINUTE)]
    pub address_holds_per_minute: NonZeroU32,

    /// New buyer sessions (holds from browsers without a session cookie)
    /// one client address may start per minute.
    #[arg(long, env = "TESSERA_ADDRESS_SESSIONS_PER_MINUTE", default_value_t = SESSIONS_PER_MINUTE)]
    pub address_sessions_per_minute: NonZeroU32,

    /// Registrations one client address may make per hour.
    #[arg(long, env = "TESSERA_ADDRESS_REGISTRATIONS_PER_HOUR", default_value_t = REGISTRATIONS_PER_HOUR)]
    pub address_registrations_per_hour: NonZeroU32,

    /// Failed sign-ins per account in 15 minutes before it is locked for
    /// the rest of the window.
    #[arg(long, env = "TESSERA_SIGN_IN_FAILURES_PER_ACCOUNT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_failures_per_account: u32,

    /// Failed sign-ins per client address in 15 minutes, whatever the
    /// accounts (password spraying).
    #[arg(long, env = "TESSERA_SIGN_IN_FAILURES_PER_ADDRESS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_failures_per_address: u32,

    /// Seconds a client has to send a request's headers (also how long an
    /// idle kept-alive connection stays open).
    #[arg(long, env = "TESSERA_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_secs: u64,

    /// Seconds a request may take to be answered before it gets a 503
    /// (WebSockets excepted).
    #[arg(long, env = "TESSERA_REQUEST_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Connections open at once, live WebSockets included; more wait to be
    /// accepted.
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS", default_value_t = 25_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_connections: usize,

    /// Seconds a live viewer's socket may stay blocked (the viewer stopped
    /// reading) before the viewer is dropped.
    #[arg(long, env = "TESSERA_LIVE_SEND_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub live_send_timeout_secs: u64,

    /// Also serve `GET /metrics` on this address (e.g. `127.0.0.1:9464`),
    /// from a thread of its own, so a scrape is answered promptly under
    /// load and can be kept off the public listener's network.
    #[arg(long, env = "TESSERA_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Log lines as human-readable text, or one JSON object per line for a
    /// log collector.
    #[arg(long, env = "TESSERA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// A CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address.
fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not a CIDR (10.0.0.0/8) or an IP address"))
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("demo", &self.demo)
            .field("test_payments", &self.test_payments)
            .field("demo_hold_seconds", &self.demo_hold_seconds)
            .field("home_cache_seconds", &self.home_cache_seconds)
            .field("sweep_every_ms", &self.sweep_every_ms)
            .field("queue_tick_ms", &self.queue_tick_ms)
            .field(
                "address_queue_joins_per_minute",
                &self.address_queue_joins_per_minute,
            )
            .field("reconcile_every_secs", &self.reconcile_every_secs)
            .field("processor_timeout_secs", &self.processor_timeout_secs)
            .field("reconcile_after_secs", &self.reconcile_after_secs)
            .field("late_payment_watch_hours", &self.late_payment_watch_hours)
            .field("payment_latency_ms", &self.payment_latency_ms)
            .field("payment_fault_rate", &self.payment_fault_rate)
            .field(
                "stripe_secret_key",
                &self.stripe_secret_key.as_ref().map(|_| "***"),
            )
            .field("stripe_api_base", &self.stripe_api_base)
            .field("stripe_publishable_key", &self.stripe_publishable_key)
            .field("stripe_js_url", &self.stripe_js_url)
            .field(
                "stripe_webhook_secret",
                &self.stripe_webhook_secret.as_ref().map(|_| "***"),
            )
            .field("ticket_key", &self.ticket_key.as_ref().map(|_| "***"))
            .field("ticket_key_file", &self.ticket_key_file)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_from", &self.mail_from)
            .field("public_url", &self.public_url)
            .field("mail_poll_ms", &self.mail_poll_ms)
            .field("confirm_link_hours", &self.confirm_link_hours)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("client_limits", &self.client_limits)
            .field("address_seats_per_event", &self.address_seats_per_event)
            .field("address_holds_per_minute", &self.address_holds_per_minute)
            .field(
                "address_sessions_per_minute",
                &self.address_sessions_per_minute,
            )
            .field(
                "address_registrations_per_hour",
                &self.address_registrations_per_hour,
            )
            .field(
                "sign_in_failures_per_account",
                &self.sign_in_failures_per_account,
            )
            .field(
                "sign_in_failures_per_address",
                &self.sign_in_failures_per_address,
            )
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("max_connections", &self.max_connections)
            .field("live_send_timeout_secs", &self.live_send_timeout_secs)
            .field("metrics_addr", &self.metrics_addr)
            .field("log_format", &self.log_format)
            .finish()
    }
}

/// Where payments go, as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentProcessor {
    /// Stripe, with the configured secret key.
    Stripe,
    /// The built-in test gateway: test cards only, no money moves.
    TestGateway,
    /// None: nothing can be bought.
    None,
}

impl PaymentProcessor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::TestGateway => "test-gateway",
            Self::None => "none",
        }
    }
}

/// The ticket key of test servers: one per database, so servers on one
/// database share it, as deployed servers must (a test that restarts its
/// server keeps its sessions and tickets), and unrelated tests do not.
fn test_ticket_key(database_url: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::session::hex(&Sha256::digest(format!(
        "tessera test ticket key {database_url}"
    )))
}

impl Config {
    /// Defaults for tests and tools: the given database, no demo data, the
    /// built-in test gateway (so tests can buy with test cards), and no
    /// background sweeping or reconciliation (tests call them when they mean
    /// to, so a background run never races an assertion).
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let database_url = database_url.into();
        Self {
            ticket_key: Some(test_ticket_key(&database_url)),
            database_url,
            demo: false,
            test_payments: true,
            demo_hold_seconds: 300,
            home_cache_seconds: 60,
            sweep_every_ms: 0,
            queue_tick_ms: 0,
            address_queue_joins_per_minute: QUEUE_JOINS_PER_MINUTE,
            reconcile_every_secs: 0,
            processor_timeout_secs: 30,
            reconcile_after_secs: 60,
            late_payment_watch_hours: 24,
            payment_latency_ms: 0,
            payment_fault_rate: 0.0,
            stripe_secret_key: None,
            stripe_api_base: crate::payments::stripe::DEFAULT_API_BASE.to_string(),
            stripe_webhook_secret: None,
            stripe_publishable_key: None,
            stripe_js_url: "https://js.stripe.com/v3/".into(),
            ticket_key_file: std::path::PathBuf::from("data/ticket-signing.key"),
            smtp_url: None,
            mail_from: "Tessera <tickets@localhost>".into(),
            public_url: None,
            mail_poll_ms: 200,
            confirm_link_hours: 24,
            trusted_proxies: Vec::new(),
            // On, as deployed: tests that fire from one address on purpose
            // turn them off.
            client_limits: Switch::On,
            address_seats_per_event: 100,
            address_holds_per_minute: HOLDS_PER_MINUTE,
            address_sessions_per_minute: SESSIONS_PER_MINUTE,
            address_registrations_per_hour: REGISTRATIONS_PER_HOUR,
            sign_in_failures_per_account: 10,
            sign_in_failures_per_address: 100,
            header_read_timeout_secs: 10,
            request_timeout_secs: 30,
            max_connections: 25_000,
            live_send_timeout_secs: 10,
            metrics_addr: None,
            log_format: LogFormat::Text,
        }
    }

    /// New queue joins per address and minute; `None` when per-address
    /// limits are off.
    pub fn queue_joins_per_minute(&self) -> Option<NonZeroU32> {
        (self.client_limits == Switch::On).then_some(self.address_queue_joins_per_minute)
    }

    /// The per-address limits as configured.
    pub fn limit_settings(&self) -> LimitSettings {
        LimitSettings {
            enabled: self.client_limits == Switch::On,
            seats_per_event: self.address_seats_per_event,
            holds_per_minute: self.address_holds_per_minute,
            sessions_per_minute: self.address_sessions_per_minute,
            registrations_per_hour: self.address_registrations_per_hour,
        }
    }

    pub fn trusted_proxy_list(&self) -> TrustedProxies {
        TrustedProxies::new(self.trusted_proxies.clone())
    }

    /// The same settings with the per-address limits off.
    pub fn without_client_limits(mut self) -> Self {
        self.client_limits = Switch::Off;
        self
    }

    /// [`Config::for_database`] as a production server has it when no
    /// processor is configured: no test gateway, so nothing can be bought.
    pub fn production_for_database(database_url: impl Into<String>) -> Self {
        Self {
            test_payments: false,
            ..Self::for_database(database_url)
        }
    }

    /// Where payments go: a configured processor first; else the test
    /// gateway in demo mode (or for tests); else nowhere.
    pub fn payment_processor(&self) -> PaymentProcessor {
        if self.stripe_secret_key.is_some() {
            PaymentProcessor::Stripe
        } else if self.demo || self.test_payments {
            PaymentProcessor::TestGateway
        } else {
            PaymentProcessor::None
        }
    }

    /// Stripe's card form, when Stripe takes the payments and a publishable
    /// key is configured.
    pub fn card_form(&self) -> Option<crate::checkout::CardForm> {
        let publishable_key = self.stripe_publishable_key.clone()?;
        (self.payment_processor() == PaymentProcessor::Stripe).then(|| crate::checkout::CardForm {
            publishable_key,
            js_url: self.stripe_js_url.clone(),
            api_base: self.stripe_api_base.clone(),
        })
    }

    /// The start-up line's facts: mode, database (password redacted),
    /// payment processor and mail delivery.
    pub fn summary(&self) -> String {
        format!(
            "mode={} database={} payments={} mail={}",
            if self.demo { "demo" } else { "production" },
            redact_url(&self.database_url),
            self.payment_processor().as_str(),
            if self.smtp_url.is_some() {
                "smtp"
            } else {
                "log"
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        config: Config,
    }

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Flags::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
            .map(|flags| flags.config)
    }

    #[test]
    fn demo_mode_is_one_or_true_and_nothing_vaguer() {
        for on in ["--demo", "--demo=1", "--demo=true"] {
            assert!(parse(&[on]).expect(on).demo, "{on}");
        }
        for off in ["--demo=0", "--demo=false"] {
            assert!(!parse(&[off]).expect(off).demo, "{off}");
        }
        assert!(parse(&["--demo=yes"]).is_err());
    }

    #[test]
    fn payments_go_to_a_configured_processor_else_the_test_gateway_only_in_demo_mode() {
        let production = Config::production_for_database("sqlite://x.db");
        assert_eq!(production.payment_processor(), PaymentProcessor::None);
        let demo = Config {
            demo: true,
            ..production.clone()
        };
        assert_eq!(demo.payment_processor(), PaymentProcessor::TestGateway);
        let stripe = Config {
            stripe_secret_key: Some("sk_test_123".into()),
            ..demo
        };
        assert_eq!(stripe.payment_processor(), PaymentProcessor::Stripe);
        assert_eq!(
            Config::for_database("sqlite://x.db").payment_processor(),
            PaymentProcessor::TestGateway
        );
    }

    #[test]
    fn the_start_up_summary_names_mode_database_and_payments_without_secrets() {
        let config = Config {
            stripe_secret_key: Some("sk_live_secret".into()),
            ..Config::production_for_database("postgres://app:hunter2@db/tessera")
        };
        assert_eq!(
            config.summary(),
            "mode=production database=postgres://app:***@db/tessera payments=stripe mail=log"
        );
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!format!("{config:?}").contains("sk_live_secret"));
    }

    #[test]
    fn trusted_proxies_take_cidrs_and_single_addresses_and_refuse_anything_else() {
        let config = parse(&[
            "--trusted-proxies",
            "10.0.0.0/8, 192.0.2.7,fd00::/8",
            "--client-limits",
            "off",
        ])
        .expect("parses");
        let proxies = config.trusted_proxy_list();
        assert!(proxies.contains("10.1.2.3".parse().expect("ip")));
        assert!(proxies.contains("192.0.2.7".parse().expect("ip")));
        assert!(!proxies.contains("192.0.2.8".parse().expect("ip")));
        assert!(proxies.contains("fd12::1".parse().expect("ip")));
        assert!(!config.limit_settings().enabled);
        assert!(parse(&["--trusted-proxies", "10.0.0.0/8,lb"]).is_err());
        assert!(parse(&["--address-holds-per-minute", "0"]).is_err());
    }

    #[test]
    fn client_limits_are_on_by_default_for_servers_and_tests() {
        let parsed = parse(&[]).expect("parses");
        let for_tests = Config::for_database("sqlite://x.db");
        assert!(parsed.limit_settings().enabled);
        assert_eq!(parsed.limit_settings(), for_tests.limit_settings());
        assert_eq!(
            (
                parsed.sign_in_failures_per_account,
                parsed.sign_in_failures_per_address,
                parsed.confirm_link_hours
            ),
            (
                for_tests.sign_in_failures_per_account,
                for_tests.sign_in_failures_per_address,
                for_tests.confirm_link_hours
            )
        );
    }
}
