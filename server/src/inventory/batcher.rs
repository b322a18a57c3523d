//! The seat writer's task. Every seat write goes through one task that
//! takes whatever requests are waiting (up to [`MAX_BATCH`]) and runs them
//! as one transaction ([`writer::write_batch`]). When requests trickle in,
//! a batch is a single request and nothing waits.

use super::writer::{
    self, BeginOutcome, BeginPurchase, BlockOutcome, BlockRequest, ClaimOutcome, ClaimRequest,
    Completion, EndRequest, ExtendOutcome, ExtendRequest, FailPurchase, FinishRefund, PurchaseRow,
    RecordPayment, ReleaseOutcome, ReleaseRequest, SeatWrite, Sell, TakeOver, WriteOutcome,
};
use crate::error::store_error_to_api;
use crate::live::LiveHub;
use crate::store::Store;
use app::error::{ApiError, ErrorCode};
use app::types::EventId;
use tokio::sync::{mpsc, oneshot};

/// Writes per transaction: enough to amortise a commit, few enough that a
/// batch holds the write lock for milliseconds only.
pub const MAX_BATCH: usize = 256;
/// Requests waiting beyond this make new ones wait to be queued.
const QUEUE: usize = 8_192;

struct Job {
    request: SeatWrite,
    reply: oneshot::Sender<Result<WriteOutcome, ApiError>>,
}

/// A handle on the seat writer; clones share the task, which ends when the
/// last handle is dropped.
#[derive(Clone, Debug)]
pub struct SeatWriter {
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

/// A writer answered a request with an outcome of another kind.
fn mismatch(outcome: WriteOutcome) -> ApiError {
    match outcome {
        WriteOutcome::NoSuchEvent => ApiError::not_found("no such event"),
        other => {
            tracing::error!(
                ?other,
                "the seat writer answered with another kind of outcome"
            );
            ApiError::internal()
        }
    }
}

impl SeatWriter {
    /// Starts the writer task, so call it inside the runtime. `live` is
    /// handed each batch's logged changes as it commits.
    pub fn spawn(store: Store, live: LiveHub) -> Self {
        let (queue, incoming) = mpsc::channel(QUEUE);
        let writing = write_batches(store.clone(), live, incoming);
        match store {
            Store::Sqlite(..) => spawn_on_own_thread(writing),
            Store::Postgres(_) => {
                tokio::spawn(writing);
            }
        }
        Self { queue }
    }

    pub async fn claim(&self, request: ClaimRequest) -> Result<ClaimOutcome, ApiError> {
        match self.write(SeatWrite::Claim(request)).await? {
            WriteOutcome::Claim(outcome) => Ok(counted_claim(outcome)),
            other => Err(mismatch(other)),
        }
    }

    /// Releases a buyer's hold, if it is theirs and not bought.
    pub async fn release(&self, request: ReleaseRequest) -> Result<ReleaseOutcome, ApiError> {
        match self.write(SeatWrite::Release(request)).await? {
            WriteOutcome::Released(outcome) => Ok(outcome),
            other => Err(mismatch(other)),
        }
    }

    /// Ends many holds, in as few batches as the queue makes; returns how
    /// many seats they put back on sale.
    pub async fn end_many(&self, requests: Vec<EndRequest>) -> Result<usize, ApiError> {
        let mut answers = Vec::with_capacity(requests.len());
        for request in requests {
            answers.push(self.send(SeatWrite::End(request)).await?);
        }
        let mut freed = 0;
        for answer in answers {
            match answer.await.map_err(|_| writer_gone())?? {
                WriteOutcome::Ended(seats) => freed += seats.len(),
                other => return Err(mismatch(other)),
            }
        }
        Ok(freed)
    }

    pub async fn extend(&self, request: ExtendRequest) -> Result<ExtendOutcome, ApiError> {
        match self.write(SeatWrite::Extend(request)).await? {
            WriteOutcome::Extended(outcome) => Ok(outcome),
            other => Err(mismatch(other)),
        }
    }

