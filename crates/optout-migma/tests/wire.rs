//! Migma on the wire, against a loopback wiremock server, with the docs' own examples.

use optout_core::{
    Error, ErrorKind, Outcome, Receipt, Recipient, Topics, Unsubscribe, Unsubscriber,
};
use optout_migma::{Migma, TopicSubscription, TopicSubscriptionRequest};
use optout_testkit::{fast_retry, mount_first, only_request, received, renderings, Expected};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "mgm_live_7f3a9c2e";
const PROJECT: &str = "PROJECT_ID";
const CONTACT: &str = "CONTACT_ID";
/// A topic id that must stay one path segment.
const ODD_TOPIC: &str = "a b/c?d";
const ODD_TOPIC_PATH: &str = "/v1/topics/a%20b%2Fc%3Fd/unsubscribe";

fn builder(base_url: &str) -> optout_migma::MigmaBuilder {
    Migma::builder()
        .api_key(KEY)
        .project_id(PROJECT)
        .base_url(base_url)
        .retry_policy(fast_retry())
}

fn client(server: &MockServer) -> Migma {
    builder(&server.uri()).build().unwrap()
}

fn client_without_retries(server: &MockServer) -> Migma {
    builder(&server.uri()).max_retries(0).build().unwrap()
}

fn contact() -> Recipient {
    Recipient::subscriber(CONTACT).unwrap()
}

fn request(topics: Topics) -> Unsubscribe {
    Unsubscribe::new(contact(), topics)
}

/// The documented 200 answer (`ApiResponseTopicSubscription`).
fn docs_success(topic: &str) -> Value {
    json!({
        "success": true,
        "data": {"topicId": topic, "subscriberId": CONTACT, "subscribed": false},
        "error": null
    })
}

async fn mount(server: &MockServer, path_: &str, response: ResponseTemplate, times: u64) {
    let unsubscribe = Mock::given(method("POST")).and(path(path_));
    optout_testkit::mount(server, unsubscribe, response, times).await;
}

/// `request(Topics::one("t1"))` sent by `client` to a server that answers it once with
/// `response`.
async fn t1_answered_with(
    response: ResponseTemplate,
    client: fn(&MockServer) -> Migma,
) -> Result<Receipt, Error> {
    let server = MockServer::start().await;
    mount(&server, &topic_path("t1"), response, 1).await;
    client(&server)
        .unsubscribe(&request(Topics::one("t1")))
        .await
}

fn topic_path(topic: &str) -> String {
    format!("/v1/topics/{topic}/unsubscribe")
}

/// Asserts one request, whole: method, path, query, headers, body.
fn assert_request(r: &Request, path: &str) {
    let authorization = format!("Bearer {KEY}");
    let user_agent = format!("optout-migma/{}", env!("CARGO_PKG_VERSION"));
    let expected = Expected {
        method: "POST",
        path,
        query: None,
        authorization: Some(&authorization),
        user_agent: &user_agent,
        headers: &[],
        // Exactly these two keys, nothing else.
        body: Some(json!({"subscriberId": CONTACT, "projectId": PROJECT})),
    };
    optout_testkit::assert_request(r, &expected);
}

#[tokio::test]
async fn sends_the_documented_request_with_the_id_as_one_segment() {
    let server = MockServer::start().await;
    mount(
        &server,
        ODD_TOPIC_PATH,
        ResponseTemplate::new(200).set_body_json(docs_success(ODD_TOPIC)),
        1,
    )
    .await;
    let receipt = client(&server)
        .unsubscribe(&request(Topics::one(ODD_TOPIC)))
        .await
        .unwrap();
    assert_request(&only_request(&server).await, ODD_TOPIC_PATH);
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert_eq!(receipt.topics, Topics::one(ODD_TOPIC));
    assert_eq!(receipt.recipient, contact());
    assert_eq!(receipt.reference, None);
}

#[tokio::test]
async fn the_typed_call_decodes_the_docs_answer_and_tolerates_unknown_fields() {
    let server = MockServer::start().await;
    let mut body = docs_success("TOPIC_ID");
    body["data"]["updatedAt"] = json!("2025-01-01T00:00:00Z");
    body["requestId"] = json!("r-1");
    mount(
        &server,
        &topic_path("TOPIC_ID"),
        ResponseTemplate::new(200).set_body_json(body),
        1,
    )
    .await;
    let typed = TopicSubscriptionRequest {
        subscriber_id: CONTACT.into(),
        project_id: PROJECT.into(),
    };
    let got: TopicSubscription = client(&server)
        .unsubscribe_from_topic("TOPIC_ID", &typed)
        .await
        .unwrap();
    assert_eq!(got.topic_id.as_deref(), Some("TOPIC_ID"));
    assert_eq!(got.subscriber_id.as_deref(), Some(CONTACT));
    assert_eq!(got.subscribed, Some(false));
    assert_request(&received(&server).await[0], &topic_path("TOPIC_ID"));
}

