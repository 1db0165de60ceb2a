//! Novu on the wire, against a loopback wiremock server, with the docs' own examples.

use optout_core::{
    Error, ErrorKind, Outcome, Receipt, Recipient, Topics, Unsubscribe, Unsubscriber,
};
use optout_novu::{Novu, Region, SubscriptionRef};
use optout_testkit::{fast_retry, header, json_body, mount_first, received, renderings, Expected};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockBuilder, MockServer, Request, Respond, ResponseTemplate};

const KEY: &str = "nv_secret_4f7a9c";
/// A topic key that must stay one path segment.
const TOPIC: &str = "a b/c?d";
const TOPIC_PATH: &str = "/v2/topics/a%20b%2Fc%3Fd/subscriptions";

fn client(server: &MockServer) -> Novu {
    Novu::builder()
        .secret_key(KEY)
        .base_url(server.uri())
        .retry_policy(fast_retry())
        .build()
        .unwrap()
}

/// A client of `base_url` that never retries.
fn without_retries(base_url: &str) -> Novu {
    Novu::builder()
        .secret_key(KEY)
        .base_url(base_url)
        .max_retries(0)
        .build()
        .unwrap()
}

fn subscriber() -> Recipient {
    Recipient::subscriber("user-123").unwrap()
}

fn request(topics: Topics) -> Unsubscribe {
    Unsubscribe::new(subscriber(), topics)
}

/// The response example of Novu's docs page, verbatim.
fn docs_example() -> Value {
    json!({
      "data": [{
          "_id": "64f5e95d3d7946d80d0cb679",
          "topic": {"_id": "64f5e95d3d7946d80d0cb677", "key": "product-updates", "name": "Product Updates"},
          "subscriber": {
            "_id": "64da692e9a94fb2e6449ad07",
            "subscriberId": "user-123",
            "avatar": "https://example.com/avatar.png",
            "firstName": "John",
            "lastName": "Doe",
            "email": "john@example.com"
          },
          "createdAt": "2025-04-24T05:40:21Z",
          "updatedAt": "2025-04-24T05:40:21Z",
          "identifier": "tk=product-updates:si=subscriber-123",
          "contextKeys": ["tenant:org-a", "project:proj-123"]
      }],
      "meta": {"totalCount": 3, "successful": 2, "failed": 1},
      "errors": [{
          "subscriberId": "invalid-subscriber-id",
          "code": "SUBSCRIBER_NOT_FOUND",
          "message": "Subscriber with ID invalid-subscriber-id could not be found"
      }]
    })
}

/// The docs' example answer, its one deleted subscription moved to `topic` (for `user-123`).
fn docs_example_in(topic: &str) -> Value {
    let mut body = docs_example();
    body["data"][0]["topic"]["key"] = json!(topic);
    body
}

/// One `data` entry as Novu's server builds it: subscription `id` of `subscriber` (`None`:
/// `subscriber: null`) in `topic`, with its `identifier`.
fn entry(id: &str, topic: &str, subscriber: Option<&str>, identifier: Option<&str>) -> Value {
    json!({
        "_id": id,
        "identifier": identifier,
        "topic": {"_id": "t-1", "key": topic, "name": topic},
        "subscriber": subscriber.map(|s| json!({"_id": "s-1", "subscriberId": s})),
        "createdAt": "2025-04-24T05:40:21Z",
        "updatedAt": "2025-04-24T05:40:21Z"
    })
}

/// The topic key of a DELETE, percent-decoded from its path.
fn topic_of(r: &Request) -> String {
    let segment = r.url.path().split('/').nth(3).unwrap();
    let mut bytes = Vec::new();
    let mut rest = segment.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(&tail[..2]).unwrap();
            bytes.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).unwrap()
}

/// A whole-result body with one per-item error for `user-123`, as Novu sends with a 400 when
/// every item failed.
fn all_failed(code: &str, message: &str) -> Value {
    json!({
        "data": [],
        "meta": {"totalCount": 1, "successful": 0, "failed": 1},
        "errors": [{"subscriberId": "user-123", "code": code, "message": message}]
    })
}

fn error_body(status: u16, message: Value, error: &str) -> Value {
    json!({
        "statusCode": status,
        "timestamp": "2025-04-24T05:40:21.000Z",
        "path": TOPIC_PATH,
        "message": message,
        "error": error
    })
}

/// Matches every DELETE.
fn deletes() -> MockBuilder {
    Mock::given(method("DELETE"))
}

/// Mounts `response` for DELETEs of `path_`, expected exactly `times` times.
async fn mount_at(server: &MockServer, path_: &str, response: impl Respond + 'static, times: u64) {
    let delete = Mock::given(method("DELETE")).and(path(path_));
    optout_testkit::mount(server, delete, response, times).await;
}

/// Mounts `response` for DELETEs of [`TOPIC_PATH`], expected exactly `times` times.
async fn mount(server: &MockServer, response: impl Respond + 'static, times: u64) {
    mount_at(server, TOPIC_PATH, response, times).await;
}

/// `request(Topics::one(TOPIC))` sent to a server that answers it once with `response`.
async fn topic_answered_with(response: ResponseTemplate) -> Result<Receipt, Error> {
    let server = MockServer::start().await;
    mount(&server, response, 1).await;
    client(&server)
        .unsubscribe(&request(Topics::one(TOPIC)))
        .await
}

/// Asserts one request whole: method, path, query, headers, body.
fn assert_request(r: &Request, path: &str, idempotency_key: Option<&str>, body: Value) {
    let authorization = format!("ApiKey {KEY}");
    let user_agent = format!("optout-novu/{}", env!("CARGO_PKG_VERSION"));
    let expected = Expected {
        method: "DELETE",
        path,
        query: None,
        authorization: Some(&authorization),
        user_agent: &user_agent,
        headers: &[("idempotency-key", idempotency_key)],
        body: Some(body),
    };
    optout_testkit::assert_request(r, &expected);
}

/// A delete's answer: the `data` and `errors` of the `total` items asked for, with their
/// `meta` counts.
fn result(total: usize, data: Vec<Value>, errors: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "data": data,
        "meta": {"totalCount": total, "successful": data.len(), "failed": errors.len()},
        "errors": errors
    }))
}

/// The `subscriptions` items of a delete's body.
fn subscriptions(r: &Request) -> Vec<Value> {
    let Value::Array(items) = json_body(r)["subscriptions"].take() else {
        panic!("no subscriptions list");
    };
    items
}

