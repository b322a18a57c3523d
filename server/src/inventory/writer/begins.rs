//! Recording purchases of holds: a run of them side by side in a batch,
//! each decided alone, in arrival order, sharing one statement per step
//! (read the holds, find the buyers, check their limits, insert the
//! purchases, extend the holds).

use super::purchases::{
    set_hold_expiries, BeginOutcome, BeginPurchase, ExpiryMove, Payer, PurchaseRow,
    PURCHASE_COLUMNS,
};
use super::{HoldRow, HOLD_COLUMNS};
use crate::inventory::buyer_limit;
use crate::on_tx;
use crate::store::{push_id_list, push_rows, AnyWriteTx, Column};
use app::types::HoldStatus;
use sqlx::QueryBuilder;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Records pending purchases of active holds (of distinct holds: the
/// caller's runs end at a repeat), each remembering its hold's expiry, and
/// extends each hold so it cannot expire while the processor is charging.
///
/// Decides the run's purchases up to the first whose buyer (the user row
/// of an account or of a guest's email) already has one earlier in the
/// run, and returns their outcomes: that one must see the earlier one's
/// pending purchase against the per-buyer limit, so the caller decides it
/// in the next run. A retry under the same key is refused here (the hold
/// is being paid for, or was sold): the caller then finds the first
/// purchase, so the common case, a first attempt, spends no statement
/// looking for one.
pub(super) async fn begin_run(
    tx: &mut AnyWriteTx,
    begins: &[&BeginPurchase],
) -> Result<Vec<BeginOutcome>, sqlx::Error> {
    let holds = read_holds(tx, begins).await?;
    let mut outcomes: Vec<Option<BeginOutcome>> = begins
        .iter()
        .map(|begin| hold_refusal(begin, holds.get(&begin.hold_id)))
        .collect();
    let open: Vec<usize> = (0..begins.len())
        .filter(|&index| outcomes[index].is_none())
        .collect();
    let payers: Vec<&Payer> = open.iter().map(|&index| &begins[index].payer).collect();
    let users = payer_users(tx, &payers, begins[0].timing.now).await?;
    let mut seen = HashSet::new();
    let mut buyers = Vec::new();
    for (&index, &(user_id, by_account)) in open.iter().zip(&users) {
        if !seen.insert(user_id) {
            outcomes.truncate(index);
            break;
        }
        buyers.push(Buyer {
            index,
            user_id,
            by_account,
        });
    }
    let wanted: Vec<(i64, i64)> = buyers
        .iter()
        .map(|buyer| (buyer.user_id, begins[buyer.index].hold_id))
        .collect();
    let over_limit = buyer_limit::over_limit_at_purchase(tx, &wanted).await?;
    let (over, within): (Vec<Buyer>, Vec<Buyer>) = buyers
        .into_iter()
        .partition(|buyer| over_limit.contains(&begins[buyer.index].hold_id));
    for buyer in over {
        outcomes[buyer.index] = Some(BeginOutcome::TicketLimitExceeded);
    }
    let mut started = insert_pending(tx, begins, &holds, &within).await?;
    let mut extend = Vec::new();
    for buyer in within {
        let begin = begins[buyer.index];
        outcomes[buyer.index] = Some(match started.remove(&begin.hold_id) {
            Some(row) => {
                // A hold bought soon after it was taken outlasts the grace already.
                if holds[&begin.hold_id].expires_at < begin.timing.payment_grace_end() {
                    extend.push((begin.hold_id, begin.timing.payment_grace_end()));
                }
                BeginOutcome::Started(row)
            }
            // Another key is already paying this hold, or this key is (a
            // retry): the caller looks it up.
            None => BeginOutcome::HoldNotActive,
        });
    }
    set_hold_expiries(tx, &extend, ExpiryMove::LaterOnly).await?;
    outcomes
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| sqlx::Error::Protocol("a purchase of the run got no outcome".into()))
}

/// A purchase that passed the hold's checks, and its buyer's user row.
struct Buyer {
    index: usize,
    user_id: i64,
    by_account: bool,
}

async fn read_holds(
    tx: &mut AnyWriteTx,
    begins: &[&BeginPurchase],
) -> Result<HashMap<i64, HoldRow>, sqlx::Error> {
    let ids: Vec<i64> = begins.iter().map(|begin| begin.hold_id).collect();
    let rows: Vec<HoldRow> = on_tx!(tx, conn => {
        let mut read = QueryBuilder::new(format!("SELECT {HOLD_COLUMNS} FROM holds WHERE id IN ("));
        push_id_list(&mut read, &ids);
        read.build_query_as().fetch_all(&mut *conn).await
    })?;
    Ok(rows.into_iter().map(|hold| (hold.id, hold)).collect())
}

/// Why the hold cannot be bought now, if it cannot.
fn hold_refusal(begin: &BeginPurchase, hold: Option<&HoldRow>) -> Option<BeginOutcome> {
    let Some(hold) =
        hold.filter(|hold| hold.session_id == begin.session_id && hold.event_id == begin.event_id)
    else {
        return Some(BeginOutcome::HoldNotFound);
    };
    (hold.status != HoldStatus::Active || hold.expires_at <= begin.timing.now)
        .then_some(BeginOutcome::HoldNotActive)
}

