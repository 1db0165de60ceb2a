//! Novu's errors: per-item codes, whole-request statuses and bodies, retries, and no secret in
//! any error.

use super::*;

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
    assert_eq!(message.chars().count(), 501, "500 and the mark");
    assert!(message.ends_with('…'), "{message}");
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
    // The first attempt's answer was lost after it went out: its change may be what Novu
    // now calls not found, so the row is unsubscribed by this call, never "already".
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
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