#[tokio::test]
async fn sends_the_documented_request_and_reads_the_documented_answer() {
    let server = MockServer::start().await;
    let path = "/v2/topics/product-updates/subscriptions";
    mount_at(
        &server,
        path,
        ResponseTemplate::new(200).set_body_json(docs_example()),
        1,
    )
    .await;
    let receipt = client(&server)
        .unsubscribe(&request(Topics::one("product-updates")).idempotency_key("req-7f3a"))
        .await
        .unwrap();
    let requests = received(&server).await;
    assert_eq!(requests.len(), 1);
    assert_request(
        &requests[0],
        path,
        Some("req-7f3a"),
        json!({"subscriptions": [{"subscriberId": "user-123"}]}),
    );
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert_eq!(
        receipt.reference.as_deref(),
        Some("64f5e95d3d7946d80d0cb679")
    );
    assert_eq!(receipt.topics, Topics::one("product-updates"));
    assert_eq!(receipt.recipient, subscriber());
}

#[tokio::test]
async fn an_identifier_is_sent_and_no_idempotency_key_means_no_header() {
    let server = MockServer::start().await;
    let deleted = entry("s-1", TOPIC, Some("user-123"), Some("sub-a"));
    mount(&server, result(1, vec![deleted], vec![]), 1).await;
    let recipient = Recipient::subscriber_with_identifier("user-123", "sub-a").unwrap();
    client(&server)
        .unsubscribe(&Unsubscribe::new(recipient, Topics::one(TOPIC)))
        .await
        .unwrap();
    assert_request(
        &received(&server).await[0],
        TOPIC_PATH,
        None,
        json!({"subscriptions": [{"subscriberId": "user-123", "identifier": "sub-a"}]}),
    );
}

#[tokio::test]
async fn the_typed_call_decodes_the_docs_example_whole() {
    let server = MockServer::start().await;
    let mut body = docs_example();
    body["unknown"] = json!({"tolerated": true});
    mount(&server, ResponseTemplate::new(200).set_body_json(body), 1).await;
    let items = [
        SubscriptionRef::subscriber("subscriber-123")
            .with_identifier("subscriber-123-subscription-a"),
        SubscriptionRef::subscriber("subscriber-456"),
        SubscriptionRef::by_identifier("subscriber-789-subscription-b"),
    ];
    let response = client(&server)
        .delete_topic_subscriptions(TOPIC, &items, None)
        .await
        .unwrap();
    assert_request(
        &received(&server).await[0],
        TOPIC_PATH,
        None,
        json!({"subscriptions": [
            {"subscriberId": "subscriber-123", "identifier": "subscriber-123-subscription-a"},
            {"subscriberId": "subscriber-456"},
            {"identifier": "subscriber-789-subscription-b"}
        ]}),
    );
    let deleted = &response.data[0];
    assert_eq!(deleted.id, "64f5e95d3d7946d80d0cb679");
    assert_eq!(
        deleted.identifier.as_deref(),
        Some("tk=product-updates:si=subscriber-123")
    );
    let topic = deleted.topic.as_ref().unwrap();
    assert_eq!(topic.key.as_deref(), Some("product-updates"));
    assert_eq!(topic.name.as_deref(), Some("Product Updates"));
    let sub = deleted.subscriber.as_ref().unwrap();
    assert_eq!(sub.subscriber_id.as_deref(), Some("user-123"));
    assert_eq!(sub.email.as_deref(), Some("john@example.com"));
    assert_eq!(deleted.created_at.as_deref(), Some("2025-04-24T05:40:21Z"));
    assert_eq!(deleted.context_keys, ["tenant:org-a", "project:proj-123"]);
    assert_eq!(
        (
            response.meta.total_count,
            response.meta.successful,
            response.meta.failed
        ),
        (3, 2, 1)
    );
    assert_eq!(response.errors.len(), 1);
    assert_eq!(
        response.errors[0].subscriber_id.as_deref(),
        Some("invalid-subscriber-id")
    );
    assert_eq!(
        response.errors[0].code.as_deref(),
        Some("SUBSCRIBER_NOT_FOUND")
    );
}

#[tokio::test]
async fn a_body_without_data_or_meta_is_a_decode_error() {
    let response = ResponseTemplate::new(200).set_body_json(json!({"meta": {"totalCount": 1}}));
    let err = topic_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("data"), "{err}");
}

/// Answers each chunk from its body: `sN` with N a multiple of 50 is an unknown subscriber,
/// every other item is deleted.
struct PerItem;

impl Respond for PerItem {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let items = subscriptions(request);
        let (mut data, mut errors) = (Vec::new(), Vec::new());
        for item in &items {
            let id = item["subscriberId"].as_str().unwrap();
            let n: usize = id[1..].parse().unwrap();
            if n % 50 == 0 {
                errors.push(
                    json!({"subscriberId": id, "code": "SUBSCRIBER_NOT_FOUND", "message": "no"}),
                );
            } else {
                data.push(json!({"_id": format!("sub-{id}"), "subscriber": {"subscriberId": id}}));
            }
        }
        result(items.len(), data, errors)
    }
}

#[tokio::test]
async fn any_number_of_subscriptions_goes_in_chunks_of_100_and_is_merged() {
    let server = MockServer::start().await;
    mount(&server, PerItem, 3).await;
    let ids: Vec<String> = (0..250).map(|i| format!("s{i}")).collect();
    let items: Vec<SubscriptionRef> = ids.iter().map(SubscriptionRef::subscriber).collect();
    let response = client(&server)
        .delete_topic_subscriptions(TOPIC, &items, Some("bulk-1"))
        .await
        .unwrap();

    let requests = received(&server).await;
    assert_eq!(requests.len(), 3);
    for (n, (r, range)) in requests
        .iter()
        .zip([0..100, 100..200, 200..250])
        .enumerate()
    {
        let expected: Vec<Value> = ids[range]
            .iter()
            .map(|id| json!({"subscriberId": id}))
            .collect();
        let key = format!("bulk-1-{}", n + 1);
        assert_request(
            r,
            TOPIC_PATH,
            Some(&key),
            json!({"subscriptions": expected}),
        );
    }
    assert_eq!(
        (
            response.meta.total_count,
            response.meta.successful,
            response.meta.failed
        ),
        (250, 245, 5)
    );
    assert_eq!(response.data.len(), 245);
    assert_eq!(response.data[0].id, "sub-s1");
    assert_eq!(response.data[244].id, "sub-s249");
    let failed: Vec<_> = response
        .errors
        .iter()
        .map(|e| e.subscriber_id.clone().unwrap())
        .collect();
    assert_eq!(failed, ["s0", "s50", "s100", "s150", "s200"]);
}

