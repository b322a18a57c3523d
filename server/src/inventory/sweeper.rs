//! Active expiry: a background task returns expired holds' seats to sale
//! within about a second, so open seat maps see them free again. Lazy
//! reclaim in the hold statement keeps things correct if this task lags.

use super::Inventory;
use std::time::Duration;

pub fn spawn(inventory: Inventory, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            metrics::counter!("tessera_sweeper_passes_total").increment(1);
            match inventory.sweep_expired().await {
                Ok(0) => {}
                Ok(freed) => {
                    metrics::counter!("tessera_sweeper_seats_freed_total").increment(freed as u64);
                    tracing::debug!(freed, "expired holds swept");
                }
                // Logged by the store layer; try again next tick.
                Err(_) => metrics::counter!("tessera_sweeper_failed_passes_total").increment(1),
            }
        }
    })
}
