//! What the database says was sold, read back after the run through the
//! server's own store and queries (never SQL of loadgen's own, so a schema
//! change cannot leave the check counting the wrong thing).

use serde::Serialize;
use server::catalog::sales::{oversold_seats, sales_tally};
use server::store::Store;

/// Read back from the database after the run.
#[derive(Serialize)]
pub struct Sold {
    /// Seats of the event whose status is `sold`.
    pub seats_sold: i64,
    /// Seats of the event in any other status.
    pub seats_unsold: i64,
    /// Live (`valid` or `used`) tickets of the event.
    pub live_tickets: i64,
    /// Distinct users with a paid purchase for the event.
    pub distinct_buyers: i64,
}

/// The oversold seats of the whole database, and the event's sales.
pub async fn read_back(
    database_url: &str,
    event: i64,
) -> Result<(i64, Sold), Box<dyn std::error::Error>> {
    let store = Store::connect(database_url).await?;
    let oversold = oversold_seats(&store).await?;
    let tally = sales_tally(&store, event).await?;
    store.close().await;
    Ok((
        oversold,
        Sold {
            seats_sold: tally.seats_sold,
            seats_unsold: tally.seats_unsold,
            live_tickets: tally.live_tickets,
            distinct_buyers: tally.distinct_buyers,
        },
    ))
}