#[tokio::test]
async fn one_chunk_keeps_the_idempotency_key_unchanged() {
    let server = MockServer::start().await;
    optout_testkit::mount(&server, deletes(), PerItem, 1).await;
    let items: Vec<SubscriptionRef> = (1..=100)
        .map(|i| SubscriptionRef::subscriber(format!("s{i}")))
        .collect();
    client(&server)
        .delete_topic_subscriptions("news", &items, Some("k"))
        .await
        .unwrap();
    assert_eq!(
        header(&received(&server).await[0], "idempotency-key").as_deref(),
        Some("k")
    );
}

#[tokio::test]
async fn a_later_chunk_failing_says_what_was_applied() {
    let server = MockServer::start().await;
    mount_first(&server, deletes(), PerItem, 1).await;
    optout_testkit::mount(
        &server,
        deletes(),
        ResponseTemplate::new(500).set_body_json(error_body(
            500,
            json!("Internal server error"),
            "Internal Server Error",
        )),
        1,
    )
    .await;
    let items: Vec<SubscriptionRef> = (1..=150)
        .map(|i| SubscriptionRef::subscriber(format!("s{i}")))
        .collect();
    let err = without_retries(&server.uri())
        .delete_topic_subscriptions("news", &items, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.status(), Some(500));
    let text = err.to_string();
    assert!(
        text.contains("chunk 2 of 2 failed after chunks 1-1 (100 subscriptions) were applied"),
        "{text}"
    );
    assert!(text.contains("Internal server error"), "{text}");
}

#[tokio::test]
async fn a_400_with_the_full_result_of_subscription_not_found_is_already_unsubscribed() {
    let body = all_failed(
        "SUBSCRIPTION_NOT_FOUND",
        "Subscription for subscriber 'user-123' not found.",
    );
    let response = ResponseTemplate::new(400).set_body_json(body);
    let receipt = topic_answered_with(response).await.unwrap();
    assert_eq!(receipt.outcome, Outcome::AlreadyUnsubscribed);
    assert_eq!(receipt.reference, None);
}

#[tokio::test]
async fn a_400_with_the_full_result_of_another_code_is_that_error() {
    let body = all_failed(
        "SUBSCRIBER_NOT_FOUND",
        "Subscriber with ID 'user-123' could not be found.",
    );
    let response = ResponseTemplate::new(400).set_body_json(body);
    let err = topic_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.code(), Some("SUBSCRIBER_NOT_FOUND"));
    let message = err.message().unwrap();
    assert!(message.starts_with("Subscriber with ID 'user-123' could not be found."));
    assert!(message.contains("HTTP 400"), "{message}");
    assert!(!err.is_retryable());

    // Other per-item codes keep the status of Novu's answer.
    let body = all_failed("INVALID_REQUEST", "Subscription identifier is required.");
    let response = ResponseTemplate::new(400).set_body_json(body);
    let err = topic_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("INVALID_REQUEST"));
}

#[tokio::test]
async fn an_answer_that_confirms_nothing_is_not_a_receipt() {
    let body = json!({"data": [], "meta": {"totalCount": 1, "successful": 0, "failed": 0}});
    let response = ResponseTemplate::new(200).set_body_json(body);
    let err = topic_answered_with(response).await.unwrap_err();
    assert!(err.to_string().contains("nothing is confirmed"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.is_retryable() && err.was_sent(), "{err}");
}

#[tokio::test]
async fn an_unknown_topic_is_not_found_and_not_retried() {
    let body = error_body(404, json!("Topic with key a b/c?d not found"), "Not Found");
    let response = ResponseTemplate::new(404).set_body_json(body);
    let err = topic_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.code(), None, "an HTTP reason phrase is not Novu's code");
    assert_eq!(err.message(), Some("Topic with key a b/c?d not found"));
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn a_422_names_its_fields_and_their_messages_bounded() {
    // Novu's ValidationErrorDto: `errors` keyed by field, each with `messages` and `value`.
    let mut body = error_body(422, json!("Validation Error"), "Unprocessable Entity");
    body["errors"] = json!({
        "subscriptions": {
            "messages": ["subscriptions must contain no more than 100 elements"],
            "value": ["user-123"]
        },
        "subscriptions.0.subscriberId": {
            "messages": ["subscriberId must be a string", "subscriberId should not be empty"],
            "value": 7
        }
    });
    let response = ResponseTemplate::new(422).set_body_json(body);
    let err = topic_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), None);
    assert_eq!(
        err.message(),
        Some(
            "Validation Error: subscriptions: subscriptions must contain no more than 100 \
             elements; subscriptions.0.subscriberId: subscriberId must be a string, \
             subscriberId should not be empty"
        )
    );
    assert!(!err.is_retryable());

    // However many details and however long, the message stays bounded and says so.
    let mut body = error_body(422, json!("Validation Error"), "Unprocessable Entity");
    let many: serde_json::Map<String, Value> = (0..200)
        .map(|i| {
            (
                format!("subscriptions.{i}.identifier"),
                json!({"messages": ["é".repeat(300)]}),
            )
        })
        .collect();
    body["errors"] = Value::Object(many);
    let err = topic_answered_with(ResponseTemplate::new(422).set_body_json(body))
        .await
        .unwrap_err();
    let message = err.message().unwrap();
    assert!(
        message.starts_with("Validation Error: subscriptions.0.identifier: éé"),
        "{message}"
    );
    assert!(
        message.chars().count() <= 600,
        "{} chars",
        message.chars().count()
    );
    assert!(message.ends_with("..."), "{message}");
}

