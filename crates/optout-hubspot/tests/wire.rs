//! HubSpot on the wire, against a loopback wiremock server, with the docs' own examples.

use optout_core::{
    Error, ErrorKind, LegalBasis, Outcome, Receipt, Recipient, Topics, Unsubscribe, Unsubscriber,
};
use optout_hubspot::{
    BatchStatus, BatchWriteRequest, HubSpot, SetStatusSuccessReason, SourceOfStatus, StatusState,
    StatusWrite, SubscriptionState, UnsubscribeAllOutcome, UnsubscribeOutcome, UnsubscribeRequest,
};
use optout_testkit::{fast_retry, mount_first, only_request, renderings, Expected};
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "pat-na1-s3cr3t-0000";
const EMAIL: &str = "alice@example.com";
const SUB: &str = "289137114";
const V3_PATH: &str = "/communication-preferences/v3/unsubscribe";

fn client(server: &MockServer) -> HubSpot {
    HubSpot::builder()
        .access_token(TOKEN)
        .base_url(server.uri())
        .retry_policy(fast_retry())
        .build()
        .unwrap()
}

/// A builder for `base_url` that never retries.
fn without_retries(base_url: &str) -> optout_hubspot::HubSpotBuilder {
    HubSpot::builder()
        .access_token(TOKEN)
        .base_url(base_url)
        .max_retries(0)
}

fn alice() -> Recipient {
    Recipient::email(EMAIL).unwrap()
}

/// The docs' success answer to `POST /communication-preferences/v3/unsubscribe`.
fn docs_v3_answer() -> Value {
    json!({
        "description": "<string>",
        "id": "<string>",
        "name": "<string>",
        "sourceOfStatus": "BRAND_WIDE_STATUS",
        "status": "NOT_SUBSCRIBED",
        "brandId": 123,
        "legalBasis": "CONSENT_WITH_NOTICE",
        "legalBasisExplanation": "<string>",
        "preferenceGroupName": "<string>"
    })
}

/// HubSpot's error envelope.
fn error_body(message: &str, category: &str, correlation_id: &str) -> Value {
    json!({
        "status": "error",
        "message": message,
        "correlationId": correlation_id,
        "category": category
    })
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn mount(server: &MockServer, response: ResponseTemplate, times: u64) {
    optout_testkit::mount(server, Mock::given(method("POST")), response, times).await;
}

/// Mounts `response` for the one POST whose body names `subscription_id`.
async fn mount_for(server: &MockServer, subscription_id: &str, response: ResponseTemplate) {
    let given = Mock::given(method("POST")).and(body_partial_json(
        json!({"subscriptionId": subscription_id}),
    ));
    optout_testkit::mount(server, given, response, 1).await;
}

/// A server where subscription 111 is unsubscribed (correlation `c-111`) and 222 is refused
/// with `status` and HubSpot's `message` and `category` (correlation `c-222`).
async fn one_done_one_refused(status: u16, message: &str, category: &str) -> MockServer {
    let server = MockServer::start().await;
    mount_for(
        &server,
        "111",
        ok(docs_v3_answer()).insert_header("x-hubspot-correlation-id", "c-111"),
    )
    .await;
    mount_for(
        &server,
        "222",
        ResponseTemplate::new(status).set_body_json(error_body(message, category, "c-222")),
    )
    .await;
    server
}

/// Alice's unsubscribe from `topics` sent to a server that answers it once with `response`.
async fn answered_with(response: ResponseTemplate, topics: Topics) -> Result<Receipt, Error> {
    let server = MockServer::start().await;
    mount(&server, response, 1).await;
    client(&server)
        .unsubscribe(&Unsubscribe::new(alice(), topics))
        .await
}

/// Alice's unsubscribe from [`SUB`] sent to a server that answers it once with `response`.
async fn sub_answered_with(response: ResponseTemplate) -> Result<Receipt, Error> {
    answered_with(response, Topics::one(SUB)).await
}

/// Asserts the one request the server saw, whole: method, path, query, headers, body
/// (`None`: no body at all).
async fn assert_sent(server: &MockServer, path: &str, query: Option<&str>, body: Option<Value>) {
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

#[tokio::test]
async fn v3_sends_the_legal_basis_and_keeps_the_correlation_id() {
    let server = MockServer::start().await;
    mount(
        &server,
        ok(docs_v3_answer()).insert_header("x-hubspot-correlation-id", "c0ffee-1"),
        1,
    )
    .await;
    let request = Unsubscribe::new(alice(), Topics::one(SUB))
        .legal_basis(LegalBasis::ConsentWithNotice, "User clicked unsubscribe");
    let receipt = client(&server).unsubscribe(&request).await.unwrap();
    assert_sent(
        &server,
        V3_PATH,
        None,
        Some(json!({
            "emailAddress": EMAIL,
            "subscriptionId": SUB,
            "legalBasis": "CONSENT_WITH_NOTICE",
            "legalBasisExplanation": "User clicked unsubscribe"
        })),
    )
    .await;
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert_eq!(receipt.topics, Topics::one(SUB));
    assert_eq!(receipt.recipient, alice());
    assert_eq!(receipt.reference.as_deref(), Some("c0ffee-1"));
}

#[tokio::test]
async fn v3_without_a_legal_basis_sends_neither_field() {
    let server = MockServer::start().await;
    mount(&server, ok(docs_v3_answer()), 1).await;
    let receipt = client(&server)
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one(SUB)))
        .await
        .unwrap();
    assert_sent(
        &server,
        V3_PATH,
        None,
        Some(json!({"emailAddress": EMAIL, "subscriptionId": SUB})),
    )
    .await;
    assert_eq!(
        receipt.reference, None,
        "no correlation header, no reference"
    );
}

