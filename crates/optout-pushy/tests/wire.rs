//! Pushy on the wire, against a loopback wiremock server, with the docs' own examples.

use optout_core::{
    Error, ErrorKind, Outcome, Receipt, Recipient, Topics, Unsubscribe, Unsubscriber,
};
use optout_pushy::{Pushy, UnsubscribeRequest};
use optout_testkit::{assert_request, fast_retry, mount_first, only_request, Expected};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A key with characters that must be URL-encoded in the query string.
const KEY: &str = "sk_live a&b=c+d";
const KEY_ENCODED: &str = "sk_live+a%26b%3Dc%2Bd";

fn client(server: &MockServer) -> Pushy {
    Pushy::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .retry_policy(fast_retry())
        .build()
        .unwrap()
}

/// A client of `base_url` that never retries.
fn without_retries(base_url: &str) -> Pushy {
    Pushy::builder()
        .api_key(KEY)
        .base_url(base_url)
        .max_retries(0)
        .build()
        .unwrap()
}

fn device() -> Recipient {
    Recipient::device("a6345d0278adc55d3474f5").unwrap()
}

/// The device's unsubscribe from `news`.
fn news() -> Unsubscribe {
    Unsubscribe::new(device(), Topics::one("news"))
}

async fn mount(server: &MockServer, response: ResponseTemplate, times: u64) {
    let unsubscribe = Mock::given(method("POST")).and(path("/topics/unsubscribe"));
    optout_testkit::mount(server, unsubscribe, response, times).await;
}

/// [`news`] sent to a server that answers it once with `response`.
async fn news_answered_with(response: ResponseTemplate) -> Result<Receipt, Error> {
    let server = MockServer::start().await;
    mount(&server, response, 1).await;
    client(&server).unsubscribe(&news()).await
}

/// Asserts the one request the server saw, whole: method, path, query, headers, body.
async fn assert_sent(server: &MockServer, body: serde_json::Value) {
    let query = format!("api_key={KEY_ENCODED}");
    let user_agent = format!("optout-pushy/{}", env!("CARGO_PKG_VERSION"));
    let expected = Expected {
        method: "POST",
        path: "/topics/unsubscribe",
        query: Some(&query),
        // Pushy's key goes in the query only.
        authorization: None,
        user_agent: &user_agent,
        headers: &[],
        body: Some(body),
    };
    assert_request(&only_request(server).await, &expected);
}

#[tokio::test]
async fn sends_the_documented_request_and_decodes_the_documented_answer() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"success": true})),
        1,
    )
    .await;
    let receipt = client(&server)
        .unsubscribe(&Unsubscribe::new(device(), Topics::only(["news", "media"])))
        .await
        .unwrap();
    assert_sent(
        &server,
        json!({"token": "a6345d0278adc55d3474f5", "topics": ["news", "media"]}),
    )
    .await;
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert_eq!(receipt.topics, Topics::only(["news", "media"]));
    assert_eq!(receipt.recipient, device());
}

#[tokio::test]
async fn all_topics_is_the_wildcard() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"success": true})),
        1,
    )
    .await;
    client(&server)
        .unsubscribe(&Unsubscribe::new(device(), Topics::All))
        .await
        .unwrap();
    assert_sent(
        &server,
        json!({"token": "a6345d0278adc55d3474f5", "topics": ["*"]}),
    )
    .await;
}

#[tokio::test]
async fn success_as_the_string_true_is_accepted_and_unknown_fields_tolerated() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"success": "true", "extra": 1})),
        1,
    )
    .await;
    let typed = UnsubscribeRequest {
        token: "t".into(),
        topics: vec!["news".into()],
    };
    assert!(
        client(&server)
            .unsubscribe_topics(&typed)
            .await
            .unwrap()
            .success
    );
}

/// [`news`] sent, without retries, to a server that answers it once with `body` on a 200.
async fn news_answered_200_without_retries(body: serde_json::Value) -> Result<Receipt, Error> {
    let server = MockServer::start().await;
    mount(&server, ResponseTemplate::new(200).set_body_json(body), 1).await;
    without_retries(&server.uri()).unsubscribe(&news()).await
}

#[tokio::test]
async fn success_false_or_missing_is_unconfirmed_not_a_receipt() {
    for (body, says) in [
        (json!({"success": false}), "success: false"),
        (json!({}), "no success: true"),
        (json!({"success": null}), "no success: true"),
        (json!({"success": "maybe"}), "no success: true"),
        (json!({"ok": true}), "no success: true"),
        (
            json!({"success": true, "code": "PARTIAL", "error": "not all topics"}),
            "success: true but also an error (PARTIAL: not all topics)",
        ),
    ] {
        let err = news_answered_200_without_retries(body.clone())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}: {err}");
        assert!(err.is_retryable() && err.was_sent(), "{body}: {err}");
        assert_eq!(err.status(), Some(200), "{body}: {err}");
        let message = err.message().unwrap();
        assert!(message.contains(says), "{body}: {message}");
        assert!(message.contains("not confirmed"), "{body}: {message}");
    }
}

