//! The books a load run reads back: an event's sales counted from the
//! database, and the double-sale check.

use crate::common;

use common::*;
use server::catalog::sales::{oversold_seats, sales_tally, SalesTally};
use server::payments::test_gateway::TestGateway;
use std::sync::Arc;

#[tokio::test]
async fn the_tally_counts_what_was_paid_for_and_a_double_sale_is_found() {
    let app =
        spawn_app_with_gateway(fresh_database_url().await, Arc::new(TestGateway::default())).await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let other = add_event(app.store(), hall, "Other show", 6).await;
    let seats = seat_ids(&app, event).await;
    let total = seats.len() as i64;
    let store = app.store();
    let nothing_sold = SalesTally {
        seats_sold: 0,
        seats_unsold: total,
        live_tickets: 0,
        distinct_buyers: 0,
    };
    assert_eq!(
        sales_tally(store, event.0).await.expect("tally"),
        nothing_sold
    );

    // Two fans pay for two seats each; a third only holds one.
    for (fan, pair) in seats[0..4].chunks(2).enumerate() {
        let mut buyer = Buyer::new(&app);
        let hold = buyer.held(event, pair).await;
        let body = serde_json::json!({
            "email": format!("fan{fan}@example.com"),
            "payment": {"token": "tok_visa"},
        });
        let (status, purchase) = buyer
            .purchase_with(hold.hold_id, &format!("tally-key-{fan}-0000"), body)
            .await;
        assert_eq!(status, 201, "{purchase}");
    }
    Buyer::new(&app).held(event, &seats[4..5]).await;
    let tally = sales_tally(store, event.0).await.expect("tally");
    assert_eq!(
        tally,
        SalesTally {
            seats_sold: 4,
            seats_unsold: total - 4,
            live_tickets: 4,
            distinct_buyers: 2,
        }
    );
    assert_eq!(
        sales_tally(store, other.0).await.expect("tally").seats_sold,
        0,
        "another event's seats are not counted"
    );
    assert_eq!(oversold_seats(store).await.expect("oversold"), 0);

    // Without the index that forbids it, a second live ticket for a seat is
    // exactly what the check is there to find.
    server::on_pool!(store, pool => {
        sqlx::query("DROP INDEX tickets_one_live_per_seat").execute(pool).await.expect("drop");
        sqlx::query(
            "INSERT INTO tickets (purchase_id, event_id, seat_id, status, code, created_at) \
             SELECT purchase_id, event_id, seat_id, status, code || '-again', created_at \
             FROM tickets WHERE id = (SELECT MIN(id) FROM tickets)",
        )
        .execute(pool)
        .await
        .expect("second ticket");
    });
    assert_eq!(oversold_seats(store).await.expect("oversold"), 1);
    assert_eq!(
        sales_tally(store, event.0)
            .await
            .expect("tally")
            .live_tickets,
        5
    );
}