#[tokio::test]
async fn a_422_joins_its_messages() {
    let body = error_body(
        422,
        json!([
            "subscriptions must contain no more than 100 elements",
            "subscriptions.0.subscriberId must be a string"
        ]),
        "Unprocessable Entity",
    );
    let response = ResponseTemplate::new(422).set_body_json(body);
    let err = topic_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(
        err.message(),
        Some(
            "subscriptions must contain no more than 100 elements; \
             subscriptions.0.subscriberId must be a string"
        )
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn rate_limits_are_retried_after_what_novu_asks() {
    let server = MockServer::start().await;
    mount_first(
        &server,
        deletes(),
        ResponseTemplate::new(429).insert_header("retry-after", "0"),
        1,
    )
    .await;
    mount_first(
        &server,
        deletes(),
        ResponseTemplate::new(503)
            .insert_header("ratelimit-reset", "0")
            .set_body_string("<html>busy</html>"),
        1,
    )
    .await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(docs_example_in(TOPIC)),
        1,
    )
    .await;
    let receipt = client(&server)
        .unsubscribe(&request(Topics::one(TOPIC)).idempotency_key("k"))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    for r in received(&server).await {
        assert_eq!(
            header(&r, "idempotency-key").as_deref(),
            Some("k"),
            "same key on retries"
        );
    }
}

/// Novu's server answers 409 for a request in progress with the same idempotency key only on
/// POST and PATCH; a 409 on this DELETE (a proxy, a future server) is retried all the same.
#[tokio::test]
async fn a_409_is_retried_and_a_plain_400_is_an_error() {
    let server = MockServer::start().await;
    let busy = error_body(
        409,
        json!("Request with key k is being processed"),
        "Conflict",
    );
    mount_first(
        &server,
        deletes(),
        ResponseTemplate::new(409)
            .insert_header("retry-after", "0")
            .set_body_json(busy),
        1,
    )
    .await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(docs_example_in(TOPIC)),
        1,
    )
    .await;
    let receipt = client(&server)
        .unsubscribe(&request(Topics::one(TOPIC)).idempotency_key("k"))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);

    // A 400 that does not carry the result is Novu's error, with its errorId kept (and the
    // key's header name in it is Novu's text, not ours).
    let mut body = error_body(400, json!("idempotency-key is too long"), "Bad Request");
    body["errorId"] = json!("e-42");
    let response = ResponseTemplate::new(400).set_body_json(body);
    let err = topic_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), None, "an HTTP reason phrase is not Novu's code");
    assert_eq!(
        err.message(),
        Some("idempotency-key is too long (errorId e-42)")
    );
}

#[tokio::test]
async fn a_bad_key_is_unauthorized_and_not_retried() {
    let body = error_body(401, json!("API Key not found"), "Unauthorized");
    let response = ResponseTemplate::new(401).set_body_json(body);
    let err = topic_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(!err.is_retryable());
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn several_topics_get_one_call_each_with_their_own_key_and_a_failure_hides_nothing() {
    let server = MockServer::start().await;
    mount_at(
        &server,
        "/v2/topics/news/subscriptions",
        ResponseTemplate::new(200).set_body_json(docs_example_in("news")),
        1,
    )
    .await;
    mount_at(
        &server,
        "/v2/topics/gone/subscriptions",
        ResponseTemplate::new(404).set_body_json(error_body(
            404,
            json!("Topic with key gone not found"),
            "Not Found",
        )),
        1,
    )
    .await;
    let err = client(&server)
        .unsubscribe(&request(Topics::only(["news", "gone", "news"])).idempotency_key("k"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Partial);
    let partial = err.partial().unwrap();
    assert_eq!(partial.done.len(), 1);
    assert_eq!(partial.done[0].topics, Topics::one("news"));
    assert_eq!(partial.done[0].outcome, Outcome::Unsubscribed);
    assert_eq!(partial.failed[0].0, "gone");
    assert_eq!(partial.failed[0].1.kind(), ErrorKind::NotFound);

    let mut keys: Vec<(String, Option<String>)> = received(&server)
        .await
        .iter()
        .map(|r| (r.url.path().to_owned(), header(r, "idempotency-key")))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            (
                "/v2/topics/gone/subscriptions".to_owned(),
                Some("k-2".to_owned())
            ),
            (
                "/v2/topics/news/subscriptions".to_owned(),
                Some("k-1".to_owned())
            ),
        ]
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_nothing_sent() {
    let server = MockServer::start().await;
    optout_testkit::mount(&server, deletes(), ResponseTemplate::new(200), 0).await;
    let novu = client(&server);
    let typed = [
        ("news", vec![], None, "subscriptions"),
        (
            "news",
            vec![SubscriptionRef::default()],
            None,
            "subscription",
        ),
        ("", vec![SubscriptionRef::subscriber("s")], None, "topic"),
        ("..", vec![SubscriptionRef::subscriber("s")], None, "topic"),
        (
            "news",
            vec![SubscriptionRef::subscriber(" ")],
            None,
            "subscriberId",
        ),
        (
            "news",
            vec![SubscriptionRef::by_identifier("")],
            None,
            "identifier",
        ),
        (
            "news",
            vec![SubscriptionRef::subscriber("s")],
            Some(""),
            "idempotency_key",
        ),
        (
            "news",
            vec![SubscriptionRef::subscriber("s")],
            Some("é"),
            "idempotency_key",
        ),
    ];
    for (topic, items, key, field) in typed {
        let err = novu
            .delete_topic_subscriptions(topic, &items, key)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(!err.was_sent());
    }
    // 255 bytes is the limit, suffix included: 253 + "-1" for one of two chunks is fine,
    // 254 + "-1" is not.
    let many: Vec<SubscriptionRef> = (0..101)
        .map(|i| SubscriptionRef::subscriber(format!("s{i}")))
        .collect();
    let err = novu
        .delete_topic_subscriptions("news", &many, Some(&"k".repeat(254)))
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("idempotency_key"));
    // The same holds through the trait, for several topics.
    let long = request(Topics::only(["a", "b"])).idempotency_key("k".repeat(254));
    assert_eq!(
        novu.unsubscribe(&long).await.unwrap_err().field(),
        Some("idempotency_key")
    );
    assert_eq!(
        novu.unsubscribe(&request(Topics::Only(vec![])))
            .await
            .unwrap_err()
            .field(),
        Some("topic")
    );
    for unsupported in [
        request(Topics::All),
        Unsubscribe::new(
            Recipient::email("a@example.com").unwrap(),
            Topics::one("news"),
        ),
    ] {
        let err = novu.unsubscribe(&unsupported).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(!err.was_sent());
    }
}

#[tokio::test]
async fn the_key_never_shows_in_debug_display_or_errors() {
    let server = MockServer::start().await;
    let body = error_body(
        500,
        json!(format!("bad key ApiKey {KEY}")),
        "Internal Server Error",
    );
    mount(&server, ResponseTemplate::new(500).set_body_json(body), 1).await;
    let novu = without_retries(&server.uri());
    let err = novu
        .unsubscribe(&request(Topics::one(TOPIC)))
        .await
        .unwrap_err();
    assert!(err.message().unwrap().contains("[REDACTED]"), "{err}");
    let refused = without_retries("http://127.0.0.1:1")
        .unsubscribe(&request(Topics::one(TOPIC)))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Network);
    let builder = Novu::builder().secret_key(KEY);
    let text = format!(
        "{novu:?} {builder:?} {} {}",
        renderings(&err),
        renderings(&refused)
    );
    assert!(!text.contains(KEY), "{text}");
    assert!(!text.contains("4f7a9c"), "{text}");
}

