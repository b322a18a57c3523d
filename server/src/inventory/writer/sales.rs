//! Selling charged purchases: a run of sales side by side in a batch,
//! each decided alone, in arrival order, sharing one statement per step.

use super::log::ROWS_PER_STATEMENT;
use super::purchases::{mail_buyers, push_case_of, Completion, Sell};
use super::Batch;
use crate::mail::outbox::LetterKind;
use crate::on_tx;
use crate::store::{push_id_list, push_rows, AnyWriteTx, Column};
use crate::ticket_codes::TicketClaim;
use app::types::{PurchaseStatus, SeatStatus};
use sqlx::QueryBuilder;
use std::collections::{HashMap, HashSet};

/// Sells the holds' seats to charged purchases of one event, side by side
/// in the batch: for each, purchase `paid`, hold `purchased`, seats
/// `sold`, tickets `valid`, all of it or nothing. Each sale is decided
/// alone, in arrival order, as if run one after another (a second sale of
/// one purchase finds it settled); they share one statement per step, so a
/// run of sales costs six statements, not six per sale.
pub(super) async fn sell_run(
    tx: &mut AnyWriteTx,
    batch: &mut Batch<'_>,
    sells: &[&Sell],
    version: i64,
) -> Result<Vec<Completion>, sqlx::Error> {
    let states = read_sale_states(tx, sells).await?;
    let mut decided = decide_sales(sells, &states);
    let chosen: Vec<&Sell> = sells
        .iter()
        .zip(&decided)
        .filter(|(_, completion)| **completion == Completion::Sold)
        .map(|(sell, _)| *sell)
        .collect();
    if chosen.is_empty() {
        return Ok(decided);
    }
    // Of two settlers, the second finds it settled (a refund decided
    // outside the writer may have won since the read above).
    let paid = mark_paid(tx, &chosen).await?;
    for (sell, completion) in sells.iter().zip(decided.iter_mut()) {
        if *completion == Completion::Sold && !paid.contains(&sell.purchase.id) {
            *completion = Completion::AlreadySettled;
        }
    }
    let sold: Vec<&Sell> = chosen
        .into_iter()
        .filter(|sell| paid.contains(&sell.purchase.id))
        .collect();
    if sold.is_empty() {
        return Ok(decided);
    }
    let hold_ids: Vec<i64> = sold.iter().map(|sell| sell.purchase.hold_id).collect();
    on_tx!(tx, conn => {
        let mut holds = QueryBuilder::new("UPDATE holds SET status = 'purchased' WHERE id IN (");
        push_id_list(&mut holds, &hold_ids);
        holds.build().execute(&mut *conn).await.map(|done| done.rows_affected())
    })?;
    let seats_of = sell_seats(tx, &hold_ids, version).await?;
    issue_tickets(tx, &sold, &seats_of).await?;
    // The ticket emails commit with the sales: no sale without its email.
    let purchase_ids: Vec<i64> = sold.iter().map(|sell| sell.purchase.id).collect();
    let now = sold.iter().map(|sell| sell.now).min().unwrap_or_default();
    mail_buyers(tx, LetterKind::Tickets, &purchase_ids, now).await?;
    for sell in sold {
        let seat_ids = seats_of
            .get(&sell.purchase.hold_id)
            .map_or(&[][..], Vec::as_slice);
        batch.changed(sell.purchase.event_id, seat_ids, SeatStatus::Sold, sell.now);
    }
    Ok(decided)
}

