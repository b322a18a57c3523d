//! No card number ever reaches the database or the logs. Card numbers are
//! thrown at every endpoint that takes input, in every field and in URLs,
//! with all logging on at debug level; then the whole database and the
//! whole log are scanned for card-number patterns (Luhn-valid 13–19 digit
//! runs). This file is its own test binary because it owns the process's
//! log subscriber.

use crate::common;

use common::*;
use reqwest::Method;
use serde_json::json;
use server::payments::card_guard::contains_card_number;
use std::io::Write;
use std::sync::{Arc, Mutex};

const CARDS: [&str; 4] = [
    "4242424242424242",
    "4000 0566 5566 5556",
    "5555-5555-5555-4444",
    "378282246310005",
];

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs of digits (with the spaces and dashes people type) that stand alone
/// as words: digits inside longer alphanumeric words are hashes, ids or
/// base64, not something a person typed as a card. 13-digit runs starting
/// with 1 are epoch-millisecond timestamps; no card brand issues those.
fn card_like_runs(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || ((chars[i] == ' ' || chars[i] == '-')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            let ends_word = chars.get(i).is_none_or(|c| !c.is_ascii_alphanumeric());
            let run: String = chars[start..i].iter().collect();
            let digits: String = run.chars().filter(char::is_ascii_digit).collect();
            let timestamp = digits.len() == 13 && digits.starts_with('1');
            if ends_word && !timestamp && contains_card_number(&run) {
                found.push(run);
            }
        } else {
            i += 1;
        }
    }
    found
}

/// Everything the database stores, as text: the SQLite files byte for byte
/// (freed pages and the write-ahead log included), or every PostgreSQL row.
async fn database_text(app: &TestApp) -> String {
    match app.store() {
        server::store::Store::Sqlite(pool, _) => {
            let (file,): (String,) =
                sqlx::query_as("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(pool)
                    .await
                    .expect("database file");
            ["", "-wal"]
                .iter()
                .filter_map(|suffix| std::fs::read(format!("{file}{suffix}")).ok())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .collect::<Vec<_>>()
                .join("\n")
        }
        server::store::Store::Postgres(pool) => {
            let tables: Vec<(String,)> = sqlx::query_as(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(pool)
            .await
            .expect("tables");
            let mut text = String::new();
            for (table,) in tables {
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT t::text FROM \"{table}\" t"))
                        .fetch_all(pool)
                        .await
                        .expect("rows");
                for (row,) in rows {
                    text.push_str(&row);
                    text.push('\n');
                }
            }
            text
        }
    }
}

#[tokio::test]
async fn card_numbers_never_reach_the_database_or_the_logs() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("the only subscriber in this binary");

    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let seats = seat_ids(&app, event).await;

    // A real account, a saved card and purchases, so the tables have rows.
    let mut fan = Buyer::new(&app);
    let register = json!({"email": "fan@example.com", "password": "correct horse battery", "display_name": "Fan"});
    assert_eq!(
        fan.send(Method::POST, "/api/auth/register", Some(register))
            .await
            .0,
        201
    );
    let saved = fan
        .send(
            Method::PUT,
            "/api/me/payment-method",
            Some(json!({"token": "tok_visa"})),
        )
        .await;
    assert_eq!(saved.0, 200);
    let hold = fan.held(event, &seats[0..1]).await;
    let paid = fan
        .purchase_with(
            hold.hold_id,
            "card-scan-0001",
            json!({"email": "fan@example.com", "payment": {"saved": true}}),
        )
        .await;
    assert_eq!(paid.0, 201, "{}", paid.1);
    let second_hold = fan.held(event, &seats[1..2]).await;

    // Card numbers in every field of every input, and in URLs.
    let mut refused = 0;
    for card in CARDS {
        let bodies = [
            (
                Method::POST,
                "/api/auth/register".to_string(),
                json!({"email": "x@example.com", "password": card, "display_name": card}),
            ),
            (
                Method::POST,
                "/api/auth/login".to_string(),
                json!({"email": card, "password": card}),
            ),
            (
                Method::PUT,
                "/api/me/payment-method".to_string(),
                json!({"token": card}),
            ),
            (
                Method::PUT,
                "/api/me/payment-method".to_string(),
                json!({"token": "tok_visa", "card": {"number": card, "cvc": "123"}}),
            ),
            (
                Method::POST,
                format!("/api/events/{event}/holds"),
                json!({"seat_ids": [seats[2]], "note": card}),
            ),
            (
                Method::POST,
                "/api/auth/confirm".to_string(),
                json!({"token": card}),
            ),
        ];
        for (method, path, body) in bodies {
            let (status, reply) = fan.send(method, &path, Some(body)).await;
            assert_eq!(
                (status, reply["error"]["code"].as_str()),
                (422, Some("card_data_refused")),
                "{path}"
            );
            refused += 1;
        }
        let purchase = fan
            .purchase_with(
                second_hold.hold_id,
                &format!("card-{}", card.replace(' ', "")),
                json!({"email": card, "payment": {"token": card}, "cvc": "123"}),
            )
            .await;
        assert_eq!(purchase.0, 422);
        for url in [
            format!("/api/events?q={}", card.replace(' ', "%20")),
            format!("/?q={}", card.replace(' ', "+")),
        ] {
            let (status, _) = fan.send(Method::GET, &url, None).await;
            assert_eq!(status, 422, "{url}");
            refused += 1;
        }
        // In a header, under any name but the cookie and tracing headers.
        let response = app
            .client
            .get(app.url("/api/events"))
            .header("x-note", card)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 422);
        refused += 1;
        // Where an id goes, digits alone are an id: not found, and neither
        // stored nor logged. Typed with separators, they are refused.
        for url in [format!("/api/events/{card}"), format!("/events/{card}")] {
            let response = app.get(&url).await;
            let expected = if card.bytes().all(|b| b.is_ascii_digit()) {
                404
            } else {
                422
            };
            assert_eq!(response.status(), expected, "{url}");
        }
    }
    assert_eq!(refused, CARDS.len() * 9);

    let stored = database_text(&app).await;
    assert!(
        stored.contains("fan@example.com"),
        "the scan reads the data"
    );
    assert_eq!(
        card_like_runs(&stored),
        Vec::<String>::new(),
        "card numbers in the database"
    );
    let logged = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
    assert!(
        logged.contains("/api/auth/register"),
        "the scan reads the requests' log"
    );
    assert_eq!(
        card_like_runs(&logged),
        Vec::<String>::new(),
        "card numbers in the logs"
    );
}

