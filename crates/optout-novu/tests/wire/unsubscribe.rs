//! One request through the `Unsubscriber` trait: the whole request on the wire, one DELETE
//! per topic, and bad input refused with nothing sent.

use super::*;

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
