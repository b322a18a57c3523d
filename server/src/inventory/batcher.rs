//! Group commit of holds. Every hold and every release goes through one
//! writer task that takes whatever requests are waiting (up to
//! [`MAX_BATCH`]) and runs them as one transaction
//! ([`holds::write_batch`]): under an onsale flood
//! the database commits (and syncs to disk) once per batch instead of once
//! per buyer, and SQLite's single writer is never fought over. When requests
//! trickle in, a batch is a single request and nothing waits.

use super::holds::{self, ClaimOutcome, ClaimRequest, EndRequest, SeatWrite, WriteOutcome};
use crate::error::store_error_to_api;
use crate::store::Store;
use app::error::{ApiError, ErrorCode};
use tokio::sync::{mpsc, oneshot};

/// Claims per transaction: enough to amortise a commit, few enough that
/// other writers (purchases, releases) wait only milliseconds for the lock.
pub const MAX_BATCH: usize = 256;
/// Requests waiting beyond this make new ones wait to be queued.
const QUEUE: usize = 8_192;

struct Job {
    request: SeatWrite,
    reply: oneshot::Sender<Result<WriteOutcome, ApiError>>,
}

#[derive(Clone, Debug)]
pub struct HoldBatcher {
    queue: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("request", &self.request)
            .finish()
    }
}

fn writer_gone() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "the service is shutting down; retry",
    )
}

impl HoldBatcher {
    /// Starts the writer task; it ends when the last handle is dropped.
    pub fn spawn(store: Store) -> Self {
        let (queue, incoming) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, incoming));
        Self { queue }
    }

    pub async fn claim(&self, request: ClaimRequest) -> Result<ClaimOutcome, ApiError> {
        match self.write(SeatWrite::Claim(request)).await? {
            WriteOutcome::Claim(outcome) => Ok(outcome),
            WriteOutcome::NoSuchEvent => Err(ApiError::not_found("no such event")),
            WriteOutcome::Ended(_) => Err(ApiError::internal()),
        }
    }

    /// Ends a hold; returns the seats it put back on sale.
    pub async fn end(&self, request: EndRequest) -> Result<Vec<i64>, ApiError> {
        match self.write(SeatWrite::End(request)).await? {
            WriteOutcome::Ended(freed) => Ok(freed),
            WriteOutcome::NoSuchEvent => Err(ApiError::not_found("no such event")),
            WriteOutcome::Claim(_) => Err(ApiError::internal()),
        }
    }

    async fn write(&self, request: SeatWrite) -> Result<WriteOutcome, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { request, reply })
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

async fn write_batches(store: Store, mut incoming: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while incoming.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (requests, replies): (Vec<SeatWrite>, Vec<_>) =
            jobs.drain(..).map(|job| (job.request, job.reply)).unzip();
        match holds::write_batch(&store, &requests).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // The buyer may have gone (closed connection): nothing to tell.
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                let answer = store_error_to_api(error);
                for reply in replies {
                    let _ = reply.send(Err(answer.clone()));
                }
            }
        }
    }
}