/// The user each purchase is recorded for, and whether it was bought
/// signed in. The rows are locked for the rest of the transaction on
/// PostgreSQL (SQLite's write transaction is exclusive already), so two
/// purchases with one email, in two batches, are checked against the
/// per-buyer limit one after the other. A guest purchase records (or
/// reuses) a user row for its email; the no-op update makes RETURNING give
/// the id of an existing row too, and locks it.
async fn payer_users(
    tx: &mut AnyWriteTx,
    payers: &[&Payer],
    now: i64,
) -> Result<Vec<(i64, bool)>, sqlx::Error> {
    let mut emails = BTreeSet::new();
    let mut accounts = BTreeSet::new();
    for payer in payers {
        match payer {
            Payer::Account(user_id) => accounts.insert(*user_id),
            Payer::Guest(email) => emails.insert(email.as_str()),
        };
    }
    let mut guests: HashMap<String, i64> = HashMap::new();
    if !emails.is_empty() {
        let rows: Vec<(i64, String)> = on_tx!(tx, conn => {
            // `WHERE true` tells SQLite's parser the ON CONFLICT that
            // follows is the insert's, not a join's.
            let mut upsert =
                QueryBuilder::new("INSERT INTO users (email, created_at) SELECT * FROM ");
            push_rows(&mut upsert, vec![
                Column::Texts(emails.iter().map(|email| email.to_string()).collect()),
                Column::Ids(vec![now; emails.len()]),
            ]);
            upsert.push(" WHERE true");
            upsert.push(
                " ON CONFLICT (email) DO UPDATE SET email = excluded.email RETURNING id, email",
            );
            upsert.build_query_as().fetch_all(&mut *conn).await
        })?;
        guests.extend(rows.into_iter().map(|(id, email)| (email, id)));
    }
    if let (AnyWriteTx::Postgres(tx), false) = (&mut *tx, accounts.is_empty()) {
        let ids: Vec<i64> = accounts.into_iter().collect();
        let mut lock = QueryBuilder::new("SELECT id FROM users WHERE id IN (");
        push_id_list(&mut lock, &ids);
        lock.push(" ORDER BY id FOR UPDATE");
        lock.build().execute(&mut **tx).await?;
    }
    payers
        .iter()
        .map(|payer| match payer {
            Payer::Account(user_id) => Ok((*user_id, true)),
            Payer::Guest(email) => guests
                .get(email)
                .map(|&user_id| (user_id, false))
                .ok_or_else(|| sqlx::Error::Protocol("a guest's user row was not returned".into())),
        })
        .collect()
}

/// Inserts the pending purchases, by hold; a purchase a unique index
/// refused (its hold has a live purchase, or its session used the key) is
/// missing.
async fn insert_pending(
    tx: &mut AnyWriteTx,
    begins: &[&BeginPurchase],
    holds: &HashMap<i64, HoldRow>,
    buyers: &[Buyer],
) -> Result<HashMap<i64, PurchaseRow>, sqlx::Error> {
    if buyers.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<PurchaseRow> = on_tx!(tx, conn => {
        let mut insert = QueryBuilder::new(
            "INSERT INTO purchases (event_id, hold_id, user_id, session_id, request_key, \
             request_fingerprint, processor_key, processor_customer, status, total_cents, \
             hold_expires_before, next_check_at, created_at, updated_at, by_account) \
             SELECT * FROM ",
        );
        let begins = || buyers.iter().map(|buyer| begins[buyer.index]);
        let holds = || begins().map(|begin| &holds[&begin.hold_id]);
        let texts = |text: fn(&BeginPurchase) -> &String| {
            begins().map(|begin| text(begin).clone()).collect()
        };
        push_rows(&mut insert, vec![
            Column::Ids(begins().map(|begin| begin.event_id).collect()),
            Column::Ids(begins().map(|begin| begin.hold_id).collect()),
            Column::Ids(buyers.iter().map(|buyer| buyer.user_id).collect()),
            Column::Texts(texts(|begin| &begin.session_id)),
            Column::Texts(texts(|begin| &begin.request_key)),
            Column::Texts(texts(|begin| &begin.fingerprint)),
            Column::Texts(texts(|begin| &begin.processor_key)),
            Column::MaybeTexts(begins().map(|begin| begin.customer.clone()).collect()),
            Column::Texts(vec!["pending".to_string(); buyers.len()]),
            Column::Ids(holds().map(|hold| hold.total_cents).collect()),
            Column::Ids(holds().map(|hold| hold.expires_at).collect()),
            Column::Ids(
                begins()
                    .map(|begin| begin.timing.now + begin.timing.reconcile_after_ms)
                    .collect(),
            ),
            Column::Ids(begins().map(|begin| begin.timing.now).collect()),
            Column::Ids(begins().map(|begin| begin.timing.now).collect()),
            Column::Flags(buyers.iter().map(|buyer| buyer.by_account).collect()),
        ]);
        insert.push(" WHERE true");
        insert.push(format!(" ON CONFLICT DO NOTHING RETURNING {PURCHASE_COLUMNS}"));
        insert.build_query_as().fetch_all(&mut *conn).await
    })?;
    Ok(rows.into_iter().map(|row| (row.hold_id, row)).collect())
}
