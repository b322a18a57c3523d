//! Whether this process is shutting down: set once on SIGTERM or ctrl-c,
//! before the accept loop drains. `/readyz` then answers 503 (so a load
//! balancer stops sending new work here), and live viewers are closed with
//! 1001 "going away" so their clients reconnect to another instance.

use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct Lifecycle {
    stopping: Arc<watch::Sender<bool>>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            stopping: Arc::new(watch::channel(false).0),
        }
    }
}

impl Lifecycle {
    pub fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Completes once shutdown has begun (never, if it does not).
    pub async fn stopping(&self) {
        let mut receiver = self.stopping.subscribe();
        // The sender lives as long as `self`: this cannot fail while we wait.
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waiters_wake_when_shutdown_begins_and_later_waiters_return_at_once() {
        let lifecycle = Lifecycle::default();
        let waiter = tokio::spawn({
            let lifecycle = lifecycle.clone();
            async move { lifecycle.stopping().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished() && !lifecycle.is_stopping());
        lifecycle.begin_shutdown();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .expect("joined");
        tokio::time::timeout(Duration::from_secs(1), lifecycle.stopping())
            .await
            .expect("already stopping");
    }
}
