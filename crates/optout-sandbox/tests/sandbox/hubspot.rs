use optout_sandbox::{Api, Sandbox, Seed};
use serde_json::{json, Value};

use crate::{post, Reply};

const AUTH: (&str, &str) = ("authorization", "Bearer pat-na1-test");
/// The docs' example body, with values filled in.
const DOCS_BODY: &str = r#"{
  "emailAddress": "alice@example.com",
  "subscriptionId": "123",
  "legalBasis": "CONSENT_WITH_NOTICE",
  "legalBasisExplanation": "User clicked unsubscribe"
}"#;

fn v3(sandbox: &Sandbox) -> String {
    format!(
        "{}/communication-preferences/v3/unsubscribe",
        sandbox.base_url()
    )
}

fn v4(sandbox: &Sandbox, email: &str, query: &str) -> String {
    format!(
        "{}/communication-preferences/v4/statuses/{email}/unsubscribe-all{query}",
        sandbox.base_url()
    )
}

fn assert_uuid_like(s: &str) {
    let parts: Vec<_> = s.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "{s}");
}

fn assert_error(reply: &Reply, status: u16, category: &str) -> Value {
    assert_eq!(reply.status, status, "{reply:?}");
    let body = reply.assert_json_type().json();
    assert_eq!(body["status"], "error");
    assert_eq!(body["category"], category);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    let id = body["correlationId"].as_str().unwrap();
    assert_uuid_like(id);
    assert_eq!(reply.header("x-hubspot-correlation-id"), Some(id));
    body
}

#[tokio::test]
async fn unsubscribes_then_answers_already() {
    let sandbox = Sandbox::start().await.unwrap();
    let reply = post(&v3(&sandbox), &[AUTH], DOCS_BODY).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_uuid_like(reply.header("x-hubspot-correlation-id").unwrap());
    let body = reply.assert_json_type().json();
    assert_eq!(body["id"], "123");
    assert_eq!(body["name"], "Subscription 123");
    assert!(body["description"].is_string());
    assert_eq!(body["status"], "NOT_SUBSCRIBED");
    assert_eq!(body["sourceOfStatus"], "SUBSCRIPTION_STATUS");
    assert_eq!(body["legalBasis"], "CONSENT_WITH_NOTICE");
    assert_eq!(body["legalBasisExplanation"], "User clicked unsubscribe");
    assert!(!sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "123"));
    assert!(sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "456"));

    let again = post(&v3(&sandbox), &[AUTH], DOCS_BODY).await;
    let body = assert_error(&again, 400, "VALIDATION_ERROR");
    assert_eq!(
        body["message"],
        "alice@example.com is already unsubscribed from subscription 123"
    );
    // Addresses compare case-insensitively.
    let shouting = r#"{"subscriptionId":"123","emailAddress":"ALICE@example.com"}"#;
    assert_error(
        &post(&v3(&sandbox), &[AUTH], shouting).await,
        400,
        "VALIDATION_ERROR",
    );
}

#[tokio::test]
async fn legal_basis_is_optional_and_omitted_from_the_answer() {
    let sandbox = Sandbox::start().await.unwrap();
    let body = r#"{"subscriptionId":"9","emailAddress":"bob@example.com","extra":true}"#;
    let reply = post(&v3(&sandbox), &[AUTH, ("x-custom", "1")], body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert!(body.get("legalBasis").is_none() && body.get("legalBasisExplanation").is_none());
}

#[tokio::test]
async fn refuses_a_bad_legal_basis_and_bad_bodies() {
    let sandbox = Sandbox::start().await.unwrap();
    for body in [
        json!({"emailAddress": "alice@example.com", "subscriptionId": "123", "legalBasis": "CONSENT"}),
        json!({"emailAddress": "alice@example.com", "subscriptionId": "123", "legalBasis": "consent_with_notice"}),
        json!({"emailAddress": "alice@example.com"}),
        json!({"emailAddress": "alice@example.com", "subscriptionId": ""}),
        json!({"subscriptionId": "123"}),
        json!({"emailAddress": "not-an-email", "subscriptionId": "123"}),
    ] {
        let reply = post(&v3(&sandbox), &[AUTH], &body.to_string()).await;
        assert_error(&reply, 400, "VALIDATION_ERROR");
    }
    assert!(sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "123"));
}