#[tokio::test]
async fn the_docs_answer_decodes_into_the_typed_status() {
    let server = MockServer::start().await;
    mount(&server, ok(docs_v3_answer()), 1).await;
    let answer = client(&server)
        .unsubscribe_from_subscription(&UnsubscribeRequest::new(EMAIL, SUB))
        .await
        .unwrap();
    let UnsubscribeOutcome::Unsubscribed(status) = answer.body else {
        panic!("expected Unsubscribed");
    };
    assert_eq!(status.id, "<string>");
    assert_eq!(status.status, SubscriptionState::NotSubscribed);
    assert_eq!(status.source_of_status, SourceOfStatus::BrandWideStatus);
    assert_eq!(status.brand_id, Some(123));
    assert_eq!(status.legal_basis.as_deref(), Some("CONSENT_WITH_NOTICE"));
    assert_eq!(status.preference_group_name.as_deref(), Some("<string>"));
}

#[tokio::test]
async fn unknown_enum_values_and_fields_do_not_undo_a_confirmed_opt_out() {
    let server = MockServer::start().await;
    let mut body = docs_v3_answer();
    body["sourceOfStatus"] = json!("CHANNEL_WIDE_STATUS");
    body["legalBasis"] = json!("SOME_NEW_BASIS");
    body["id"] = json!(289137114);
    body["newField"] = json!({"x": 1});
    mount(&server, ok(body), 1).await;
    let answer = client(&server)
        .unsubscribe_from_subscription(&UnsubscribeRequest::new(EMAIL, SUB))
        .await
        .unwrap();
    let UnsubscribeOutcome::Unsubscribed(status) = answer.body else {
        panic!("expected Unsubscribed");
    };
    assert_eq!(
        status.source_of_status,
        SourceOfStatus::Other("CHANNEL_WIDE_STATUS".into())
    );
    assert_eq!(status.id, "289137114");
    assert_eq!(status.legal_basis.as_deref(), Some("SOME_NEW_BASIS"));
}

#[tokio::test]
async fn a_missing_required_field_is_a_decode_error() {
    let mut body = docs_v3_answer();
    body.as_object_mut().unwrap().remove("sourceOfStatus");
    let response = ok(body);
    let err = sub_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("sourceOfStatus"), "{err}");
}

#[tokio::test]
async fn a_200_that_still_says_subscribed_is_not_a_success() {
    let mut body = docs_v3_answer();
    body["status"] = json!("SUBSCRIBED");
    let response = ok(body);
    let err = sub_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), Some("SUBSCRIBED"));
}