#[tokio::test]
async fn pushys_error_body_on_a_2xx_is_a_rejection_with_its_code_and_message() {
    // Was a decode error ("missing field `success`"), losing what Pushy said.
    for body in [
        json!({"code": "INVALID_DEVICE_TOKEN", "error": "The provided device token is invalid."}),
        json!({"success": false, "code": "INVALID_DEVICE_TOKEN", "error": "The provided device token is invalid."}),
    ] {
        let err = news_answered_with(ResponseTemplate::new(200).set_body_json(body))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
        assert_eq!(err.status(), Some(200));
        assert_eq!(err.code(), Some("INVALID_DEVICE_TOKEN"));
        assert_eq!(err.message(), Some("The provided device token is invalid."));
        assert!(!err.is_retryable());
        assert_eq!(err.attempts(), 1);
    }
    let err = news_answered_with(
        ResponseTemplate::new(200).set_body_json(json!({"error": "Internal error"})),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
    assert_eq!(err.code(), None);
    assert_eq!(err.message(), Some("Internal error"));
}

#[tokio::test]
async fn a_star_topic_is_refused_pointing_to_all_topics() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"success": true})),
        0,
    )
    .await;
    let pushy = client(&server);
    for topics in [
        Topics::one("*"),
        Topics::one(" * "),
        Topics::only(["news", "*"]),
    ] {
        let err = pushy
            .unsubscribe(&Unsubscribe::new(device(), topics.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{topics:?}: {err}");
        assert_eq!(err.field(), Some("topic"));
        assert!(err.to_string().contains("--all-topics"), "{err}");
        assert!(err.to_string().contains("Topics::All"), "{err}");
        assert!(!err.was_sent());
    }
}

#[tokio::test]
async fn the_documented_error_keeps_its_code_and_message() {
    let err = news_answered_with(ResponseTemplate::new(400).set_body_json(json!({
        "code": "INVALID_DEVICE_TOKEN",
        "error": "The provided device token is invalid."
    })))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("INVALID_DEVICE_TOKEN"));
    assert_eq!(err.message(), Some("The provided device token is invalid."));
    assert!(!err.is_retryable());
    assert_eq!(err.attempts(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn a_bad_key_is_unauthorized_and_not_retried() {
    let err = news_answered_with(
        ResponseTemplate::new(401)
            .set_body_json(json!({"code": "INVALID_API_KEY", "error": "bad key"})),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn rate_limits_and_proxy_errors_are_retried() {
    let server = MockServer::start().await;
    for response in [
        ResponseTemplate::new(429).insert_header("retry-after", "0"),
        ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
    ] {
        mount_first(&server, Mock::given(method("POST")), response, 1).await;
    }
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"success": true})),
        1,
    )
    .await;
    let receipt = client(&server).unsubscribe(&news()).await.unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
}

#[tokio::test]
async fn a_garbled_success_is_a_decode_error_with_a_snippet() {
    // Sent once: this test is about the message. A garbled 200 is retryable (its effect is
    // unknown, an unsubscribe is safe to repeat), so a client with retries would resend it.
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_string("<html>oops"),
        1,
    )
    .await;
    let err = without_retries(&server.uri())
        .unsubscribe(&news())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.is_retryable() && err.was_sent(), "{err}");
    assert!(err.to_string().contains("<html>oops"), "{err}");
}

#[tokio::test]
async fn bad_input_is_refused_with_nothing_sent() {
    let server = MockServer::start().await;
    mount(&server, ResponseTemplate::new(200), 0).await;
    let pushy = client(&server);
    let too_many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let cases = [
        (Unsubscribe::new(device(), Topics::Only(too_many)), "topics"),
        (
            Unsubscribe::new(device(), Topics::one("no spaces")),
            "topic",
        ),
        (
            Unsubscribe::new(device(), Topics::one("x".repeat(101))),
            "topic",
        ),
        (Unsubscribe::new(device(), Topics::Only(vec![])), "topic"),
    ];
    for (request, field) in cases {
        let err = pushy.unsubscribe(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(!err.was_sent());
    }
    let typed = UnsubscribeRequest {
        token: " ".into(),
        topics: vec!["news".into()],
    };
    assert_eq!(
        pushy.unsubscribe_topics(&typed).await.unwrap_err().field(),
        Some("token")
    );
    let email = Unsubscribe::new(
        Recipient::email("a@example.com").unwrap(),
        Topics::one("news"),
    );
    assert_eq!(
        pushy.unsubscribe(&email).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
}

#[tokio::test]
async fn the_key_never_shows_in_debug_display_or_errors() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(500)
            .set_body_json(json!({"code": "X", "error": format!("bad {KEY}")})),
        1,
    )
    .await;
    let pushy = without_retries(&server.uri());
    let err = pushy.unsubscribe(&news()).await.unwrap_err();
    let refused = without_retries("http://127.0.0.1:1")
        .unsubscribe(&news())
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Network);
    let text = format!(
        "{pushy:?} {err} {err:?} {refused} {refused:?} {}",
        serde_json::to_string(&refused).unwrap()
    );
    for secret in ["sk_live", KEY_ENCODED] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn building_needs_a_key_and_a_usable_base_url() {
    let err = Pushy::builder().build().unwrap_err();
    assert!(err.to_string().contains("PUSHY_SECRET_API_KEY"), "{err}");
    let err = Pushy::builder()
        .api_key("k")
        .base_url("ftp://x")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}
