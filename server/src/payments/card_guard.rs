//! Refuses anything that looks like a card number, wherever it appears in a
//! request, so a misbehaving client cannot make us store or log one.

/// True when `text` contains a run of 13–19 digits (spaces and dashes
/// between digits allowed, as people type them) that passes the Luhn check.
/// The run is judged whole: checking every sub-window of longer numbers
/// would flag one in ten ordinary long numbers. A 13-digit run starting
/// with 1 is an epoch-millisecond timestamp (in ids, emails, cursors), not a
/// card: no card brand issues 13-digit numbers starting with 1.
pub fn contains_card_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut digits: Vec<u8> = Vec::new();
    let is_card = |digits: &[u8]| {
        let timestamp = digits.len() == 13 && digits[0] == 1;
        (13..=19).contains(&digits.len()) && !timestamp && luhn_valid(digits)
    };
    for (i, &byte) in bytes.iter().enumerate() {
        if byte.is_ascii_digit() {
            digits.push(byte - b'0');
        } else {
            let separator = (byte == b' ' || byte == b'-')
                && i > 0
                && bytes[i - 1].is_ascii_digit()
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !separator {
                if is_card(&digits) {
                    return true;
                }
                digits.clear();
            }
        }
    }
    is_card(&digits)
}

/// True when any string in the JSON value contains a card number.
pub fn json_contains_card_number(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => contains_card_number(text),
        serde_json::Value::Number(number) => contains_card_number(&number.to_string()),
        serde_json::Value::Array(items) => items.iter().any(json_contains_card_number),
        serde_json::Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| contains_card_number(key) || json_contains_card_number(value)),
        serde_json::Value::Bool(_) | serde_json::Value::Null => false,
    }
}

/// Refuses a request whose URL (path or query, percent-decoded) carries a
/// card number, before the request is traced: URLs are logged, bodies are
/// checked by the JSON extractor.
pub async fn refuse_card_numbers_in_urls(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let url = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or_default();
    let decoded = percent_decode(url);
    if contains_card_number(&decoded) {
        return crate::error::HttpError(app::error::ApiError::new(
            app::error::ErrorCode::CardDataRefused,
            "card numbers are never accepted here",
        ))
        .into_response();
    }
    next.run(request).await
}

/// `%20` and `+` back to spaces (and other escapes to their bytes), so a
/// number typed with spaces is still found.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_found_however_they_are_typed() {
        for text in [
            "4242424242424242",
            "my card is 4242 4242 4242 4242 thanks",
            "5555-5555-5555-4444",
            "378282246310005",
            "x4000056655665556y",
        ] {
            assert!(contains_card_number(text), "{text}");
        }
    }

    #[test]
    fn millisecond_timestamps_are_not_card_numbers() {
        // Luhn-valid, so only the timestamp rule lets it through.
        assert!(luhn_valid(&[1, 7, 9, 5, 8, 9, 1, 2, 3, 4, 5, 7, 1]));
        assert!(!contains_card_number("fan1795891234571@example.com"));
        assert!(contains_card_number("fan4242424242424242@example.com"));
        assert!(contains_card_number("4222222222222"), "a 13-digit Visa");
    }

    #[test]
    fn urls_are_decoded_before_they_are_searched() {
        assert!(contains_card_number(&percent_decode(
            "/api/events?q=4242%204242%204242%204242"
        )));
        assert!(contains_card_number(&percent_decode(
            "/x?q=4242+4242+4242+4242"
        )));
        assert_eq!(percent_decode("/a%2"), "/a%2");
        assert!(!contains_card_number(&percent_decode(
            "/api/events/12/seats?limit=50"
        )));
    }

    #[test]
    fn ordinary_numbers_are_not_card_numbers() {
        for text in [
            "4242424242424241",
            "order 123456",
            "tok_visa",
            "2026-11-28",
            "+44 20 7946 0958",
            "",
        ] {
            assert!(!contains_card_number(text), "{text}");
        }
    }

    #[test]
    fn json_is_searched_in_every_field() {
        let body = serde_json::json!({"email": "a@b.c", "payment": {"note": ["4242424242424242"]}});
        assert!(json_contains_card_number(&body));
        let body = serde_json::json!({"email": "a@b.c", "payment": {"token": "tok_visa"}});
        assert!(!json_contains_card_number(&body));
    }
}
