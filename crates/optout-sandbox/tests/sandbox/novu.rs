use optout_sandbox::{Api, Sandbox, Seed};
use reqwest::{Client, Method};
use serde_json::{json, Value};

use crate::{is_hex, send, Reply};

const AUTH: (&str, &str) = ("authorization", "ApiKey nv_secret");
/// The docs' example body.
const DOCS_BODY: &str = r#"{"subscriptions":[
  {"identifier":"subscriber-123-subscription-a","subscriberId":"subscriber-123"},
  {"subscriberId":"subscriber-456"},
  {"identifier":"subscriber-789-subscription-b"}]}"#;

fn url(sandbox: &Sandbox, topic: &str) -> String {
    format!("{}/v2/topics/{topic}/subscriptions", sandbox.base_url())
}

async fn delete(url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    send(&Client::new(), Method::DELETE, url, headers, Some(body)).await
}

fn assert_error_shape(reply: &Reply, status: u16, path: &str) -> Value {
    assert_eq!(reply.status, status, "{reply:?}");
    let body = reply.assert_json_type().json();
    assert_eq!(body["statusCode"], status);
    assert_eq!(body["path"], path);
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    body
}

#[tokio::test]
async fn unsubscribes_the_docs_example() {
    let sandbox = Sandbox::start().await.unwrap();
    let reply = delete(&url(&sandbox, "product-updates"), &[AUTH], DOCS_BODY).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.assert_json_type().json();
    assert_eq!(
        body["meta"],
        json!({"totalCount": 3, "successful": 3, "failed": 0})
    );
    assert_eq!(body["errors"], json!([]));
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    let first = &data[0];
    assert!(is_hex(first["_id"].as_str().unwrap(), 24));
    assert!(is_hex(first["topic"]["_id"].as_str().unwrap(), 24));
    assert_eq!(first["topic"]["key"], "product-updates");
    assert!(first["topic"]["name"].is_string());
    assert!(is_hex(first["subscriber"]["_id"].as_str().unwrap(), 24));
    assert_eq!(first["subscriber"]["subscriberId"], "subscriber-123");
    assert!(first["createdAt"].is_string() && first["updatedAt"].is_string());
    assert_eq!(first["identifier"], "subscriber-123-subscription-a");
    assert_eq!(
        data[1]["identifier"],
        "tk=product-updates:si=subscriber-456"
    );
    assert_eq!(data[2]["identifier"], "subscriber-789-subscription-b");
    assert!(!sandbox.is_subscribed(Api::Novu, "subscriber-123", "product-updates"));
    assert!(!sandbox.is_subscribed(Api::Novu, "subscriber-456", "product-updates"));
    assert!(sandbox.is_subscribed(Api::Novu, "subscriber-456", "other"));
}

