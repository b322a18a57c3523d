//! Configuration from the environment (or flags), with secrets redacted.

use crate::store::redact_url;
use clap::{Parser, ValueEnum};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Seed {
    /// Seed the demo venues and events into an empty database.
    Demo,
    /// Start with an empty database.
    None,
}

/// Server settings. The listen address comes from `LEPTOS_SITE_ADDR`
/// (read by Leptos), everything else from here.
#[derive(Clone, Parser)]
#[command(name = "server", about = "Tessera ticketing server")]
pub struct Config {
    /// `sqlite://path/to/file.db` (embedded, the default) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/tessera.db")]
    pub database_url: String,

    /// What a fresh database is seeded with.
    #[arg(long, env = "TESSERA_SEED", value_enum, default_value = "demo")]
    pub seed: Seed,

    /// Hold length of the seeded demo events, in seconds (tests shorten it
    /// to watch holds expire).
    #[arg(long, env = "TESSERA_DEMO_HOLD_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(i64).range(1..=3600))]
    pub demo_hold_seconds: i64,

    /// How long the cached home page may be served before it is rendered again.
    #[arg(long, env = "TESSERA_HOME_CACHE_SECONDS", default_value_t = 60)]
    pub home_cache_seconds: u64,

    /// How often expired holds are swept back on sale, in milliseconds; 0
    /// turns the sweeper off (lazy reclaim still frees expired seats).
    #[arg(long, env = "TESSERA_SWEEP_MS", default_value_t = 500)]
    pub sweep_every_ms: u64,

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

    /// Built-in test payment gateway: added latency per call, in milliseconds.
    #[arg(long, env = "TESSERA_PAYMENT_LATENCY_MS", default_value_t = 0)]
    pub payment_latency_ms: u64,

    /// Built-in test payment gateway: share of charges that fail transiently (0 to 1).
    #[arg(long, env = "TESSERA_PAYMENT_FAULT_RATE", default_value_t = 0.0)]
    pub payment_fault_rate: f64,

    /// Stripe secret key; when set, payments go to Stripe instead of the
    /// built-in test gateway.
    #[arg(long, env = "TESSERA_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,

    /// Stripe API base URL (a local stand-in in tests).
    #[arg(long, env = "TESSERA_STRIPE_API_BASE", default_value = crate::payments::stripe::DEFAULT_API_BASE)]
    pub stripe_api_base: String,

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

    /// Where confirmation emails go: `log` prints them (with their link) to
    /// the server log, for development without a mail server.
    #[arg(long, env = "TESSERA_MAIL", value_enum, default_value = "log")]
    pub mail: MailDelivery,
}

/// How outgoing email is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MailDelivery {
    /// Written to the server log (development).
    Log,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("seed", &self.seed)
            .field("demo_hold_seconds", &self.demo_hold_seconds)
            .field("home_cache_seconds", &self.home_cache_seconds)
            .field("sweep_every_ms", &self.sweep_every_ms)
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
            .field("ticket_key", &self.ticket_key.as_ref().map(|_| "***"))
            .field("ticket_key_file", &self.ticket_key_file)
            .field("mail", &self.mail)
            .finish()
    }
}

impl Config {
    /// Defaults for tests and tools: the given database, no demo data, and no
    /// background sweeping or reconciliation (tests call them when they mean
    /// to, so a background run never races an assertion).
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            seed: Seed::None,
            demo_hold_seconds: 300,
            home_cache_seconds: 60,
            sweep_every_ms: 0,
            reconcile_every_secs: 0,
            processor_timeout_secs: 30,
            reconcile_after_secs: 60,
            late_payment_watch_hours: 24,
            payment_latency_ms: 0,
            payment_fault_rate: 0.0,
            stripe_secret_key: None,
            stripe_api_base: crate::payments::stripe::DEFAULT_API_BASE.to_string(),
            // A fresh key per test server.
            ticket_key: Some(crate::session::hex(&rand::random::<[u8; 32]>())),
            ticket_key_file: std::path::PathBuf::from("data/ticket-signing.key"),
            mail: MailDelivery::Log,
        }
    }
}
