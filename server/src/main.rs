//! `server`: serves the Tessera site and API.
//!
//! Run from the workspace root (the site root `target/site` is relative).
//! `LEPTOS_SITE_ADDR` sets the listen address, `DATABASE_URL` the database.

use clap::Parser;
use server::config::Config;
use server::web::build_app;
use server::web::serve::{serve, ServeSettings};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info")),
        )
        .init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::parse();
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
    let addr = leptos_options.site_addr;
    tracing::info!(?config, %addr, "starting");
    let (app, state) = build_app(&config, leptos_options).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    // Header-read timeout, connection cap, connection addresses (they feed
    // sign-in throttling) and graceful shutdown.
    serve(
        listener,
        app,
        ServeSettings::from_config(&config),
        shutdown_signal(),
    )
    .await;
    state.store.close().await;
    tracing::info!("stopped");
    Ok(())
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