#[tokio::test]
async fn refuses_missing_or_wrong_tokens() {
    let sandbox = Sandbox::builder()
        .key(Api::HubSpot, "tok")
        .start()
        .await
        .unwrap();
    for headers in [
        vec![],
        vec![("authorization", "ApiKey tok")],
        vec![("authorization", "Bearer nope")],
    ] {
        assert_error(
            &post(&v3(&sandbox), &headers, DOCS_BODY).await,
            401,
            "INVALID_AUTHENTICATION",
        );
        let all = post(
            &v4(&sandbox, "alice@example.com", "?channel=EMAIL"),
            &headers,
            "",
        )
        .await;
        assert_error(&all, 401, "INVALID_AUTHENTICATION");
    }
    assert!(sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "123"));
    let ok = post(&v3(&sandbox), &[("authorization", "Bearer tok")], DOCS_BODY).await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn closed_world_has_404_subscriptions() {
    let seed = Seed::from_json(
        r#"{"hubspot":{"topics":["123","456","789"],"subscriptions":[
            {"recipient":"alice@example.com","topic":"123"},
            {"recipient":"alice@example.com","topic":"456"}]}}"#,
    )
    .unwrap();
    let sandbox = Sandbox::builder().seed(seed).start().await.unwrap();
    let unknown = r#"{"emailAddress":"alice@example.com","subscriptionId":"999"}"#;
    assert_error(
        &post(&v3(&sandbox), &[AUTH], unknown).await,
        404,
        "OBJECT_NOT_FOUND",
    );
    let not_subscribed = r#"{"emailAddress":"alice@example.com","subscriptionId":"789"}"#;
    let reply = post(&v3(&sandbox), &[AUTH], not_subscribed).await;
    let body = assert_error(&reply, 400, "VALIDATION_ERROR");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("already unsubscribed"));
    assert_eq!(post(&v3(&sandbox), &[AUTH], DOCS_BODY).await.status, 200);
}

#[tokio::test]
async fn unsubscribe_all_lists_every_status_when_verbose() {
    let seed = Seed::new()
        .subscription(Api::HubSpot, "alice@example.com", "123")
        .subscription(Api::HubSpot, "alice@example.com", "456")
        .subscription(Api::HubSpot, "bob@example.com", "789");
    let sandbox = Sandbox::builder().seed(seed).start().await.unwrap();
    let url = v4(&sandbox, "alice@example.com", "?channel=EMAIL&verbose=true");
    let reply = post(&url, &[AUTH], "").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.header("x-hubspot-correlation-id").is_some());
    let body = reply.assert_json_type().json();
    assert_eq!(body["status"], "COMPLETE");
    assert!(body["startedAt"].is_string() && body["completedAt"].is_string());
    let results = body["results"].as_array().unwrap();
    let ids: Vec<_> = results
        .iter()
        .map(|r| {
            (
                r["subscriptionId"].clone(),
                r["setStatusSuccessReason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            (json!(123), json!("UNSUBSCRIBE_FROM_ALL_OCCURRED")),
            (json!(456), json!("UNSUBSCRIBE_FROM_ALL_OCCURRED")),
            (json!(789), json!("NO_STATUS_CHANGE")),
        ],
        "v4 types subscriptionId as int64; alice was never on 789"
    );
    for r in results {
        assert_eq!(r["subscriberIdString"], "alice@example.com");
        assert_eq!(r["status"], "UNSUBSCRIBED");
        assert_eq!(r["channel"], "EMAIL");
        assert!(r["source"].is_string() && r["timestamp"].is_string());
    }
    assert!(!sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "123"));
    assert!(sandbox.is_subscribed(Api::HubSpot, "bob@example.com", "789"));

    let again = post(&url, &[AUTH], "").await;
    assert_eq!(again.status, 200);
    let results = again.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 3);
    assert!(results
        .iter()
        .all(|r| r["setStatusSuccessReason"] == "NO_STATUS_CHANGE"));

    sandbox.subscribe(Api::HubSpot, "alice@example.com", "456");
    let third = post(&url, &[AUTH], "").await;
    assert_eq!(
        third.json()["results"][1]["setStatusSuccessReason"],
        "UNSUBSCRIBE_FROM_ALL_OCCURRED"
    );
}

#[tokio::test]
async fn unsubscribe_all_answers_an_empty_body_unless_verbose() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.subscribe(Api::HubSpot, "alice@example.com", "1");
    let reply = post(
        &v4(&sandbox, "alice@example.com", "?channel=EMAIL"),
        &[AUTH],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.text.is_empty(), "{reply:?}");
    assert!(reply.header("x-hubspot-correlation-id").is_some());
    assert!(!sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "1"));
}

fn batch(sandbox: &Sandbox) -> String {
    format!(
        "{}/communication-preferences/v4/statuses/batch/write",
        sandbox.base_url()
    )
}

