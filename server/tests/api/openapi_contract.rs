//! The OpenAPI document tells the truth: what it lists is what the server
//! answers, as client generators and fuzzers read it.

use crate::common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Every operation of the document, as (method, path, operation).
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            all.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    all
}

fn schemes(operation: &Value) -> Vec<String> {
    operation["security"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|requirement| {
            requirement
                .as_object()
                .expect("requirement")
                .keys()
                .cloned()
        })
        .collect()
}

#[tokio::test]
async fn every_operation_lists_the_statuses_its_extractors_and_guards_answer() {
    let app = spawn_app().await;
    let (_, document) = app.get_json("/api/openapi.json").await;
    let mut missing = Vec::new();
    for (method, path, operation) in operations(&document) {
        let responses = &operation["responses"];
        let parameters: Vec<&Value> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let mut expected = vec!["422", "503"];
        if parameters
            .iter()
            .any(|p| p["in"] == "path" || p["in"] == "query")
        {
            expected.push("400");
        }
        if operation["requestBody"].is_object() {
            expected.extend(["400", "413", "415"]);
        }
        let schemes = schemes(&operation);
        let optional = operation["security"].as_array().is_some_and(|list| {
            list.iter()
                .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
        });
        if !schemes.is_empty() && !optional {
            expected.push("401");
        }
        if schemes.iter().any(|s| s == "staff_session") || method != "get" {
            expected.push("403");
        }
        for status in expected {
            if !responses[status].is_object() {
                missing.push(format!("{method} {path}: {status}"));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[tokio::test]
async fn ids_are_positive_integers_of_at_most_twelve_digits() {
    let app = spawn_app().await;
    let (_, document) = app.get_json("/api/openapi.json").await;
    for (method, path, operation) in operations(&document) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "path" && parameter["name"] == "id" {
                let schema = &parameter["schema"];
                assert_eq!(schema["minimum"], json!(1), "{method} {path}");
                assert_eq!(
                    schema["maximum"],
                    json!(999_999_999_999_i64),
                    "{method} {path}"
                );
            }
        }
    }
    let schemas = &document["components"]["schemas"];
    for id in [
        "EventId",
        "HoldId",
        "PurchaseId",
        "SeatId",
        "TicketId",
        "VenueId",
    ] {
        assert_eq!(schemas[id]["minimum"], json!(1), "{id}");
        assert_eq!(schemas[id]["maximum"], json!(999_999_999_999_i64), "{id}");
    }
}

#[tokio::test]
async fn request_bodies_and_headers_carry_their_real_constraints() {
    let app = spawn_app().await;
    let (_, document) = app.get_json("/api/openapi.json").await;
    let schemas = &document["components"]["schemas"];
    // Exactly one of seat_ids (1 to 50 distinct seats) or best_available.
    let hold = &schemas["HoldRequest"]["oneOf"];
    let seats = &hold[0]["properties"]["seat_ids"];
    assert_eq!(hold[0]["required"], json!(["seat_ids"]), "{hold}");
    assert_eq!(seats["minItems"], json!(1), "{seats}");
    assert_eq!(
        seats["maxItems"],
        json!(server::inventory::MAX_SEATS_PER_REQUEST),
        "{seats}"
    );
    assert_eq!(seats["uniqueItems"], json!(true), "{seats}");
    assert_eq!(hold[1]["required"], json!(["best_available"]), "{hold}");
    let count = &schemas["BestAvailable"]["properties"]["count"];
    assert_eq!(
        count["maximum"],
        json!(server::inventory::MAX_SEATS_PER_REQUEST),
        "{count}"
    );
    // A token, the saved card, or the processor's card form.
    let choice = &schemas["PaymentChoice"]["oneOf"];
    assert_eq!(choice.as_array().map(Vec::len), Some(3), "{choice}");
    assert_eq!(choice[2]["required"], json!(["element"]), "{choice}");
    let email = &schemas["PurchaseRequest"]["properties"]["email"];
    assert_eq!(email["format"], "email", "{email}");
    let register = &schemas["RegisterRequest"]["properties"];
    assert_eq!(register["password"]["minLength"], json!(8));
    assert_eq!(register["display_name"]["maxLength"], json!(80));

    let purchase = &document["paths"]["/api/holds/{id}/purchase"]["post"];
    let key = purchase["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .expect("Idempotency-Key");
    assert_eq!(key["in"], "header");
    assert_eq!(key["required"], json!(true));
    assert_eq!(key["schema"]["minLength"], json!(8));
    assert_eq!(key["schema"]["maxLength"], json!(200));

    let limit = document["paths"]["/api/events"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "limit")
        .cloned()
        .expect("limit");
    assert_eq!(limit["schema"]["minimum"], json!(1));
    assert_eq!(limit["schema"]["maximum"], json!(100));
}

#[tokio::test]
async fn sessions_roles_websockets_tags_and_links_are_described() {
    let app = spawn_app().await;
    let (_, document) = app.get_json("/api/openapi.json").await;
    let security = &document["components"]["securitySchemes"];
    for scheme in ["session", "staff_session"] {
        assert_eq!(security[scheme]["type"], "apiKey", "{scheme}");
        assert_eq!(security[scheme]["in"], "cookie", "{scheme}");
        assert_eq!(security[scheme]["name"], "tessera_session", "{scheme}");
    }
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let id = operation["operationId"]
            .as_str()
            .expect("operationId")
            .to_string();
        assert!(ids.insert(id.clone()), "{id} is not unique");
        assert!(
            operation["tags"]
                .as_array()
                .is_some_and(|tags| tags.len() == 1),
            "{method} {path}: one tag"
        );
        let staff = path.starts_with("/api/staff/")
            || path.starts_with("/api/admin/")
            || path == "/api/tickets/scan";
        assert_eq!(
            schemes(&operation) == ["staff_session"],
            staff,
            "{method} {path}"
        );
        let websocket = operation["responses"]["101"].is_object();
        assert_eq!(
            operation["x-websocket"] == json!(true),
            websocket,
            "{method} {path}"
        );
        assert_eq!(websocket, path.ends_with("/live"), "{method} {path}");
    }
    assert_eq!(schemes(&document["paths"]["/api/me"]["get"]), ["session"]);
    let links = &document["paths"]["/api/events/{id}/holds"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["Purchase"]["operationId"], "purchase", "{links}");
    assert_eq!(
        links["Purchase"]["parameters"]["id"],
        "$response.body#/hold_id"
    );
    let refund =
        &document["paths"]["/api/holds/{id}/purchase"]["post"]["responses"]["201"]["links"];
    assert_eq!(refund["Refund"]["operationId"], "refund", "{refund}");
}

/// Ids have at most 12 digits, so no id looks like a card number; a longer
/// number in a body is refused as out of range, and a long id in a path is
/// simply not found (never `card_data_refused`).
#[tokio::test]
async fn long_numbers_are_out_of_range_and_ids_are_never_card_data() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Corn Exchange", "Leeds").await;
    let event = add_event(app.store(), hall, "Jazz Night", 5).await;
    let mut buyer = Buyer::new(&app);

    // 13 digits, not Luhn-valid: not a card, but past any id.
    let (status, body) = buyer.hold(event, &[1_234_567_890_123]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation", "{body}");
    // The largest id is in range: not found among the event's seats.
    let (status, body) = buyer.hold(event, &[999_999_999_999]).await;
    assert_ne!(body["error"]["code"], "card_data_refused", "{body}");
    assert!(status == 404 || status == 409, "{status} {body}");

    // 17 digits passing the Luhn check, in a path: an unknown event.
    let (status, body) = app.get_json("/api/events/45391488034364678").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}