#[test]
fn the_region_chooses_the_default_base_url_and_an_override_wins() {
    let url =
        |b: optout_novu::NovuBuilder| b.secret_key("k").build().unwrap().base_url().to_string();
    assert_eq!(url(Novu::builder()), "https://api.novu.co/");
    assert_eq!(
        url(Novu::builder().region(Region::Us)),
        "https://api.novu.co/"
    );
    assert_eq!(
        url(Novu::builder().region(Region::Eu)),
        "https://eu.api.novu.co/"
    );
    assert_eq!(
        url(Novu::builder()
            .base_url("http://127.0.0.1:8025")
            .region(Region::Eu)),
        "http://127.0.0.1:8025/"
    );
    assert_eq!("EU".parse::<Region>().unwrap(), Region::Eu);
    assert_eq!(" us ".parse::<Region>().unwrap(), Region::Us);
    assert_eq!(
        "ap".parse::<Region>().unwrap_err().kind(),
        ErrorKind::Config
    );
}

/// The only test that touches the environment (tests share it).
#[test]
fn from_env_reads_key_region_and_base_url() {
    std::env::remove_var("NOVU_SECRET_KEY");
    let err = Novu::from_env().unwrap_err();
    assert!(err.to_string().contains("NOVU_SECRET_KEY"), "{err}");

    std::env::set_var("NOVU_SECRET_KEY", KEY);
    std::env::set_var("NOVU_REGION", "eu");
    std::env::remove_var("NOVU_BASE_URL");
    assert_eq!(
        Novu::from_env().unwrap().base_url().as_str(),
        "https://eu.api.novu.co/"
    );

    std::env::set_var("NOVU_BASE_URL", "http://127.0.0.1:8025");
    assert_eq!(
        Novu::from_env().unwrap().base_url().as_str(),
        "http://127.0.0.1:8025/"
    );

    std::env::set_var("NOVU_REGION", "mars");
    let err = Novu::from_env().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("NOVU_REGION"), "{err}");
    assert!(!err.to_string().contains(KEY));

    for var in ["NOVU_SECRET_KEY", "NOVU_REGION", "NOVU_BASE_URL"] {
        std::env::remove_var(var);
    }
}

#[test]
fn building_needs_a_key_and_a_usable_base_url() {
    let err = Novu::builder().build().unwrap_err();
    assert!(err.to_string().contains("NOVU_SECRET_KEY"), "{err}");
    let err = Novu::builder()
        .secret_key("k")
        .base_url("ftp://x")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = Novu::builder().secret_key("bad\nkey").build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(!err.to_string().contains("bad"), "{err}");
}

// ---- Batching (`unsubscribe_many`): up to 100 subscriptions of one topic per DELETE. ----

/// Answers per item, by the subscriber id's prefix: `gone-` is SUBSCRIPTION_NOT_FOUND (already
/// unsubscribed), `ghost-` is SUBSCRIBER_NOT_FOUND, `silent-` gets no entry at all, anything
/// else is deleted with `_id` `sub-{id}` (and its identifier echoed).
struct Batch;

impl Respond for Batch {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let items = subscriptions(request);
        let (mut data, mut errors) = (Vec::new(), Vec::new());
        for item in &items {
            let id = item["subscriberId"].as_str().unwrap();
            let code = if id.starts_with("gone-") {
                "SUBSCRIPTION_NOT_FOUND"
            } else if id.starts_with("ghost-") {
                "SUBSCRIBER_NOT_FOUND"
            } else if id.starts_with("silent-") {
                continue;
            } else {
                let identifier = item.get("identifier").and_then(Value::as_str);
                let sub = format!("sub-{id}");
                data.push(entry(&sub, &topic_of(request), Some(id), identifier));
                continue;
            };
            errors.push(
                json!({"subscriberId": id, "code": code, "message": format!("{code} for {id}")}),
            );
        }
        result(items.len(), data, errors)
    }
}

fn one(id: &str, topic: &str) -> Unsubscribe {
    Unsubscribe::new(Recipient::subscriber(id).unwrap(), Topics::one(topic))
}

