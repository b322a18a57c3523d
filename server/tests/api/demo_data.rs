//! The demo data a fresh database is seeded with in demo mode.

use crate::common;

use common::*;

#[tokio::test]
async fn in_demo_mode_a_fresh_database_is_seeded_once_with_the_demo_venues_and_events() {
    let database_url = fresh_database_url().await;
    let mut config = server::config::Config::production_for_database(database_url.clone());
    config.demo = true;
    let app = spawn_app_with(config.clone()).await;

    let (status, body) = app.get_json("/api/events?limit=100").await;
    assert_eq!(status, 200);
    let events = body["events"].as_array().expect("events");
    assert!(events.len() >= 20, "{} events", events.len());
    let stadium = events
        .iter()
        .find(|e| e["venue"] == "Northgate Stadium")
        .expect("a stadium event");

    let (status, map) = app
        .get_json(&format!("/api/events/{}/seats", stadium["id"]))
        .await;
    assert_eq!(status, 200);
    let seats = map["seats"].as_array().expect("seats");
    assert!(seats.len() >= 50_000, "{} seats", seats.len());
    let sections: std::collections::HashSet<_> = seats
        .iter()
        .map(|s| s["section"].as_str().expect("section"))
        .collect();
    assert!(sections.len() >= 40);

    let (_, detail) = app
        .get_json(&format!("/api/events/{}", stadium["id"]))
        .await;
    let tiers = detail["tiers"].as_array().expect("tiers").len();
    assert!((2..=4).contains(&tiers));

    // The demo admin of the README can sign in, and is an admin.
    let mut admin = Buyer::new(&app);
    let (status, me) = admin
        .send(
            reqwest::Method::POST,
            "/api/auth/login",
            Some(serde_json::json!({
                "email": server::demo::DEMO_ADMIN_EMAIL,
                "password": server::demo::DEMO_ADMIN_PASSWORD,
            })),
        )
        .await;
    assert_eq!((status, me["role"].as_str()), (200, Some("admin")), "{me}");

    // Starting again on the same database does not seed twice.
    let again = spawn_app_with(config).await;
    let (_, body) = again.get_json("/api/events?limit=100").await;
    assert_eq!(
        body["events"].as_array().expect("events").len(),
        events.len()
    );
}
