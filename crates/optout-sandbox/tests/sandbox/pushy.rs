use optout_sandbox::{Api, Sandbox, Seed};
use serde_json::json;

use crate::{post, Reply};

/// The docs' example body.
const DOCS_BODY: &str = r#"{"token":"a6345d0278adc55d3474f5","topics":["news","media"]}"#;
const TOKEN: &str = "a6345d0278adc55d3474f5";

fn url(sandbox: &Sandbox, key: &str) -> String {
    format!("{}/topics/unsubscribe?api_key={key}", sandbox.base_url())
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    let body = reply.assert_json_type().json();
    assert_eq!(body["code"], code, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn unsubscribes_and_a_repeat_succeeds_again() {
    let sandbox = Sandbox::start().await.unwrap();
    for _ in 0..2 {
        let reply = post(&url(&sandbox, "SECRET_API_KEY"), &[], DOCS_BODY).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.assert_json_type().json(), json!({"success": true}));
    }
    assert!(!sandbox.is_subscribed(Api::Pushy, TOKEN, "news"));
    assert!(!sandbox.is_subscribed(Api::Pushy, TOKEN, "media"));
    assert!(sandbox.is_subscribed(Api::Pushy, TOKEN, "sport"));
}

#[tokio::test]
async fn accepts_a_trailing_slash_and_an_encoded_key() {
    let sandbox = Sandbox::builder()
        .key(Api::Pushy, "a+b/c")
        .start()
        .await
        .unwrap();
    let url = format!(
        "{}/topics/unsubscribe/?api_key=a%2Bb%2Fc",
        sandbox.base_url()
    );
    let reply = post(&url, &[], DOCS_BODY).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn the_wildcard_unsubscribes_from_everything() {
    let sandbox = Sandbox::start().await.unwrap();
    let body = r#"{"topics":["*"],"token":"a6345d0278adc55d3474f5"}"#;
    assert_eq!(post(&url(&sandbox, "k"), &[], body).await.status, 200);
    assert!(!sandbox.is_subscribed(Api::Pushy, TOKEN, "anything"));
    sandbox.subscribe(Api::Pushy, TOKEN, "news");
    assert!(sandbox.is_subscribed(Api::Pushy, TOKEN, "news"));
}

#[tokio::test]
async fn refuses_missing_or_wrong_keys() {
    let sandbox = Sandbox::builder()
        .key(Api::Pushy, "right")
        .start()
        .await
        .unwrap();
    let base = sandbox.base_url();
    for url in [
        format!("{base}/topics/unsubscribe"),
        format!("{base}/topics/unsubscribe?api_key="),
        format!("{base}/topics/unsubscribe?apikey=right"),
        format!("{base}/topics/unsubscribe?api_key=wrong"),
    ] {
        assert_error(&post(&url, &[], DOCS_BODY).await, 401, "INVALID_API_KEY");
    }
    assert!(sandbox.is_subscribed(Api::Pushy, TOKEN, "news"));
    assert_eq!(
        post(&url(&sandbox, "right"), &[], DOCS_BODY).await.status,
        200
    );
}

#[tokio::test]
async fn enforces_the_topic_rules() {
    let sandbox = Sandbox::start().await.unwrap();
    let url = url(&sandbox, "k");
    let long = "a".repeat(101);
    let many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let bodies = [
        json!({"token": TOKEN, "topics": []}),
        json!({"token": TOKEN, "topics": many}),
        json!({"token": TOKEN, "topics": ["bad topic"]}),
        json!({"token": TOKEN, "topics": ["news", "m/x"]}),
        json!({"token": TOKEN, "topics": [""]}),
        json!({"token": TOKEN, "topics": [long]}),
        json!({"token": TOKEN, "topics": ["*", "news"]}),
        json!({"token": TOKEN, "topics": "news"}),
        json!({"token": TOKEN}),
        json!({"token": "", "topics": ["news"]}),
        json!({"topics": ["news"]}),
    ];
    for body in bodies {
        let reply = post(&url, &[], &body.to_string()).await;
        assert_error(&reply, 400, "INVALID_PARAM");
    }
    assert!(sandbox.is_subscribed(Api::Pushy, TOKEN, "news"));
    let ok: Vec<String> = (0..100).map(|i| format!("a-Z_0.{i}")).collect();
    let edge = json!({"token": TOKEN, "topics": ok}).to_string();
    assert_eq!(post(&url, &[], &edge).await.status, 200);
    let hundred = json!({"token": TOKEN, "topics": ["a".repeat(100)]}).to_string();
    assert_eq!(post(&url, &[], &hundred).await.status, 200);
}

#[tokio::test]
async fn closed_world_refuses_unknown_devices() {
    let seed = Seed::from_json(r#"{"pushy":{"devices":["a6345d0278adc55d3474f5"]}}"#).unwrap();
    let sandbox = Sandbox::builder().seed(seed).start().await.unwrap();
    let body = r#"{"token":"unknown","topics":["news"]}"#;
    let reply = post(&url(&sandbox, "k"), &[], body).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"code": "INVALID_DEVICE_TOKEN", "error": "The provided device token is invalid."})
    );
    assert_eq!(post(&url(&sandbox, "k"), &[], DOCS_BODY).await.status, 200);
}