#[tokio::test]
async fn already_unsubscribed_is_a_receipt_not_an_error() {
    let message = "alice@example.com is already unsubscribed from subscription 289137114";
    let response = ResponseTemplate::new(400)
        .set_body_json(error_body(message, "VALIDATION_ERROR", "body-corr"))
        .insert_header("x-hubspot-correlation-id", "head-corr");
    let receipt = sub_answered_with(response).await.unwrap();
    assert_eq!(receipt.outcome, Outcome::AlreadyUnsubscribed);
    assert_eq!(receipt.reference.as_deref(), Some("head-corr"));
}

#[tokio::test]
async fn already_unsubscribed_is_matched_case_insensitively_and_keeps_the_message() {
    let server = MockServer::start().await;
    let message = "Alice@Example.com is Already Unsubscribed from subscription 289137114";
    mount(
        &server,
        ResponseTemplate::new(400).set_body_json(error_body(message, "VALIDATION_ERROR", "bc")),
        1,
    )
    .await;
    let answer = client(&server)
        .unsubscribe_from_subscription(&UnsubscribeRequest::new(EMAIL, SUB))
        .await
        .unwrap();
    assert_eq!(
        answer.body,
        UnsubscribeOutcome::AlreadyUnsubscribed {
            message: message.into()
        }
    );
    assert_eq!(
        answer.correlation_id.as_deref(),
        Some("bc"),
        "the body's id without the header"
    );
}

#[tokio::test]
async fn a_validation_error_keeps_category_message_and_correlation_id() {
    let response = ResponseTemplate::new(400).set_body_json(error_body(
        "Invalid input JSON on line 1, column 2: subscriptionId must be a number",
        "VALIDATION_ERROR",
        "aeb5f871-7f07-4993-9211-075dc63e7cbf",
    ));
    let err = sub_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("VALIDATION_ERROR"));
    assert_eq!(
        err.message(),
        Some(
            "Invalid input JSON on line 1, column 2: subscriptionId must be a number \
             (correlationId aeb5f871-7f07-4993-9211-075dc63e7cbf)"
        )
    );
    assert!(!err.is_retryable());
    assert_eq!(err.attempts(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn a_bad_token_is_unauthorized_and_not_retried() {
    let response = ResponseTemplate::new(401).set_body_json(error_body(
        "Authentication credentials not found.",
        "INVALID_AUTHENTICATION",
        "c-401",
    ));
    let err = sub_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.code(), Some("INVALID_AUTHENTICATION"));
    assert!(err.message().unwrap().contains("c-401"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_unknown_subscription_is_not_found() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(404).set_body_json(error_body(
            "No subscription definition found for id 999",
            "OBJECT_NOT_FOUND",
            "c-404",
        )),
        1,
    )
    .await;
    let err = client(&server)
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one("999")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.code(), Some("OBJECT_NOT_FOUND"));
    assert!(err.to_string().contains("999"), "{err}");
}

fn rate_limited(policy: &str) -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("retry-after", "0")
        .set_body_json(json!({
            "status": "error",
            "message": format!("You have reached your {} limit.", policy.to_lowercase()),
            "errorType": "RATE_LIMIT",
            "correlationId": "c-429",
            "policyName": policy,
            "groupName": "api-calls-daily:1234"
        }))
}

#[tokio::test]
async fn the_daily_limit_is_not_retried() {
    let response = rate_limited("DAILY");
    let err = sub_answered_with(response).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.code(), Some("RATE_LIMIT"));
    assert!(!err.is_retryable());
    assert_eq!(err.retry_after(), None);
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn a_spent_daily_quota_header_is_not_retried_either() {
    let response = ResponseTemplate::new(429)
        .insert_header("x-hubspot-ratelimit-daily-remaining", "0")
        .set_body_json(error_body("Too many requests", "RATE_LIMITS", "c"));
    let err = sub_answered_with(response).await.unwrap_err();
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn the_ten_secondly_limit_is_retried_after_retry_after() {
    let server = MockServer::start().await;
    mount_first(
        &server,
        Mock::given(method("POST")),
        rate_limited("TEN_SECONDLY_ROLLING"),
        1,
    )
    .await;
    mount(&server, ok(docs_v3_answer()), 1).await;
    let receipt = client(&server)
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one(SUB)))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let server = MockServer::start().await;
    mount_first(
        &server,
        Mock::given(method("POST")),
        ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        2,
    )
    .await;
    mount(&server, ok(docs_v3_answer()), 1).await;
    let receipt = client(&server)
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one(SUB)))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
}

