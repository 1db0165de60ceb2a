//! What the HubSpot wire tests share: the token, the address, clients for a mock server, the
//! docs' error envelope, and whole-request assertions.
#![allow(dead_code)] // each test file uses its own part

use optout_core::{Error, Receipt, Recipient, Topics, Unsubscribe, Unsubscriber};
use optout_hubspot::HubSpot;
use optout_testkit::{fast_retry, header, only_request, Expected};
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const TOKEN: &str = "pat-na1-s3cr3t-0000";

pub const EMAIL: &str = "alice@example.com";

pub fn client(server: &MockServer) -> HubSpot {
    HubSpot::builder()
        .access_token(TOKEN)
        .base_url(server.uri())
        .retry_policy(fast_retry())
        .build()
        .unwrap()
}

/// A builder for `base_url` that never retries.
pub fn without_retries(base_url: &str) -> optout_hubspot::HubSpotBuilder {
    HubSpot::builder()
        .access_token(TOKEN)
        .base_url(base_url)
        .max_retries(0)
}

pub fn alice() -> Recipient {
    Recipient::email(EMAIL).unwrap()
}

/// HubSpot's error envelope.
pub fn error_body(message: &str, category: &str, correlation_id: &str) -> Value {
    json!({
        "status": "error",
        "message": message,
        "correlationId": correlation_id,
        "category": category
    })
}

pub fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

pub async fn mount(server: &MockServer, response: ResponseTemplate, times: u64) {
    optout_testkit::mount(server, Mock::given(method("POST")), response, times).await;
}

/// Alice's unsubscribe from `topics` sent to a server that answers it once with `response`.
pub async fn answered_with(response: ResponseTemplate, topics: Topics) -> Result<Receipt, Error> {
    let server = MockServer::start().await;
    mount(&server, response, 1).await;
    client(&server)
        .unsubscribe(&Unsubscribe::new(alice(), topics))
        .await
}

/// Asserts the one request the server saw, whole: method, path, query, headers, body
/// (`None`: no body at all).
pub async fn assert_sent(
    server: &MockServer,
    path: &str,
    query: Option<&str>,
    body: Option<Value>,
) {
    let r = only_request(server).await;
    let authorization = format!("Bearer {TOKEN}");
    let user_agent = format!("optout-hubspot/{}", env!("CARGO_PKG_VERSION"));
    let expected = Expected {
        method: "POST",
        path,
        query,
        authorization: Some(&authorization),
        user_agent: &user_agent,
        headers: &[],
        body,
    };
    optout_testkit::assert_request(&r, &expected);
    assert_eq!(r.headers.get_all("content-type").iter().count(), 1);
}

/// Asserts the one request the server saw, whole, for a POST without a body: method, path,
/// query, `Authorization`, `Accept`, `User-Agent`, no `Content-Type`, `Content-Length: 0`.
pub async fn assert_sent_bodyless(server: &MockServer, path: &str, query: Option<&str>) {
    let r = only_request(server).await;
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(r.url.path(), path);
    assert_eq!(r.url.query(), query);
    assert_eq!(header(&r, "authorization"), Some(format!("Bearer {TOKEN}")));
    assert_eq!(header(&r, "accept").as_deref(), Some("application/json"));
    assert_eq!(
        header(&r, "user-agent"),
        Some(format!("optout-hubspot/{}", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(header(&r, "content-type"), None, "no body, no content type");
    assert_eq!(r.headers.get_all("content-length").iter().count(), 1);
    assert_eq!(header(&r, "content-length").as_deref(), Some("0"));
    assert!(r.body.is_empty());
}
