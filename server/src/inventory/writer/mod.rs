//! The seat writer: every change of a seat's status — claim, release,
//! expiry, extension, purchase, sale, refund, block — happens here, in a
//! batch that one writer task runs as one transaction ([`super::batcher`]).
//! Under an onsale flood the database commits (and syncs to disk) once per
//! batch instead of once per buyer, and SQLite's single writer is never
//! fought over.
//!
//! A batch is equivalent to running, one after another: its hold endings,
//! then its other writes kind by kind (in arrival order within a kind),
//! then its claims in arrival order (any order of concurrent requests is a
//! correct one; none of them can depend on another's outcome, as every
//! writer of the batch waits for its commit). Each request is decided
//! alone, against the seats as the earlier ones of the batch left them.
//! The steps:
//!
//! 0. **find released holds**: a buyer's release names only its hold; one
//!    statement reads every released hold's event and owner, and each
//!    release its owner may make becomes an ending of step 2;
//! 1. **lock events**: each event's row, ascending ids, so batches of two
//!    servers queue instead of deadlocking; the batch writes one new
//!    version per event;
//! 2. **end holds** released or run out, all in a few statements;
//! 3. **one by one**, the other writes (extensions, purchases, sales,
//!    refunds, blocks), each by compare-and-set on the state it expects;
//!    grouped by kind, so that purchases being recorded, payment
//!    references and the sales of an event come side by side and share
//!    their statements, each still decided alone;
//! 4. **read** every claimed seat and what each claimant already has;
//! 5. **decide** the claims in memory, in order, so claims of one batch
//!    never share a seat nor pass a buyer's limit or an address's cap
//!    together;
//! 6. **write** the successful claims (a compare-and-set that must change
//!    exactly the seats decided, or the batch fails rather than sell a seat
//!    twice);
//! 7. **log** the changed seats under the new versions.
//!
//! Nothing can change these seats between a read and a write: every seat
//! writer takes the event's lock first (on SQLite, the database write
//! lock). Refusals are outcomes and write nothing. A database error fails
//! the whole batch: nothing is committed and every writer in it gets the
//! error.

mod begins;
mod blocks;
mod claims;
mod ends;
pub mod extend;
mod log;
pub mod purchases;
mod releases;
mod sales;

pub use blocks::{BlockOutcome, BlockRequest};
pub use claims::{ClaimOutcome, ClaimRequest, ClientCap};
pub use ends::{EndRequest, Ending, NO_PENDING_PURCHASE};
pub use extend::{ExtendOutcome, ExtendRequest};
pub use purchases::{
    BeginOutcome, BeginPurchase, Completion, FailPurchase, FinishRefund, PurchaseRow,
    RecordPayment, Sell, TakeOver,
};
pub use releases::{ReleaseOutcome, ReleaseRequest};

use crate::store::{AnyWriteTx, Store, StoreError};
use app::types::{HoldStatus, SeatStatus};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// A hold as its row stores it; read with [`HOLD_COLUMNS`], here and by
/// the writer's steps that check a hold before changing it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct HoldRow {
    pub id: i64,
    pub event_id: i64,
    pub session_id: String,
    #[sqlx(try_from = "String")]
    pub status: HoldStatus,
    pub expires_at: i64,
    pub seat_count: i64,
    pub total_cents: i64,
    /// How many times the buyer extended it.
    pub extensions: i64,
}

pub const HOLD_COLUMNS: &str =
    "id, event_id, session_id, status, expires_at, seat_count, total_cents, extensions";

/// A change of seat state (or of the purchase it belongs to) that goes
/// through the writer.
#[derive(Clone, Debug)]
pub enum SeatWrite {
    Claim(ClaimRequest),
    /// Released by its buyer or expired, naming the hold's event.
    End(EndRequest),
    /// Released by its buyer, naming only the hold (step 0 finds its event).
    Release(ReleaseRequest),
    Extend(ExtendRequest),
    BeginPurchase(Box<BeginPurchase>),
    TakeOver(TakeOver),
    RecordPayment(RecordPayment),
    Sell(Box<Sell>),
    Fail(Box<FailPurchase>),
    FinishRefund(Box<FinishRefund>),
    Block(BlockRequest),
}

/// At most this many writes of one kind are decided together in step 3
/// (their ids and tickets stay far below the backends' limits on bound
/// parameters).
const RUN_LIMIT: usize = 200;

