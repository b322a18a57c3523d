//! Group commit of holds. Every hold request goes through one writer task
//! that takes whatever requests are waiting (up to [`MAX_BATCH`]) and runs
//! them as one transaction ([`holds::claim_batch`]): under an onsale flood
//! the database commits (and syncs to disk) once per batch instead of once
//! per buyer, and SQLite's single writer is never fought over. When requests
//! trickle in, a batch is a single request and nothing waits.

use super::holds::{self, ClaimOutcome, ClaimRequest};
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
    request: ClaimRequest,
    reply: oneshot::Sender<Result<ClaimOutcome, ApiError>>,
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
        let requests: Vec<ClaimRequest> = jobs.iter().map(|job| job.request.clone()).collect();
        match holds::claim_batch(&store, &requests).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.drain(..).zip(outcomes) {
                    let answer = outcome.map_err(|error| store_error_to_api(error.into()));
                    // The buyer may have gone (closed connection): nothing to tell.
                    let _ = job.reply.send(answer);
                }
            }
            Err(error) => {
                let answer = store_error_to_api(error);
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(answer.clone()));
                }
            }
        }
    }
}