fn ids_in(r: &Request) -> Vec<String> {
    subscriptions(r)
        .iter()
        .map(|i| i["subscriberId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn many_requests_for_one_topic_share_deletes_of_up_to_100() {
    let server = MockServer::start().await;
    mount(&server, Batch, 2).await;
    mount_at(&server, "/v2/topics/other/subscriptions", Batch, 1).await;
    // 150 for TOPIC with 3 for `other` mixed in.
    let mut requests: Vec<Unsubscribe> = (0..150).map(|i| one(&format!("s{i}"), TOPIC)).collect();
    for (at, i) in [(0, 0), (70, 1), (153, 2)] {
        requests.insert(at.min(requests.len()), one(&format!("o{i}"), "other"));
    }
    let novu = client(&server);
    assert_eq!(novu.batch_size(), 100);
    let results = novu.unsubscribe_many(&requests).await;

    assert_eq!(results.len(), requests.len());
    for (request, result) in requests.iter().zip(&results) {
        let receipt = result.as_ref().unwrap();
        let Recipient::Subscriber { id, .. } = &request.recipient else {
            unreachable!()
        };
        assert_eq!(receipt.recipient, request.recipient);
        assert_eq!(receipt.topics, request.topics);
        assert_eq!(receipt.outcome, Outcome::Unsubscribed);
        assert_eq!(receipt.reference.as_deref(), Some(&*format!("sub-{id}")));
    }
    let sent = received(&server).await;
    assert_eq!(sent.len(), 3);
    let topic: Vec<&Request> = sent.iter().filter(|r| r.url.path() == TOPIC_PATH).collect();
    let expected: Vec<String> = (0..150).map(|i| format!("s{i}")).collect();
    let items = |ids: &[String]| -> Value {
        json!({"subscriptions": ids.iter().map(|id| json!({"subscriberId": id})).collect::<Vec<_>>()})
    };
    assert_request(topic[0], TOPIC_PATH, None, items(&expected[..100]));
    assert_request(topic[1], TOPIC_PATH, None, items(&expected[100..]));
    let other = sent
        .iter()
        .find(|r| r.url.path() == "/v2/topics/other/subscriptions")
        .unwrap();
    let others: Vec<String> = (0..3).map(|i| format!("o{i}")).collect();
    assert_request(
        other,
        "/v2/topics/other/subscriptions",
        None,
        items(&others),
    );
}

#[tokio::test]
async fn each_request_gets_its_own_item_of_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(TOPIC_PATH))
        .respond_with(Batch)
        .mount(&server)
        .await;
    let with_identifier = Unsubscribe::new(
        Recipient::subscriber_with_identifier("new-2", "tk=x:si=new-2").unwrap(),
        Topics::one(TOPIC),
    );
    let requests = vec![
        one("new-1", TOPIC),
        one("gone-1", TOPIC),
        one("ghost-1", TOPIC),
        one("silent-1", TOPIC),
        one("new-1", TOPIC), // the same subscriber again: sent once, same outcome
        with_identifier,
        one("gone-1", TOPIC),
    ];
    let results = client(&server).unsubscribe_many(&requests).await;
    assert_eq!(results.len(), 7);

    let sent = received(&server).await;
    assert_eq!(sent.len(), 1, "one DELETE for the whole group");
    assert_request(
        &sent[0],
        TOPIC_PATH,
        None,
        json!({"subscriptions": [
            {"subscriberId": "new-1"}, {"subscriberId": "gone-1"}, {"subscriberId": "ghost-1"},
            {"subscriberId": "silent-1"}, {"subscriberId": "new-2", "identifier": "tk=x:si=new-2"}
        ]}),
    );

    for i in [0, 4] {
        let r = results[i].as_ref().unwrap();
        assert_eq!(r.outcome, Outcome::Unsubscribed);
        assert_eq!(r.reference.as_deref(), Some("sub-new-1"));
        assert_eq!(r.recipient, requests[i].recipient);
    }
    for i in [1, 6] {
        let r = results[i].as_ref().unwrap();
        assert_eq!(r.outcome, Outcome::AlreadyUnsubscribed);
        assert_eq!(r.reference, None);
    }
    let ghost = results[2].as_ref().unwrap_err();
    assert_eq!(ghost.kind(), ErrorKind::NotFound);
    assert_eq!(ghost.code(), Some("SUBSCRIBER_NOT_FOUND"));
    assert!(!ghost.is_retryable());
    assert!(ghost.to_string().contains("ghost-1"), "{ghost}");
    let silent = results[3].as_ref().unwrap_err();
    assert!(
        silent.to_string().contains("nothing is confirmed")
            && silent.to_string().contains("silent-1"),
        "{silent}"
    );
    let r = results[5].as_ref().unwrap();
    assert_eq!(r.outcome, Outcome::Unsubscribed);
    assert_eq!(r.reference.as_deref(), Some("sub-new-2"));
    assert_eq!(r.recipient, requests[5].recipient);
}

#[tokio::test]
async fn an_item_for_another_identifier_does_not_confirm_a_request() {
    let server = MockServer::start().await;
    // Novu's answer names the subscriber but another subscription identifier.
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "data": [entry("s1", TOPIC, Some("user-123"), Some("other"))],
            "meta": {"totalCount": 1, "successful": 1, "failed": 0}
        })),
        1,
    )
    .await;
    let request = Unsubscribe::new(
        Recipient::subscriber_with_identifier("user-123", "mine").unwrap(),
        Topics::one(TOPIC),
    );
    let results = client(&server).unsubscribe_many(&[request]).await;
    let error = results[0].as_ref().unwrap_err();
    assert!(
        error.to_string().contains("nothing is confirmed"),
        "{error}"
    );
}

#[tokio::test]
async fn a_subscription_of_a_deleted_subscriber_is_matched_by_its_identifier() {
    let server = MockServer::start().await;
    // `subscriber: null` (the subscriber no longer exists): only the identifier says whose
    // subscription it was. Entries are matched wherever they are in the answer, and a
    // request's references keep the answer's order.
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                entry("s-b", TOPIC, Some("b"), Some("id-b")),
                entry("s-a2", TOPIC, None, Some("id-a")),
                entry("s-c", TOPIC, Some("c"), None),
                entry("s-a1", TOPIC, Some("a"), Some("id-a")),
                entry("s-x", TOPIC, None, Some("id-x"))
            ],
            "meta": {"totalCount": 3, "successful": 5, "failed": 0}
        })),
        1,
    )
    .await;
    let with = |id: &str, identifier: &str| {
        Unsubscribe::new(
            Recipient::subscriber_with_identifier(id, identifier).unwrap(),
            Topics::one(TOPIC),
        )
    };
    let requests = [with("a", "id-a"), with("b", "id-b"), one("c", TOPIC)];
    let results = client(&server).unsubscribe_many(&requests).await;
    let reference = |i: usize| results[i].as_ref().unwrap().reference.clone();
    assert_eq!(reference(0).as_deref(), Some("s-a2,s-a1"));
    assert_eq!(reference(1).as_deref(), Some("s-b"));
    assert_eq!(reference(2).as_deref(), Some("s-c"));
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn requests_that_cannot_share_a_delete_go_one_by_one() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(Batch)
        .mount(&server)
        .await;
    let requests = vec![
        one("a", TOPIC),
        // Two topics: its own DELETE per topic.
        Unsubscribe::new(
            Recipient::subscriber("b").unwrap(),
            Topics::only(["t1", "t2"]),
        ),
        // An idempotency key cannot cover a shared body.
        one("c", TOPIC).idempotency_key("key-c"),
        // The same subscriber with an identifier, beside the one without.
        Unsubscribe::new(
            Recipient::subscriber_with_identifier("a", "i").unwrap(),
            Topics::one(TOPIC),
        ),
        // Bad input is refused with nothing sent.
        Unsubscribe::new(Recipient::subscriber("d").unwrap(), Topics::one("")),
        Unsubscribe::new(
            Recipient::email("e@example.com").unwrap(),
            Topics::one(TOPIC),
        ),
        one("f", TOPIC),
    ];
    let results = client(&server).unsubscribe_many(&requests).await;
    assert_eq!(results.len(), 7);
    for i in [0, 1, 2, 3, 6] {
        assert!(results[i].is_ok(), "{i}: {:?}", results[i]);
    }
    assert_eq!(
        results[4].as_ref().unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        results[5].as_ref().unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        results[1].as_ref().unwrap().topics,
        Topics::only(["t1", "t2"])
    );

    let sent = received(&server).await;
    let bodies: Vec<(String, Vec<String>, Option<String>)> = sent
        .iter()
        .map(|r| {
            (
                r.url.path().to_owned(),
                ids_in(r),
                header(r, "idempotency-key"),
            )
        })
        .collect();
    assert_eq!(sent.len(), 5, "{bodies:?}");
    assert!(bodies.contains(&(TOPIC_PATH.into(), vec!["a".into(), "f".into()], None)));
    assert!(bodies.contains(&("/v2/topics/t1/subscriptions".into(), vec!["b".into()], None)));
    assert!(bodies.contains(&("/v2/topics/t2/subscriptions".into(), vec!["b".into()], None)));
    assert!(bodies.contains(&(TOPIC_PATH.into(), vec!["c".into()], Some("key-c".into()))));
    assert!(bodies.contains(&(TOPIC_PATH.into(), vec!["a".into()], None)));
}