impl SeatWrite {
    fn as_sell(&self) -> Option<&Sell> {
        match self {
            Self::Sell(sell) => Some(sell),
            _ => None,
        }
    }

    fn as_begin(&self) -> Option<&BeginPurchase> {
        match self {
            Self::BeginPurchase(begin) => Some(begin),
            _ => None,
        }
    }

    fn as_record(&self) -> Option<&RecordPayment> {
        match self {
            Self::RecordPayment(record) => Some(record),
            _ => None,
        }
    }

    /// Where step 3 decides the write among the others: any order of a
    /// batch's writes is a correct one, and this one puts the writes that
    /// share statements side by side, in a purchase's own order.
    fn kind_rank(&self) -> u8 {
        match self {
            Self::Claim(_) | Self::End(_) | Self::Release(_) => 0,
            Self::Extend(_) => 1,
            Self::TakeOver(_) => 2,
            Self::BeginPurchase(_) => 3,
            Self::RecordPayment(_) => 4,
            Self::Sell(_) => 5,
            Self::Fail(_) => 6,
            Self::FinishRefund(_) => 7,
            Self::Block(_) => 8,
        }
    }

    /// The event whose lock the write takes; `None` for a release, whose
    /// hold's event step 0 looks up.
    pub fn event_id(&self) -> Option<i64> {
        Some(match self {
            Self::Claim(claim) => claim.event_id,
            Self::End(end) => end.event_id,
            Self::Extend(extend) => extend.event_id,
            Self::BeginPurchase(begin) => begin.event_id,
            Self::TakeOver(take_over) => take_over.event_id,
            Self::RecordPayment(record) => record.event_id,
            Self::Sell(sell) => sell.purchase.event_id,
            Self::Fail(fail) => fail.purchase.event_id,
            Self::FinishRefund(finish) => finish.purchase.event_id,
            Self::Block(block) => block.event_id,
            Self::Release(_) => return None,
        })
    }
}

#[derive(Debug, PartialEq)]
pub enum WriteOutcome {
    Claim(ClaimOutcome),
    /// The seats an ended hold put back on sale.
    Ended(Vec<i64>),
    Released(ReleaseOutcome),
    Extended(ExtendOutcome),
    Began(BeginOutcome),
    /// The purchase taken over, or `None` if it was no longer pending.
    TookOver(Option<PurchaseRow>),
    /// Whether the payment's id was recorded.
    Recorded(bool),
    Sold(Completion),
    /// Whether the purchase was settled `failed`.
    Failed(bool),
    /// Whether the refund was finished and its seats put back on sale.
    RefundFinished(bool),
    Blocked(BlockOutcome),
    /// The write named an event that does not exist.
    NoSuchEvent,
}

/// The seat changes a batch logged for one event, all under the one new
/// version the batch gave the event.
#[derive(Debug)]
pub struct Logged {
    pub event_id: i64,
    pub version: i64,
    pub seats: Vec<(i64, SeatStatus)>,
}

/// What a committed batch did: an outcome per request, in order, and the
/// seat changes it logged.
#[derive(Debug)]
pub struct Written {
    pub outcomes: Vec<WriteOutcome>,
    pub logged: Vec<Logged>,
}

/// One seat's change, logged in `seat_changes` when its batch commits.
#[derive(Debug)]
struct ChangeRecord {
    event_id: i64,
    seat_id: i64,
    status: SeatStatus,
    at: i64,
}

/// What a batch has decided so far.
struct Batch<'a> {
    requests: &'a [Cow<'a, SeatWrite>],
    outcomes: Vec<Option<WriteOutcome>>,
    /// The version the batch writes, per existing event.
    versions: HashMap<i64, i64>,
    changes: Vec<ChangeRecord>,
}

impl<'a> Batch<'a> {
    /// The requests not decided yet, with their places in the batch.
    fn undecided(&self) -> impl Iterator<Item = (usize, &'a SeatWrite)> + '_ {
        let requests: &'a [Cow<'a, SeatWrite>] = self.requests;
        requests
            .iter()
            .enumerate()
            .filter(|(index, _)| self.outcomes[*index].is_none())
            .map(|(index, request)| (index, request.as_ref()))
    }

    fn version(&self, event_id: i64) -> i64 {
        self.versions[&event_id]
    }

    fn changed(&mut self, event_id: i64, seat_ids: &[i64], status: SeatStatus, at: i64) {
        self.changes
            .extend(seat_ids.iter().map(|&seat_id| ChangeRecord {
                event_id,
                seat_id,
                status,
                at,
            }));
    }
}