/// Each purchase's state and its hold's seats, read before anything
/// changes: the batch goes on after a refusal, so a refusal must write
/// nothing. No other writer can touch the seats until the batch commits
/// (the event's lock).
async fn read_sale_states(
    tx: &mut AnyWriteTx,
    sells: &[&Sell],
) -> Result<HashMap<i64, SaleState>, sqlx::Error> {
    let ids: Vec<i64> = sells.iter().map(|sell| sell.purchase.id).collect();
    let rows: Vec<SaleState> = on_tx!(tx, conn => {
        let mut read = QueryBuilder::new(
            "SELECT p.id, p.status, h.seat_count, \
             (SELECT COUNT(*) FROM seats s WHERE s.hold_id = h.id AND s.status = 'held') AS still_held \
             FROM purchases p JOIN holds h ON h.id = p.hold_id WHERE p.id IN (",
        );
        push_id_list(&mut read, &ids);
        read.build_query_as().fetch_all(&mut *conn).await
    })?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

/// Decides the sales in arrival order against the states read: a pending
/// purchase whose hold still has all its seats is sold; one that is
/// settled (or sold earlier in this run) is already settled; any other
/// lost its seats.
fn decide_sales(sells: &[&Sell], states: &HashMap<i64, SaleState>) -> Vec<Completion> {
    let mut sold_here = HashSet::new();
    sells
        .iter()
        .map(|sell| {
            let id = sell.purchase.id;
            match states.get(&id) {
                Some(state)
                    if state.status == PurchaseStatus::Pending && !sold_here.contains(&id) =>
                {
                    if state.still_held == state.seat_count {
                        sold_here.insert(id);
                        Completion::Sold
                    } else {
                        Completion::SeatsLost
                    }
                }
                _ => Completion::AlreadySettled,
            }
        })
        .collect()
}

/// Marks the chosen purchases `paid` with their payments, if still
/// pending; returns those it marked.
async fn mark_paid(tx: &mut AnyWriteTx, chosen: &[&Sell]) -> Result<HashSet<i64>, sqlx::Error> {
    let intents: Vec<(i64, &str)> = chosen
        .iter()
        .map(|sell| (sell.purchase.id, sell.intent_id.as_str()))
        .collect();
    let times: Vec<(i64, i64)> = chosen
        .iter()
        .map(|sell| (sell.purchase.id, sell.now))
        .collect();
    let ids: Vec<i64> = chosen.iter().map(|sell| sell.purchase.id).collect();
    let paid: Vec<(i64,)> = on_tx!(tx, conn => {
        let mut paid = QueryBuilder::new("UPDATE purchases SET status = 'paid', payment_ref = ");
        push_case_of(&mut paid, "id", &intents);
        paid.push(", updated_at = ");
        push_case_of(&mut paid, "id", &times);
        paid.push(", next_check_at = NULL, check_failures = 0 \
                   WHERE status = 'pending' AND id IN (");
        push_id_list(&mut paid, &ids);
        paid.push(" RETURNING id");
        paid.build_query_as().fetch_all(&mut *conn).await
    })?;
    Ok(paid.into_iter().map(|(id,)| id).collect())
}

/// Sells the held seats of the holds; returns each hold's seats, in id
/// order.
async fn sell_seats(
    tx: &mut AnyWriteTx,
    hold_ids: &[i64],
    version: i64,
) -> Result<HashMap<i64, Vec<i64>>, sqlx::Error> {
    let sold: Vec<(i64, i64)> = on_tx!(tx, conn => {
        let mut seats = QueryBuilder::new("UPDATE seats SET status = 'sold', held_until = NULL, version = ");
        seats.push_bind(version)
            .push(" WHERE status = 'held' AND hold_id IN (");
        push_id_list(&mut seats, hold_ids);
        seats.push(" RETURNING hold_id, id");
        seats.build_query_as().fetch_all(&mut *conn).await
    })?;
    let mut seats_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for (hold_id, seat_id) in sold {
        seats_of.entry(hold_id).or_default().push(seat_id);
    }
    for seat_ids in seats_of.values_mut() {
        seat_ids.sort_unstable();
    }
    Ok(seats_of)
}

async fn issue_tickets(
    tx: &mut AnyWriteTx,
    sold: &[&Sell],
    seats_of: &HashMap<i64, Vec<i64>>,
) -> Result<(), sqlx::Error> {
    let tickets: Vec<(&Sell, i64)> = sold
        .iter()
        .flat_map(|sell| {
            let seat_ids = seats_of
                .get(&sell.purchase.hold_id)
                .map_or(&[][..], Vec::as_slice);
            seat_ids.iter().map(move |seat_id| (*sell, *seat_id))
        })
        .collect();
    for chunk in tickets.chunks(ROWS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut insert = QueryBuilder::new(
                "INSERT INTO tickets (purchase_id, event_id, seat_id, status, code, created_at) \
                 SELECT * FROM ",
            );
            push_rows(&mut insert, vec![
                Column::Ids(chunk.iter().map(|(sell, _)| sell.purchase.id).collect()),
                Column::Ids(chunk.iter().map(|(sell, _)| sell.purchase.event_id).collect()),
                Column::Ids(chunk.iter().map(|(_, seat_id)| *seat_id).collect()),
                Column::Texts(vec!["valid".to_string(); chunk.len()]),
                Column::Texts(
                    chunk
                        .iter()
                        .map(|(sell, seat_id)| {
                            sell.signer.sign(TicketClaim {
                                event_id: sell.purchase.event_id,
                                seat_id: *seat_id,
                                purchase_id: sell.purchase.id,
                            })
                        })
                        .collect(),
                ),
                Column::Ids(chunk.iter().map(|(sell, _)| sell.now).collect()),
            ]);
            insert.build().execute(&mut *conn).await.map(|done| done.rows_affected())
        })?;
    }
    Ok(())
}

/// What selling a purchase depends on: it is still pending, and its hold
/// still holds all its seats.
#[derive(sqlx::FromRow)]
struct SaleState {
    id: i64,
    #[sqlx(try_from = "String")]
    status: PurchaseStatus,
    seat_count: i64,
    still_held: i64,
}
