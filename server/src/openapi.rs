//! What the OpenAPI document says about every operation at once, derived
//! from the extractors and layers each request goes through, so the
//! document lists every answer the server can give (a client generated from
//! it, or a fuzzer reading it, finds no undocumented status):
//! - ids are positive integers of at most [`MAX_ID_DIGITS`] digits;
//! - a path id or query that does not parse, and a body that is not JSON,
//!   answer `400`; a body that parses but breaks a rule, `422`;
//! - an operation that needs a session answers `401` without one, a staff
//!   operation `403` to a fan, and anything that changes state (or opens a
//!   WebSocket) `403` when it comes from another site;
//! - the WebSocket routes are marked `x-websocket` (their 101 is an
//!   upgrade, not a JSON answer) so plain-HTTP tools can leave them out.
//!
//! The security schemes: `session`, the session cookie a signed-in fan
//! holds, and `staff_session`, the same cookie held by a staff or admin
//! account (`/api/admin/…` needs an admin).

use crate::error::MAX_REQUEST_INTEGER;
use crate::session::SESSION_COOKIE;
use app::types::EMAIL_PATTERN;
use std::collections::BTreeSet;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ArrayItems, KnownFormat, SchemaFormat, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Schema};

/// Ids are at most 12 digits long, like every integer a request may carry
/// ([`MAX_REQUEST_INTEGER`]), so an id never looks like a card number (13
/// to 19 digits) wherever it is sent.
pub const MAX_ID: i64 = MAX_REQUEST_INTEGER;

/// The id types of the wire schemas.
const ID_SCHEMAS: [&str; 6] = [
    "EventId",
    "HoldId",
    "PurchaseId",
    "SeatId",
    "TicketId",
    "VenueId",
];

/// The `x-` extension marking a WebSocket route.
pub const WEBSOCKET_EXTENSION: &str = "x-websocket";

/// The modifier applying the rules above; see the module documentation.
pub struct Contract;

impl utoipa::Modify for Contract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ID_SCHEMAS {
            if let Some(RefOr::T(schema)) = components.schemas.get_mut(name) {
                bound_id(schema);
            }
        }
        for name in request_schemas(openapi) {
            let components = openapi.components.get_or_insert_with(Default::default);
            if let Some(schema) = components.schemas.get_mut(&name) {
                bound_integers(schema);
                pattern_emails(schema);
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        let cookie = |description: &str| {
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                description,
            )))
        };
        components.add_security_scheme(
            "session",
            cookie("the session cookie of a signed-in account (POST /api/auth/login sets it)"),
        );
        components.add_security_scheme(
            "staff_session",
            cookie("the session cookie of a signed-in staff account; /api/admin/ needs an admin"),
        );
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ];
            for (operation, changes_state) in operations {
                if let Some(operation) = operation {
                    document_operation(operation, changes_state);
                }
            }
        }
        add_links(openapi);
    }
}

/// The component schemas a request body can contain, directly or through
/// references.
fn request_schemas(openapi: &OpenApi) -> BTreeSet<String> {
    fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", serde_json::Value::String(target)) => {
                            if let Some(name) = target.strip_prefix("#/components/schemas/") {
                                out.push(name.to_string());
                            }
                        }
                        _ => refs(value, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
            _ => {}
        }
    }
    let mut pending = Vec::new();
    for item in openapi.paths.paths.values() {
        for operation in [&item.put, &item.post, &item.patch].into_iter().flatten() {
            if let Some(body) = &operation.request_body {
                refs(
                    &serde_json::to_value(body).unwrap_or_default(),
                    &mut pending,
                );
            }
        }
    }
    let schemas = openapi.components.as_ref().map(|c| &c.schemas);
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if seen.insert(name.clone()) {
            if let Some(schema) = schemas.and_then(|schemas| schemas.get(&name)) {
                refs(
                    &serde_json::to_value(schema).unwrap_or_default(),
                    &mut pending,
                );
            }
        }
    }
    seen
}