    pub async fn begin_purchase(&self, request: BeginPurchase) -> Result<BeginOutcome, ApiError> {
        match self.write(request.into()).await? {
            WriteOutcome::Began(outcome) => Ok(outcome),
            other => Err(mismatch(other)),
        }
    }

    pub async fn take_over(&self, request: TakeOver) -> Result<Option<PurchaseRow>, ApiError> {
        match self.write(SeatWrite::TakeOver(request)).await? {
            WriteOutcome::TookOver(row) => Ok(row),
            other => Err(mismatch(other)),
        }
    }

    pub async fn record_payment(&self, request: RecordPayment) -> Result<bool, ApiError> {
        match self.write(SeatWrite::RecordPayment(request)).await? {
            WriteOutcome::Recorded(recorded) => Ok(recorded),
            other => Err(mismatch(other)),
        }
    }

    pub async fn sell(&self, request: Sell) -> Result<Completion, ApiError> {
        match self.write(SeatWrite::Sell(Box::new(request))).await? {
            WriteOutcome::Sold(completion) => Ok(counted_sale(completion)),
            other => Err(mismatch(other)),
        }
    }

    pub async fn fail(&self, request: FailPurchase) -> Result<bool, ApiError> {
        match self.write(SeatWrite::Fail(Box::new(request))).await? {
            WriteOutcome::Failed(settled) => Ok(settled),
            other => Err(mismatch(other)),
        }
    }

    pub async fn finish_refund(&self, request: FinishRefund) -> Result<bool, ApiError> {
        match self
            .write(SeatWrite::FinishRefund(Box::new(request)))
            .await?
        {
            WriteOutcome::RefundFinished(finished) => Ok(finished),
            other => Err(mismatch(other)),
        }
    }

    pub async fn block(&self, request: BlockRequest) -> Result<BlockOutcome, ApiError> {
        match self.write(SeatWrite::Block(request)).await? {
            WriteOutcome::Blocked(outcome) => Ok(outcome),
            other => Err(mismatch(other)),
        }
    }

    async fn write(&self, request: SeatWrite) -> Result<WriteOutcome, ApiError> {
        self.send(request).await?.await.map_err(|_| writer_gone())?
    }

    /// Queues a request; the answer comes when its batch has committed.
    async fn send(
        &self,
        request: SeatWrite,
    ) -> Result<oneshot::Receiver<Result<WriteOutcome, ApiError>>, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { request, reply })
            .await
            .map_err(|_| writer_gone())?;
        Ok(answer)
    }
}

/// Runs SQLite's writer on a thread and runtime of its own. A batch is a
/// dozen statements, each answered by the connection's thread; on the
/// server's runtime, the batch's task then waited behind every request
/// being served for its turn to send the next one. Under a holds run the
/// writer was busy 99 % of the time, 21.7 ms a batch, of which its
/// connection's thread worked about 8; on its own runtime, 14.2 ms.
///
/// (PostgreSQL's connections belong to the server's runtime, whose I/O
/// driver wakes them; its writer stays there.)
fn spawn_on_own_thread(writing: impl std::future::Future<Output = ()> + Send + 'static) {
    let started = std::thread::Builder::new()
        .name("seat-writer".into())
        .spawn(move || {
            wake_without_preempting();
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(writing),
                Err(error) => tracing::error!(%error, "the seat writer's runtime did not start"),
            }
        });
    if let Err(error) = started {
        tracing::error!(%error, "the seat writer's thread did not start");
    }
}