#[tokio::test]
async fn success_with_null_data_is_still_a_success() {
    let receipt = t1_answered_with(
        ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": null})),
        client,
    )
    .await
    .unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
}

#[tokio::test]
async fn success_false_on_a_200_is_a_rejection_with_migmas_message() {
    let err = t1_answered_with(
        ResponseTemplate::new(200)
            .set_body_json(json!({"success": false, "data": null, "error": "Topic is archived"})),
        client,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.status(), Some(200));
    assert_eq!(err.message(), Some("Topic is archived"));
    assert!(!err.is_retryable());
    assert_eq!(err.attempts(), 1);
}

/// A 200 whose answer confirms nothing: unconfirmed (retryable), never a receipt; the
/// message says what the answer said instead.
async fn assert_unconfirmed(body: Value, says: &str) {
    let err = t1_answered_with(
        ResponseTemplate::new(200).set_body_json(body),
        client_without_retries,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.is_retryable() && err.was_sent(), "{err}");
    assert_eq!(err.status(), Some(200), "{err}");
    let message = err.message().unwrap();
    assert!(message.contains(says), "{message}");
    assert!(message.contains("not confirmed"), "{message}");
}

#[tokio::test]
async fn still_subscribed_after_the_call_is_not_a_receipt() {
    assert_unconfirmed(
        json!({
            "success": true,
            "data": {"topicId": "t1", "subscriberId": CONTACT, "subscribed": true}
        }),
        "data.subscribed is true",
    )
    .await;
}

#[tokio::test]
async fn an_answer_about_another_topic_or_contact_is_not_a_receipt() {
    assert_unconfirmed(
        json!({
            "success": true,
            "data": {"topicId": "t2", "subscriberId": CONTACT, "subscribed": false}
        }),
        "data.topicId is \"t2\", another topic",
    )
    .await;
    assert_unconfirmed(
        json!({
            "success": true,
            "data": {"topicId": "t1", "subscriberId": "SOMEONE_ELSE", "subscribed": false}
        }),
        "data.subscriberId is \"SOMEONE_ELSE\", another contact",
    )
    .await;
}

#[tokio::test]
async fn success_true_with_an_error_object_is_unconfirmed_not_a_decode_error() {
    // Migma documents `error` as the message of a failed call: with `success: true` the
    // answer contradicts itself, so it confirms nothing (and is not a decode error).
    let mut body = docs_success("t1");
    body["error"] = json!({"code": "PARTIAL", "message": "preferences not saved"});
    assert_unconfirmed(body, "also an error: PARTIAL: preferences not saved").await;
    let mut body = docs_success("t1");
    body["error"] = json!("preferences not saved");
    assert_unconfirmed(body, "also an error: preferences not saved").await;
    let mut body = docs_success("t1");
    body["error"] = json!({"detail": 7});
    assert_unconfirmed(body, "detail").await;
    // An empty error is no error.
    for empty in [json!({}), json!(""), json!(null)] {
        let mut body = docs_success("t1");
        body["error"] = empty;
        let receipt = t1_answered_with(ResponseTemplate::new(200).set_body_json(body), client)
            .await
            .unwrap();
        assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    }
}

#[tokio::test]
async fn an_error_object_on_a_refusal_keeps_migmas_code_and_message() {
    let body =
        json!({"success": false, "error": {"code": "NOT_FOUND", "message": "Topic not found"}});
    let err = t1_answered_with(ResponseTemplate::new(404).set_body_json(body), client)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.message(), Some("NOT_FOUND: Topic not found"));
    let body = json!({"success": false, "data": null, "error": {"message": "Topic is archived"}});
    let err = t1_answered_with(ResponseTemplate::new(200).set_body_json(body), client)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.message(), Some("Topic is archived"));
}

#[tokio::test]
async fn a_200_without_success_is_a_decode_error_with_a_snippet() {
    // Sent once: this test is about the message. A garbled 200 is retryable (its effect is
    // unknown, an unsubscribe is safe to repeat), so a client with retries would resend it.
    let err = t1_answered_with(
        ResponseTemplate::new(200).set_body_json(json!({"data": {"subscribed": false}})),
        client_without_retries,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.is_retryable() && err.was_sent(), "{err}");
    assert!(err.to_string().contains("success"), "{err}");
    assert!(err.to_string().contains("subscribed"), "{err}");
}