#[tokio::test]
async fn batch_write_applies_each_input_and_names_each_refusal() {
    let seed = Seed::new()
        .topic(Api::HubSpot, "7")
        .subscription(Api::HubSpot, "alice@example.com", "123")
        .subscription(Api::HubSpot, "bob@example.com", "123");
    let sandbox = Sandbox::builder().seed(seed).start().await.unwrap();
    // The docs' example body, with values filled in, keys in another order, a string id.
    let body = json!({"inputs": [
        {"channel": "EMAIL", "statusState": "UNSUBSCRIBED", "subscriberIdString": "alice@example.com",
         "subscriptionId": 123, "legalBasis": "NON_GDPR", "legalBasisExplanation": "Asked by phone"},
        {"subscriptionId": "123", "subscriberIdString": "BOB@example.com", "statusState": "UNSUBSCRIBED",
         "channel": "EMAIL"},
        {"channel": "EMAIL", "statusState": "UNSUBSCRIBED", "subscriberIdString": "carol@example.com",
         "subscriptionId": 7},
        {"channel": "EMAIL", "statusState": "UNSUBSCRIBED", "subscriberIdString": "dave@example.com",
         "subscriptionId": 999},
        {"channel": "SMS", "statusState": "UNSUBSCRIBED", "subscriberIdString": "erin@example.com",
         "subscriptionId": 123}
    ]});
    let reply = post(&batch(&sandbox), &[AUTH], &body.to_string()).await;
    assert_eq!(reply.status, 207, "{reply:?}");
    assert!(reply.header("x-hubspot-correlation-id").is_some());
    let answer = reply.assert_json_type().json();
    assert_eq!(answer["status"], "COMPLETE");
    let results = answer["results"].as_array().unwrap();
    let got: Vec<_> = results
        .iter()
        .map(|r| {
            (
                r["subscriberIdString"].as_str().unwrap().to_owned(),
                r["subscriptionId"].clone(),
                r["status"].clone(),
                r["setStatusSuccessReason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "alice@example.com".into(),
                json!(123),
                json!("UNSUBSCRIBED"),
                json!("REQUESTED_CHANGE_OCCURRED")
            ),
            (
                "BOB@example.com".into(),
                json!(123),
                json!("UNSUBSCRIBED"),
                json!("REQUESTED_CHANGE_OCCURRED")
            ),
            (
                "carol@example.com".into(),
                json!(7),
                json!("UNSUBSCRIBED"),
                json!("NO_STATUS_CHANGE")
            ),
        ]
    );
    assert_eq!(results[0]["legalBasis"], "NON_GDPR");
    assert_eq!(results[0]["legalBasisExplanation"], "Asked by phone");
    assert_eq!(answer["numErrors"], 2);
    let errors = answer["errors"].as_array().unwrap();
    assert_eq!(errors[0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(
        errors[0]["context"]["subscriberIdString"],
        json!(["dave@example.com"])
    );
    assert_eq!(errors[0]["context"]["subscriptionId"], json!(["999"]));
    assert_eq!(errors[1]["category"], "VALIDATION_ERROR");
    assert_eq!(
        errors[1]["context"]["subscriberIdString"],
        json!(["erin@example.com"])
    );
    assert!(!sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "123"));
    assert!(!sandbox.is_subscribed(Api::HubSpot, "bob@example.com", "123"));

    // The same again: nothing changes, a plain 200.
    let first_two = json!({"inputs": [body["inputs"][0], body["inputs"][1]]});
    let again = post(&batch(&sandbox), &[AUTH], &first_two.to_string()).await;
    assert_eq!(again.status, 200, "{again:?}");
    let again = again.json();
    assert!(again.get("errors").is_none());
    for r in again["results"].as_array().unwrap() {
        assert_eq!(r["setStatusSuccessReason"], "NO_STATUS_CHANGE");
    }
}

#[tokio::test]
async fn batch_write_refuses_bad_bodies_and_tokens() {
    let sandbox = Sandbox::builder()
        .key(Api::HubSpot, "tok")
        .start()
        .await
        .unwrap();
    let auth = ("authorization", "Bearer tok");
    for body in ["", "{}", r#"{"inputs":[]}"#, r#"{"inputs":"x"}"#, "[1]"] {
        assert_error(
            &post(&batch(&sandbox), &[auth], body).await,
            400,
            "VALIDATION_ERROR",
        );
    }
    let one = r#"{"inputs":[{"channel":"EMAIL","statusState":"UNSUBSCRIBED","subscriberIdString":"a@example.com","subscriptionId":1}]}"#;
    assert_error(
        &post(&batch(&sandbox), &[("authorization", "Bearer nope")], one).await,
        401,
        "INVALID_AUTHENTICATION",
    );
    assert!(sandbox.is_subscribed(Api::HubSpot, "a@example.com", "1"));
    assert_eq!(post(&batch(&sandbox), &[auth], one).await.status, 200);
    assert!(!sandbox.is_subscribed(Api::HubSpot, "a@example.com", "1"));
}

#[tokio::test]
async fn unsubscribe_all_in_the_open_world() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.subscribe(Api::HubSpot, "carol@example.com", "42");
    let url = v4(
        &sandbox,
        "carol%40example.com",
        "?channel=EMAIL&verbose=true",
    );
    let reply = post(&url, &[AUTH], "").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["results"][0]["subscriptionId"], 42);
    assert!(!sandbox.is_subscribed(Api::HubSpot, "carol@example.com", "never-seen"));
    let v3_body = r#"{"emailAddress":"carol@example.com","subscriptionId":"7"}"#;
    assert_error(
        &post(&v3(&sandbox), &[AUTH], v3_body).await,
        400,
        "VALIDATION_ERROR",
    );
}

#[tokio::test]
async fn unsubscribe_all_needs_the_email_channel() {
    let sandbox = Sandbox::start().await.unwrap();
    for query in ["", "?channel=SMS", "?channel=email"] {
        let reply = post(&v4(&sandbox, "alice@example.com", query), &[AUTH], "").await;
        assert_error(&reply, 400, "VALIDATION_ERROR");
    }
    assert!(sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "1"));
}