#[tokio::test]
async fn a_delete_that_fails_whole_fails_every_request_of_its_group_retryably() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(503)
            .insert_header("Retry-After", "0")
            .set_body_json(json!({
                "statusCode": 503, "message": "Service Unavailable", "error": "Service Unavailable",
                "errorId": "e-1"
            })),
        4, // the first attempt and 3 retries
    )
    .await;
    mount_at(&server, "/v2/topics/other/subscriptions", Batch, 1).await;
    let requests = vec![
        one("a", TOPIC),
        one("x", "other"),
        one("b", TOPIC),
        one("c", TOPIC),
        one("b", TOPIC),
    ];
    let results = client(&server).unsubscribe_many(&requests).await;
    assert_eq!(results[1].as_ref().unwrap().outcome, Outcome::Unsubscribed);
    for i in [0, 2, 3, 4] {
        let e = results[i].as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server, "{i}: {e}");
        assert_eq!(e.status(), Some(503));
        assert_eq!(e.code(), None, "an HTTP reason phrase is not Novu's code");
        assert!(e.is_retryable(), "{i}: {e}");
        assert!(e.message().unwrap().contains("errorId e-1"), "{i}: {e}");
        assert!(e.to_string().contains("4 attempts"), "{i}: {e}");
    }
    // Not one request of the failed group is reported as done.
    assert!(results.iter().filter(|r| r.is_ok()).count() == 1);
}

#[tokio::test]
async fn a_topic_named_twice_is_one_topic_and_shares_the_delete() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(Batch)
        .mount(&server)
        .await;
    let twice = Unsubscribe::new(
        Recipient::subscriber("b").unwrap(),
        Topics::only([TOPIC, TOPIC]),
    );
    let results = client(&server)
        .unsubscribe_many(&[one("a", TOPIC), twice])
        .await;
    for result in &results {
        let receipt = result.as_ref().unwrap();
        assert_eq!(receipt.outcome, Outcome::Unsubscribed);
        assert_eq!(receipt.topics, Topics::one(TOPIC));
    }
    let sent = received(&server).await;
    assert_eq!(sent.len(), 1);
    assert_request(
        &sent[0],
        TOPIC_PATH,
        None,
        json!({"subscriptions": [{"subscriberId": "a"}, {"subscriberId": "b"}]}),
    );
}

#[tokio::test]
async fn escaped_strings_in_the_answer_match_their_requests() {
    // The answer's strings are read in place unless they hold JSON escapes; these do.
    let server = MockServer::start().await;
    let body = r#"{"data":[
        {"_id":"sub-\"1\"","identifier":"tk=t:si=caf\u00e9","subscriber":{"subscriberId":"caf\u00e9"},
         "topic":{"key":"a b/c?d"}},
        {"_id":"sub-2","subscriber":{"subscriberId":"say \"hi\""},"topic":{"key":"a b\/c?d"}},
        {"_id":"sub-3","identifier":"tk=t:si=gone\\1","subscriber":null,"topic":{"key":"a\u0020b/c?d"}}
    ],"meta":{"totalCount":3,"successful":3,"failed":0}}"#;
    let answer = ResponseTemplate::new(200).set_body_raw(body, "application/json");
    mount(&server, answer, 2).await;
    let requests = [
        Unsubscribe::new(
            Recipient::subscriber_with_identifier("café", "tk=t:si=café").unwrap(),
            Topics::one(TOPIC),
        ),
        one("say \"hi\"", TOPIC),
        Unsubscribe::new(
            Recipient::subscriber_with_identifier("gone", "tk=t:si=gone\\1").unwrap(),
            Topics::one(TOPIC),
        ),
    ];
    let novu = client(&server);
    let references = |results: &[Result<optout_core::Receipt, optout_core::Error>]| {
        results
            .iter()
            .map(|r| r.as_ref().unwrap().reference.clone().unwrap())
            .collect::<Vec<_>>()
    };
    let batched = novu.unsubscribe_many(&requests).await;
    assert_eq!(references(&batched), ["sub-\"1\"", "sub-2", "sub-3"]);
    let sent = received(&server).await;
    assert_request(
        &sent[0],
        TOPIC_PATH,
        None,
        json!({"subscriptions": [
            {"subscriberId": "café", "identifier": "tk=t:si=café"},
            {"subscriberId": "say \"hi\""},
            {"subscriberId": "gone", "identifier": "tk=t:si=gone\\1"}
        ]}),
    );
    // One by one, the same answer is matched the same way: only the request's own entry.
    let single = novu.unsubscribe(&requests[1]).await.unwrap();
    assert_eq!(single.reference.as_deref(), Some("sub-2"));
}

// ---- What confirms a request: its own subscriber, identifier and topic, on both paths. ----

/// Sends `user-123` (with `identifier`, if any) for [`TOPIC`] one by one and in a batch,
/// each answered with `body`, and returns both results.
async fn both_paths(
    identifier: Option<&str>,
    status: u16,
    body: Value,
) -> [Result<Receipt, Error>; 2] {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(status).set_body_json(body),
        2,
    )
    .await;
    let recipient = match identifier {
        Some(identifier) => Recipient::subscriber_with_identifier("user-123", identifier).unwrap(),
        None => subscriber(),
    };
    let request = Unsubscribe::new(recipient, Topics::one(TOPIC));
    let novu = client(&server);
    let single = novu.unsubscribe(&request).await;
    let batched = novu.unsubscribe_many(std::slice::from_ref(&request)).await;
    [single, batched.into_iter().next().unwrap()]
}