/// Runs many seat writes in one write transaction (group commit): one
/// commit, one fsync and one version per event for the whole batch. See
/// the module documentation for the steps and what they guarantee.
pub async fn write_batch(
    store: &Store,
    requests: &[SeatWrite],
) -> Result<Vec<WriteOutcome>, StoreError> {
    Ok(write_batch_telling(store, requests, None).await?.outcomes)
}

/// [`write_batch`], telling `committing` once everything is written and
/// the batch commits (the seat writer's task may then cut the next batch).
/// If the batch fails before, `committing` is dropped untold.
pub async fn write_batch_telling(
    store: &Store,
    requests: &[SeatWrite],
    committing: Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<Written, StoreError> {
    let mut tx = store.begin_write().await?;
    let resolved = releases::resolve(&mut tx, requests).await?;
    let originals = requests;
    let requests = resolved.requests.as_slice();
    let mut batch = Batch {
        requests,
        outcomes: requests.iter().map(|_| None).collect(),
        versions: HashMap::new(),
        changes: Vec::new(),
    };
    for (index, refusal) in resolved.refused {
        batch.outcomes[index] = Some(WriteOutcome::Released(refusal));
    }
    let events: Vec<i64> = batch
        .undecided()
        .filter_map(|(_, r)| r.event_id())
        .collect();
    batch.versions = log::lock_events(&mut tx, events.into_iter()).await?;
    for (index, request) in requests.iter().enumerate() {
        if batch.outcomes[index].is_none()
            && request
                .event_id()
                .is_some_and(|event_id| !batch.versions.contains_key(&event_id))
        {
            batch.outcomes[index] = Some(WriteOutcome::NoSuchEvent);
        }
    }
    ends::end_holds(&mut tx, &mut batch).await?;
    one_by_one(&mut tx, &mut batch).await?;
    let claims = claims::undecided(&batch);
    if !claims.is_empty() {
        let read = claims::read(&mut tx, &claims).await?;
        let (refused, planned) = claims::decide(&claims, read);
        for (index, outcome) in refused {
            batch.outcomes[index] = Some(WriteOutcome::Claim(outcome));
        }
        claims::write(&mut tx, &mut batch, planned).await?;
    }
    let changes = std::mem::take(&mut batch.changes);
    let logged = log::write_log(&mut tx, &batch.versions, changes).await?;
    if let Some(committing) = committing {
        let _ = committing.send(());
    }
    tx.commit().await?;
    let outcomes = batch
        .outcomes
        .into_iter()
        .zip(originals.iter().zip(requests))
        .map(|(outcome, (original, request))| Some(as_asked(outcome?, original, request.as_ref())))
        .collect::<Option<Vec<_>>>();
    let outcomes = outcomes
        .ok_or_else(|| sqlx::Error::Protocol("a write of the batch got no outcome".into()))?;
    Ok(Written { outcomes, logged })
}

/// A release the writer made as an ending is answered as a release.
fn as_asked(outcome: WriteOutcome, original: &SeatWrite, request: &SeatWrite) -> WriteOutcome {
    match (outcome, original, request) {
        (WriteOutcome::Ended(freed), SeatWrite::Release(_), SeatWrite::End(end)) => {
            WriteOutcome::Released(ReleaseOutcome::Released {
                event_id: end.event_id,
                freed,
            })
        }
        (outcome, _, _) => outcome,
    }
}

/// Step 3: the writes that are neither claims nor hold endings, each
/// decided alone, kind by kind and in arrival order within a kind.
/// Purchases being recorded (of distinct holds), payment references (of
/// distinct purchases) and sales (of one event), side by side, are
/// decided together, in order, sharing their statements.
async fn one_by_one(tx: &mut AnyWriteTx, batch: &mut Batch<'_>) -> Result<(), sqlx::Error> {
    let mut pending: Vec<(usize, &SeatWrite)> = batch
        .undecided()
        .filter(|(_, request)| {
            !matches!(
                request,
                SeatWrite::Claim(_) | SeatWrite::End(_) | SeatWrite::Release(_)
            )
        })
        .collect();
    // Stable: arrival order is kept within a kind, and within an event.
    pending.sort_by_key(|(_, request)| (request.kind_rank(), request.event_id()));
    let mut rest = pending.as_slice();
    while let Some(&(index, request)) = rest.first() {
        // Step 0 made every release an ending: the writes here name their event.
        let Some(event_id) = request.event_id() else {
            return Err(sqlx::Error::Protocol("a release reached step 3".into()));
        };
        let version = batch.version(event_id);
        let decided = match request {
            SeatWrite::Sell(_) => {
                let run = run_of(rest, |write| {
                    write.as_sell().is_some() && write.event_id() == Some(event_id)
                });
                let sells: Vec<&Sell> = run.iter().filter_map(|(_, w)| w.as_sell()).collect();
                let completions = sales::sell_run(tx, batch, &sells, version).await?;
                decide_run(batch, run, completions.into_iter().map(WriteOutcome::Sold))
            }
            SeatWrite::BeginPurchase(_) => {
                let run = run_of_distinct(rest, |write| write.as_begin().map(|b| b.hold_id));
                let begins: Vec<&BeginPurchase> =
                    run.iter().filter_map(|(_, w)| w.as_begin()).collect();
                let begun = begins::begin_run(tx, &begins).await?;
                decide_run(batch, run, begun.into_iter().map(WriteOutcome::Began))
            }
            SeatWrite::RecordPayment(_) => {
                let run = run_of_distinct(rest, |write| write.as_record().map(|r| r.purchase_id));
                let records: Vec<&RecordPayment> =
                    run.iter().filter_map(|(_, w)| w.as_record()).collect();
                let recorded = purchases::record_payments(tx, &records).await?;
                decide_run(batch, run, recorded.into_iter().map(WriteOutcome::Recorded))
            }
            _ => {
                batch.outcomes[index] = one(tx, batch, request, version).await?;
                1
            }
        };
        rest = &rest[decided..];
    }
    Ok(())
}

/// The writes at the start of `pending` that `joins` lets into one run,
/// up to [`RUN_LIMIT`].
fn run_of<'p, 'a>(
    pending: &'p [(usize, &'a SeatWrite)],
    mut joins: impl FnMut(&SeatWrite) -> bool,
) -> &'p [(usize, &'a SeatWrite)] {
    let len = pending
        .iter()
        .take(RUN_LIMIT)
        .take_while(|(_, write)| joins(write))
        .count();
    &pending[..len]
}

