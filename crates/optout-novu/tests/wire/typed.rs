//! The typed call, `Novu::delete_topic_subscriptions`: the docs' example decoded whole, any
//! number of subscriptions in chunks of 100.

use super::*;

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
    // Sent once: this test is about the message. A garbled 200 is retryable (its effect is
    // unknown, an unsubscribe is safe to repeat), so a client with retries would resend it.
    let server = MockServer::start().await;
    let response = ResponseTemplate::new(200).set_body_json(json!({"meta": {"totalCount": 1}}));
    mount(&server, response, 1).await;
    let err = without_retries(&server.uri())
        .unsubscribe(&request(Topics::one(TOPIC)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.is_retryable() && err.was_sent(), "{err}");
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
