//! Configuration from the environment (or flags), with secrets redacted.

use crate::store::redact_url;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::ValueEnum;
use std::fmt;

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

    /// How often purchases left pending by a crash are settled against the
    /// payment provider (also once at start-up); 0 turns it off.
    #[arg(long, env = "TESSERA_RECONCILE_SECONDS", default_value_t = 30)]
    pub reconcile_every_secs: u64,

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
            .field("demo", &self.demo)
            .field("test_payments", &self.test_payments)
            .field("demo_hold_seconds", &self.demo_hold_seconds)
            .field("home_cache_seconds", &self.home_cache_seconds)
            .field("sweep_every_ms", &self.sweep_every_ms)
            .field("reconcile_every_secs", &self.reconcile_every_secs)
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

impl Config {
    /// Defaults for tests and tools: the given database, no demo data, the
    /// built-in test gateway (so tests can buy with test cards), and no
    /// background sweeping or reconciliation (tests call them when they mean
    /// to, so a background run never races an assertion).
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            demo: false,
            test_payments: true,
            demo_hold_seconds: 300,
            home_cache_seconds: 60,
            sweep_every_ms: 0,
            reconcile_every_secs: 0,
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

    /// The start-up line's facts: mode, database (password redacted),
    /// payment processor and mail delivery.
    pub fn summary(&self) -> String {
        format!(
            "mode={} database={} payments={} mail={}",
            if self.demo { "demo" } else { "production" },
            redact_url(&self.database_url),
            self.payment_processor().as_str(),
            self.mail
                .to_possible_value()
                .map(|value| value.get_name().to_string())
                .unwrap_or_default(),
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
}
