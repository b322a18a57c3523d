//! Gzip for bodies the server compresses once and serves many times (the
//! cached home page, the seat map per version), and whether a client
//! takes them.

use axum::http::{header, HeaderMap};
use bytes::Bytes;
use std::io::Write;

pub use flate2::Compression;

/// Whether `Accept-Encoding` names gzip (or `*`) without refusing it with
/// a zero weight. Codings are compared without regard to case.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|param| {
                param
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// `bytes` gzipped at `level`. Writing to memory cannot fail; were it to,
/// the result is empty, which callers serve as "no gzipped copy".
pub fn gzip(bytes: &[u8], level: Compression) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 8), level);
    match encoder.write_all(bytes).and_then(|()| encoder.finish()) {
        Ok(gzipped) => Bytes::from(gzipped),
        Err(_) => Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn gzip_is_sent_only_to_clients_that_accept_it() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, value.parse().expect("value"));
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br"));
        assert!(!with("br, deflate"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn a_gzipped_body_decompresses_to_itself() {
        let body = "<html>".repeat(500);
        for level in [Compression::fast(), Compression::default()] {
            let gzipped = gzip(body.as_bytes(), level);
            assert!(gzipped.len() < body.len());
            let mut unzipped = String::new();
            flate2::read::GzDecoder::new(&gzipped[..])
                .read_to_string(&mut unzipped)
                .expect("gunzip");
            assert_eq!(unzipped, body);
        }
    }
}
