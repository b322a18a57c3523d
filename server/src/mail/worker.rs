//! The worker that empties the outbox: every server runs one; a lease on
//! each taken row keeps two from sending the same letter.
//!
//! Delivery is at least once, with one narrow window: a crash after the
//! SMTP server accepted a message and before the row is marked sent sends
//! it again when the lease ends. Both copies carry the same Message-ID, so
//! mail clients show one. Everything else — a crash before the send, an
//! SMTP server that is down, a restart — sends exactly one message.

use super::letters::{RenderError, Renderer};
use super::outbox::{self, OutboxRow};
use super::Mailer;
use crate::clock::Clock;
use std::sync::Arc;
use std::time::Duration;

/// How long a taken letter is this worker's before another may take it:
/// longer than an SMTP conversation can take.
const LEASE_MS: i64 = 120_000;
/// Letters taken per round.
const BATCH: i64 = 20;
/// Attempts before a letter is given up (about a day of retries).
const MAX_ATTEMPTS: i64 = 12;

#[derive(Clone)]
pub struct MailWorker {
    renderer: Renderer,
    mailer: Arc<Mailer>,
    clock: Clock,
}

impl MailWorker {
    pub fn new(renderer: Renderer, mailer: Arc<Mailer>, clock: Clock) -> Self {
        Self {
            renderer,
            mailer,
            clock,
        }
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// Runs until the runtime stops: rounds until the outbox has nothing
    /// due, then a pause of `poll`. Polling, not a signal, because letters
    /// are added by every server sharing the database.
    pub fn spawn(self, poll: Duration) {
        tokio::spawn(async move {
            loop {
                while self.round().await > 0 {}
                tokio::time::sleep(poll).await;
            }
        });
    }

    /// Sends what is due; the number of letters taken.
    pub async fn round(&self) -> usize {
        let taken =
            match outbox::take_due(&self.renderer.store, self.clock.now(), LEASE_MS, BATCH).await {
                Ok(taken) => taken,
                Err(error) => {
                    tracing::warn!(%error, "outbox: could not take letters");
                    return 0;
                }
            };
        for row in &taken {
            self.deliver(row).await;
        }
        taken.len()
    }

    async fn deliver(&self, row: &OutboxRow) {
        let store = &self.renderer.store;
        let outcome = match self.renderer.render(row).await {
            Ok(mail) => self.mailer.send(&mail, &message_id(row)).await,
            Err(RenderError::Unrenderable(why)) => {
                tracing::error!(letter = row.id, kind = %row.kind, %why, "outbox: letter given up");
                let _ = outbox::mark_failed(store, row.id, &why, None, self.clock.now()).await;
                return;
            }
            Err(RenderError::Store(error)) => Err(error.to_string()),
        };
        let now = self.clock.now();
        let recorded = match outcome {
            Ok(()) => {
                metrics::counter!("tessera_emails_sent_total", "kind" => row.kind.clone())
                    .increment(1);
                outbox::mark_sent(store, row.id, now).await
            }
            Err(error) => {
                let retry_at =
                    (row.attempts < MAX_ATTEMPTS).then(|| now + retry_delay_ms(row.attempts));
                tracing::warn!(letter = row.id, kind = %row.kind, attempts = row.attempts,
                    gave_up = retry_at.is_none(), %error, "outbox: sending failed");
                metrics::counter!("tessera_email_failures_total", "kind" => row.kind.clone())
                    .increment(1);
                outbox::mark_failed(store, row.id, &error, retry_at, now).await
            }
        };
        if let Err(error) = recorded {
            // The lease runs out and the letter is taken again.
            tracing::warn!(letter = row.id, %error, "outbox: could not record the attempt");
        }
    }
}

/// 10 s, 20 s, 40 s … capped at 4 hours.
fn retry_delay_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    (10_000_i64 << doublings).min(4 * 3_600_000)
}

/// The same on every attempt at one letter.
fn message_id(row: &OutboxRow) -> String {
    format!("<outbox-{}-{}@tessera>", row.id, row.created_at)
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_back_off_to_a_cap() {
        assert_eq!(super::retry_delay_ms(1), 10_000);
        assert_eq!(super::retry_delay_ms(2), 20_000);
        assert_eq!(super::retry_delay_ms(30), 4 * 3_600_000);
    }
}