#[tokio::test]
async fn a_non_json_error_body_is_quoted() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
        1,
    )
    .await;
    let err = without_retries(&server.uri())
        .build()
        .unwrap()
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one(SUB)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(err.is_retryable());
    assert_eq!(err.message(), Some("\"<html>Bad Gateway</html>\""));
}

#[tokio::test]
async fn one_failing_subscription_never_hides_the_others_success() {
    let server = one_done_one_refused(
        404,
        "No subscription definition found for id 222",
        "OBJECT_NOT_FOUND",
    )
    .await;
    let err = client(&server)
        .unsubscribe(&Unsubscribe::new(alice(), Topics::only(["111", "222"])))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Partial);
    let partial = err.partial().unwrap();
    assert_eq!(partial.done.len(), 1);
    assert_eq!(partial.done[0].topics, Topics::one("111"));
    assert_eq!(partial.done[0].outcome, Outcome::Unsubscribed);
    assert_eq!(partial.done[0].reference.as_deref(), Some("c-111"));
    assert_eq!(partial.failed.len(), 1);
    assert_eq!(partial.failed[0].0, "222");
    assert_eq!(partial.failed[0].1.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn several_subscriptions_fold_into_one_receipt() {
    let server = one_done_one_refused(
        400,
        "alice@example.com is already unsubscribed from subscription 222",
        "VALIDATION_ERROR",
    )
    .await;
    let receipt = client(&server)
        .unsubscribe(&Unsubscribe::new(
            alice(),
            Topics::only(["111", "222", "111"]),
        ))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert_eq!(receipt.topics, Topics::only(["111", "222"]));
    assert_eq!(receipt.reference.as_deref(), Some("c-111,c-222"));
}

/// The docs' answer to the v4 unsubscribe-all (`ActionResponseWithResultsPublicStatus`).
fn docs_v4_answer() -> Value {
    json!({
        "completedAt": "2023-11-07T05:31:56Z",
        "results": [
            {
                "channel": "EMAIL",
                "source": "<string>",
                "status": "SUBSCRIBED",
                "subscriberIdString": "<string>",
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
                "status": "SUBSCRIBED",
                "subscriberIdString": "<string>",
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

#[tokio::test]
async fn all_topics_is_the_v4_unsubscribe_all_with_the_address_as_one_segment() {
    let server = MockServer::start().await;
    mount(
        &server,
        ok(docs_v4_answer()).insert_header("x-hubspot-correlation-id", "c-all"),
        1,
    )
    .await;
    let tagged = Recipient::email("a+b@example.com").unwrap();
    let receipt = client(&server)
        .unsubscribe(&Unsubscribe::new(tagged.clone(), Topics::All))
        .await
        .unwrap();
    assert_sent(
        &server,
        "/communication-preferences/v4/statuses/a%2Bb%40example.com/unsubscribe-all",
        Some("channel=EMAIL"),
        None,
    )
    .await;
    assert_eq!(receipt.topics, Topics::All);
    assert_eq!(receipt.recipient, tagged);
    assert_eq!(receipt.outcome, Outcome::Unsubscribed, "one status changed");
    assert_eq!(receipt.reference.as_deref(), Some("c-all"));
}

#[tokio::test]
async fn the_v4_answer_decodes_into_the_typed_batch() {
    let server = MockServer::start().await;
    let mut body = docs_v4_answer();
    body["results"][1]["status"] = json!("SOME_NEW_STATE");
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
    assert_eq!(first.status, StatusState::Subscribed);
    assert_eq!(
        first.set_status_success_reason,
        Some(SetStatusSuccessReason::UnsubscribeFromAllOccurred)
    );
    assert_eq!(batch.results[1].subscription_id, "456");
    assert_eq!(
        batch.results[1].status,
        StatusState::Other("SOME_NEW_STATE".into())
    );
}

#[tokio::test]
async fn unsubscribe_all_tells_already_when_the_answer_does() {
    let cases = [
        (
            {
                let mut body = docs_v4_answer();
                body["results"][0]["setStatusSuccessReason"] = json!("NO_STATUS_CHANGE");
                ok(body)
            },
            Outcome::AlreadyUnsubscribed,
        ),
        (
            ResponseTemplate::new(400).set_body_json(error_body(
                "a@example.com is already unsubscribed from all email",
                "VALIDATION_ERROR",
                "c",
            )),
            Outcome::AlreadyUnsubscribed,
        ),
        (ResponseTemplate::new(200), Outcome::Unsubscribed),
        (
            ok(json!({"status": "COMPLETE", "results": [], "startedAt": "x", "completedAt": "y"})),
            Outcome::Unsubscribed,
        ),
    ];
    for (response, expected) in cases {
        let receipt = answered_with(response, Topics::All).await.unwrap();
        assert_eq!(receipt.outcome, expected);
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
async fn batch_write_sends_the_documented_inputs_and_returns_the_batch() {
    let server = MockServer::start().await;
    let answer = json!({
        "completedAt": "2023-11-07T05:31:56Z",
        "results": [{
            "channel": "EMAIL",
            "source": "<string>",
            "status": "UNSUBSCRIBED",
            "subscriberIdString": EMAIL,
            "subscriptionId": 289137114,
            "timestamp": "2023-11-07T05:31:56Z",
            "legalBasis": "LEGITIMATE_INTEREST_CLIENT",
            "legalBasisExplanation": "<string>",
            "setStatusSuccessReason": "REQUESTED_CHANGE_OCCURRED",
            "subscriptionName": "<string>"
        }],
        "startedAt": "2023-11-07T05:31:56Z",
        "status": "COMPLETE",
        "errors": [{"category": "OBJECT_NOT_FOUND", "message": "Subscription 7 not found", "context": {"id": ["7"]}}],
        "numErrors": 1
    });
    mount(
        &server,
        ResponseTemplate::new(207)
            .set_body_json(answer)
            .insert_header("x-hubspot-correlation-id", "c-batch"),
        1,
    )
    .await;
    let request = BatchWriteRequest {
        inputs: vec![
            StatusWrite::unsubscribe(EMAIL, 289137114)
                .legal_basis(LegalBasis::LegitimateInterestClient, "Asked by phone"),
            StatusWrite::unsubscribe("bob@example.com", 7),
        ],
    };
    let answer = client(&server).batch_write(&request).await.unwrap();
    assert_sent(
        &server,
        "/communication-preferences/v4/statuses/batch/write",
        None,
        Some(json!({"inputs": [
            {
                "subscriberIdString": EMAIL,
                "channel": "EMAIL",
                "statusState": "UNSUBSCRIBED",
                "subscriptionId": 289137114,
                "legalBasis": "LEGITIMATE_INTEREST_CLIENT",
                "legalBasisExplanation": "Asked by phone"
            },
            {
                "subscriberIdString": "bob@example.com",
                "channel": "EMAIL",
                "statusState": "UNSUBSCRIBED",
                "subscriptionId": 7
            }
        ]})),
    )
    .await;
    assert_eq!(answer.correlation_id.as_deref(), Some("c-batch"));
    assert_eq!(answer.body.status, BatchStatus::Complete);
    assert_eq!(answer.body.results[0].status, StatusState::Unsubscribed);
    assert_eq!(answer.body.results[0].subscription_id, "289137114");
    assert_eq!(
        answer.body.errors[0].category.as_deref(),
        Some("OBJECT_NOT_FOUND")
    );
    assert_eq!(answer.body.num_errors, Some(1));
}

#[tokio::test]
async fn batch_write_refuses_bad_inputs_with_nothing_sent() {
    let server = MockServer::start().await;
    mount(&server, ok(json!({})), 0).await;
    let hubspot = client(&server);
    let mut other_channel = StatusWrite::unsubscribe(EMAIL, 1);
    other_channel.channel = "SMS".into();
    let mut other_state = StatusWrite::unsubscribe(EMAIL, 1);
    other_state.status_state = StatusState::Other("GONE".into());
    let mut no_explanation = StatusWrite::unsubscribe(EMAIL, 1);
    no_explanation.legal_basis = Some(LegalBasis::NonGdpr);
    let cases = [
        (vec![], "inputs"),
        (
            vec![StatusWrite::unsubscribe("bob", 1)],
            "subscriberIdString",
        ),
        (vec![other_channel], "channel"),
        (vec![other_state], "statusState"),
        (vec![no_explanation], "legalBasisExplanation"),
    ];
    for (inputs, field) in cases {
        let err = hubspot
            .batch_write(&BatchWriteRequest { inputs })
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_nothing_sent() {
    let server = MockServer::start().await;
    mount(&server, ok(docs_v3_answer()), 0).await;
    let hubspot = client(&server);
    let bad_email = Recipient::Email {
        address: "alice".into(),
    };
    let cases = [
        (
            Unsubscribe::new(bad_email.clone(), Topics::one(SUB)),
            "recipient",
        ),
        (Unsubscribe::new(bad_email, Topics::All), "recipient"),
        (Unsubscribe::new(alice(), Topics::one("")), "topic"),
        (Unsubscribe::new(alice(), Topics::only(["1", " "])), "topic"),
        (Unsubscribe::new(alice(), Topics::Only(vec![])), "topic"),
        (
            Unsubscribe::new(alice(), Topics::one(SUB)).legal_basis(LegalBasis::NonGdpr, ""),
            "legal_basis_explanation",
        ),
        (
            Unsubscribe::new(alice(), Topics::All).legal_basis(LegalBasis::NonGdpr, "  "),
            "legal_basis_explanation",
        ),
    ];
    for (request, field) in cases {
        let err = hubspot.unsubscribe(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(!err.was_sent());
    }
    let mut no_explanation = UnsubscribeRequest::new(EMAIL, SUB);
    no_explanation.legal_basis = Some(LegalBasis::ConsentWithNotice);
    let err = hubspot
        .unsubscribe_from_subscription(&no_explanation)
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("legalBasisExplanation"));
    let mut no_basis = UnsubscribeRequest::new(EMAIL, SUB);
    no_basis.legal_basis_explanation = Some("why".into());
    assert_eq!(
        hubspot
            .unsubscribe_from_subscription(&no_basis)
            .await
            .unwrap_err()
            .field(),
        Some("legalBasisExplanation")
    );
    assert_eq!(
        hubspot
            .unsubscribe_all("not an email")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    for other in [
        Recipient::phone("+254700000000").unwrap(),
        Recipient::device("a6345d0278adc55d3474f5").unwrap(),
        Recipient::subscriber("c1").unwrap(),
    ] {
        let err = hubspot
            .unsubscribe(&Unsubscribe::new(other, Topics::one(SUB)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(!err.was_sent());
    }
}

#[tokio::test]
async fn the_token_never_shows_in_debug_display_or_errors() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(500).set_body_json(error_body(
            &format!("token {TOKEN} broke something"),
            "INTERNAL_ERROR",
            "c-500",
        )),
        1,
    )
    .await;
    let builder = without_retries(&server.uri());
    let builder_debug = format!("{builder:?}");
    let hubspot = builder.build().unwrap();
    let err = hubspot
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one(SUB)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    let refused = without_retries("http://127.0.0.1:1")
        .build()
        .unwrap()
        .unsubscribe(&Unsubscribe::new(alice(), Topics::All))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Network);
    let text = format!(
        "{builder_debug} {hubspot:?} {} {}",
        renderings(&err),
        renderings(&refused)
    );
    assert!(text.contains("[REDACTED]"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[test]
fn building_needs_a_usable_token_and_base_url() {
    let err = HubSpot::builder().build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("HUBSPOT_ACCESS_TOKEN"), "{err}");
    let err = HubSpot::builder()
        .access_token("pat\nsecret-part")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("HUBSPOT_ACCESS_TOKEN"), "{err}");
    assert!(!err.to_string().contains("secret-part"), "{err}");
    let err = HubSpot::builder()
        .access_token("t")
        .base_url("ftp://x")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}
