//! The catalog's public API, end to end over HTTP, on SQLite or PostgreSQL.

use crate::common;

use app::types::{EventDetail, SeatStatus, SeatView, SectionView, TierView};
use common::*;
use server::catalog::create::TierSpec;
use server::clock::now_ms;

#[tokio::test]
async fn health_check_reports_the_database_backend() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], app.store().backend_name());
}

#[tokio::test]
async fn upcoming_events_are_listed_soonest_first_without_past_ones() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Corn Exchange", "Leeds").await;
    let later = add_event(app.store(), hall, "Later Show", 20).await;
    let sooner = add_event(app.store(), hall, "Sooner Show", 2).await;
    add_event(app.store(), hall, "Past Show", -3).await;

    let (status, body) = app.get_json("/api/events").await;
    assert_eq!(status, 200, "{body}");
    let events = body["events"].as_array().expect("events array");
    let ids: Vec<i64> = events
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, vec![sooner.0, later.0]);
    let first = &events[0];
    assert_eq!(first["name"], "Sooner Show");
    assert_eq!(first["venue"], "Corn Exchange");
    assert_eq!(first["city"], "Leeds");
    assert_eq!(first["min_price_cents"], 3000);
    assert_eq!(first["seats_available"], 20);
    assert!(first["starts_at"]
        .as_str()
        .expect("starts_at")
        .ends_with('Z'));
    assert!(body["next_cursor"].is_null());
}

#[tokio::test]
async fn events_can_be_searched_by_text_and_date_range() {
    let app = spawn_app().await;
    let leeds = add_venue(app.store(), "Corn Exchange", "Leeds").await;
    let york = add_venue(app.store(), "Barbican", "York").await;
    add_event(app.store(), leeds, "Jazz Night", 5).await;
    add_event(app.store(), york, "Jazz Brunch", 40).await;
    add_event(app.store(), york, "Folk Evening", 6).await;

    let names = |body: &serde_json::Value| -> Vec<String> {
        body["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["name"].as_str().expect("name").to_string())
            .collect()
    };
    let (_, body) = app.get_json("/api/events?q=JAZZ").await;
    assert_eq!(names(&body), ["Jazz Night", "Jazz Brunch"]);
    let (_, body) = app.get_json("/api/events?q=york").await;
    assert_eq!(names(&body), ["Folk Evening", "Jazz Brunch"]);

    let in_ten_days = server::clock::format_ms(now_ms() + 10 * DAY_MS);
    let (status, body) = app
        .get_json(&format!("/api/events?q=jazz&to={}", &in_ten_days[..10]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&body), ["Jazz Night"]);
    let (_, body) = app
        .get_json(&format!("/api/events?from={}", &in_ten_days[..10]))
        .await;
    assert_eq!(names(&body), ["Jazz Brunch"]);

    // Wildcards in the search text are literal characters.
    let (_, body) = app.get_json("/api/events?q=%25").await;
    assert_eq!(names(&body), Vec::<String>::new());
}

#[tokio::test]
async fn the_event_list_pages_with_a_cursor() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    for day in 1..=5 {
        add_event(app.store(), hall, &format!("Show {day}"), day).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/events?limit=2".to_string();
    loop {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 200, "{body}");
        let page = body["events"].as_array().expect("events");
        assert!(page.len() <= 2);
        seen.extend(
            page.iter()
                .map(|e| e["name"].as_str().expect("name").to_string()),
        );
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/events?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["Show 1", "Show 2", "Show 3", "Show 4", "Show 5"]);
}

