//! HubSpot on the wire, against a loopback wiremock server, with the docs' own examples.

use std::time::Duration;

use optout_core::{
    Decision, Error, ErrorKind, LegalBasis, Outcome, Receipt, Recipient, RetryPolicy, Topics,
    Unsubscribe, Unsubscriber,
};
use optout_hubspot::{
    HubSpot, SourceOfStatus, SubscriptionState, UnsubscribeOutcome, UnsubscribeRequest,
};
use optout_testkit::{fast_retry, mount_first, renderings};
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::*;

const SUB: &str = "289137114";
const V3_PATH: &str = "/communication-preferences/v3/unsubscribe";

/// The docs' success answer to `POST /communication-preferences/v3/unsubscribe`, for [`SUB`]
/// (the docs' `id` is a `"<string>"` placeholder: a real answer names the subscription asked
/// for, and one naming another confirms nothing).
fn docs_v3_answer() -> Value {
    docs_v3_answer_for(SUB)
}

/// The docs' success answer, for subscription `id`.
fn docs_v3_answer_for(id: &str) -> Value {
    json!({
        "description": "<string>",
        "id": id,
        "name": "<string>",
        "sourceOfStatus": "BRAND_WIDE_STATUS",
        "status": "NOT_SUBSCRIBED",
        "brandId": 123,
        "legalBasis": "CONSENT_WITH_NOTICE",
        "legalBasisExplanation": "<string>",
        "preferenceGroupName": "<string>"
    })
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
        ok(docs_v3_answer_for("111")).insert_header("x-hubspot-correlation-id", "c-111"),
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

/// Alice's unsubscribe from [`SUB`] sent to a server that answers it once with `response`.
async fn sub_answered_with(response: ResponseTemplate) -> Result<Receipt, Error> {
    answered_with(response, Topics::one(SUB)).await
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
    assert_eq!(status.id, SUB);
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
    body["id"] = json!(289137114); // SUB, as a number
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
    // A 200 that cannot be read went out with an unknown effect: it is retried (an unsubscribe
    // is safe to repeat), and once the retries are spent it still says retryable (it was "not
    // retryable", though every such row succeeded on a rerun).
    let mut body = docs_v3_answer();
    body.as_object_mut().unwrap().remove("sourceOfStatus");
    let server = MockServer::start().await;
    let attempts = fast_retry().retries() + 1;
    mount(&server, ok(body), u64::from(attempts)).await;
    let err = client(&server)
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one(SUB)))
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Decode, Some(200)));
    assert!(err.to_string().contains("sourceOfStatus"), "{err}");
    assert!(err.is_retryable() && err.was_sent(), "{err}");
    assert_eq!(err.attempts(), attempts, "{err}");
}

/// Alice's unsubscribe from [`SUB`], through the unified and the typed call, each sent once
/// (no retry) to a server that answers `body` with a 200.
async fn both_calls_answered_with(body: Value) -> [Result<Outcome, Error>; 2] {
    let server = MockServer::start().await;
    mount(&server, ok(body), 2).await;
    let hubspot = without_retries(&server.uri()).build().unwrap();
    let unified = hubspot
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one(SUB)))
        .await
        .map(|r| r.outcome);
    let typed = hubspot
        .unsubscribe_from_subscription(&UnsubscribeRequest::new(EMAIL, SUB))
        .await
        .map(|a| match a.body {
            UnsubscribeOutcome::Unsubscribed(_) => Outcome::Unsubscribed,
            _ => Outcome::AlreadyUnsubscribed,
        });
    [unified, typed]
}

#[tokio::test]
async fn a_200_that_does_not_say_not_subscribed_is_unconfirmed_never_done() {
    for (state, code) in [
        ("SUBSCRIBED", Some("SUBSCRIBED")),
        ("subscribed", Some("subscribed")),
        ("", None),
        ("UNKNOWN", Some("UNKNOWN")),
    ] {
        let mut body = docs_v3_answer();
        body["status"] = json!(state);
        for err in both_calls_answered_with(body).await {
            let err = err.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{state:?}: {err}");
            assert_eq!(err.code(), code, "{state:?}: {err}");
            assert!(err.is_retryable() && err.was_sent(), "{state:?}: {err}");
            assert!(err.to_string().contains(SUB), "{state:?}: {err}");
        }
    }
    // NOT_SUBSCRIBED in any case confirms it.
    let mut body = docs_v3_answer();
    body["status"] = json!("Not_Subscribed");
    for outcome in both_calls_answered_with(body).await {
        assert_eq!(outcome.unwrap(), Outcome::Unsubscribed);
    }
}

#[tokio::test]
async fn a_200_about_another_subscription_is_unconfirmed_never_done() {
    for other in [json!("999"), json!(999), json!("<string>"), json!("")] {
        let mut body = docs_v3_answer();
        body["id"] = other.clone();
        for err in both_calls_answered_with(body).await {
            let err = err.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{other}: {err}");
            assert!(err.is_retryable(), "{other}: {err}");
            assert!(err.to_string().contains(SUB), "{other}: {err}");
        }
    }
}

#[tokio::test]
async fn an_unconfirmed_answer_is_sent_again_and_a_confirmation_then_counts() {
    let server = MockServer::start().await;
    let mut subscribed = docs_v3_answer();
    subscribed["status"] = json!("SUBSCRIBED");
    mount_first(&server, Mock::given(method("POST")), ok(subscribed), 1).await;
    mount(&server, ok(docs_v3_answer()), 1).await;
    let receipt = client(&server)
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one(SUB)))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
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

/// A TEN_SECONDLY_ROLLING 429 as HubSpot sends it, with its rate-limit headers and no
/// `Retry-After`.
fn ten_secondly_without_retry_after() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("x-hubspot-ratelimit-interval-milliseconds", "10000")
        .insert_header("x-hubspot-ratelimit-max", "190")
        .insert_header("x-hubspot-ratelimit-remaining", "0")
        .set_body_json(json!({
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "c-429",
            "policyName": "TEN_SECONDLY_ROLLING",
            "groupName": "api-calls:1234"
        }))
}

/// Alice's unsubscribe from [`SUB`], sent once (no retry) to a server answering `response`.
async fn sub_answered_once_with(response: ResponseTemplate) -> Error {
    let server = MockServer::start().await;
    mount(&server, response, 1).await;
    without_retries(&server.uri())
        .build()
        .unwrap()
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one(SUB)))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn the_ten_secondly_limit_waits_out_the_window_without_retry_after() {
    let err = sub_answered_once_with(ten_secondly_without_retry_after()).await;
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(10)));
    // The retry waits the whole window, not a backoff of a few hundred milliseconds.
    assert_eq!(
        RetryPolicy::default().decide(&err, 1, Duration::ZERO, 0.5),
        Decision::RetryAfter(Duration::from_secs(10))
    );
    // Retry-After, when HubSpot sends one, wins over the window.
    let asked = ten_secondly_without_retry_after().insert_header("retry-after", "3");
    let err = sub_answered_once_with(asked).await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
}

#[tokio::test]
async fn a_daily_limit_without_policy_name_is_not_retried() {
    // OAuth apps get no daily headers, and the body may lack policyName.
    let response = ResponseTemplate::new(429).set_body_json(json!({
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "c-429"
    }));
    let server = MockServer::start().await;
    mount(&server, response, 1).await;
    let err = client(&server)
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one(SUB)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(!err.is_retryable());
    assert_eq!(err.retry_after(), None);
    assert_eq!(err.attempts(), 1);
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
