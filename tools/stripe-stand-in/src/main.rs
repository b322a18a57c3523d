//! `stripe-stand-in --addr 127.0.0.1:0 --latency-ms N --search-lag-ms N
//! [--webhook-url URL --webhook-secret whsec_… --webhook-delay-ms N]`:
//! serves the stand-in until killed. Its first line on stdout is the API
//! base (`http://127.0.0.1:PORT`), once it accepts connections.

use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;
use stripe_stand_in::{Endpoint, Options, StripeStandIn, SECRET_KEY};

#[derive(Parser)]
#[command(
    name = "stripe-stand-in",
    about = "A local stand-in for Stripe's API, for tests"
)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Latency added before every request is carried out, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// How long a new PaymentIntent stays invisible to search, in milliseconds.
    #[arg(long, default_value_t = 0)]
    search_lag_ms: u64,
    /// The secret key requests must carry.
    #[arg(long, default_value = SECRET_KEY)]
    secret_key: String,
    /// Where to send webhook events (none are sent without it).
    #[arg(long, requires = "webhook_secret")]
    webhook_url: Option<String>,
    /// The webhook endpoint's signing secret.
    #[arg(long)]
    webhook_secret: Option<String>,
    /// How long after a change its event is first sent, in milliseconds.
    #[arg(long, default_value_t = 200)]
    webhook_delay_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let options = Options {
        secret_key: args.secret_key,
        latency: Duration::from_millis(args.latency_ms),
        search_lag: Duration::from_millis(args.search_lag_ms),
    };
    let stand_in = StripeStandIn::bind(args.addr, options).await?;
    if let (Some(url), Some(secret)) = (args.webhook_url, args.webhook_secret) {
        stand_in.send_webhooks_to(Endpoint {
            url,
            secret,
            delay: Duration::from_millis(args.webhook_delay_ms),
        });
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", stand_in.base_url)?;
    stdout.flush()?;
    // Serves in the background until the process is stopped.
    std::future::pending::<()>().await;
    Ok(())
}
