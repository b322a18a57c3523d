//! `server`: serves the Tessera site and API, or runs an operator command
//! (`server admin create …`; see `server --help`).
//!
//! Run from the workspace root (the site root `target/site` is relative).
//! `LEPTOS_SITE_ADDR` sets the listen address, `DATABASE_URL` the database.

use clap::Parser;
use server::cli::Cli;
use server::config::{Config, LogFormat, PaymentProcessor};
use server::web::build_app;
use server::web::serve::{self, ServeSettings};
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// glibc's allocator took a quarter of the server's time in a waiting-room
/// burst on PostgreSQL (malloc, free and their consolidation, by `perf`),
/// and its arenas kept memory the server had let go. See BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long, once stopping, live viewers get to receive their close frame.
const VIEWERS_LEAVE_WITHIN: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match cli.config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Some(command) => Ok(server::cli::run(command, &cli.config).await?),
        None => serve(cli.config).await,
    }
}

/// The one line that says what this server is: its mode, database and
/// payment processor; and a warning where that is not what a public site
/// should be.
fn log_start(config: &Config) {
    tracing::info!("starting: {}", config.summary());
    tracing::debug!(?config, "configuration");
    if std::env::var_os("TESSERA_SEED").is_some() {
        tracing::warn!("TESSERA_SEED is no longer read: demo data comes only with TESSERA_DEMO=1");
    }
    if config.demo {
        tracing::warn!(
            "demo mode (TESSERA_DEMO=1): demo data with a published admin password, and test \
             cards accepted; never run this where others can reach it"
        );
    } else if config.payment_processor() == PaymentProcessor::None {
        tracing::warn!(
            "no payment processor configured (TESSERA_STRIPE_SECRET_KEY): purchases answer \
             503 payments_not_configured"
        );
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    log_start(&config);
    // Every live seat-map viewer holds a socket: raise the open-file soft
    // limit to the hard limit so thousands of viewers are not refused at
    // the default of 1,024.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
    }
    let mut leptos_options = leptos::config::get_configuration(None)?.leptos_options;
    if leptos_options.output_name.is_empty() {
        // Built without cargo-leptos: use the name the workspace metadata gives.
        leptos_options.output_name = "tessera".into();
    }
    // A build with `hash-files` leaves the hashes beside the binary; the
    // pages must then name the hashed files, however the server is started.
    if !leptos_options.hash_files && hash_file_beside_binary(&leptos_options) {
        leptos_options.hash_files = true;
    }
    let addr = leptos_options.site_addr;
    // Installed before anything records a metric.
    server::web::observe::metrics_handle();
    let (app, state) = build_app(&config, leptos_options).await?;
    if let Some(metrics_addr) = config.metrics_addr {
        let bound =
            server::web::observe::spawn_metrics_listener(metrics_addr, state.store.clone())?;
        tracing::info!("metrics on http://{bound}/metrics");
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    // Header-read timeout, connection cap, connection addresses (they feed
    // sign-in throttling) and graceful shutdown.
    let lifecycle = state.lifecycle.clone();
    let stopping = async move {
        shutdown_signal().await;
        tracing::info!("stopping: closing live viewers with 1001, finishing requests in flight");
        lifecycle.begin_shutdown();
    };
    serve::serve(listener, app, ServeSettings::from_config(&config), stopping).await;
    state
        .live
        .wait_for_viewers_to_leave(VIEWERS_LEAVE_WITHIN)
        .await;
    state.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn hash_file_beside_binary(options: &leptos::config::LeptosOptions) -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(options.hash_file.as_ref())))
        .is_some_and(|path| path.is_file())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