/// Every integer in a request is within ±[`MAX_REQUEST_INTEGER`] (the JSON
/// extractor refuses larger ones): the schema says so, tighter bounds kept.
fn bound_integers(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            let integer = match &object.schema_type {
                SchemaType::Type(kind) => *kind == Type::Integer,
                SchemaType::Array(kinds) => kinds.contains(&Type::Integer),
                SchemaType::AnyValue => false,
            };
            if integer {
                let clamp =
                    |bound: Option<utoipa::Number>, limit: i64, tighter: fn(f64, f64) -> bool| {
                        match bound {
                            Some(number) if tighter(as_f64(&number), limit as f64) => number,
                            _ => limit.into(),
                        }
                    };
                object.minimum = Some(clamp(
                    object.minimum.take(),
                    -MAX_REQUEST_INTEGER,
                    |a, b| a > b,
                ));
                object.maximum = Some(clamp(object.maximum.take(), MAX_REQUEST_INTEGER, |a, b| {
                    a < b
                }));
            }
            for property in object.properties.values_mut() {
                bound_integers(property);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                bound_integers(items);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(bound_integers),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(bound_integers),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// Every `format: email` field of a request carries the address rule the
/// server applies ([`EMAIL_PATTERN`]), which the format alone leaves open.
fn pattern_emails(schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::Object(object)) = schema else {
        return;
    };
    if object.format == Some(SchemaFormat::KnownFormat(KnownFormat::Email)) {
        object.pattern = Some(EMAIL_PATTERN.to_string());
    }
    object.properties.values_mut().for_each(pattern_emails);
}

fn as_f64(number: &utoipa::Number) -> f64 {
    match number {
        utoipa::Number::Int(n) => *n as f64,
        utoipa::Number::UInt(n) => *n as f64,
        utoipa::Number::Float(n) => *n,
    }
}

/// From operation, its status, link name, to operation, the `id` to pass
/// (a runtime expression) and the request body, if any.
type LinkRow<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Option<&'a serde_json::Value>,
);

/// Links from an answer to the calls it enables, so a client (or a
/// stateful fuzzer) can follow a sale through: events, an event, its
/// waiting room, its seats, a hold, its purchase, the purchase's refund.
fn add_links(openapi: &mut OpenApi) {
    let hold = "$response.body#/hold_id";
    let purchase = "$response.body#/purchase_id";
    let pay = serde_json::json!({
        "email": "buyer@example.com",
        "payment": {"token": "tok_visa"}
    });
    let best_two = serde_json::json!({"best_available": {"count": 2}});
    let first_seat = serde_json::json!({"seat_ids": ["$response.body#/seats/0/id"]});
    #[rustfmt::skip]
    let links: [LinkRow; 17] = [
        ("list_events", "200", "EventDetail", "event_detail", "$response.body#/events/0/id", None),
        ("event_detail", "200", "SeatMap", "seat_map", "$response.body#/id", None),
        ("event_detail", "200", "Layout", "event_layout", "$response.body#/id", None),
        ("event_detail", "200", "JoinQueue", "join_queue", "$response.body#/id", None),
        ("event_detail", "200", "QueueChallenge", "queue_challenge", "$response.body#/id", None),
        ("event_detail", "200", "QueueDraw", "queue_draw", "$response.body#/id", None),
        ("join_queue", "200", "QueueStatus", "queue_status", "$request.path.id", None),
        ("event_detail", "200", "HoldBestAvailable", "create_hold", "$response.body#/id", Some(&best_two)),
        ("seat_map", "200", "HoldFirstSeat", "create_hold", "$request.path.id", Some(&first_seat)),
        ("create_hold", "201", "GetHold", "get_hold", hold, None),
        ("create_hold", "201", "ExtendHold", "extend_hold", hold, None),
        ("create_hold", "201", "ReleaseHold", "release_hold", hold, None),
        ("create_hold", "201", "Purchase", "purchase", hold, Some(&pay)),
        ("purchase", "201", "GetPurchase", "purchase_view", purchase, None),
        ("purchase", "201", "Refund", "refund", purchase, None),
        ("purchase_view", "200", "RefundPurchase", "refund", purchase, None),
        ("my_tickets", "200", "TicketQrCode", "qr_code", "$response.body#/upcoming/0/ticket_id", None),
    ];
    for (from, status, name, to, id, body) in links {
        let mut link = LinkBuilder::new().parameter("id", id).build();
        // utoipa 5 writes `Link`'s `operation_id` and `request_body` in
        // snake case, which no OpenAPI reader knows: they are written under
        // their OpenAPI names instead.
        let fields = link.extensions.get_or_insert_with(Default::default);
        fields.insert("operationId".to_string(), to.into());
        if let Some(body) = body {
            fields.insert("requestBody".to_string(), body.clone());
        }
        let response = openapi
            .paths
            .paths
            .values_mut()
            .flat_map(|item| {
                [
                    &mut item.get,
                    &mut item.put,
                    &mut item.post,
                    &mut item.delete,
                    &mut item.patch,
                ]
            })
            .flatten()
            .find(|operation| operation.operation_id.as_deref() == Some(from))
            .and_then(|operation| operation.responses.responses.get_mut(status));
        if let Some(RefOr::T(response)) = response {
            response.links.insert(name.to_string(), link.into());
        }
    }
}