/// The spellings and places the guard used to miss: double spaces, dots,
/// other scripts' digits, headers (an `Idempotency-Key` is stored and sent
/// to the processor). Each is refused before anything is stored.
#[tokio::test]
async fn card_numbers_split_oddly_in_other_scripts_or_in_headers_are_refused() {
    let app = spawn_app().await;
    let hall = add_venue(app.store(), "Hall", "Hull").await;
    let event = add_event(app.store(), hall, "Show", 5).await;
    let seats = seat_ids(&app, event).await;
    let mut fan = Buyer::new(&app);
    let hold = fan.held(event, &seats[0..1]).await;
    for card in [
        "4242  4242  4242  4242",
        "4242.4242.4242.4242",
        "4242\u{a0}4242\u{a0}4242\u{a0}4242",
        "４２４２４２４２４２４２４２４２",
        "٤٢٤٢ ٤٢٤٢ ٤٢٤٢ ٤٢٤٢",
    ] {
        let body =
            json!({"email": "fan@example.com", "payment": {"token": "tok_visa"}, "note": card});
        let (status, reply) = fan
            .purchase_with(hold.hold_id, "odd-card-key-1", body)
            .await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (422, Some("card_data_refused")),
            "{card}"
        );
        let query = format!("/api/events?q={}", urlencode(card));
        let (status, _) = fan.send(Method::GET, &query, None).await;
        assert_eq!(status, 422, "{card} in the query");
    }
    for key in ["4242424242424242", "card-4242-4242-4242-4242"] {
        let body = json!({"email": "fan@example.com", "payment": {"token": "tok_visa"}});
        let (status, reply) = fan.purchase_with(hold.hold_id, key, body).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (422, Some("card_data_refused")),
            "{key}"
        );
    }
    let purchases: (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT COUNT(*) FROM purchases").fetch_one(pool).await)
    .expect("count");
    assert_eq!(purchases.0, 0, "nothing was stored");
    let body = json!({"email": "fan@example.com", "payment": {"token": "tok_visa"}});
    let (status, paid) = fan
        .purchase_with(hold.hold_id, "an-ordinary-key-1", body)
        .await;
    assert_eq!(status, 201, "an ordinary key still pays: {paid}");
}

/// A numeric id that happens to pass Luhn is looked up like any other id:
/// card numbers have 13–19 digits, and so may ids.
#[tokio::test]
async fn an_id_that_happens_to_pass_luhn_is_not_refused_as_card_data() {
    let app = spawn_app().await;
    let luhn_valid_17_digits = "45391488034364678";
    for path in [
        format!("/api/events/{luhn_valid_17_digits}"),
        format!("/api/events/{luhn_valid_17_digits}/seats"),
        format!("/api/holds/{luhn_valid_17_digits}"),
        format!("/api/purchases/{luhn_valid_17_digits}"),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    // Longer than any id can be: malformed, not card data.
    let (status, body) = app.get_json("/api/events/9999999999999999995").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
}

/// Tokens the server mints (here, email confirmation tokens) are never
/// taken for card numbers: over 100,000 of them, none is refused.
#[test]
fn tokens_the_server_mints_are_never_refused_as_card_numbers() {
    let refused = (0..100_000)
        .map(|_| server::session::random_hex_128())
        .filter(|token| contains_card_number(token))
        .count();
    assert_eq!(refused, 0);
}

fn urlencode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[test]
fn the_scanner_finds_typed_card_numbers_but_not_hashes_or_timestamps() {
    assert_eq!(
        card_like_runs("email 4242 4242 4242 4242."),
        vec!["4242 4242 4242 4242"]
    );
    assert_eq!(
        card_like_runs("{\"n\":\"5555-5555-5555-4444\"}"),
        vec!["5555-5555-5555-4444"]
    );
    assert!(card_like_runs("created_at=1764360000000 key=ab4242424242424242cd").is_empty());
}
