//! Step 0: a buyer's release names only the hold. The writer looks up
//! every released hold of the batch in one statement (its event, owner and
//! status), so a release costs no read of its own before it is queued; the
//! releases it may make then end like any other hold (step 2).

use super::ends::{EndRequest, Ending};
use super::SeatWrite;
use crate::on_tx;
use crate::store::{push_id_list, AnyWriteTx};
use app::types::HoldStatus;
use sqlx::QueryBuilder;
use std::borrow::Cow;
use std::collections::HashMap;

/// A buyer releasing their hold.
#[derive(Clone, Debug)]
pub struct ReleaseRequest {
    pub hold_id: i64,
    /// The session that must own the hold.
    pub session_id: String,
    pub now: i64,
}

#[derive(Debug, PartialEq)]
pub enum ReleaseOutcome {
    /// The hold is ended: by this release, which put `freed` back on
    /// sale, or before it (then nothing is freed).
    Released { event_id: i64, freed: Vec<i64> },
    /// No such hold, or another session's.
    NotFound,
    /// The hold was bought; its seats are the buyer's tickets.
    AlreadyPurchased,
}

/// A hold as a release checks it: its event and owner never change, so
/// they can be read before the batch takes its events' locks. The status
/// read here only tells a bought hold from the others; the ending itself
/// changes only a hold still active when its lock is held.
#[derive(sqlx::FromRow)]
struct Owner {
    id: i64,
    event_id: i64,
    session_id: String,
    #[sqlx(try_from = "String")]
    status: HoldStatus,
}

/// The batch's requests, each release the writer may make turned into the
/// ending it is (the other requests borrowed as they are), and the refused
/// releases' outcomes, by place in the batch. Refused releases stay as
/// they are, decided.
pub(super) struct Resolved<'r> {
    pub requests: Vec<Cow<'r, SeatWrite>>,
    pub refused: Vec<(usize, ReleaseOutcome)>,
}

/// Looks up the holds the batch releases, in one statement (none if it
/// has no releases).
pub(super) async fn resolve<'r>(
    tx: &mut AnyWriteTx,
    requests: &'r [SeatWrite],
) -> Result<Resolved<'r>, sqlx::Error> {
    let hold_ids: Vec<i64> = requests
        .iter()
        .filter_map(|request| match request {
            SeatWrite::Release(release) => Some(release.hold_id),
            _ => None,
        })
        .collect();
    let owners = read_owners(tx, &hold_ids).await?;
    let mut refused = Vec::new();
    let requests = requests
        .iter()
        .enumerate()
        .map(|(index, request)| match request {
            SeatWrite::Release(release) => match decide(release, owners.get(&release.hold_id)) {
                Ok(end) => Cow::Owned(SeatWrite::End(end)),
                Err(outcome) => {
                    refused.push((index, outcome));
                    Cow::Borrowed(request)
                }
            },
            _ => Cow::Borrowed(request),
        })
        .collect();
    Ok(Resolved { requests, refused })
}

/// The ending a release makes, or why it makes none.
fn decide(release: &ReleaseRequest, owner: Option<&Owner>) -> Result<EndRequest, ReleaseOutcome> {
    let owner = owner
        .filter(|owner| owner.session_id == release.session_id)
        .ok_or(ReleaseOutcome::NotFound)?;
    if owner.status == HoldStatus::Purchased {
        return Err(ReleaseOutcome::AlreadyPurchased);
    }
    Ok(EndRequest {
        hold_id: release.hold_id,
        event_id: owner.event_id,
        ending: Ending::Released,
        now: release.now,
    })
}

async fn read_owners(
    tx: &mut AnyWriteTx,
    hold_ids: &[i64],
) -> Result<HashMap<i64, Owner>, sqlx::Error> {
    let mut owners = HashMap::with_capacity(hold_ids.len());
    for chunk in hold_ids.chunks(super::log::ROWS_PER_STATEMENT) {
        let rows: Vec<Owner> = on_tx!(tx, conn => {
            let mut read = QueryBuilder::new(
                "SELECT id, event_id, session_id, status FROM holds WHERE id IN (",
            );
            push_id_list(&mut read, chunk);
            read.build_query_as().fetch_all(&mut *conn).await
        })?;
        owners.extend(rows.into_iter().map(|owner| (owner.id, owner)));
    }
    Ok(owners)
}
