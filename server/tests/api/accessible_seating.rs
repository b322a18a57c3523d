//! Accessible seating: the layout marks wheelchair spaces, companion seats
//! and the rest; a companion seat is sold only with a wheelchair space in
//! the same hold; best available leaves both to those who pick them; and
//! an accessible seat never costs more than the others in its section.

use crate::common;

use app::layout::{SeatFeature, SeatLayout};
use app::types::{EventId, SeatStatus};
use common::*;
use server::catalog::create::{create_venue, VenueSpec};
use server::catalog::layout::stage_rows;
use std::sync::Arc;

/// A hall of one section, 3 rows of 8: wheelchair spaces at C1 and C8,
/// companion seats at C2 and C7, limited mobility at A1 and A8.
async fn accessible_event(app: &TestApp) -> (EventId, SeatLayout) {
    let venue = create_venue(
        app.store(),
        &VenueSpec {
            name: "Access Hall".into(),
            city: "York".into(),
            sections: vec![stage_rows("Stalls", 3.0, 3, 8, 0, 0.0)],
        },
    )
    .await
    .expect("venue");
    let event = add_event_with(
        app.store(),
        venue,
        "Open Show",
        server::clock::now_ms() + 86_400_000,
        |spec| spec.section_tiers = vec![("Stalls".into(), "Front".into())],
    )
    .await;
    let (status, layout) = app.get_json(&format!("/api/events/{event}/layout")).await;
    assert_eq!(status, 200);
    (event, serde_json::from_value(layout).expect("layout"))
}

fn seat(layout: &SeatLayout, row: &str, number: i64) -> i64 {
    layout
        .seats()
        .find(|(_, r, s)| r.label == row && s.number == number)
        .map(|(_, _, s)| s.id.0)
        .expect("seat")
}

fn with_feature(layout: &SeatLayout, feature: SeatFeature) -> Vec<(String, i64)> {
    layout
        .seats()
        .filter(|(_, _, s)| s.features.contains(&feature))
        .map(|(_, r, s)| (r.label.clone(), s.number))
        .collect()
}

#[tokio::test]
async fn the_layout_carries_each_seats_features() {
    let app = spawn_app().await;
    let (_, layout) = accessible_event(&app).await;
    let c = |n: i64| ("C".to_string(), n);
    assert_eq!(
        with_feature(&layout, SeatFeature::Wheelchair),
        vec![c(1), c(8)]
    );
    assert_eq!(
        with_feature(&layout, SeatFeature::Companion),
        vec![c(2), c(7)]
    );
    assert_eq!(
        with_feature(&layout, SeatFeature::LimitedMobility),
        vec![("A".to_string(), 1), ("A".to_string(), 8)]
    );
}

#[tokio::test]
async fn a_companion_seat_alone_is_refused_with_a_clear_message_and_nothing_held() {
    let app = spawn_app().await;
    let (event, layout) = accessible_event(&app).await;
    let companion = seat(&layout, "C", 2);
    let other = seat(&layout, "B", 4);
    let mut fan = Buyer::new(&app);
    let (status, body) = fan.hold(event, &[companion, other]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "companion_seat_alone");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("wheelchair space")),
        "{body}"
    );
    assert_eq!(
        seat_status(&app, event, companion).await,
        SeatStatus::Available
    );
    assert_eq!(seat_status(&app, event, other).await, SeatStatus::Available);
}

#[tokio::test]
async fn a_wheelchair_space_and_its_companion_seat_are_bought_together() {
    let gateway = Arc::new(server::payments::test_gateway::TestGateway::default());
    let app = spawn_app_with_gateway(fresh_database_url().await, gateway).await;
    let (event, layout) = accessible_event(&app).await;
    let pair = [seat(&layout, "C", 1), seat(&layout, "C", 2)];
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &pair).await;
    let (status, purchase) = fan
        .purchase(hold.hold_id, "key-0001-access", "tok_visa")
        .await;
    assert_eq!(status, 201, "{purchase}");
    assert_eq!(purchase["tickets"].as_array().map(Vec::len), Some(2));
    for id in pair {
        assert_eq!(seat_status(&app, event, id).await, SeatStatus::Sold);
    }
    // A wheelchair space alone is fine too.
    Buyer::new(&app).held(event, &[seat(&layout, "C", 8)]).await;
}

#[tokio::test]
async fn best_available_leaves_wheelchair_spaces_and_companion_seats_alone() {
    let app = spawn_app().await;
    let (event, layout) = accessible_event(&app).await;
    let mut handed_out = Vec::new();
    loop {
        let mut fan = Buyer::new(&app);
        let (status, hold) = fan
            .send(
                reqwest::Method::POST,
                &format!("/api/events/{event}/holds"),
                Some(serde_json::json!({"best_available": {"count": 1}})),
            )
            .await;
        if status != 201 {
            break;
        }
        for seat in hold["seats"].as_array().expect("seats") {
            handed_out.push(seat["id"].as_i64().expect("id"));
        }
    }
    assert_eq!(handed_out.len(), 20, "every seat but the four kept back");
    for (_, _, seat) in layout.seats() {
        let reserved = seat.features.iter().any(|f| f.is_reserved_for_access());
        assert_eq!(!handed_out.contains(&seat.id.0), reserved, "{seat:?}");
    }
}

#[tokio::test]
async fn accessible_seats_cost_no_more_than_the_rest_of_their_section() {
    let app = spawn_app().await;
    let (_, layout) = accessible_event(&app).await;
    for section in &layout.sections {
        let price = |accessible: bool| {
            section
                .rows
                .iter()
                .flat_map(|r| &r.seats)
                .filter(move |s| s.features.is_empty() != accessible)
                .map(|s| layout.tiers[s.tier].price_cents)
        };
        let cheapest_other = price(false).min().expect("other seats");
        assert!(price(true).count() > 0);
        assert!(price(true).all(|p| p <= cheapest_other), "{}", section.name);
    }
}