fn bound_id(schema: &mut Schema) {
    if let Schema::Object(object) = schema {
        object.minimum = Some(1.into());
        object.maximum = Some(MAX_ID.into());
        object.format = Some(SchemaFormat::KnownFormat(KnownFormat::Int64));
    }
}

/// Who may call an operation, read from its `security` requirements.
fn required_schemes(operation: &Operation) -> Vec<String> {
    let Some(requirements) = &operation.security else {
        return Vec::new();
    };
    let value = serde_json::to_value(requirements).unwrap_or_default();
    let mut names = Vec::new();
    for requirement in value.as_array().into_iter().flatten() {
        if let Some(object) = requirement.as_object() {
            names.extend(object.keys().cloned());
        }
    }
    names
}

fn document_operation(operation: &mut Operation, changes_state: bool) {
    let websocket = operation.responses.responses.contains_key("101");
    let mut has_path_or_query = false;
    for parameter in operation.parameters.iter_mut().flatten() {
        match parameter.parameter_in {
            ParameterIn::Path => {
                has_path_or_query = true;
                if parameter.name == "id" {
                    if let Some(RefOr::T(schema)) = &mut parameter.schema {
                        bound_id(schema);
                    }
                }
            }
            ParameterIn::Query => has_path_or_query = true,
            _ => {}
        }
    }
    let schemes = required_schemes(operation);
    let staff = schemes.iter().any(|name| name == "staff_session");
    // `[{}, {"session": []}]` is optional: the operation works without one.
    let optional = operation.security.as_ref().is_some_and(|requirements| {
        serde_json::to_value(requirements)
            .unwrap_or_default()
            .as_array()
            .is_some_and(|list| {
                list.iter()
                    .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
            })
    });
    let has_body = operation.request_body.is_some();
    let mut answers: Vec<(&str, &str)> = Vec::new();
    if has_path_or_query || has_body {
        answers.push((
            "400",
            "bad_request: a path id or query that does not parse, or a body that is not JSON",
        ));
    }
    if has_body {
        answers.push(("422", "validation: the body breaks a rule of its schema"));
    }
    if !schemes.is_empty() && !optional {
        answers.push(("401", "unauthenticated: sign in first"));
    }
    if staff || changes_state || websocket {
        answers.push((
            "403",
            "forbidden: the account's role may not do this, or the request came from another site",
        ));
    }
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description).into());
    }
    if websocket {
        let extensions = operation.extensions.get_or_insert_with(Default::default);
        extensions.insert(
            WEBSOCKET_EXTENSION.to_string(),
            serde_json::Value::Bool(true),
        );
    }
}

/// An answer whose body is the API's one error shape, `ErrorBody`.
pub(crate) fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}