#[tokio::test]
async fn event_details_include_venue_tiers_and_availability() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Corn Exchange", "Leeds").await;
    let event = add_event(app.store(), hall, "Jazz Night", 5).await;

    let (status, body) = app.get_json(&format!("/api/events/{event}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], event.0);
    assert_eq!(body["venue"]["name"], "Corn Exchange");
    assert_eq!(body["hold_seconds"], 300);
    assert_eq!(body["max_tickets_per_buyer"], 8);
    assert_eq!(
        body["tiers"],
        serde_json::json!([
            {"tier": "Front", "price_cents": 5000, "seats_available": 10},
            {"tier": "Back", "price_cents": 3000, "seats_available": 10},
        ])
    );
    assert_eq!(body["seats_total"], 20);
    assert_eq!(body["sections"][1]["name"], "Back");
}

/// The event's counts (per tier, per section, in total) are what its seat
/// map says seat by seat, with seats held, sold, held past their expiry
/// (free, before the sweeper runs) and a tier no section sells.
#[tokio::test]
async fn event_counts_agree_with_the_seat_map_seat_by_seat() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Corn Exchange", "Leeds").await;
    let event = add_event_with(app.store(), hall, "Jazz Night", now_ms() + DAY_MS, |spec| {
        spec.tiers.push(TierSpec {
            name: "Balcony".into(),
            price_cents: 9000,
        })
    })
    .await;
    let seats = seat_ids(&app, event).await;
    Buyer::new(&app).held(event, &seats[0..3]).await;
    Buyer::new(&app)
        .buy(event, &seats[12..14], "counts-1")
        .await;
    Buyer::new(&app).held(event, &seats[15..17]).await;
    app.state.inventory.clock().advance(301_000);
    Buyer::new(&app).held(event, &seats[5..6]).await;

    let map = seat_map(&app, event).await.seats;
    let (status, body) = app.get_json(&format!("/api/events/{event}")).await;
    assert_eq!(status, 200, "{body}");
    let detail: EventDetail = serde_json::from_value(body).expect("event detail");

    let free = |seat: &SeatView| seat.status == SeatStatus::Available;
    let expected_tiers: Vec<TierView> = [("Balcony", 9000), ("Front", 5000), ("Back", 3000)]
        .into_iter()
        .map(|(tier, price_cents)| TierView {
            tier: tier.into(),
            price_cents,
            seats_available: map.iter().filter(|s| free(s) && s.tier == tier).count() as i64,
        })
        .collect();
    let expected_sections: Vec<SectionView> = ["Front", "Back"]
        .into_iter()
        .map(|name| {
            let seats: Vec<&SeatView> = map.iter().filter(|s| s.section == name).collect();
            SectionView {
                name: name.into(),
                seats_total: seats.len() as i64,
                seats_available: seats.iter().filter(|s| free(s)).count() as i64,
                min_price_cents: seats.iter().map(|s| s.price_cents).min().expect("seats"),
            }
        })
        .collect();
    assert_eq!(detail.tiers, expected_tiers);
    assert_eq!(detail.sections, expected_sections);
    assert_eq!(detail.seats_total, 20);
    // Two sold and one held after the clock moved; the five held before it
    // are free again.
    assert_eq!(detail.seats_available, 17);
}

#[tokio::test]
async fn the_seat_map_lists_every_seat_with_its_position_price_and_status() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Corn Exchange", "Leeds").await;
    let event = add_event(app.store(), hall, "Jazz Night", 5).await;

    let (status, body) = app.get_json(&format!("/api/events/{event}/seats")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 0);
    let seats = body["seats"].as_array().expect("seats");
    assert_eq!(seats.len(), 20);
    let first = &seats[0];
    assert_eq!(first["section"], "Front");
    assert_eq!(first["row"], "A");
    assert_eq!(first["number"], 1);
    assert_eq!(first["x"], 1.0);
    assert_eq!(first["tier"], "Front");
    assert_eq!(first["price_cents"], 5000);
    assert_eq!(first["status"], "available");
    assert!(seats.iter().all(|s| s["status"] == "available"));
}