/// Keeps the writer's thread from taking the core of its SQLite
/// connection's thread each time that one sends it a row. Under the
/// normal policy, the woken writer preempted the connection about 12,000
/// times a second in a holds run (BENCHMARKS.md). A `SCHED_BATCH` thread
/// does not preempt when it wakes, so the connection runs on to the end of
/// its statement. Unprivileged threads may choose it. Nice value 0, the
/// server's own.
#[cfg(target_os = "linux")]
fn wake_without_preempting() {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadPriority, ThreadPriorityOsValue, ThreadSchedulePolicy,
    };
    let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
    let nice_zero = ThreadPriority::Os(ThreadPriorityOsValue::default());
    if let Err(error) = set_thread_priority_and_policy(thread_native_id(), nice_zero, batch) {
        tracing::warn!(
            ?error,
            "the seat writer's thread keeps the normal scheduling policy"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn wake_without_preempting() {}

async fn write_batches(store: Store, live: LiveHub, mut incoming: mpsc::Receiver<Job>) {
    let overlap = matches!(store, Store::Postgres(_));
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while incoming.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (requests, replies): (Vec<SeatWrite>, Vec<_>) =
            jobs.drain(..).map(|job| (job.request, job.reply)).unzip();
        let (committing, next_may_begin) = oneshot::channel();
        let batch = tokio::spawn(write_and_answer(
            store.clone(),
            live.clone(),
            requests,
            replies,
            committing,
        ));
        if overlap {
            // PostgreSQL: the next batch is cut as soon as this one commits
            // rather than once its commit is acknowledged. It queues for
            // this one's event locks inside the database (its first
            // statement takes them), so it runs the moment this one has
            // committed, without a round trip through here, and sees all
            // this one wrote. Its requests were all sent before this one's
            // answers, so none depends on them.
            let _ = next_may_begin.await;
        } else {
            // SQLite has one writer: the next batch would only wait for
            // the database's write lock.
            let _ = batch.await;
        }
    }
}

/// Writes one batch, hands its changes to the live maps and answers each
/// of its writers.
async fn write_and_answer(
    store: Store,
    live: LiveHub,
    requests: Vec<SeatWrite>,
    replies: Vec<oneshot::Sender<Result<WriteOutcome, ApiError>>>,
    committing: oneshot::Sender<()>,
) {
    let started = std::time::Instant::now();
    let written = writer::write_batch_telling(&store, &requests, Some(committing)).await;
    record_batch(requests.len(), started, written.is_ok());
    match written {
        Ok(written) => {
            for logged in written.logged {
                live.committed(EventId(logged.event_id), logged.version, logged.seats);
            }
            for (reply, outcome) in replies.into_iter().zip(written.outcomes) {
                // The caller may have gone (closed connection): nothing to tell.
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

/// Metrics of one batch: its size, and how long it took to write and commit.
fn record_batch(size: usize, started: std::time::Instant, committed: bool) {
    metrics::histogram!("tessera_seat_writer_batch_size").record(size as f64);
    metrics::histogram!("tessera_seat_writer_commit_seconds")
        .record(started.elapsed().as_secs_f64());
    if !committed {
        metrics::counter!("tessera_seat_writer_failed_batches_total").increment(1);
    }
}

/// Counts a claim in `tessera_holds_total` by outcome (a conflict is a 409).
fn counted_claim(outcome: ClaimOutcome) -> ClaimOutcome {
    let label = match &outcome {
        ClaimOutcome::Claimed { .. } => "held",
        ClaimOutcome::Unavailable(_) => "conflict",
        _ => "refused",
    };
    metrics::counter!("tessera_holds_total", "outcome" => label).increment(1);
    outcome
}

/// Counts a sale in `tessera_purchases_total` by outcome.
fn counted_sale(completion: Completion) -> Completion {
    let label = match &completion {
        Completion::Sold => "sold",
        Completion::AlreadySettled => "already_settled",
        Completion::SeatsLost => "seats_lost",
    };
    metrics::counter!("tessera_purchases_total", "outcome" => label).increment(1);
    completion
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_writers_thread_wakes_without_preempting_at_the_servers_niceness() {
        let (policy, stat) = std::thread::spawn(|| {
            wake_without_preempting();
            (
                thread_priority::thread_schedule_policy(),
                std::fs::read_to_string("/proc/thread-self/stat"),
            )
        })
        .join()
        .expect("the thread ran");
        assert_eq!(
            policy.expect("readable"),
            thread_priority::ThreadSchedulePolicy::Normal(
                thread_priority::NormalThreadSchedulePolicy::Batch
            )
        );
        // Field 19 of stat is the nice value (after the name's parenthesis).
        let stat = stat.expect("readable");
        let nice = stat[stat.rfind(')').expect("name") + 1..]
            .split_whitespace()
            .nth(16)
            .expect("nice field");
        assert_eq!(nice, "0");
    }
}
