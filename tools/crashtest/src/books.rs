//! Reading the books after a run: the database (SQLite or PostgreSQL, the
//! backend following the URL's scheme) and the processor stand-in's
//! records.

use crate::invariants::{Books, Charge, Purchase, Ticket};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Connection, PgPool, SqlitePool};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The run's database.
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code on whichever pool the database is.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

type PurchaseRow = (
    i64,
    i64,
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
    i64,
);
type TicketRow = (i64, i64, i64, i64, String, String);

impl Db {
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Ok(if url.starts_with("postgres") {
            Self::Postgres(PgPoolOptions::new().max_connections(2).connect(url).await?)
        } else {
            Self::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await?,
            )
        })
    }

    /// Purchases the reconciler still has to settle or look at.
    pub async fn unsettled(&self) -> Result<i64, Error> {
        const SQL: &str = "SELECT COUNT(*) FROM purchases \
             WHERE status IN ('pending', 'refunding') OR next_check_at IS NOT NULL";
        let (count,): (i64,) = on_db!(self, pool => sqlx::query_as(SQL).fetch_one(pool).await)?;
        Ok(count)
    }

    /// Polls until nothing is left to settle; `Err` with the count left
    /// once `limit` has passed.
    pub async fn wait_settled(&self, limit: Duration) -> Result<Duration, i64> {
        let started = Instant::now();
        loop {
            let left = self.unsettled().await.unwrap_or(i64::MAX);
            if left == 0 {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= limit {
                return Err(left);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The database's half of the books (charges come from the processor).
    pub async fn read(&self) -> Result<Books, Error> {
        const PURCHASES: &str = "SELECT id, hold_id, request_key, status, total_cents, \
             payment_ref, next_check_at, attempt FROM purchases ORDER BY id";
        const HOLDS: &str =
            "SELECT id, seat_count FROM holds WHERE id IN (SELECT hold_id FROM purchases)";
        const TICKETS: &str = "SELECT t.id, t.purchase_id, t.event_id, t.seat_id, t.status, \
             s.status FROM tickets t JOIN seats s ON s.id = t.seat_id ORDER BY t.id";
        const SOLD: &str = "SELECT event_id, id FROM seats WHERE status = 'sold'";
        let (purchases, holds, tickets, sold_seats) = on_db!(self, pool => {
            let purchases: Vec<PurchaseRow> = sqlx::query_as(PURCHASES).fetch_all(pool).await?;
            let holds: Vec<(i64, i64)> = sqlx::query_as(HOLDS).fetch_all(pool).await?;
            let tickets: Vec<TicketRow> = sqlx::query_as(TICKETS).fetch_all(pool).await?;
            let sold: Vec<(i64, i64)> = sqlx::query_as(SOLD).fetch_all(pool).await?;
            (purchases, holds, tickets, sold)
        });
        Ok(Books {
            purchases: purchases
                .into_iter()
                .map(
                    |(
                        id,
                        hold_id,
                        request_key,
                        status,
                        total_cents,
                        payment_ref,
                        next,
                        attempt,
                    )| {
                        Purchase {
                            id,
                            hold_id,
                            request_key,
                            status,
                            total_cents,
                            payment_ref,
                            next_check_at: next,
                            attempt,
                        }
                    },
                )
                .collect(),
            hold_seats: holds.into_iter().collect(),
            tickets: tickets
                .into_iter()
                .map(
                    |(id, purchase_id, event_id, seat_id, status, seat_status)| Ticket {
                        id,
                        purchase_id,
                        event_id,
                        seat_id,
                        status,
                        seat_status,
                    },
                )
                .collect(),
            sold_seats,
            charges: Vec::new(),
        })
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await);
    }
}

/// Creates a database of its own for this run on the PostgreSQL server
/// `url` points at, and returns its URL.
pub async fn fresh_postgres(url: &str, name: &str) -> Result<String, Error> {
    let mut admin = sqlx::PgConnection::connect(url).await?;
    // `name` is ours (letters, digits and underscores), never input.
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    with_database(url, name)
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> Result<String, Error> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").ok_or("not a database URL")? + 3;
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    Ok(match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    })
}

/// The processor's half of the books: every payment from the stand-in's
/// records, and whether each could still be charged. The records do not
/// say whether a `requires_payment_method` payment was declined (settled)
/// or never confirmed (open), so those are looked up through the API.
pub async fn charges(
    client: &reqwest::Client,
    stand_in: &str,
    secret_key: &str,
) -> Result<Vec<Charge>, Error> {
    let records: Value = client
        .get(format!("{stand_in}/_stand_in/payment_intents"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let records = records["data"].as_array().cloned().unwrap_or_default();
    futures::stream::iter(records)
        .map(|record| charge(client, stand_in, secret_key, record))
        .buffered(16)
        .try_collect()
        .await
}

async fn charge(
    client: &reqwest::Client,
    stand_in: &str,
    secret_key: &str,
    record: Value,
) -> Result<Charge, Error> {
    let id = record["id"].as_str().ok_or("a record without an id")?;
    let status = record["status"].as_str().unwrap_or_default();
    let open = match status {
        "requires_confirmation" | "requires_action" => true,
        "requires_payment_method" => {
            let intent: Value = client
                .get(format!("{stand_in}/v1/payment_intents/{id}"))
                .bearer_auth(secret_key)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            intent["last_payment_error"].is_null()
        }
        _ => false,
    };
    Ok(Charge {
        id: id.to_string(),
        amount: record["amount"].as_i64().unwrap_or_default(),
        status: status.to_string(),
        amount_refunded: record["amount_refunded"].as_i64().unwrap_or_default(),
        purchase_id: record["metadata"]["purchase_id"]
            .as_str()
            .and_then(|id| id.parse().ok()),
        open,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        let url = |u: &str| with_database(u, "run_1").expect("a URL");
        assert_eq!(
            url("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/run_1"
        );
        assert_eq!(
            url("postgres://u:p@db:5432/app?sslmode=disable"),
            "postgres://u:p@db:5432/run_1?sslmode=disable"
        );
        assert_eq!(url("postgres://db"), "postgres://db/run_1");
        assert!(with_database("nonsense", "x").is_err());
    }
}
