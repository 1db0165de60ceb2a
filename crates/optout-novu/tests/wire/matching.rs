//! What confirms a request: only its own subscriber, identifier and topic, in an answer whose
//! counts agree with its lists, on both paths (one by one and batched).

use super::batch::one;
use super::*;

#[tokio::test]
async fn an_answer_that_confirms_nothing_is_not_a_receipt() {
    let body = json!({"data": [], "meta": {"totalCount": 1, "successful": 0, "failed": 0}});
    let response = ResponseTemplate::new(200).set_body_json(body);
    let err = topic_answered_with(response).await.unwrap_err();
    assert!(err.to_string().contains("nothing is confirmed"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.is_retryable() && err.was_sent(), "{err}");
}

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
        (
            "a null _id",
            None,
            json!({"_id": null, "topic": {"key": TOPIC}, "subscriber": {"subscriberId": "user-123"}}),
        ),
        (
            "no _id",
            None,
            json!({"topic": {"key": TOPIC}, "subscriber": {"subscriberId": "user-123"}}),
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
    // The message says what disagrees.
    let body = json!({"data": [deleted], "meta": {"totalCount": 1, "successful": 0, "failed": 1}});
    let [single, _] = both_paths(None, 200, body).await;
    assert_eq!(
        single.unwrap_err().message(),
        Some(
            "Novu's HTTP 200 answer lists 1 deleted and 0 failed but counts 0 and 1 in meta; \
             nothing is confirmed for subscriber \"user-123\""
        )
    );
}

#[tokio::test]
async fn an_entry_missing_its_id_leaves_only_its_own_row_unconfirmed() {
    let server = MockServer::start().await;
    let body = json!({
        "data": [
            {"topic": {"key": TOPIC}, "subscriber": {"subscriberId": "a"}},
            entry("s-b", TOPIC, Some("b"), None)
        ],
        "meta": {"totalCount": 2, "successful": 2, "failed": 0}
    });
    mount(&server, ResponseTemplate::new(200).set_body_json(body), 1).await;
    let requests = [one("a", TOPIC), one("b", TOPIC)];
    let results = client(&server).unsubscribe_many(&requests).await;
    let a = results[0].as_ref().unwrap_err();
    assert_eq!(a.kind(), ErrorKind::Decode, "{a}");
    assert!(
        a.is_retryable() && a.to_string().contains("nothing is confirmed"),
        "{a}"
    );
    let b = results[1].as_ref().unwrap();
    assert_eq!(b.reference.as_deref(), Some("s-b"));
}