#[tokio::test]
async fn unknown_and_garbled_ids_get_json_errors_not_500s() {
    let app = spawn_app().await;
    for (path, status, code) in [
        ("/api/events/999999", 404, "not_found"),
        ("/api/events/999999/seats", 404, "not_found"),
        ("/api/events/abc", 400, "bad_request"),
        ("/api/events/-4/seats", 400, "bad_request"),
        ("/api/events/1.5", 400, "bad_request"),
        ("/api/events/99999999999999999999999", 400, "bad_request"),
        ("/api/no-such-endpoint", 404, "not_found"),
    ] {
        let (got, body) = app.get_json(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn bad_list_filters_are_rejected_with_clear_errors() {
    let app = spawn_app().await;
    for (query, status) in [
        ("limit=abc", 400),
        ("limit=0", 422),
        ("limit=101", 422),
        ("from=tomorrow", 400),
        ("cursor=garbage", 400),
    ] {
        let (got, body) = app.get_json(&format!("/api/events?{query}")).await;
        assert_eq!(got, status, "{query}: {body}");
        assert!(body["error"]["code"].is_string(), "{query}: {body}");
    }
    // And the server keeps serving.
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_openapi_document_describes_the_catalog() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(body["openapi"].as_str().is_some_and(|v| v.starts_with('3')));
    for path in ["/api/events", "/api/events/{id}", "/api/events/{id}/seats"] {
        assert!(body["paths"][path]["get"].is_object(), "{path} missing");
    }
    assert!(body["components"]["schemas"]["SeatStatus"].is_object());
}

/// `docs/openapi.json` is the copy readers find in the repository: it must
/// be what the server serves (`scripts/openapi.sh` rewrites it).
#[tokio::test]
async fn the_committed_copy_of_the_openapi_document_is_current() {
    let app = spawn_app().await;
    let (_, served) = app.get_json("/api/openapi.json").await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("docs/openapi.json"))
            .expect("docs/openapi.json is JSON");
    assert!(
        served == committed,
        "docs/openapi.json is not what the server serves: run scripts/openapi.sh"
    );
}

#[tokio::test]
async fn the_openapi_document_puts_each_parameter_where_it_is_sent() {
    let app = spawn_app().await;
    let (_, body) = app.get_json("/api/openapi.json").await;
    let paths = body["paths"].as_object().expect("paths");
    let mut wrong = Vec::new();
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().expect("name");
                let in_path = path.contains(&format!("{{{name}}}"));
                if in_path != (parameter["in"] == "path") {
                    wrong.push(format!("{method} {path}: {name} in {}", parameter["in"]));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let events = &body["paths"]["/api/events"]["get"]["parameters"];
    assert!(events
        .as_array()
        .expect("parameters")
        .iter()
        .all(|p| p["in"] == "query" && p["required"] != true));
}

#[tokio::test]
async fn pages_render_on_the_server_and_the_home_page_is_cached() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Corn Exchange", "Leeds").await;
    let event = add_event(app.store(), hall, "Jazz Night", 5).await;

    let first = app.get("/").await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-tessera-cache"], "miss");
    let html = first.text().await.expect("html");
    assert!(html.contains("Jazz Night"), "home lists the event");

    // A new event does not re-render the cached page within its max age...
    add_event(app.store(), hall, "Brand New Show", 6).await;
    let second = app.get("/").await;
    assert_eq!(second.headers()["x-tessera-cache"], "hit");
    assert!(!second
        .text()
        .await
        .expect("html")
        .contains("Brand New Show"));
    // Browsers get the cached gzipped copy.
    let zipped = app
        .client
        .get(app.url("/"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("request");
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["x-tessera-cache"], "hit");
    assert_eq!(
        &zipped.bytes().await.expect("body")[..2],
        &[0x1f, 0x8b],
        "gzip magic"
    );
    // ...but a search is rendered fresh.
    let search = app.get("/?q=brand").await.text().await.expect("html");
    assert!(search.contains("Brand New Show"));

    let page = app.get(&format!("/events/{event}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Jazz Night") && html.contains("$50.00"));

    assert_eq!(app.get("/events/424242").await.status(), 404);
    assert_eq!(app.get("/no/such/page").await.status(), 404);
}

/// Regression: building a router lists the page routes, which used to
/// suppress resource loading process-wide for a moment; a page whose data
/// first loaded in that moment never finished rendering. And a page whose
/// render moved between the runtime's threads dropped its browser-only
/// actions on the wrong thread, which panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_finish_rendering_while_other_routers_are_built() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Corn Exchange", "Leeds").await;
    let event = add_event(app.store(), hall, "Jazz Night", 5).await;
    let state = app.state.clone();
    let builder = std::thread::spawn(move || {
        for _ in 0..200 {
            drop(server::web::router(
                state.clone(),
                std::time::Duration::from_secs(30),
            ));
        }
    });
    // Every page, rendered many times while the routers are built: a page
    // whose render awaits data may finish on another of the runtime's
    // threads, and nothing a page makes (its actions among them) may mind.
    let pages = [
        format!("/events/{event}"),
        "/".into(),
        "/account".into(),
        "/account/confirm".into(),
        "/account/reset".into(),
        "/checkout/1".into(),
        "/my/tickets".into(),
        "/purchases/1".into(),
        "/staff".into(),
        "/staff/scan".into(),
        "/staff/venues/new".into(),
        "/staff/events/new".into(),
        format!("/staff/events/{event}"),
        format!("/staff/events/{event}/edit"),
        "/staff/accounts".into(),
    ];
    for _ in 0..10 {
        for path in &pages {
            let page = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                let page = app.get(path).await;
                (page.status(), page.text().await)
            })
            .await
            .unwrap_or_else(|_| panic!("{path} rendered within 5 s"));
            assert_eq!(page.0, 200, "{path}");
            assert!(page.1.is_ok_and(|html| html.contains("</html>")), "{path}");
        }
    }
    builder.join().expect("router builder");
}

