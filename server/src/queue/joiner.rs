//! The join writer: every join on this server goes through one task that
//! takes whatever joins are waiting (up to [`MAX_BATCH`]) and writes each
//! event's share as one transaction ([`store::join`]). Before it, each join
//! was its own write transaction, and in the minute before a big onsale
//! the joins queued for the database's one writer at about 500 a second
//! (BENCHMARKS.md). When joins trickle in, a batch is a single join and
//! nothing waits.

use super::store::{self, JoinOutcome, NewEntry};
use crate::store::Store;
use app::error::{ApiError, ErrorCode};
use tokio::sync::{mpsc, oneshot};

/// Joins per transaction: enough to amortise a commit, few enough that a
/// batch holds the write lock for milliseconds only.
const MAX_BATCH: usize = 512;
/// Joins waiting beyond this make new ones wait to be queued.
const QUEUE: usize = 65_536;

/// One join: the event, its onsale, the new place, and when it was asked.
#[derive(Clone, Debug)]
pub struct Join {
    pub event_id: i64,
    pub onsale_at: i64,
    pub entry: NewEntry,
    pub now: i64,
}

struct Job {
    join: Join,
    reply: oneshot::Sender<Result<JoinOutcome, ApiError>>,
}

/// A handle on the join writer; clones share the task, which ends when the
/// last handle is dropped.
#[derive(Clone, Debug)]
pub struct Joiner {
    queue: mpsc::Sender<Job>,
}

impl Joiner {
    /// Starts the writer task, so call it inside the runtime.
    pub fn spawn(store: Store) -> Self {
        let (queue, incoming) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, incoming));
        Self { queue }
    }

    /// Takes a place, or returns the one the holder has; answered once the
    /// join's batch has committed.
    pub async fn join(&self, join: Join) -> Result<JoinOutcome, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { join, reply })
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "the service is shutting down; retry",
    )
}

async fn write_batches(store: Store, mut incoming: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while incoming.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        // Per event, in arrival order: after the draw, arrival order is the
        // order of the line.
        while let Some(first) = jobs.first() {
            let event_id = first.join.event_id;
            let (same, rest): (Vec<Job>, Vec<Job>) = jobs
                .drain(..)
                .partition(|job| job.join.event_id == event_id);
            jobs = rest;
            write_event_batch(&store, same).await;
        }
    }
}

/// Writes one event's joins together. If the batch fails, each join is
/// tried alone, so one bad join cannot fail the others.
async fn write_event_batch(store: &Store, jobs: Vec<Job>) {
    let first = &jobs[0].join;
    let (event_id, onsale_at) = (first.event_id, first.onsale_at);
    // The latest clock reading of the batch: every join in it was asked
    // by then.
    let now = jobs
        .iter()
        .map(|job| job.join.now)
        .max()
        .unwrap_or_default();
    let entries: Vec<NewEntry> = jobs.iter().map(|job| job.join.entry.clone()).collect();
    metrics::histogram!("tessera_queue_join_batch_size").record(jobs.len() as f64);
    match store::join(store, event_id, onsale_at, &entries, now).await {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                // The caller may have gone (closed connection): nothing to tell.
                let _ = job.reply.send(Ok(outcome));
            }
        }
        Err(error) if jobs.len() == 1 => {
            let _ = jobs
                .into_iter()
                .next()
                .map(|job| job.reply.send(Err(error.into())));
        }
        Err(error) => {
            tracing::warn!(%error, size = jobs.len(), "a batch of queue joins failed; retrying them one by one");
            for job in jobs {
                let Join { entry, now, .. } = &job.join;
                let answer = store::join(
                    store,
                    event_id,
                    onsale_at,
                    std::slice::from_ref(entry),
                    *now,
                )
                .await
                .map_err(ApiError::from)
                .and_then(|mut outcomes| outcomes.pop().ok_or_else(ApiError::internal));
                let _ = job.reply.send(answer);
            }
        }
    }
}
