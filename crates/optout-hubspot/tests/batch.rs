//! HubSpot's v4 batch write on the wire, against a loopback wiremock server: the typed call,
//! and the `unsubscribe_many` mapping built on it.

use optout_core::LegalBasis;
use optout_hubspot::{BatchStatus, BatchWriteRequest, StatusState, StatusWrite};
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

mod support;
use support::*;

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
