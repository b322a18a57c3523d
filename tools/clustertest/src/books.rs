//! What the database says after a scenario, against what buyers were told
//! and what viewers show.

use crate::onsale::Acknowledged;
use crate::viewer::Viewer;
use sqlx::PgPool;
use std::collections::HashMap;

/// Every check of one scenario; empty when all hold.
pub type Violations = Vec<String>;

/// Every acknowledged purchase is paid with a valid ticket for each of its
/// seats; no seat has two live tickets; every sold seat has one.
pub async fn check_sales(
    pool: &PgPool,
    event: i64,
    acknowledged: &[Acknowledged],
) -> Result<Violations, sqlx::Error> {
    let mut violations = Vec::new();
    for ack in acknowledged {
        let status: Option<(String,)> =
            sqlx::query_as("SELECT status FROM purchases WHERE id = $1")
                .bind(ack.purchase_id)
                .fetch_optional(pool)
                .await?;
        if status.as_ref().map(|s| s.0.as_str()) != Some("paid") {
            violations.push(format!(
                "purchase {} was answered paid but is {status:?} in the database",
                ack.purchase_id
            ));
        }
        let mut ticketed: Vec<(i64,)> = sqlx::query_as(
            "SELECT seat_id FROM tickets WHERE purchase_id = $1 AND status = 'valid' ORDER BY seat_id",
        )
        .bind(ack.purchase_id)
        .fetch_all(pool)
        .await?;
        let mut expected = ack.seats.clone();
        expected.sort_unstable();
        ticketed.sort_unstable();
        if ticketed.iter().map(|t| t.0).collect::<Vec<_>>() != expected {
            violations.push(format!(
                "purchase {}: seats {expected:?} acknowledged, tickets for {ticketed:?}",
                ack.purchase_id
            ));
        }
    }
    let doubles: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT seat_id, COUNT(*) FROM tickets WHERE event_id = $1 \
         AND status IN ('valid', 'used') GROUP BY seat_id HAVING COUNT(*) > 1",
    )
    .bind(event)
    .fetch_all(pool)
    .await?;
    for (seat, count) in doubles {
        violations.push(format!("seat {seat} sold {count} times"));
    }
    let (sold, ticketed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM seats WHERE event_id = $1 AND status = 'sold'), \
                (SELECT COUNT(DISTINCT seat_id) FROM tickets WHERE event_id = $1 \
                 AND status IN ('valid', 'used'))",
    )
    .bind(event)
    .fetch_one(pool)
    .await?;
    if sold != ticketed {
        violations.push(format!(
            "{sold} seats sold but {ticketed} seats have a live ticket"
        ));
    }
    Ok(violations)
}

/// The seat statuses of the event as stored.
pub async fn seat_statuses(pool: &PgPool, event: i64) -> Result<HashMap<i64, String>, sqlx::Error> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, status FROM seats WHERE event_id = $1")
            .bind(event)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Each viewer's map equals the database's, seat for seat.
pub fn check_viewers(viewers: &[Viewer], stored: &HashMap<i64, String>) -> Violations {
    let mut violations = Vec::new();
    for (i, viewer) in viewers.iter().enumerate() {
        let (_, seats) = viewer.snapshot();
        let wrong: Vec<_> = stored
            .iter()
            .filter(|(id, status)| seats.get(id) != Some(status))
            .take(3)
            .collect();
        if !wrong.is_empty() {
            violations.push(format!(
                "viewer {i} disagrees with the database, e.g. (seat, stored status) {wrong:?}"
            ));
        }
    }
    violations
}