#[tokio::test]
async fn an_expired_home_page_is_rendered_again() {
    let mut config = server::config::Config::for_database(fresh_database_url().await);
    config.home_cache_seconds = 0;
    let app = spawn_app_with(config).await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    app.get("/").await;
    add_event(app.store(), hall, "Fresh Show", 3).await;
    let html = app.get("/").await.text().await.expect("html");
    assert!(html.contains("Fresh Show"));
}

/// `GET /api/events/{id}/seats` answers from the live channel's memory,
/// kept current from the change log: a change made in the seats table
/// behind the log's back is not seen, while every change through the log
/// is, at once. The same version is one shared serialisation, gzipped for
/// clients that accept it.
#[tokio::test]
async fn the_seat_map_is_served_from_memory_kept_current_from_the_change_log() {
    use std::io::Read;
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Corn Exchange", "Leeds").await;
    let event = add_event(app.store(), hall, "Jazz Night", 5).await;
    let path = format!("/api/events/{event}/seats");
    let (_, first) = app.get_json(&path).await;
    let seat = first["seats"][0]["id"].as_i64().expect("id");

    // Not through the change log: no read of the seats table sees it.
    server::on_pool!(app.store(), pool =>
        sqlx::query("UPDATE seats SET row_label = 'Z' WHERE id = $1")
            .bind(seat)
            .execute(pool)
            .await
            .map(|_| ()))
    .expect("update");
    let (_, again) = app.get_json(&path).await;
    assert_eq!(again, first, "answered from memory");

    // Through the log: a buyer sees their own hold in the very next read.
    Buyer::new(&app).held(event, &[seat]).await;
    let (_, held) = app.get_json(&path).await;
    assert_eq!(
        (
            held["version"].as_i64(),
            held["seats"][0]["status"].as_str()
        ),
        (Some(1), Some("held"))
    );
    assert_eq!(held["seats"][0]["row"], "A");

    // A run-out hold shows available before the sweeper gets to it.
    app.state.inventory.clock().advance(301_000);
    let (_, expired) = app.get_json(&path).await;
    assert_eq!(expired["seats"][0]["status"], "available");

    let raw = |gzip: bool| {
        let mut request = app.client.get(app.url(&path));
        if gzip {
            request = request.header("accept-encoding", "gzip");
        }
        async move {
            let response = request.send().await.expect("request");
            let encoding = response.headers().get("content-encoding").cloned();
            (encoding, response.bytes().await.expect("body"))
        }
    };
    let (encoding, plain) = raw(false).await;
    assert!(encoding.is_none());
    assert_eq!(raw(false).await.1, plain, "the same bytes per version");
    let (encoding, gzipped) = raw(true).await;
    assert_eq!(
        encoding.as_ref().map(|e| e.to_str().expect("ascii")),
        Some("gzip")
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut unzipped)
        .expect("gzip");
    assert_eq!(unzipped, plain);
}