/// A run of the writes `key` gives a key (one kind), with distinct keys
/// (purchases of distinct holds, payment references of distinct
/// purchases): a repeat starts the next run.
fn run_of_distinct<'p, 'a>(
    pending: &'p [(usize, &'a SeatWrite)],
    key: impl Fn(&SeatWrite) -> Option<i64>,
) -> &'p [(usize, &'a SeatWrite)] {
    let mut seen = HashSet::new();
    run_of(pending, |write| {
        key(write).is_some_and(|key| seen.insert(key))
    })
}

/// Records the outcomes of a run's first writes (all of them, or as many
/// as it decided); returns how many.
fn decide_run(
    batch: &mut Batch<'_>,
    run: &[(usize, &SeatWrite)],
    outcomes: impl Iterator<Item = WriteOutcome>,
) -> usize {
    let mut decided = 0;
    for ((index, _), outcome) in run.iter().zip(outcomes) {
        batch.outcomes[*index] = Some(outcome);
        decided += 1;
    }
    decided
}

/// One write of step 3 decided alone; `None` for the writes decided in
/// other steps (claims, endings) or in runs (purchases recorded, payment
/// references, sales).
async fn one(
    tx: &mut AnyWriteTx,
    batch: &mut Batch<'_>,
    request: &SeatWrite,
    version: i64,
) -> Result<Option<WriteOutcome>, sqlx::Error> {
    Ok(Some(match request {
        SeatWrite::Extend(request) => {
            WriteOutcome::Extended(extend::extend(tx, batch, request).await?)
        }
        SeatWrite::TakeOver(take_over) => {
            WriteOutcome::TookOver(purchases::take_over(tx, take_over).await?)
        }
        SeatWrite::Fail(fail) => WriteOutcome::Failed(purchases::fail(tx, fail).await?),
        SeatWrite::FinishRefund(finish) => WriteOutcome::RefundFinished(
            purchases::finish_refund(tx, batch, finish, version).await?,
        ),
        SeatWrite::Block(block) => {
            WriteOutcome::Blocked(blocks::block(tx, batch, block, version).await?)
        }
        SeatWrite::Claim(_)
        | SeatWrite::End(_)
        | SeatWrite::Release(_)
        | SeatWrite::BeginPurchase(_)
        | SeatWrite::Sell(_)
        | SeatWrite::RecordPayment(_) => return Ok(None),
    }))
}
