//! HubSpot's v4 unsubscribe-all (`Topics::All`) on the wire, against a loopback wiremock
//! server: what is sent, and which answers confirm the opt-out.

use optout_core::{
    Error, ErrorKind, LegalBasis, Outcome, Receipt, Recipient, Topics, Unsubscribe, Unsubscriber,
};
use optout_hubspot::{HubSpot, SetStatusSuccessReason, StatusState, UnsubscribeAllOutcome};
use serde_json::{json, Value};
use wiremock::{MockServer, ResponseTemplate};

mod support;
use support::*;

const PATH: &str = "/communication-preferences/v4/statuses/alice%40example.com/unsubscribe-all";

/// The docs' answer to the v4 unsubscribe-all (`ActionResponseWithResultsPublicStatus`), for
/// [`EMAIL`]: the docs' `"<string>"` address and placeholder `SUBSCRIBED` statuses are filled
/// in as a real confirmation reads (the address asked for, `UNSUBSCRIBED`).
fn docs_v4_answer() -> Value {
    json!({
        "completedAt": "2023-11-07T05:31:56Z",
        "results": [
            {
                "channel": "EMAIL",
                "source": "<string>",
                "status": "UNSUBSCRIBED",
                "subscriberIdString": EMAIL,
                "subscriptionId": 123,
                "timestamp": "2023-11-07T05:31:56Z",
                "businessUnitId": 123,
                "legalBasis": "CONSENT_WITH_NOTICE",
                "legalBasisExplanation": "<string>",
                "setStatusSuccessReason": "UNSUBSCRIBE_FROM_ALL_OCCURRED",
                "subscriptionName": "<string>"
            },
            {
                "channel": "EMAIL",
                "source": "<string>",
                "status": "UNSUBSCRIBED",
                "subscriberIdString": EMAIL,
                "subscriptionId": 123,
                "timestamp": "2023-11-07T05:31:56Z",
                "businessUnitId": 123,
                "legalBasis": "CONSENT_WITH_NOTICE",
                "legalBasisExplanation": "<string>",
                "setStatusSuccessReason": "NO_STATUS_CHANGE",
                "subscriptionName": "<string>"
            }
        ],
        "startedAt": "2023-11-07T05:31:56Z",
        "status": "COMPLETE",
        "links": {},
        "requestedAt": "2023-11-07T05:31:56Z"
    })
}

/// Alice's unsubscribe from all, sent once (no retry) to a server answering `response`.
async fn all_answered_once_with(response: ResponseTemplate) -> Result<Receipt, Error> {
    let server = MockServer::start().await;
    mount(&server, response, 1).await;
    without_retries(&server.uri())
        .build()
        .unwrap()
        .unsubscribe(&Unsubscribe::new(alice(), Topics::All))
        .await
}

#[tokio::test]
async fn all_topics_is_the_verbose_bodyless_v4_unsubscribe_all_with_the_address_as_one_segment() {
    let server = MockServer::start().await;
    let mut body = docs_v4_answer();
    body["results"][0]["subscriberIdString"] = json!("a+b@example.com");
    body["results"][1]["subscriberIdString"] = json!("A+B@Example.com");
    mount(
        &server,
        ok(body).insert_header("x-hubspot-correlation-id", "c-all"),
        1,
    )
    .await;
    let tagged = Recipient::email("a+b@example.com").unwrap();
    let receipt = client(&server)
        .unsubscribe(&Unsubscribe::new(tagged.clone(), Topics::All))
        .await
        .unwrap();
    assert_sent_bodyless(
        &server,
        "/communication-preferences/v4/statuses/a%2Bb%40example.com/unsubscribe-all",
        Some("channel=EMAIL&verbose=true"),
    )
    .await;
    assert_eq!(receipt.topics, Topics::All);
    assert_eq!(receipt.recipient, tagged);
    assert_eq!(receipt.outcome, Outcome::Unsubscribed, "one status changed");
    assert_eq!(receipt.reference.as_deref(), Some("c-all"));
}

#[tokio::test]
async fn a_named_brand_is_sent_as_business_unit_id() {
    let server = MockServer::start().await;
    mount(&server, ok(docs_v4_answer()), 1).await;
    let hubspot: HubSpot = without_retries(&server.uri())
        .business_unit_id(0)
        .build()
        .unwrap();
    hubspot.unsubscribe_all(EMAIL).await.unwrap();
    assert_sent_bodyless(
        &server,
        PATH,
        Some("channel=EMAIL&businessUnitId=0&verbose=true"),
    )
    .await;
}

#[tokio::test]
async fn the_v4_answer_decodes_into_the_typed_batch() {
    let server = MockServer::start().await;
    let mut body = docs_v4_answer();
    body["results"][1]["subscriptionId"] = json!("456");
    mount(&server, ok(body), 1).await;
    let answer = client(&server).unsubscribe_all(EMAIL).await.unwrap();
    let UnsubscribeAllOutcome::Accepted(Some(batch)) = answer.body else {
        panic!("expected a batch");
    };
    assert_eq!(batch.results.len(), 2);
    assert_eq!(batch.started_at.as_deref(), Some("2023-11-07T05:31:56Z"));
    assert_eq!(batch.completed_at.as_deref(), Some("2023-11-07T05:31:56Z"));
    let first = &batch.results[0];
    assert_eq!(first.subscription_id, "123");
    assert_eq!(first.channel, "EMAIL");
    assert_eq!(first.status, StatusState::Unsubscribed);
    assert_eq!(
        first.set_status_success_reason,
        Some(SetStatusSuccessReason::UnsubscribeFromAllOccurred)
    );
    assert_eq!(batch.results[1].subscription_id, "456");
}

