//! Tests of the error type: status classification, the one-line `Display`, body snippets,
//! scrubbing, and partial failures.

use super::*;
use crate::{Outcome, Recipient, Topics};

#[test]
fn statuses_are_classified_once() {
    assert_eq!(ErrorKind::from_status(401), ErrorKind::Unauthorized);
    assert_eq!(ErrorKind::from_status(403), ErrorKind::Unauthorized);
    assert_eq!(ErrorKind::from_status(404), ErrorKind::NotFound);
    assert_eq!(ErrorKind::from_status(408), ErrorKind::Timeout);
    assert_eq!(ErrorKind::from_status(422), ErrorKind::Rejected);
    assert_eq!(ErrorKind::from_status(429), ErrorKind::RateLimited);
    assert_eq!(ErrorKind::from_status(503), ErrorKind::Server);
    for s in [408, 429, 500, 502, 503, 504] {
        assert!(ErrorKind::status_is_retryable(s), "{s}");
    }
    for s in [400, 401, 403, 404, 409, 422] {
        assert!(!ErrorKind::status_is_retryable(s), "{s}");
    }
}

#[test]
fn display_says_everything_needed_to_act() {
    let e = Error::api(Provider::Pushy, 400)
        .with_code("INVALID_DEVICE_TOKEN")
        .with_message("The provided device token is invalid.");
    assert_eq!(
        e.to_string(),
        "pushy: rejected (HTTP 400, code INVALID_DEVICE_TOKEN): The provided device token is invalid.; not retryable"
    );
    let mut e = Error::api(Provider::Novu, 503).with_retry_after(Duration::from_secs(2));
    e.set_attempts(4);
    assert_eq!(
        e.to_string(),
        "novu: server error (HTTP 503); retryable after 2s; gave up after 4 attempts"
    );
    let e = Error::invalid_input("recipient", "must not be empty");
    assert_eq!(
        e.to_string(),
        "invalid recipient: must not be empty; nothing was sent"
    );
    assert!(!e.was_sent());
}

#[test]
fn decode_errors_quote_a_short_escaped_snippet() {
    let body = format!("<html>\n{}</html>", "x".repeat(500));
    let e = Error::decode(Provider::Migma, 200, "expected JSON", body.as_bytes());
    let text = e.to_string();
    assert!(text.contains(r#"body: "<html>\nxxx"#), "{text}");
    assert!(text.len() < 300, "{text}");
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(snippet(b""), "(empty)");
}

#[test]
fn a_garbled_2xx_is_retryable_and_a_garbled_4xx_is_not() {
    // A 2xx that cannot be read went out with an unknown effect; sending the unsubscribe
    // again is harmless and, as every rerun showed, usually confirms it.
    for status in [200, 201, 202, 204, 299] {
        let e = Error::decode(Provider::HubSpot, status, "the body is not JSON", b"<html>");
        assert!(e.is_retryable() && e.was_sent(), "{status}: {e}");
        assert!(e.to_string().ends_with("; retryable"), "{status}: {e}");
    }
    for status in [500, 502, 503, 408, 429] {
        assert!(
            Error::decode(Provider::Novu, status, "x", b"").is_retryable(),
            "{status}"
        );
    }
    for status in [400, 401, 403, 404, 422, 301] {
        assert!(
            !Error::decode(Provider::Novu, status, "x", b"").is_retryable(),
            "{status}"
        );
    }
}

#[test]
fn scrub_removes_secrets_from_provider_text() {
    let mut e = Error::api(Provider::Pushy, 401).with_message("bad key sk_live_123");
    e.scrub(&Scrubber::new(&[secrecy::SecretString::from(
        "sk_live_123",
    )]));
    assert_eq!(e.message(), Some("bad key [REDACTED]"));
}

#[test]
fn partial_keeps_both_sides_and_is_retryable_if_any_failure_is() {
    let done = Receipt::new(
        Provider::HubSpot,
        Recipient::email("a@example.com").unwrap(),
        Topics::one("1"),
        Outcome::Unsubscribed,
        None,
    );
    let e = Error::partial_failure(
        Provider::HubSpot,
        vec![done],
        vec![("2".into(), Error::api(Provider::HubSpot, 503))],
    );
    assert!(e.is_retryable());
    let text = e.to_string();
    assert!(
        text.starts_with("hubspot: 1 of 2 topics done (1); failed: [2] hubspot: server error"),
        "{text}"
    );
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["kind"], "partial");
    assert_eq!(json["done"][0]["topics"][0], "1");
    assert_eq!(json["failed"][0]["topic"], "2");
    assert_eq!(json["failed"][0]["error"]["status"], 503);
}