#[tokio::test]
async fn a_repeat_fails_every_item_with_400_and_the_full_body() {
    let sandbox = Sandbox::start().await.unwrap();
    let url = url(&sandbox, "product-updates");
    assert_eq!(delete(&url, &[AUTH], DOCS_BODY).await.status, 200);
    let reply = delete(&url, &[AUTH], DOCS_BODY).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["data"], json!([]));
    assert_eq!(
        body["meta"],
        json!({"totalCount": 3, "successful": 0, "failed": 3})
    );
    let errors = body["errors"].as_array().unwrap();
    let ids: Vec<_> = errors.iter().map(|e| e["subscriberId"].clone()).collect();
    assert_eq!(
        ids,
        [
            "subscriber-123",
            "subscriber-456",
            "subscriber-789-subscription-b"
        ]
    );
    for e in errors {
        assert_eq!(e["code"], "SUBSCRIPTION_NOT_FOUND");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn partial_success_is_200_with_the_failures_listed() {
    let sandbox = Sandbox::start().await.unwrap();
    let url = url(&sandbox, "news");
    assert_eq!(
        delete(&url, &[AUTH], r#"{"subscriptions":["u1"]}"#)
            .await
            .status,
        200
    );
    let reply = delete(&url, &[AUTH], r#"{"subscriptions":["u1","u2"]}"#).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(
        body["meta"],
        json!({"totalCount": 2, "successful": 1, "failed": 1})
    );
    assert_eq!(body["data"][0]["subscriber"]["subscriberId"], "u2");
    assert_eq!(body["errors"][0]["subscriberId"], "u1");
    assert_eq!(body["errors"][0]["code"], "SUBSCRIPTION_NOT_FOUND");
}

#[tokio::test]
async fn accepts_the_deprecated_subscriber_ids() {
    let sandbox = Sandbox::start().await.unwrap();
    let body = r#"{"subscriberIds":["subscriberId1","subscriberId2"]}"#;
    let reply = delete(&url(&sandbox, "t"), &[AUTH], body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["meta"]["successful"], 2);
    assert!(!sandbox.is_subscribed(Api::Novu, "subscriberId2", "t"));
}

#[tokio::test]
async fn takes_1_to_100_items() {
    let sandbox = Sandbox::start().await.unwrap();
    let url = url(&sandbox, "t");
    let path = "/v2/topics/t/subscriptions";
    let items = |n: usize| {
        let ids: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        json!({ "subscriptions": ids }).to_string()
    };
    for body in [
        items(0),
        items(101),
        "{}".to_owned(),
        r#"{"subscriptions":"s1"}"#.to_owned(),
        r#"{"subscriptions":[7]}"#.to_owned(),
        r#"{"subscriptions":[{}]}"#.to_owned(),
        r#"{"subscriptions":[{"subscriberId":""}]}"#.to_owned(),
        r#"{"subscriberIds":[{"subscriberId":"s1"}]}"#.to_owned(),
        "[]".to_owned(),
        "nope".to_owned(),
    ] {
        let reply = delete(&url, &[AUTH], &body).await;
        let json = assert_error_shape(&reply, 422, path);
        assert!(
            json["message"].as_array().is_some_and(|m| !m.is_empty()),
            "{body}: {json}"
        );
    }
    assert!(sandbox.is_subscribed(Api::Novu, "s0", "t"));
    let reply = delete(&url, &[AUTH], &items(100)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["meta"]["successful"], 100);
}

#[tokio::test]
async fn refuses_missing_or_wrong_credentials() {
    let sandbox = Sandbox::builder()
        .key(Api::Novu, "right")
        .start()
        .await
        .unwrap();
    let url = url(&sandbox, "t");
    for headers in [
        vec![],
        vec![("authorization", "Bearer right")],
        vec![("authorization", "ApiKey wrong")],
        vec![("authorization", "ApiKey")],
    ] {
        let reply = delete(&url, &headers, DOCS_BODY).await;
        assert_error_shape(&reply, 401, "/v2/topics/t/subscriptions");
    }
    let ok = delete(&url, &[("authorization", "ApiKey right")], DOCS_BODY).await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn closed_world_has_404_topics_and_unknown_subscribers() {
    let seed = Seed::new()
        .subscription(Api::Novu, "user-123", "product-updates")
        .recipient(Api::Novu, "user-456");
    let sandbox = Sandbox::builder().seed(seed).start().await.unwrap();
    let reply = delete(
        &url(&sandbox, "nope"),
        &[AUTH],
        r#"{"subscriptions":["user-123"]}"#,
    )
    .await;
    let body = assert_error_shape(&reply, 404, "/v2/topics/nope/subscriptions");
    assert!(body["message"].as_str().unwrap().contains("not found"));

    let url = url(&sandbox, "product-updates");
    let reply = delete(&url, &[AUTH], r#"{"subscriptions":["user-456","ghost"]}"#).await;
    assert_eq!(reply.status, 400);
    let body = reply.json();
    assert_eq!(body["errors"][0]["code"], "SUBSCRIPTION_NOT_FOUND");
    assert_eq!(body["errors"][1]["code"], "SUBSCRIBER_NOT_FOUND");
    assert_eq!(body["errors"][1]["subscriberId"], "ghost");
    assert_eq!(
        body["meta"],
        json!({"totalCount": 2, "successful": 0, "failed": 2})
    );

    let body = r#"{"subscriptions":[{"identifier":"tk=product-updates:si=user-123"}]}"#;
    let reply = delete(&url, &[AUTH], body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(!sandbox.is_subscribed(Api::Novu, "user-123", "product-updates"));
}

#[tokio::test]
async fn replays_an_idempotent_request() {
    let sandbox = Sandbox::start().await.unwrap();
    let url = url(&sandbox, "t");
    let headers = [AUTH, ("idempotency-key", "key-1")];
    let first = delete(&url, &headers, DOCS_BODY).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotency-replay"), None);
    let replay = delete(&url, &headers, DOCS_BODY).await;
    assert_eq!(
        replay.status, 200,
        "the first answer, not SUBSCRIPTION_NOT_FOUND"
    );
    assert_eq!(replay.text, first.text);
    assert_eq!(replay.header("idempotency-replay"), Some("true"));
    let other = delete(&url, &headers, r#"{"subscriptions":["x"]}"#).await;
    assert_error_shape(&other, 422, "/v2/topics/t/subscriptions");
    let fresh = delete(&url, &[AUTH], DOCS_BODY).await;
    assert_eq!(fresh.status, 400, "without the key the state shows");
}