/// Asserts that `results` confirm nothing: a retryable "unconfirmed" error each.
fn assert_unconfirmed(case: &str, results: &[Result<Receipt, Error>]) {
    for (path, result) in ["one by one", "batched"].iter().zip(results) {
        let err = result
            .as_ref()
            .expect_err(&format!("{case}, {path}: reported done"));
        assert_eq!(err.kind(), ErrorKind::Decode, "{case}, {path}: {err}");
        assert!(
            err.is_retryable() && err.was_sent(),
            "{case}, {path}: {err}"
        );
        assert!(
            err.to_string().contains("nothing is confirmed"),
            "{case}, {path}: {err}"
        );
    }
}

#[tokio::test]
async fn only_an_entry_for_the_requests_subscriber_identifier_and_topic_confirms_it() {
    let one =
        |e: Value| json!({"data": [e], "meta": {"totalCount": 1, "successful": 1, "failed": 0}});
    let cases = [
        (
            "another subscriber",
            None,
            entry("s1", TOPIC, Some("user-456"), None),
        ),
        (
            "another identifier",
            Some("mine"),
            entry("s1", TOPIC, Some("user-123"), Some("other")),
        ),
        (
            "another topic",
            None,
            entry("s1", "other-topic", Some("user-123"), None),
        ),
        (
            "no subscriber nor identifier",
            None,
            entry("s1", TOPIC, None, None),
        ),
        (
            "a deleted subscriber's other identifier",
            Some("mine"),
            entry("s1", TOPIC, None, Some("x")),
        ),
        (
            "no topic",
            None,
            json!({"_id": "s1", "subscriber": {"subscriberId": "user-123"}}),
        ),
        (
            "a topic without its key",
            None,
            json!({
                "_id": "s1", "topic": {"_id": "t-1"}, "subscriber": {"subscriberId": "user-123"}
            }),
        ),
        (
            "an empty _id",
            None,
            entry("", TOPIC, Some("user-123"), None),
        ),
    ];
    for (case, identifier, deleted) in cases {
        assert_unconfirmed(case, &both_paths(identifier, 200, one(deleted)).await);
    }
    // The request's own entry confirms it on both paths, with its `_id` as the reference.
    let own = entry("s1", TOPIC, Some("user-123"), Some("mine"));
    for result in both_paths(Some("mine"), 200, one(own)).await {
        let receipt = result.unwrap();
        assert_eq!(receipt.outcome, Outcome::Unsubscribed);
        assert_eq!(receipt.reference.as_deref(), Some("s1"));
    }
}

#[tokio::test]
async fn an_error_for_another_subscriber_is_not_already_unsubscribed() {
    for status in [200, 400] {
        let body = json!({
            "data": [],
            "meta": {"totalCount": 1, "successful": 0, "failed": 1},
            "errors": [{"subscriberId": "user-456", "code": "SUBSCRIPTION_NOT_FOUND", "message": "no"}]
        });
        assert_unconfirmed(
            &format!("HTTP {status}"),
            &both_paths(None, status, body).await,
        );
        let body = json!({
            "data": [],
            "meta": {"totalCount": 1, "successful": 0, "failed": 1},
            "errors": [{"subscriberId": "user-456", "code": "SUBSCRIBER_NOT_FOUND", "message": "no"}]
        });
        assert_unconfirmed(
            &format!("HTTP {status}, another code"),
            &both_paths(None, status, body).await,
        );
    }
}

#[tokio::test]
async fn counts_that_contradict_the_lists_confirm_nothing() {
    let deleted = entry("s1", TOPIC, Some("user-123"), None);
    let already =
        json!({"subscriberId": "user-123", "code": "SUBSCRIPTION_NOT_FOUND", "message": "no"});
    let cases = [
        (
            "a deletion meta does not count",
            json!({
                "data": [deleted], "meta": {"totalCount": 1, "successful": 0, "failed": 1}
            }),
        ),
        (
            "an error meta does not count",
            json!({
                "data": [], "meta": {"totalCount": 1, "successful": 0, "failed": 0}, "errors": [already]
            }),
        ),
        ("no counts at all", json!({"data": [deleted], "meta": {}})),
    ];
    for (case, body) in cases {
        assert_unconfirmed(case, &both_paths(None, 200, body).await);
    }
}

#[tokio::test]
async fn a_retry_is_not_a_replay_novu_answers_the_delete_again() {
    // Novu honours idempotency keys on POST and PATCH only: a retried DELETE is run again, and
    // a subscription the lost first attempt deleted is SUBSCRIPTION_NOT_FOUND the second time.
    let server = MockServer::start().await;
    mount_first(
        &server,
        deletes(),
        ResponseTemplate::new(503).insert_header("retry-after", "0"),
        1,
    )
    .await;
    let again = all_failed(
        "SUBSCRIPTION_NOT_FOUND",
        "Subscription for subscriber 'user-123' not found.",
    );
    mount(&server, ResponseTemplate::new(400).set_body_json(again), 1).await;
    let receipt = client(&server)
        .unsubscribe(&request(Topics::one(TOPIC)).idempotency_key("k"))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::AlreadyUnsubscribed);
    for r in received(&server).await {
        assert_eq!(header(&r, "idempotency-key").as_deref(), Some("k"));
    }
}

#[tokio::test]
async fn a_documented_code_is_kept_and_a_reason_phrase_is_not_a_code() {
    let mut body = error_body(404, json!("Topic with key a b/c?d not found"), "Not Found");
    body["code"] = json!("TOPIC_NOT_FOUND");
    let err = topic_answered_with(ResponseTemplate::new(404).set_body_json(body))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("TOPIC_NOT_FOUND"));
    let body = json!({"statusCode": 403, "message": "Forbidden resource", "error": "Forbidden"});
    let err = topic_answered_with(ResponseTemplate::new(403).set_body_json(body))
        .await
        .unwrap_err();
    assert_eq!(err.code(), None);
    assert_eq!(err.message(), Some("Forbidden resource"));
    assert!(!err.to_string().contains("code"), "{err}");
}
