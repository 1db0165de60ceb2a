//! Small helpers shared by the provider modules: JSON answers, credentials, ids and clocks.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Every answer is JSON (even the malformed ones injected as faults).
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A JSON answer with `status`.
pub(crate) fn json(status: StatusCode, body: &Value) -> Response {
    raw(status, Bytes::from(body.to_string()))
}

/// An answer with `status` and an already serialised JSON body.
pub(crate) fn raw(status: StatusCode, body: Bytes) -> Response {
    (status, [(CONTENT_TYPE, JSON)], body).into_response()
}

/// The one path parameter of a route, percent-decoded (so `a%2Fb` is the id `a/b`).
/// A segment that is not UTF-8 once decoded is refused with a JSON 400.
pub(crate) struct Segment(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(segment)) => Ok(Segment(segment)),
            Err(e) => Err(json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": e.body_text() }),
            )),
        }
    }
}

/// The credential after `scheme` in the `Authorization` header (scheme matched
/// case-insensitively, as RFC 9110 says), if present and non-empty.
pub(crate) fn credential<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (given, key) = value.split_once(' ')?;
    let key = key.trim();
    (given.eq_ignore_ascii_case(scheme) && !key.is_empty()).then_some(key)
}

/// Whether a credential is accepted: any non-empty one, or exactly the configured one.
pub(crate) fn key_ok(given: Option<&str>, expected: Option<&str>) -> bool {
    match (given, expected) {
        (None, _) => false,
        (Some(given), Some(expected)) => given == expected,
        (Some(_), None) => true,
    }
}

/// `n` random lower-case hex digits.
pub(crate) fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect()
}

/// 24 hex digits derived from `s` (a stable, Mongo-ObjectId-looking id for a name).
pub(crate) fn stable_id(s: &str) -> String {
    // FNV-1a, twice with different offsets, is plenty for a sandbox.
    let fnv = |offset: u64| {
        s.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let a = fnv(0xcbf2_9ce4_8422_2325);
    let b = fnv(0x8422_2325_cbf2_9ce4);
    format!("{:016x}{:08x}", a, b & 0xffff_ffff)
}

/// A random UUID-looking string (version-4 layout).
pub(crate) fn uuid_like() -> String {
    format!(
        "{}-{}-4{}-{}-{}",
        random_hex(8),
        random_hex(4),
        random_hex(3),
        random_hex(4),
        random_hex(12)
    )
}

/// The current UTC time as ISO 8601 with milliseconds, e.g. `2025-04-24T05:40:21.123Z`.
pub(crate) fn now_iso8601() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    iso8601(since.as_secs(), since.subsec_millis())
}

fn iso8601(secs: u64, millis: u32) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(iso8601(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_745_473_221, 7), "2025-04-24T05:40:21.007Z");
        assert_eq!(iso8601(951_782_400, 0), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn reads_credentials() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h, "Bearer"), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(credential(&h, "Bearer"), Some("abc"));
        assert_eq!(credential(&h, "ApiKey"), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(credential(&h, "Bearer"), None);
        assert!(key_ok(Some("x"), None));
        assert!(!key_ok(Some("x"), Some("y")));
        assert!(!key_ok(None, None));
    }

    #[test]
    fn ids_look_right() {
        assert_eq!(stable_id("a"), stable_id("a"));
        assert_eq!(stable_id("a").len(), 24);
        let u = uuid_like();
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
    }
}
