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
            match inventory.sweep_expired().await {
                Ok(0) => {}
                Ok(freed) => tracing::debug!(freed, "expired holds swept"),
                // Logged by the store layer; try again next tick.
                Err(_) => {}
            }
        }
    })
}
