//! HubSpot's v4 batch write on the wire, against a loopback wiremock server: the typed call,
//! and the `unsubscribe_many` mapping built on it.

use optout_core::{
    ErrorKind, LegalBasis, Outcome, Receipt, Recipient, Topics, Unsubscribe, Unsubscriber,
};
use optout_hubspot::{BatchStatus, BatchWriteRequest, HubSpot, StatusState, StatusWrite};
use optout_testkit::received;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::*;

const BATCH_PATH: &str = "/communication-preferences/v4/statuses/batch/write";
const V3_PATH: &str = "/communication-preferences/v3/unsubscribe";

fn email(name: &str) -> Recipient {
    Recipient::email(format!("{name}@example.com")).unwrap()
}

fn only(name: &str, topics: &[&str]) -> Unsubscribe {
    Unsubscribe::new(email(name), Topics::only(topics.iter().copied()))
}

/// One status of a batch answer, as the docs show it, for `name`@example.com.
fn status(name: &str, subscription_id: u64, state: &str, reason: &str) -> Value {
    json!({
        "channel": "EMAIL",
        "source": "<string>",
        "status": state,
        "subscriberIdString": format!("{name}@example.com"),
        "subscriptionId": subscription_id,
        "timestamp": "2023-11-07T05:31:56Z",
        "setStatusSuccessReason": reason,
        "subscriptionName": "<string>"
    })
}

/// The docs' batch answer with `results` and `errors`.
fn batch_answer(results: Vec<Value>, errors: Vec<Value>) -> Value {
    let num_errors = errors.len();
    json!({
        "completedAt": "2023-11-07T05:31:56Z",
        "results": results,
        "startedAt": "2023-11-07T05:31:56Z",
        "status": "COMPLETE",
        "errors": errors,
        "numErrors": num_errors,
        "links": {},
        "requestedAt": "2023-11-07T05:31:56Z"
    })
}

/// One input of a batch write body, as the docs show it.
fn input(name: &str, subscription_id: u64) -> Value {
    json!({
        "subscriberIdString": format!("{name}@example.com"),
        "channel": "EMAIL",
        "statusState": "UNSUBSCRIBED",
        "subscriptionId": subscription_id
    })
}

async fn mount_batch(server: &MockServer, response: ResponseTemplate, times: u64) {
    let given = Mock::given(method("POST")).and(path(BATCH_PATH));
    optout_testkit::mount(server, given, response, times).await;
}

/// Mounts the v3 answer for `name`'s unsubscribe from `id`, expected `times` times.
async fn mount_v3(server: &MockServer, name: &str, id: &str, times: u64) {
    let given = Mock::given(method("POST"))
        .and(path(V3_PATH))
        .and(body_partial_json(
            json!({"emailAddress": format!("{name}@example.com"), "subscriptionId": id}),
        ));
    let answer = json!({"id": id, "name": "N", "description": "D",
                        "status": "NOT_SUBSCRIBED", "sourceOfStatus": "SUBSCRIPTION_STATUS"});
    optout_testkit::mount(server, given, ok(answer), times).await;
}

