//! Two servers on one database sell two events at once: their seat writers
//! run batches at the same moment (on PostgreSQL truly in parallel, each
//! batch locking the events it touches in one global order), and neither
//! deadlocks nor sells a seat twice. Sold out means sold out: afterwards the
//! database and both servers' seat maps agree seat by seat.

use crate::common;

use app::types::{EventId, HoldId, SeatStatus};
use common::*;
use reqwest::Method;
use server::config::Config;
use std::collections::HashMap;

/// Holds two seats (overlapping other buyers'), sometimes gives them back,
/// otherwise pays; returns the seats it bought.
async fn buy(app: &TestApp, event: EventId, pair: [i64; 2], n: usize) -> Vec<i64> {
    let mut buyer = Buyer::new(app);
    let (status, hold) = buyer.hold(event, &pair).await;
    match status {
        201 => {}
        409 => {
            assert_eq!(hold["error"]["code"], "seats_unavailable", "{hold}");
            return Vec::new();
        }
        other => panic!("hold answered {other}: {hold}"),
    }
    let hold_id = HoldId(hold["hold_id"].as_i64().expect("hold id"));
    if n.is_multiple_of(5) {
        let path = format!("/api/holds/{hold_id}");
        let (status, body) = buyer.send(Method::DELETE, &path, None).await;
        assert_eq!(status, 204, "{body}");
        return Vec::new();
    }
    let key = format!("key-{n:04}-two-servers");
    let (status, purchase) = buyer.purchase_with(hold_id, &key, paying(&key)).await;
    assert_eq!(status, 201, "{purchase}");
    pair.to_vec()
}

/// A purchase body with an email of its own (the per-buyer limit counts
/// per email).
fn paying(key: &str) -> serde_json::Value {
    serde_json::json!({"email": format!("{key}@example.com"), "payment": {"token": "tok_visa"}})
}

/// Seat statuses as the database has them.
async fn db_statuses(app: &TestApp, event: EventId) -> HashMap<i64, String> {
    let rows: Vec<(i64, String)> = server::on_pool!(app.store(), pool => sqlx::query_as(
        "SELECT id, status FROM seats WHERE event_id = $1",
    )
    .bind(event.0)
    .fetch_all(pool)
    .await)
    .expect("seats");
    rows.into_iter().collect()
}

#[tokio::test]
async fn two_servers_selling_two_events_at_once_never_deadlock_nor_sell_a_seat_twice() {
    let url = fresh_database_url().await;
    let first = spawn_app_with(Config::for_database(url.clone()).without_client_limits()).await;
    let second = spawn_app_with(Config::for_database(url).without_client_limits()).await;
    let hall = add_venue(first.store(), "Hall", "Hull").await;
    let events = [
        add_event(first.store(), hall, "Matinee", 5).await,
        add_event(first.store(), hall, "Evening", 5).await,
    ];
    let mut seats = Vec::new();
    for event in events {
        seats.push(seat_ids(&first, event).await);
    }

    // 80 buyers over both servers and both events, each wanting a pair
    // that overlaps its neighbours'.
    let attempts = (0..80).map(|n| {
        let app = if n % 2 == 0 { &first } else { &second };
        let which = (n / 2) % 2;
        let ids = &seats[which];
        let pair = [ids[n % ids.len()], ids[(n + 1) % ids.len()]];
        buy(app, events[which], pair, n)
    });
    let bought: Vec<i64> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut once = std::collections::HashSet::new();
    assert!(
        bought.iter().all(|seat| once.insert(*seat)),
        "a seat sold twice"
    );

    // Sell out what is left, one seat at a time, alternating servers.
    for (which, event) in events.iter().enumerate() {
        let map = seat_map(&first, *event).await.seats;
        for (n, view) in map.into_iter().enumerate() {
            if view.status != SeatStatus::Available {
                continue;
            }
            let seat = view.id.0;
            let app = if n % 2 == 0 { &first } else { &second };
            let mut buyer = Buyer::new(app);
            let hold = buyer.held(*event, &[seat]).await;
            let key = format!("key-rest-{which}-{seat}");
            let (status, body) = buyer.purchase_with(hold.hold_id, &key, paying(&key)).await;
            assert_eq!(status, 201, "{body}");
        }
    }

    for (which, event) in events.iter().enumerate() {
        let in_db = db_statuses(&first, *event).await;
        assert_eq!(in_db.len(), seats[which].len());
        assert!(in_db.values().all(|status| status == "sold"), "{in_db:?}");
        for app in [&first, &second] {
            let served: HashMap<i64, String> = seat_map(app, *event)
                .await
                .seats
                .into_iter()
                .map(|seat| (seat.id.0, seat.status.as_str().to_string()))
                .collect();
            assert_eq!(
                served, in_db,
                "the served seat map agrees with the database"
            );
        }
        let (tickets, seats_with_tickets): (i64, i64) =
            server::on_pool!(first.store(), pool => sqlx::query_as(
            "SELECT COUNT(*), COUNT(DISTINCT seat_id) FROM tickets \
             WHERE event_id = $1 AND status = 'valid'",
        )
        .bind(event.0)
        .fetch_one(pool)
        .await)
            .expect("tickets");
        assert_eq!(tickets, seats[which].len() as i64);
        assert_eq!(seats_with_tickets, tickets, "one ticket per seat");
    }
    let (paid_seats,): (i64,) = server::on_pool!(first.store(), pool => sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(h.seat_count), 0) AS BIGINT) FROM purchases p \
         JOIN holds h ON h.id = p.hold_id WHERE p.status = 'paid'",
    )
    .fetch_one(pool)
    .await)
    .expect("paid");
    let all: i64 = seats.iter().map(|ids| ids.len() as i64).sum();
    assert_eq!(paid_seats, all, "every sold seat is paid for once");
}
