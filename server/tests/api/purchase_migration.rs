//! Migration 0006 on a database that already has purchases and tickets:
//! every row survives (SQLite rebuilds the table under its tickets), old
//! keys keep working, and pending purchases are handed to the reconciler.

use crate::common;

use app::types::EventId;
use common::*;
use server::clock::now_ms;
use server::store::Store;
use std::borrow::Cow;

fn before_0006(mut migrator: sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    migrator.migrations = Cow::Owned(
        migrator
            .migrations
            .iter()
            .filter(|m| m.version < 6)
            .cloned()
            .collect(),
    );
    migrator
}

async fn migrate_to_0005(store: &Store) {
    match store {
        Store::Sqlite(pool, _) => before_0006(sqlx::migrate!("../migrations/sqlite"))
            .run(pool)
            .await
            .expect("migrate"),
        Store::Postgres(pool) => before_0006(sqlx::migrate!("../migrations/postgres"))
            .run(pool)
            .await
            .expect("migrate"),
    }
}

/// An event with one seat, written as the 0005 schema has it: today's
/// venue code writes columns later migrations added.
async fn event_of_0005(store: &Store, now: i64) -> EventId {
    server::on_pool!(store, pool => async {
        for statement in [
            "INSERT INTO venues (id, name, city, created_at) VALUES (1, 'Hall', 'Hull', $1)",
            "INSERT INTO sections (id, venue_id, name, sort_order) VALUES (1, 1, 'Front', 0)",
            "INSERT INTO events (id, venue_id, name, description, starts_at, onsale_at, \
             search_text, created_at) VALUES (1, 1, 'Show', '', $1 + 432000000, $1, 'show', $1)",
            "INSERT INTO price_tiers (id, event_id, name, price_cents) VALUES (1, 1, 'Front', 5000)",
            "INSERT INTO event_sections (event_id, section_id, tier_id) VALUES (1, 1, 1)",
            "INSERT INTO seats (id, event_id, section_id, row_label, number, x, y, tier_id) \
             VALUES (1, 1, 1, 'A', 1, 0.0, 0.0, 1)",
        ] {
            let query = sqlx::query(statement);
            let query = if statement.contains("$1") { query.bind(now) } else { query };
            query.execute(pool).await?;
        }
        Ok::<_, sqlx::Error>(())
    }.await)
    .expect("an event of the 0005 schema");
    EventId(1)
}

#[tokio::test]
async fn existing_purchases_and_tickets_survive_and_pending_ones_are_reconciled() {
    let store = Store::connect(&fresh_database_url().await)
        .await
        .expect("connect");
    migrate_to_0005(&store).await;
    let now = now_ms();
    let event = event_of_0005(&store, now).await;
    server::on_pool!(&store, pool => async {
        for (hold, status) in [(1, "purchased"), (2, "active")] {
            sqlx::query(
                "INSERT INTO holds (id, event_id, session_id, status, expires_at, seat_count, \
                 total_cents, created_at) VALUES ($1, $2, 's1', $3, $4, 1, 5000, $4)",
            )
            .bind(hold).bind(event.0).bind(status).bind(now)
            .execute(pool).await?;
        }
        sqlx::query("INSERT INTO users (id, email, created_at) VALUES (1, 'fan@example.com', $1)")
            .bind(now).execute(pool).await?;
        for (id, hold, key, status) in [(1, 1, "old-paid-key", "paid"), (2, 2, "old-pending-key", "pending")] {
            sqlx::query(
                "INSERT INTO purchases (id, event_id, hold_id, user_id, session_id, idempotency_key, \
                 status, total_cents, payment_ref, created_at, updated_at) \
                 VALUES ($1, $2, $3, 1, 's1', $4, $5, 5000, 'pi_old', $6, $6)",
            )
            .bind(id).bind(event.0).bind(hold).bind(key).bind(status).bind(now)
            .execute(pool).await?;
        }
        let (seat,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM seats").fetch_one(pool).await?;
        sqlx::query(
            "INSERT INTO tickets (purchase_id, event_id, seat_id, status, code, created_at) \
             VALUES (1, $1, $2, 'valid', 'TK-old', $3)",
        )
        .bind(event.0).bind(seat).bind(now)
        .execute(pool).await.map(|_| ())
    }.await)
    .expect("old rows");

    store.migrate().await.expect("migrate to the latest");

    let rows: Vec<(i64, String, String, String, Option<i64>)> = server::on_pool!(&store, pool =>
        sqlx::query_as(
            "SELECT id, request_key, processor_key, status, next_check_at FROM purchases ORDER BY id",
        )
        .fetch_all(pool)
        .await)
    .expect("purchases");
    assert_eq!(
        rows,
        vec![
            (
                1,
                "old-paid-key".into(),
                "old-paid-key".into(),
                "paid".into(),
                None
            ),
            (
                2,
                "old-pending-key".into(),
                "old-pending-key".into(),
                "pending".into(),
                Some(now + 60_000)
            ),
        ]
    );
    let (tickets,): (i64,) = server::on_pool!(&store, pool =>
        sqlx::query_as("SELECT COUNT(*) FROM tickets t JOIN purchases p ON p.id = t.purchase_id")
            .fetch_one(pool).await)
    .expect("tickets");
    assert_eq!(tickets, 1);
    // Still enforced after the rebuild: tickets need their purchase, a key
    // is unique within its session, and a hold has one live purchase.
    let orphan = server::on_pool!(&store, pool => sqlx::query(
        "INSERT INTO tickets (purchase_id, event_id, seat_id, status, code, created_at) \
         VALUES (99, $1, 1, 'refunded', 'TK-orphan', 0)",
    )
    .bind(event.0)
    .execute(pool)
    .await
    .map(|_| ()));
    assert!(orphan.is_err(), "foreign keys hold");
    let insert = |id: i64, hold: i64, session: &'static str, key: &'static str| {
        let store = store.clone();
        async move {
            server::on_pool!(&store, pool => sqlx::query(
                "INSERT INTO purchases (id, event_id, hold_id, user_id, session_id, request_key, \
                 processor_key, status, total_cents, created_at, updated_at) \
                 VALUES ($1, $2, $3, 1, $4, $5, $6, 'failed', 5000, 0, 0)",
            )
            .bind(id).bind(event.0).bind(hold).bind(session).bind(key).bind(format!("p-{id}"))
            .execute(pool)
            .await
            .map(|_| ()))
        }
    };
    assert!(
        insert(3, 2, "s2", "old-paid-key").await.is_ok(),
        "another session may use the key"
    );
    assert!(
        insert(4, 2, "s1", "old-paid-key").await.is_err(),
        "the same session may not"
    );
    let refunding = server::on_pool!(&store, pool =>
        sqlx::query("UPDATE purchases SET status = 'refunding' WHERE id = 1").execute(pool).await.map(|_| ()));
    assert!(refunding.is_ok(), "refunding is a status now");
}