fn outcome(result: &Result<Receipt, optout_core::Error>) -> Outcome {
    result
        .as_ref()
        .map(|r| r.outcome)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn unsubscribe_many_folds_the_pairs_into_one_batch_write_and_maps_each_answer_back() {
    let server = MockServer::start().await;
    let answer = batch_answer(
        vec![
            status("alice", 111, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
            status("alice", 222, "UNSUBSCRIBED", "NO_STATUS_CHANGE"),
            status("bob", 111, "UNSUBSCRIBED", "NO_STATUS_CHANGE"),
        ],
        vec![json!({
            "category": "VALIDATION_ERROR",
            "message": "carol@example.com is not a valid contact",
            "context": {"subscriberIdString": ["carol@example.com"]},
            "errors": [], "links": {}, "status": "error"
        })],
    );
    mount_batch(
        &server,
        ResponseTemplate::new(207)
            .set_body_json(answer)
            .insert_header("x-hubspot-correlation-id", "c-batch"),
        1,
    )
    .await;
    let hubspot = client(&server);
    assert_eq!(hubspot.batch_size(), 100);
    let basis = (LegalBasis::ConsentWithNotice, "User clicked unsubscribe");
    let requests = [
        only("alice", &["111", "222"]).legal_basis(basis.0, basis.1),
        only("bob", &["111"]),
        only("carol", &["111"]),
        only("dave", &["111"]),
        Unsubscribe::new(Recipient::phone("+254700000000").unwrap(), Topics::one("1")),
        only("alice", &["111"]).legal_basis(basis.0, basis.1),
    ];
    let results = hubspot.unsubscribe_many(&requests).await;
    let mut alice_111 = input("alice", 111);
    alice_111["legalBasis"] = json!("CONSENT_WITH_NOTICE");
    alice_111["legalBasisExplanation"] = json!("User clicked unsubscribe");
    let mut alice_222 = input("alice", 222);
    alice_222["legalBasis"] = json!("CONSENT_WITH_NOTICE");
    alice_222["legalBasisExplanation"] = json!("User clicked unsubscribe");
    assert_sent(
        &server,
        BATCH_PATH,
        None,
        Some(json!({"inputs": [
            alice_111,
            alice_222,
            input("bob", 111),
            input("carol", 111),
            input("dave", 111)
        ]})),
    )
    .await;
    assert_eq!(results.len(), requests.len());
    let alice = results[0].as_ref().unwrap();
    assert_eq!(alice.outcome, Outcome::Unsubscribed);
    assert_eq!(alice.topics, Topics::only(["111", "222"]));
    assert_eq!(alice.reference.as_deref(), Some("c-batch,c-batch"));
    assert_eq!(outcome(&results[1]), Outcome::AlreadyUnsubscribed);
    let carol = results[2].as_ref().unwrap_err();
    assert_eq!(carol.kind(), ErrorKind::Rejected);
    assert_eq!(carol.code(), Some("VALIDATION_ERROR"));
    assert!(carol.to_string().contains("not a valid contact"), "{carol}");
    let dave = results[3].as_ref().unwrap_err();
    assert_eq!(dave.kind(), ErrorKind::Decode, "never done: {dave}");
    assert!(dave.is_retryable() && dave.was_sent(), "{dave}");
    let phone = results[4].as_ref().unwrap_err();
    assert_eq!(phone.kind(), ErrorKind::Unsupported);
    assert!(!phone.was_sent());
    assert_eq!(
        outcome(&results[5]),
        Outcome::Unsubscribed,
        "the same pair again"
    );
}

#[tokio::test]
async fn a_pair_the_answer_does_not_confirm_is_never_done() {
    let cases = [
        (
            batch_answer(
                vec![
                    status("alice", 1, "SUBSCRIBED", "NO_STATUS_CHANGE"),
                    status("bob", 1, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
                ],
                vec![],
            ),
            [Some("SUBSCRIBED"), None],
        ),
        (
            {
                let mut body = batch_answer(
                    vec![
                        status("alice", 1, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
                        status("bob", 1, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
                    ],
                    vec![],
                );
                body["status"] = json!("PROCESSING");
                body
            },
            [Some("PROCESSING"), Some("PROCESSING")],
        ),
        (
            // Another address's status confirms nothing for alice.
            batch_answer(
                vec![
                    status("mallory", 1, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
                    status("bob", 1, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
                ],
                vec![],
            ),
            [Some(""), None],
        ),
    ];
    for (body, codes) in cases {
        let server = MockServer::start().await;
        mount_batch(&server, ok(body), 1).await;
        let results = without_retries(&server.uri())
            .build()
            .unwrap()
            .unsubscribe_many(&[only("alice", &["1"]), only("bob", &["1"])])
            .await;
        for (result, code) in results.iter().zip(codes) {
            match code {
                None => assert_eq!(outcome(result), Outcome::Unsubscribed),
                Some(code) => {
                    let err = result.as_ref().unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
                    assert_eq!(err.code(), Some(code).filter(|c| !c.is_empty()), "{err}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_status_is_matched_by_address_in_any_case_and_by_id_as_a_number_or_its_text() {
    // The address in another case and the id as text confirm the pair; an id whose text is
    // not the one written (a leading zero), a negative one or none at all confirm nothing.
    let with_id = |name: &str, id: Value| {
        let mut s = status(name, 0, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED");
        s["subscriberIdString"] = json!(format!("{}@EXAMPLE.com", name.to_uppercase()));
        match id {
            Value::Null => drop(s.as_object_mut().map(|m| m.remove("subscriptionId"))),
            id => s["subscriptionId"] = id,
        }
        s
    };
    let body = batch_answer(
        vec![
            with_id("alice", json!("7")),
            with_id("bob", json!("07")),
            with_id("carol", json!(-7)),
            with_id("dave", Value::Null),
            with_id("erin", json!(7)),
        ],
        vec![],
    );
    let server = MockServer::start().await;
    mount_batch(&server, ok(body), 1).await;
    let names = ["alice", "bob", "carol", "dave", "erin"];
    let requests: Vec<Unsubscribe> = names.iter().map(|n| only(n, &["7"])).collect();
    let results = without_retries(&server.uri())
        .build()
        .unwrap()
        .unsubscribe_many(&requests)
        .await;
    for (name, result) in names.iter().zip(&results) {
        match *name {
            "alice" | "erin" => assert_eq!(outcome(result), Outcome::Unsubscribed, "{name}"),
            _ => {
                let err = result.as_ref().unwrap_err();
                assert!(err.is_retryable(), "{name}: {err}");
                assert!(err.to_string().contains("no status and no error"), "{err}");
            }
        }
    }
}

#[tokio::test]
async fn an_error_naming_a_subscription_fails_every_pair_of_it_and_only_those() {
    let server = MockServer::start().await;
    let answer = batch_answer(
        vec![status(
            "alice",
            1,
            "UNSUBSCRIBED",
            "REQUESTED_CHANGE_OCCURRED",
        )],
        vec![json!({
            "category": "OBJECT_NOT_FOUND",
            "message": "Subscription 7 not found",
            "context": {"subscriptionId": ["7"]}
        })],
    );
    mount_batch(&server, ResponseTemplate::new(207).set_body_json(answer), 1).await;
    let results = client(&server)
        .unsubscribe_many(&[only("alice", &["1", "7"]), only("bob", &["7"])])
        .await;
    let alice = results[0].as_ref().unwrap_err();
    assert_eq!(alice.kind(), ErrorKind::Partial);
    let partial = alice.partial().unwrap();
    assert_eq!(partial.done[0].topics, Topics::one("1"));
    assert_eq!(partial.failed[0].0, "7");
    assert_eq!(partial.failed[0].1.kind(), ErrorKind::NotFound);
    assert_eq!(
        results[1].as_ref().unwrap_err().code(),
        Some("OBJECT_NOT_FOUND")
    );
}

#[tokio::test]
async fn a_token_without_the_batch_scope_falls_back_to_v3_and_stops_trying_the_batch() {
    let server = MockServer::start().await;
    let refusal = ResponseTemplate::new(403).set_body_json(json!({
        "status": "error",
        "message": "This app hasn't been granted all required scopes to make this call.",
        "correlationId": "c-403",
        "errors": [{"message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": ["communication_preferences.statuses.batch.write"]}}],
        "category": "MISSING_SCOPES"
    }));
    mount_batch(&server, refusal, 1).await;
    mount_v3(&server, "alice", "1", 2).await;
    mount_v3(&server, "bob", "2", 2).await;
    let hubspot = client(&server);
    let requests = [only("alice", &["1"]), only("bob", &["2"])];
    for _ in 0..2 {
        let results = hubspot.unsubscribe_many(&requests).await;
        for result in &results {
            assert_eq!(outcome(result), Outcome::Unsubscribed);
        }
    }
    // The batch was tried once; the second run went straight to v3.
    let batch_calls = received(&server)
        .await
        .iter()
        .filter(|r| r.url.path() == BATCH_PATH)
        .count();
    assert_eq!(batch_calls, 1);
}

#[tokio::test]
async fn a_batch_refused_as_a_whole_is_sent_pair_by_pair() {
    let server = MockServer::start().await;
    let refusal = ResponseTemplate::new(400).set_body_json(error_body(
        "Invalid input JSON",
        "VALIDATION_ERROR",
        "c-400",
    ));
    mount_batch(&server, refusal, 1).await;
    mount_v3(&server, "alice", "1", 1).await;
    mount_v3(&server, "bob", "2", 1).await;
    let results = client(&server)
        .unsubscribe_many(&[only("alice", &["1"]), only("bob", &["2"])])
        .await;
    for result in &results {
        assert_eq!(outcome(result), Outcome::Unsubscribed);
    }
}

#[tokio::test]
async fn a_batch_that_fails_as_a_whole_fails_every_request_in_it() {
    let server = MockServer::start().await;
    mount_batch(
        &server,
        ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        1,
    )
    .await;
    let results = without_retries(&server.uri())
        .build()
        .unwrap()
        .unsubscribe_many(&[only("alice", &["1"]), only("bob", &["2"])])
        .await;
    for result in &results {
        let err = result.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server);
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn pairs_go_in_writes_of_at_most_batch_size() {
    let server = MockServer::start().await;
    let answer = batch_answer(
        vec![
            status("alice", 1, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
            status("bob", 1, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
            status("carol", 1, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
        ],
        vec![],
    );
    mount_batch(&server, ok(answer), 2).await;
    let hubspot: HubSpot = HubSpot::builder()
        .access_token(TOKEN)
        .base_url(server.uri())
        .batch_size(2)
        .build()
        .unwrap();
    assert_eq!(hubspot.batch_size(), 2);
    let results = hubspot
        .unsubscribe_many(&[
            only("alice", &["1"]),
            only("bob", &["1"]),
            only("carol", &["1"]),
        ])
        .await;
    for result in &results {
        assert_eq!(outcome(result), Outcome::Unsubscribed);
    }
    let sizes: Vec<usize> = received(&server)
        .await
        .iter()
        .map(|r| {
            optout_testkit::json_body(r)["inputs"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [2, 1]);
}

#[tokio::test]
async fn batch_size_one_sends_v3_calls_and_zero_is_refused() {
    let server = MockServer::start().await;
    mount_v3(&server, "alice", "1", 1).await;
    mount_v3(&server, "bob", "2", 1).await;
    let hubspot = HubSpot::builder()
        .access_token(TOKEN)
        .base_url(server.uri())
        .batch_size(1)
        .build()
        .unwrap();
    assert_eq!(hubspot.batch_size(), 1);
    let results = hubspot
        .unsubscribe_many(&[only("alice", &["1"]), only("bob", &["2"])])
        .await;
    for result in &results {
        assert_eq!(outcome(result), Outcome::Unsubscribed);
    }
    let err = HubSpot::builder()
        .access_token(TOKEN)
        .batch_size(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("batch_size"), "{err}");
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
async fn the_owned_call_sends_the_same_write_and_answers_the_same() {
    // `unsubscribe_owned` (what the engine calls) moves each request's recipient and topics
    // into its receipt; it must send what `unsubscribe_many` sends and answer what it answers.
    let answer = batch_answer(
        vec![
            status("alice", 111, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
            status("alice", 222, "UNSUBSCRIBED", "NO_STATUS_CHANGE"),
            status("bob", 111, "UNSUBSCRIBED", "NO_STATUS_CHANGE"),
            status("erin", 111, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
        ],
        vec![json!({
            "category": "VALIDATION_ERROR",
            "message": "carol@example.com is not a valid contact",
            "context": {"subscriberIdString": ["carol@example.com"]},
        })],
    );
    let requests = vec![
        only("alice", &["111", "222"]),
        only("bob", &["111"]),
        only("carol", &["111"]),
        only("dave", &["111"]),
        only("erin", &["111", "111"]), // a repeat, dropped: topics ["111"]
        Unsubscribe::new(Recipient::phone("+254700000000").unwrap(), Topics::one("1")),
    ];
    let summary = |r: &Result<Receipt, optout_core::Error>| match r {
        Ok(r) => format!(
            "{} {:?} {:?} {:?}",
            r.recipient, r.topics, r.outcome, r.reference
        ),
        Err(e) => format!("error {e}"),
    };
    let mut answers = Vec::new();
    let mut bodies = Vec::new();
    for owned in [false, true] {
        let server = MockServer::start().await;
        mount_batch(
            &server,
            ResponseTemplate::new(207)
                .set_body_json(&answer)
                .insert_header("x-hubspot-correlation-id", "c-1"),
            1,
        )
        .await;
        let hubspot = client(&server);
        let results = if owned {
            hubspot.unsubscribe_owned(requests.clone()).await
        } else {
            hubspot.unsubscribe_many(&requests).await
        };
        answers.push(results.iter().map(summary).collect::<Vec<_>>());
        let sent = received(&server).await;
        bodies.push(
            sent.iter()
                .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0].len(), 1);
    assert_eq!(answers[0], answers[1]);
    assert!(
        answers[1][4].contains(r#"Only(["111"])"#),
        "{}",
        answers[1][4]
    );
    assert!(answers[1][0].contains("c-1,c-1"), "{}", answers[1][0]);
    assert!(answers[1][2].starts_with("error "), "{}", answers[1][2]);
}
