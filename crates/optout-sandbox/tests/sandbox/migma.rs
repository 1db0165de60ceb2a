use optout_sandbox::{Api, Sandbox, Seed};
use serde_json::json;

use crate::post;

const AUTH: (&str, &str) = ("authorization", "Bearer mk_test_123");
const BODY: &str = r#"{"subscriberId":"CONTACT_ID","projectId":"PROJECT_ID"}"#;

fn url(sandbox: &Sandbox, topic: &str) -> String {
    format!("{}/v1/topics/{topic}/unsubscribe", sandbox.base_url())
}

#[tokio::test]
async fn unsubscribes_and_a_repeat_succeeds_again() {
    let sandbox = Sandbox::start().await.unwrap();
    assert!(sandbox.is_subscribed(Api::Migma, "CONTACT_ID", "TOPIC_ID"));
    let expected = json!({
        "success": true,
        "data": { "topicId": "TOPIC_ID", "subscriberId": "CONTACT_ID", "subscribed": false },
        "error": null,
    });
    let first = post(&url(&sandbox, "TOPIC_ID"), &[AUTH], BODY).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.assert_json_type().json(), expected);
    assert!(!sandbox.is_subscribed(Api::Migma, "CONTACT_ID", "TOPIC_ID"));
    assert!(sandbox.is_subscribed(Api::Migma, "CONTACT_ID", "other"));

    let again = post(&url(&sandbox, "TOPIC_ID"), &[AUTH], BODY).await;
    assert_eq!((again.status, again.json()), (200, expected));
}

#[tokio::test]
async fn accepts_what_sdks_send() {
    let sandbox = Sandbox::start().await.unwrap();
    let body = r#"{"projectId":"p","extra":{"x":1},"subscriberId":"c"}"#;
    let headers = [
        ("authorization", "bearer k"),
        ("user-agent", "migma-node/1.0"),
        ("x-request-id", "42"),
    ];
    let reply = post(&url(&sandbox, "t"), &headers, body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn keeps_an_encoded_id_as_one_segment() {
    let sandbox = Sandbox::start().await.unwrap();
    let reply = post(&url(&sandbox, "a%20b%2Fc%3Fd"), &[AUTH], BODY).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["data"]["topicId"], "a b/c?d");
    assert!(!sandbox.is_subscribed(Api::Migma, "CONTACT_ID", "a b/c?d"));
}

#[tokio::test]
async fn refuses_missing_or_wrong_credentials() {
    let sandbox = Sandbox::builder()
        .key(Api::Migma, "right")
        .start()
        .await
        .unwrap();
    for headers in [
        vec![],
        vec![("authorization", "Bearer ")],
        vec![("authorization", "ApiKey right")],
        vec![("authorization", "Bearer wrong")],
    ] {
        let reply = post(&url(&sandbox, "t"), &headers, BODY).await;
        assert_eq!(reply.status, 401, "{headers:?}");
        let body = reply.assert_json_type().json();
        assert_eq!(body["success"], false);
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    assert!(sandbox.is_subscribed(Api::Migma, "CONTACT_ID", "t"));
    let ok = post(
        &url(&sandbox, "t"),
        &[("authorization", "Bearer right")],
        BODY,
    )
    .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn refuses_bodies_without_both_ids() {
    let sandbox = Sandbox::start().await.unwrap();
    for body in [
        r#"{"subscriberId":"c"}"#,
        r#"{"projectId":"p"}"#,
        r#"{"subscriberId":"","projectId":"p"}"#,
        r#"{"subscriberId":"c","projectId":" "}"#,
        r#"{"subscriberId":7,"projectId":"p"}"#,
        "not json",
        "",
    ] {
        let reply = post(&url(&sandbox, "t"), &[AUTH], body).await;
        assert_eq!(reply.status, 400, "{body}");
        let json = reply.json();
        assert_eq!(json["success"], false, "{body}");
        assert!(json["error"].is_string());
    }
}

#[tokio::test]
async fn closed_world_knows_only_seeded_topics() {
    let seed = Seed::from_json(
        r#"{"migma":{"topics":["t2"],"subscriptions":[{"recipient":"c1","topic":"t1"}]}}"#,
    )
    .unwrap();
    let sandbox = Sandbox::builder().seed(seed).start().await.unwrap();
    let unknown = post(&url(&sandbox, "t3"), &[AUTH], BODY).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["success"], false);
    assert!(sandbox.is_subscribed(Api::Migma, "c1", "t1"));
    assert!(!sandbox.is_subscribed(Api::Migma, "c1", "t2"));
    let body = r#"{"subscriberId":"c1","projectId":"p"}"#;
    assert_eq!(post(&url(&sandbox, "t1"), &[AUTH], body).await.status, 200);
    assert!(!sandbox.is_subscribed(Api::Migma, "c1", "t1"));
    // Other providers stay open.
    assert!(sandbox.is_subscribed(Api::HubSpot, "a@b.c", "1"));
}
