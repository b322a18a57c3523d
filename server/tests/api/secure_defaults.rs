//! A server outside demo mode: nothing seeded and no demo admin, and
//! without a payment processor nothing is charged, recorded or sold.
//! (`deploy.rs` starts the real binary as the README deploys it.)

use crate::common;

use app::types::SeatStatus;
use common::*;
use reqwest::Method;
use serde_json::json;
use server::config::Config;

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (count,): (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as(sql).fetch_one(pool).await)
    .expect("count");
    count
}

async fn production_app() -> TestApp {
    spawn_app_with(Config::production_for_database(fresh_database_url().await)).await
}

#[tokio::test]
async fn without_a_processor_a_purchase_is_refused_before_anything_is_recorded() {
    let app = production_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let seat = seat_ids(&app, event).await[0];
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &[seat]).await;

    let (status, body) = fan
        .purchase(hold.hold_id, "no-processor-0001", "tok_visa")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("payments_not_configured")),
        "{body}"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM purchases").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM tickets").await, 0);
    // The hold is as it was: active, not extended for a payment, its seat held.
    let (status, now) = fan
        .send(Method::GET, &format!("/api/holds/{}", hold.hold_id), None)
        .await;
    assert_eq!((status, now["status"].as_str()), (200, Some("active")));
    assert_eq!(now["expires_at"], hold.expires_at);
    assert_eq!(seat_status(&app, event, seat).await, SeatStatus::Held);
}

#[tokio::test]
async fn without_a_processor_no_card_can_be_saved() {
    let app = production_app().await;
    let mut fan = Buyer::new(&app);
    let (status, _) = fan
        .send(
            Method::POST,
            "/api/auth/register",
            Some(json!({"email": "ada@example.com", "password": "correct horse", "display_name": "Ada"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = fan
        .send(
            Method::PUT,
            "/api/me/payment-method",
            Some(json!({"token": "tok_visa"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("payments_not_configured")),
        "{body}"
    );
    let (_, me) = fan.send(Method::GET, "/api/me", None).await;
    assert_eq!(me["payment_method"], serde_json::Value::Null);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM users WHERE payment_token IS NOT NULL"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn outside_demo_mode_a_fresh_database_stays_empty_and_has_no_demo_admin() {
    let app = production_app().await;
    let (status, body) = app.get_json("/api/events?limit=100").await;
    assert_eq!(status, 200);
    assert_eq!(body["events"], json!([]));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM venues").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 0);
    let mut intruder = Buyer::new(&app);
    let (status, _) = intruder
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({
                "email": server::demo::DEMO_ADMIN_EMAIL,
                "password": server::demo::DEMO_ADMIN_PASSWORD,
            })),
        )
        .await;
    assert_eq!(status, 401);
}