#[tokio::test]
async fn every_documented_error_keeps_its_message_and_kind() {
    let cases = [
        (400, ErrorKind::Rejected, false),
        (401, ErrorKind::Unauthorized, false),
        (403, ErrorKind::Unauthorized, false),
        (404, ErrorKind::NotFound, false),
        (409, ErrorKind::Rejected, false),
        (429, ErrorKind::RateLimited, true),
        (500, ErrorKind::Server, true),
        (503, ErrorKind::Server, true),
    ];
    for (status, kind, retryable) in cases {
        let message = format!("Migma says {status}");
        let response = ResponseTemplate::new(status)
            .set_body_json(json!({"success": false, "error": message}));
        let err = t1_answered_with(response, client_without_retries)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.message(), Some(message.as_str()));
        assert_eq!(err.code(), None);
        assert_eq!(err.is_retryable(), retryable, "{status}");
        assert!(err.to_string().contains(&message), "{err}");
    }
}

#[tokio::test]
async fn a_non_json_error_body_is_quoted() {
    let err = t1_answered_with(
        ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
        client_without_retries,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.message(), Some("\"<html>Bad Gateway</html>\""));
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_then_succeed() {
    let server = MockServer::start().await;
    for response in [
        ResponseTemplate::new(503).set_body_json(json!({"success": false, "error": "busy"})),
        ResponseTemplate::new(429)
            .insert_header("retry-after", "0")
            .set_body_json(json!({"success": false, "error": "Too many requests"})),
    ] {
        mount_first(&server, Mock::given(method("POST")), response, 1).await;
    }
    mount(
        &server,
        &topic_path("t1"),
        ResponseTemplate::new(200).set_body_json(docs_success("t1")),
        1,
    )
    .await;
    let receipt = client(&server)
        .unsubscribe(&request(Topics::one("t1")))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    let requests = received(&server).await;
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_request(r, &topic_path("t1"));
    }
}

#[tokio::test]
async fn a_bad_key_and_an_unknown_topic_are_not_retried() {
    for (status, kind) in [(401, ErrorKind::Unauthorized), (404, ErrorKind::NotFound)] {
        let response =
            ResponseTemplate::new(status).set_body_json(json!({"success": false, "error": "nope"}));
        let err = t1_answered_with(response, client).await.unwrap_err();
        assert_eq!(err.kind(), kind);
        assert_eq!(err.attempts(), 1, "{status} is not retried");
    }
}

#[tokio::test]
async fn several_topics_get_one_call_each_and_merge_into_one_receipt() {
    let server = MockServer::start().await;
    for topic in ["t1", "t2"] {
        mount(
            &server,
            &topic_path(topic),
            ResponseTemplate::new(200).set_body_json(docs_success(topic)),
            1,
        )
        .await;
    }
    let receipt = client(&server)
        .unsubscribe(&request(Topics::only(["t1", "t2", "t1"])))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert_eq!(receipt.topics, Topics::only(["t1", "t2"]));
    let mut paths: Vec<String> = received(&server)
        .await
        .iter()
        .map(|r| {
            assert_request(r, r.url.path());
            r.url.path().to_owned()
        })
        .collect();
    paths.sort();
    assert_eq!(paths, [topic_path("t1"), topic_path("t2")]);
}

#[tokio::test]
async fn a_failed_topic_never_hides_the_done_ones() {
    let server = MockServer::start().await;
    mount(
        &server,
        &topic_path("t1"),
        ResponseTemplate::new(200).set_body_json(docs_success("t1")),
        1,
    )
    .await;
    mount(
        &server,
        &topic_path("gone"),
        ResponseTemplate::new(404)
            .set_body_json(json!({"success": false, "error": "Topic not found"})),
        1,
    )
    .await;
    let err = client(&server)
        .unsubscribe(&request(Topics::only(["t1", "gone"])))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Partial);
    assert!(!err.is_retryable());
    let partial = err.partial().unwrap();
    assert_eq!(partial.done.len(), 1);
    assert_eq!(partial.done[0].topics, Topics::one("t1"));
    assert_eq!(partial.done[0].outcome, Outcome::Unsubscribed);
    assert_eq!(partial.failed.len(), 1);
    assert_eq!(partial.failed[0].0, "gone");
    assert_eq!(partial.failed[0].1.kind(), ErrorKind::NotFound);
    assert_eq!(partial.failed[0].1.message(), Some("Topic not found"));
    assert!(err.to_string().contains("1 of 2 topics done (t1)"), "{err}");
}