#[tokio::test]
async fn a_verbose_result_without_ids_still_decodes() {
    // A wide, verbose-style status: no subscriptionId, no address, no channel.
    let body = json!({
        "status": "COMPLETE",
        "results": [{"status": "UNSUBSCRIBED", "wideStatusType": "PORTAL_WIDE",
                     "timestamp": "2023-11-07T05:31:56Z"}],
        "startedAt": "x",
        "completedAt": "y"
    });
    let server = MockServer::start().await;
    mount(&server, ok(body), 1).await;
    let answer = client(&server).unsubscribe_all(EMAIL).await.unwrap();
    let UnsubscribeAllOutcome::Accepted(Some(batch)) = &answer.body else {
        panic!("expected a batch");
    };
    assert_eq!(batch.results[0].subscription_id, "");
    assert_eq!(batch.results[0].subscriber_id_string, "");
    assert_eq!(answer.body.outcome(), Outcome::Unsubscribed);
}

#[tokio::test]
async fn unsubscribe_all_tells_already_when_the_answer_does() {
    let cases = [
        {
            let mut body = docs_v4_answer();
            body["results"][0]["setStatusSuccessReason"] = json!("NO_STATUS_CHANGE");
            ok(body)
        },
        ResponseTemplate::new(400).set_body_json(error_body(
            "a@example.com is already unsubscribed from all email",
            "VALIDATION_ERROR",
            "c",
        )),
    ];
    for response in cases {
        let receipt = answered_with(response, Topics::All).await.unwrap();
        assert_eq!(receipt.outcome, Outcome::AlreadyUnsubscribed);
    }
}

#[tokio::test]
async fn answers_that_confirm_nothing_are_unconfirmed_never_done() {
    let still_subscribed = {
        let mut body = docs_v4_answer();
        body["results"][1]["status"] = json!("SUBSCRIBED");
        body
    };
    let someone_else = {
        let mut body = docs_v4_answer();
        body["results"][0]["subscriberIdString"] = json!("bob@example.com");
        body
    };
    let unknown_state = {
        let mut body = docs_v4_answer();
        body["results"][0]["status"] = json!("SOME_NEW_STATE");
        body
    };
    let cases: [(ResponseTemplate, &str); 10] = [
        (ok(json!({"status": "ERROR"})), "ERROR"),
        (ok(json!({"status": "FAILED"})), "FAILED"),
        (ok(json!({"status": "PENDING", "results": []})), "PENDING"),
        (ResponseTemplate::new(200), ""),
        (ResponseTemplate::new(204), ""),
        (
            ok(json!({"status": "COMPLETE", "results": [], "startedAt": "x", "completedAt": "y"})),
            "COMPLETE",
        ),
        (ok(still_subscribed), "SUBSCRIBED"),
        (ok(someone_else), ""),
        (ok(unknown_state), "SOME_NEW_STATE"),
        (
            ok(json!({"status": "processing", "results": []})),
            "processing",
        ),
    ];
    for (response, code) in cases {
        let err = all_answered_once_with(response).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{code}: {err}");
        assert_eq!(err.code(), Some(code).filter(|c| !c.is_empty()), "{err}");
        assert!(err.is_retryable() && err.was_sent(), "{code}: {err}");
    }
}

#[tokio::test]
async fn a_canceled_or_failed_unsubscribe_all_is_an_error() {
    let canceled =
        json!({"status": "CANCELED", "results": [], "startedAt": "x", "completedAt": "y"});
    let mut failed = docs_v4_answer();
    failed["errors"] =
        json!([{"category": "VALIDATION_ERROR", "message": "Contact is invalid", "context": {}}]);
    failed["numErrors"] = json!(1);
    for (body, code) in [(canceled, "CANCELED"), (failed, "VALIDATION_ERROR")] {
        let err = answered_with(ok(body), Topics::All).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Rejected);
        assert_eq!(err.code(), Some(code));
    }
}

#[tokio::test]
async fn a_legal_basis_with_all_topics_is_refused_not_dropped() {
    let server = MockServer::start().await;
    mount(&server, ok(docs_v4_answer()), 0).await;
    let request = Unsubscribe::new(alice(), Topics::All)
        .legal_basis(LegalBasis::ConsentWithNotice, "User clicked unsubscribe");
    let err = client(&server).unsubscribe(&request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.field(), Some("legal_basis"));
    assert!(!err.was_sent());
    let text = err.to_string();
    assert!(text.contains("CONSENT_WITH_NOTICE"), "{text}");
    assert!(text.contains("takes no legal basis"), "{text}");
}
