//! Novu on the wire, against a loopback wiremock server, with the docs' own examples.

mod batch;
mod config;
mod errors;
mod matching;
mod typed;
mod unsubscribe;

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