#[tokio::test]
async fn bad_input_is_refused_with_nothing_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(docs_success("t")))
        .expect(0)
        .mount(&server)
        .await;
    let migma = client(&server);
    let blank = Recipient::Subscriber {
        id: " ".into(),
        identifier: None,
    };
    let invalid = [
        (request(Topics::one("")), "topic"),
        (request(Topics::one("..")), "topic"),
        (request(Topics::one("a\nb")), "topic"),
        (request(Topics::Only(vec![])), "topic"),
        (Unsubscribe::new(blank, Topics::one("t1")), "subscriber_id"),
    ];
    for (request, field) in invalid {
        let err = migma.unsubscribe(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(!err.was_sent());
    }
    let unsupported = [
        request(Topics::All),
        Unsubscribe::new(
            Recipient::subscriber_with_identifier(CONTACT, "sub-1").unwrap(),
            Topics::one("t1"),
        ),
        Unsubscribe::new(
            Recipient::email("a@example.com").unwrap(),
            Topics::one("t1"),
        ),
        Unsubscribe::new(Recipient::phone("254700000000").unwrap(), Topics::one("t1")),
        Unsubscribe::new(Recipient::device("tok").unwrap(), Topics::one("t1")),
    ];
    for request in unsupported {
        let err = migma.unsubscribe(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("nothing was sent"), "{err}");
    }
    let typed = |subscriber: &str, project: &str| TopicSubscriptionRequest {
        subscriber_id: subscriber.into(),
        project_id: project.into(),
    };
    for (topic, body, field) in [
        ("t1", typed("", PROJECT), "subscriber_id"),
        ("t1", typed(CONTACT, " "), "project_id"),
        (" ", typed(CONTACT, PROJECT), "topic"),
    ] {
        let err = migma
            .unsubscribe_from_topic(topic, &body)
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
    }
}

#[tokio::test]
async fn the_key_never_shows_in_debug_display_or_errors() {
    let server = MockServer::start().await;
    mount(
        &server,
        &topic_path("t1"),
        ResponseTemplate::new(401)
            .set_body_json(json!({"success": false, "error": format!("Invalid key {KEY}")})),
        1,
    )
    .await;
    let migma = client_without_retries(&server);
    let err = migma
        .unsubscribe(&request(Topics::one("t1")))
        .await
        .unwrap_err();
    assert_eq!(err.message(), Some("Invalid key [REDACTED]"));
    let refused = builder("http://127.0.0.1:1")
        .max_retries(0)
        .build()
        .unwrap()
        .unsubscribe(&request(Topics::one("t1")))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Network);
    let builder_debug = format!("{:?}", Migma::builder().api_key(KEY));
    let text = format!(
        "{migma:?} {builder_debug} {} {}",
        renderings(&err),
        renderings(&refused)
    );
    assert!(!text.contains(KEY), "{text}");
    assert!(!text.contains("mgm_live"), "{text}");
}

#[test]
fn building_needs_a_key_a_project_and_a_usable_base_url() {
    let err = Migma::builder().project_id(PROJECT).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("MIGMA_API_KEY"), "{err}");
    let err = Migma::builder().api_key(KEY).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("MIGMA_PROJECT_ID"), "{err}");
    let err = Migma::builder()
        .api_key(KEY)
        .project_id("  ")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("MIGMA_PROJECT_ID"), "{err}");
    let err = Migma::builder()
        .api_key(KEY)
        .project_id(PROJECT)
        .base_url("ftp://x")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let migma = Migma::builder()
        .api_key(KEY)
        .project_id(PROJECT)
        .build()
        .unwrap();
    assert_eq!(migma.base_url().as_str(), "https://api.migma.ai/");
    assert_eq!(migma.project_id(), PROJECT);
}

#[test]
fn from_env_reads_the_key_the_project_and_the_base_url() {
    // The only test in this binary that touches the environment.
    std::env::remove_var("MIGMA_API_KEY");
    std::env::remove_var("MIGMA_PROJECT_ID");
    std::env::remove_var("MIGMA_BASE_URL");
    let err = Migma::from_env().unwrap_err();
    assert!(err.to_string().contains("MIGMA_API_KEY"), "{err}");
    std::env::set_var("MIGMA_API_KEY", KEY);
    let err = Migma::from_env().unwrap_err();
    assert!(err.to_string().contains("MIGMA_PROJECT_ID"), "{err}");
    std::env::set_var("MIGMA_PROJECT_ID", PROJECT);
    assert_eq!(
        Migma::from_env().unwrap().base_url().as_str(),
        "https://api.migma.ai/"
    );
    std::env::set_var("MIGMA_BASE_URL", "http://127.0.0.1:8025");
    let migma = Migma::from_env().unwrap();
    assert_eq!(migma.base_url().as_str(), "http://127.0.0.1:8025/");
    assert_eq!(migma.project_id(), PROJECT);
}
