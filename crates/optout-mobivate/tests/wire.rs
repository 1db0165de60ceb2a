//! Mobivate on the wire, against a loopback wiremock server, with the docs' own examples.

use optout_core::{
    Error, ErrorKind, Outcome, Receipt, Recipient, Topics, Unsubscribe, Unsubscriber,
};
use optout_mobivate::{signature, Mobivate, MobivateBuilder};
use optout_testkit::{fast_retry, mount_first, only_request, received, renderings, Expected};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The docs' worked example: account, campaign, number and the signature they give.
const ACCOUNT: &str = "43e36f54eef111e270639871000000f1";
const CAMPAIGN: &str = "c71e2c2ee68b410a82d6c5f910c2d428";
const MSISDN: &str = "254700000000";
const SIGNATURE: &str = "1af289e14aa593c843da7cd869a8e2f7";
/// A campaign id that must stay one path segment.
const ODD_CAMPAIGN: &str = "a b/c?d";
const ODD_CAMPAIGN_PATH: &str = "/subscriptions/v1/a%20b%2Fc%3Fd/unsubscribe";

fn builder(base_url: &str) -> MobivateBuilder {
    Mobivate::builder()
        .account_id(ACCOUNT)
        .base_url(base_url)
        .retry_policy(fast_retry())
}

fn client(server: &MockServer) -> Mobivate {
    builder(&server.uri()).build().unwrap()
}

fn client_without_retries(server: &MockServer) -> Mobivate {
    builder(&server.uri()).max_retries(0).build().unwrap()
}

fn phone() -> Recipient {
    Recipient::phone(MSISDN).unwrap()
}

fn request(topics: Topics) -> Unsubscribe {
    Unsubscribe::new(phone(), topics)
}

fn campaign_path(campaign: &str) -> String {
    format!("/subscriptions/v1/{campaign}/unsubscribe")
}

/// The docs' success sample, with its Python `True`/`Null` written as JSON.
fn docs_success() -> Value {
    json!({
        "authenticated": true,
        "valid_msisdn": true,
        "valid_campaign": true,
        "campaign_status": "active",
        "campaign_name": "Test Campaign",
        "campaign_service": "12345",
        "state": "unsubscribed",
        "error": null,
        "reference": "AP:aaaaaaa-bbbbbbbbb-cccccccc"
    })
}

/// The same envelope, as Mobivate answers a refusal.
fn refusal(authenticated: bool, valid_msisdn: bool, valid_campaign: bool, error: Value) -> Value {
    json!({
        "authenticated": authenticated,
        "valid_msisdn": valid_msisdn,
        "valid_campaign": valid_campaign,
        "campaign_status": null,
        "campaign_name": null,
        "campaign_service": null,
        "state": null,
        "error": error,
        "reference": null
    })
}

async fn mount(server: &MockServer, path_: &str, response: ResponseTemplate, times: u64) {
    let unsubscribe = Mock::given(method("POST")).and(path(path_));
    optout_testkit::mount(server, unsubscribe, response, times).await;
}

/// `request(Topics::one(CAMPAIGN))` sent by `client` to a server that answers it once with
/// `response`.
async fn campaign_answered_with(
    response: ResponseTemplate,
    client: fn(&MockServer) -> Mobivate,
) -> Result<Receipt, Error> {
    let server = MockServer::start().await;
    mount(&server, &campaign_path(CAMPAIGN), response, 1).await;
    client(&server)
        .unsubscribe(&request(Topics::one(CAMPAIGN)))
        .await
}

/// Asserts one request, whole: method, path, query, headers, body.
fn assert_request(r: &Request, path: &str, body: Value) {
    let user_agent = format!("optout-mobivate/{}", env!("CARGO_PKG_VERSION"));
    let expected = Expected {
        method: "POST",
        path,
        query: None,
        // Mobivate signs the body only.
        authorization: None,
        user_agent: &user_agent,
        headers: &[],
        body: Some(body),
    };
    optout_testkit::assert_request(r, &expected);
    let raw = String::from_utf8_lossy(&r.body);
    assert!(
        !raw.contains(ACCOUNT),
        "the account id is never sent: {raw}"
    );
}

#[tokio::test]
async fn sends_the_docs_signed_request_and_decodes_the_docs_answer() {
    let server = MockServer::start().await;
    mount(
        &server,
        &campaign_path(CAMPAIGN),
        ResponseTemplate::new(200).set_body_json(docs_success()),
        1,
    )
    .await;
    let receipt = client(&server)
        .unsubscribe(&request(Topics::one(CAMPAIGN)))
        .await
        .unwrap();
    assert_request(
        &only_request(&server).await,
        &campaign_path(CAMPAIGN),
        json!({"msisdn": MSISDN, "signature": SIGNATURE}),
    );
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert_eq!(receipt.topics, Topics::one(CAMPAIGN));
    assert_eq!(receipt.recipient, phone());
    assert_eq!(
        receipt.reference.as_deref(),
        Some("AP:aaaaaaa-bbbbbbbbb-cccccccc")
    );
}

#[tokio::test]
async fn the_typed_call_reads_every_documented_field() {
    let server = MockServer::start().await;
    let mut body = docs_success();
    body["unknown_field"] = json!({"tolerated": true});
    mount(
        &server,
        &campaign_path(CAMPAIGN),
        ResponseTemplate::new(200).set_body_json(body),
        1,
    )
    .await;
    let answer = client(&server)
        .unsubscribe_campaign(CAMPAIGN, MSISDN)
        .await
        .unwrap();
    assert_eq!(answer.authenticated, Some(true));
    assert_eq!(answer.valid_msisdn, Some(true));
    assert_eq!(answer.valid_campaign, Some(true));
    assert_eq!(answer.campaign_status.as_deref(), Some("active"));
    assert_eq!(answer.campaign_name.as_deref(), Some("Test Campaign"));
    assert_eq!(answer.campaign_service.as_deref(), Some("12345"));
    assert_eq!(answer.state.as_deref(), Some("unsubscribed"));
    assert_eq!(answer.error, None);
    assert_eq!(
        answer.reference.as_deref(),
        Some("AP:aaaaaaa-bbbbbbbbb-cccccccc")
    );
    assert!(answer.is_unsubscribed());
}

#[tokio::test]
async fn the_keyword_is_sent_only_when_configured_and_the_id_is_one_segment() {
    let server = MockServer::start().await;
    mount(
        &server,
        ODD_CAMPAIGN_PATH,
        ResponseTemplate::new(200).set_body_json(docs_success()),
        1,
    )
    .await;
    builder(&server.uri())
        .keyword("STOP")
        .build()
        .unwrap()
        .unsubscribe(&request(Topics::one(ODD_CAMPAIGN)))
        .await
        .unwrap();
    assert_request(
        &received(&server).await[0],
        ODD_CAMPAIGN_PATH,
        json!({
            "msisdn": MSISDN,
            "signature": signature(ACCOUNT, ODD_CAMPAIGN, MSISDN),
            "keyword": "STOP"
        }),
    );
}

#[tokio::test]
async fn the_state_is_compared_case_insensitively() {
    let mut body = docs_success();
    body["state"] = json!("UNSUBSCRIBED");
    let response = ResponseTemplate::new(200).set_body_json(body);
    let receipt = campaign_answered_with(response, client).await.unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
}

#[tokio::test]
async fn a_2xx_with_another_state_or_none_is_unconfirmed_naming_the_state() {
    let mut body = docs_success();
    body["state"] = json!("subscribed");
    body["campaign_status"] = json!("paused");
    body["reference"] = json!(null);
    let response = ResponseTemplate::new(200).set_body_json(body);
    let err = campaign_answered_with(response, client_without_retries)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.was_sent() && err.is_retryable(), "{err}");
    assert_eq!(err.status(), Some(200), "{err}");
    let message = err.message().unwrap();
    assert!(message.contains("HTTP 200"), "{message}");
    assert!(message.contains("state \"subscribed\""), "{message}");
    assert!(message.contains("campaign status \"paused\""), "{message}");
    assert!(message.contains("not confirmed"), "{message}");

    for body in [json!({}), json!({"state": null}), json!({"state": ""})] {
        let response = ResponseTemplate::new(200).set_body_json(body);
        let err = campaign_answered_with(response, client_without_retries)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        assert!(err.is_retryable(), "{err}");
        assert!(err.message().unwrap().contains("not confirmed"), "{err}");
    }
}

#[tokio::test]
async fn each_false_flag_is_named_and_explained_with_mobivates_text() {
    let cases = [
        (
            200,
            refusal(false, true, true, json!("Invalid signature")),
            ErrorKind::Rejected,
            "authenticated is false: the signature does not match MOBIVATE_ACCOUNT_ID",
        ),
        (
            401,
            refusal(false, true, true, json!(null)),
            ErrorKind::Unauthorized,
            "authenticated is false",
        ),
        (
            400,
            refusal(true, false, true, json!("Invalid MSISDN")),
            ErrorKind::Rejected,
            "valid_msisdn is false: Mobivate does not take this phone number",
        ),
        (
            404,
            refusal(true, true, false, json!("Campaign not found")),
            ErrorKind::NotFound,
            "valid_campaign is false: the campaign id is not a campaign of this account",
        ),
    ];
    for (status, body, kind, expected) in cases {
        let said = body["error"].as_str().map(str::to_owned);
        let response = ResponseTemplate::new(status).set_body_json(body);
        let err = campaign_answered_with(response, client).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.code(), None);
        assert!(!err.is_retryable(), "{status}");
        assert_eq!(err.attempts(), 1, "{status} is not retried");
        let message = err.message().unwrap();
        assert!(message.starts_with(expected), "{message}");
        if let Some(said) = said {
            assert!(
                message.ends_with(&format!("Mobivate says: {said}")),
                "{message}"
            );
        }
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[tokio::test]
async fn several_false_flags_are_all_named() {
    let response =
        ResponseTemplate::new(400).set_body_json(refusal(true, false, false, json!(null)));
    let err = campaign_answered_with(response, client).await.unwrap_err();
    let message = err.message().unwrap();
    assert!(message.contains("valid_msisdn is false"), "{message}");
    assert!(message.contains("valid_campaign is false"), "{message}");
    assert!(!message.contains("authenticated is false"), "{message}");
}

#[tokio::test]
async fn an_error_with_only_mobivates_text_or_no_json_keeps_what_it_said() {
    let response = ResponseTemplate::new(400).set_body_json(json!({"error": "Malformed request"}));
    let err = campaign_answered_with(response, client).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.message(), Some("Mobivate says: Malformed request"));

    let response = ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>");
    let err = campaign_answered_with(response, client_without_retries)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(err.is_retryable());
    assert_eq!(err.message(), Some("\"<html>Bad Gateway</html>\""));
}

/// The docs' success sample verbatim (provider-docs/mobivate-unsubscribe.md), in Python
/// notation: `True` and `Null` are not JSON.
const DOCS_SUCCESS_VERBATIM: &str = r#"{
  "authenticated" : True,
  "valid_msisdn" : True,
  "valid_campaign" : True,
  "campaign_status" : "active",
  "campaign_name" : "Test Campaign",
  "campaign_service" : "12345",
  "state" : "unsubscribed",
  "error" : Null,
  "reference": "AP:aaaaaaa-bbbbbbbbb-cccccccc"
}"#;

#[tokio::test]
async fn the_docs_own_answer_in_python_notation_is_a_success() {
    let response = ResponseTemplate::new(200).set_body_string(DOCS_SUCCESS_VERBATIM);
    let receipt = campaign_answered_with(response, client).await.unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert_eq!(
        receipt.reference.as_deref(),
        Some("AP:aaaaaaa-bbbbbbbbb-cccccccc")
    );
}

#[tokio::test]
async fn python_notation_confirms_only_what_json_would() {
    // A `False` flag is still a refusal, a `Null` state still confirms nothing, and the
    // words inside strings are left alone.
    let refused =
        DOCS_SUCCESS_VERBATIM.replace(r#""valid_campaign" : True"#, r#""valid_campaign" : False"#);
    let response = ResponseTemplate::new(200).set_body_string(refused);
    let err = campaign_answered_with(response, client).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
    assert!(
        err.message().unwrap().contains("valid_campaign is false"),
        "{err}"
    );

    let no_state = DOCS_SUCCESS_VERBATIM.replace(r#""unsubscribed""#, "None");
    let response = ResponseTemplate::new(200).set_body_string(no_state);
    let err = campaign_answered_with(response, client_without_retries)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.message().unwrap().contains("no state"), "{err}");

    let in_string = DOCS_SUCCESS_VERBATIM.replace("Test Campaign", "True \\\" Null");
    let response = ResponseTemplate::new(200).set_body_string(in_string);
    let receipt = campaign_answered_with(response, client).await.unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
}

#[tokio::test]
async fn a_garbled_success_is_a_decode_error_with_a_snippet() {
    // Sent once: this test is about the message. A garbled 200 is retryable (its effect is
    // unknown, an unsubscribe is safe to repeat), so a client with retries would resend it.
    // Not JSON, and not the docs' Python notation either (an unknown bare word).
    let response = ResponseTemplate::new(200)
        .set_body_string(r#"{"authenticated" : Yes, "state" : "unsubscribed", "error" : Null}"#);
    let err = campaign_answered_with(response, client_without_retries)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("Yes"), "{err}");
    assert!(err.is_retryable() && err.was_sent(), "{err}");
    for body in ["", "<html>ok</html>", "{\"state\": \"unsubscribed\""] {
        let response = ResponseTemplate::new(200).set_body_string(body);
        let err = campaign_answered_with(response, client_without_retries)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body:?}: {err}");
        assert!(err.is_retryable(), "{body:?}: {err}");
    }
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let server = MockServer::start().await;
    let busy = ResponseTemplate::new(503).set_body_string("busy");
    mount_first(&server, Mock::given(method("POST")), busy, 2).await;
    mount(
        &server,
        &campaign_path(CAMPAIGN),
        ResponseTemplate::new(200).set_body_json(docs_success()),
        1,
    )
    .await;
    let receipt = client(&server)
        .unsubscribe(&request(Topics::one(CAMPAIGN)))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    let requests = received(&server).await;
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_request(
            r,
            &campaign_path(CAMPAIGN),
            json!({"msisdn": MSISDN, "signature": SIGNATURE}),
        );
    }
}

#[tokio::test]
async fn several_campaigns_get_one_signed_call_each_and_join_references() {
    let server = MockServer::start().await;
    for (campaign, reference) in [("camp-1", "AP:1"), ("camp-2", "AP:2")] {
        let mut body = docs_success();
        body["reference"] = json!(reference);
        mount(
            &server,
            &campaign_path(campaign),
            ResponseTemplate::new(200).set_body_json(body),
            1,
        )
        .await;
    }
    let receipt = client(&server)
        .unsubscribe(&request(Topics::only(["camp-1", "camp-2"])))
        .await
        .unwrap();
    assert_eq!(receipt.topics, Topics::only(["camp-1", "camp-2"]));
    assert_eq!(receipt.reference.as_deref(), Some("AP:1,AP:2"));
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    for campaign in ["camp-1", "camp-2"] {
        let r = requests
            .iter()
            .find(|r| r.url.path() == campaign_path(campaign))
            .unwrap();
        assert_request(
            r,
            &campaign_path(campaign),
            json!({"msisdn": MSISDN, "signature": signature(ACCOUNT, campaign, MSISDN)}),
        );
    }
}

#[tokio::test]
async fn a_failed_campaign_never_hides_the_done_ones() {
    let server = MockServer::start().await;
    mount(
        &server,
        &campaign_path("camp-1"),
        ResponseTemplate::new(200).set_body_json(docs_success()),
        1,
    )
    .await;
    mount(
        &server,
        &campaign_path("gone"),
        ResponseTemplate::new(404).set_body_json(refusal(true, true, false, json!(null))),
        1,
    )
    .await;
    let err = client(&server)
        .unsubscribe(&request(Topics::only(["camp-1", "gone"])))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Partial);
    let partial = err.partial().unwrap();
    assert_eq!(partial.done.len(), 1);
    assert_eq!(partial.done[0].topics, Topics::one("camp-1"));
    assert_eq!(partial.done[0].outcome, Outcome::Unsubscribed);
    assert_eq!(
        partial.done[0].reference.as_deref(),
        Some("AP:aaaaaaa-bbbbbbbbb-cccccccc")
    );
    assert_eq!(partial.failed.len(), 1);
    assert_eq!(partial.failed[0].0, "gone");
    assert_eq!(partial.failed[0].1.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn bad_input_is_refused_with_nothing_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(docs_success()))
        .expect(0)
        .mount(&server)
        .await;
    let mobivate = client(&server);
    let raw_phone = |msisdn: &str| {
        Unsubscribe::new(
            Recipient::Phone {
                msisdn: msisdn.into(),
            },
            Topics::one(CAMPAIGN),
        )
    };
    let invalid = [
        (raw_phone("+254700000000"), "recipient"),
        (raw_phone("12345"), "recipient"),
        (raw_phone("0700000000"), "recipient"),
        (raw_phone("4402079460000"), "recipient"),
        (raw_phone(""), "recipient"),
        (request(Topics::one("")), "campaign"),
        (request(Topics::one(".")), "campaign"),
        (request(Topics::Only(vec![])), "campaign"),
    ];
    for (request, field) in invalid {
        let err = mobivate.unsubscribe(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(!err.was_sent());
    }
    let unsupported = [
        request(Topics::All),
        Unsubscribe::new(
            Recipient::email("a@example.com").unwrap(),
            Topics::one(CAMPAIGN),
        ),
        Unsubscribe::new(Recipient::subscriber("s1").unwrap(), Topics::one(CAMPAIGN)),
        Unsubscribe::new(Recipient::device("tok").unwrap(), Topics::one(CAMPAIGN)),
    ];
    for request in unsupported {
        let err = mobivate.unsubscribe(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("nothing was sent"), "{err}");
    }
    for (campaign, msisdn, field) in [
        (CAMPAIGN, "0712 345 678", "msisdn"),
        (CAMPAIGN, "0712345678", "msisdn"),
        // The UK trunk prefix kept: another number than the one meant.
        (CAMPAIGN, "4402079460000", "msisdn"),
        ("..", MSISDN, "campaign"),
    ] {
        let err = mobivate
            .unsubscribe_campaign(campaign, msisdn)
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
    }
}

#[tokio::test]
async fn the_account_id_never_shows_in_debug_display_or_errors() {
    let server = MockServer::start().await;
    mount(
        &server,
        &campaign_path(CAMPAIGN),
        ResponseTemplate::new(401).set_body_json(refusal(
            false,
            true,
            true,
            json!(format!("signature does not match account {ACCOUNT}")),
        )),
        1,
    )
    .await;
    let mobivate = builder(&server.uri()).keyword("STOP").build().unwrap();
    let err = mobivate
        .unsubscribe(&request(Topics::one(CAMPAIGN)))
        .await
        .unwrap_err();
    assert!(err.message().unwrap().contains("[REDACTED]"), "{err}");
    let refused = builder("http://127.0.0.1:1")
        .max_retries(0)
        .build()
        .unwrap()
        .unsubscribe(&request(Topics::one(CAMPAIGN)))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Network);
    let builder_debug = format!("{:?}", Mobivate::builder().account_id(ACCOUNT));
    let text = format!(
        "{mobivate:?} {builder_debug} {} {}",
        renderings(&err),
        renderings(&refused)
    );
    assert!(!text.contains(ACCOUNT), "{text}");
    assert!(!text.contains("43e36f54"), "{text}");
}

#[test]
fn building_needs_an_account_id_a_usable_keyword_and_base_url() {
    let err = Mobivate::builder().build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("MOBIVATE_ACCOUNT_ID"), "{err}");
    let err = Mobivate::builder().account_id(" ").build().unwrap_err();
    assert!(err.to_string().contains("MOBIVATE_ACCOUNT_ID"), "{err}");
    let err = Mobivate::builder()
        .account_id(ACCOUNT)
        .keyword("")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("MOBIVATE_KEYWORD"), "{err}");
    let err = Mobivate::builder()
        .account_id(ACCOUNT)
        .base_url("ftp://x")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let mobivate = Mobivate::builder().account_id(ACCOUNT).build().unwrap();
    assert_eq!(
        mobivate.base_url().as_str(),
        "https://subscription-api.mobivate.com/"
    );
    let body = mobivate.request(CAMPAIGN, MSISDN);
    assert_eq!(body.signature, SIGNATURE);
    assert_eq!(body.keyword, None);
}

#[test]
fn a_national_number_needs_the_default_region() {
    let without = Mobivate::builder().account_id(ACCOUNT).build().unwrap();
    assert_eq!(without.default_region(), None);
    let err = without.phone("0700 000000").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("default region"), "{err}");
    assert_eq!(
        without.phone("+254 700 000000").unwrap(),
        Recipient::Phone {
            msisdn: MSISDN.into()
        }
    );
    let with = Mobivate::builder()
        .account_id(ACCOUNT)
        .default_region("ke")
        .build()
        .unwrap();
    assert_eq!(with.default_region(), Some("KE"));
    assert_eq!(
        with.phone("0700 000000").unwrap(),
        Recipient::Phone {
            msisdn: MSISDN.into()
        }
    );
    let err = Mobivate::builder()
        .account_id(ACCOUNT)
        .default_region("Kenya")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("MOBIVATE_DEFAULT_REGION"), "{err}");
}

#[tokio::test]
async fn a_national_number_read_in_the_default_region_is_sent_as_e164_digits() {
    let server = MockServer::start().await;
    mount(
        &server,
        &campaign_path(CAMPAIGN),
        ResponseTemplate::new(200).set_body_json(docs_success()),
        1,
    )
    .await;
    let mobivate = builder(&server.uri()).default_region("KE").build().unwrap();
    let request = Unsubscribe::new(
        mobivate.phone("0700 000000").unwrap(),
        Topics::one(CAMPAIGN),
    );
    mobivate.unsubscribe(&request).await.unwrap();
    let sent = only_request(&server).await;
    assert_request(
        &sent,
        &campaign_path(CAMPAIGN),
        json!({"msisdn": MSISDN, "signature": SIGNATURE}),
    );
}

#[test]
fn from_env_reads_the_account_id_keyword_and_base_url() {
    // The only test in this binary that touches the environment.
    std::env::remove_var("MOBIVATE_ACCOUNT_ID");
    std::env::remove_var("MOBIVATE_KEYWORD");
    std::env::remove_var("MOBIVATE_BASE_URL");
    std::env::remove_var("MOBIVATE_DEFAULT_REGION");
    let err = Mobivate::from_env().unwrap_err();
    assert!(err.to_string().contains("MOBIVATE_ACCOUNT_ID"), "{err}");
    std::env::set_var("MOBIVATE_ACCOUNT_ID", ACCOUNT);
    let mobivate = Mobivate::from_env().unwrap();
    assert_eq!(mobivate.request(CAMPAIGN, MSISDN).keyword, None);
    std::env::set_var("MOBIVATE_KEYWORD", "STOP");
    std::env::set_var("MOBIVATE_BASE_URL", "http://127.0.0.1:8025");
    let mobivate = Mobivate::from_env().unwrap();
    assert_eq!(mobivate.base_url().as_str(), "http://127.0.0.1:8025/");
    let body = mobivate.request(CAMPAIGN, MSISDN);
    assert_eq!(body.keyword.as_deref(), Some("STOP"));
    assert_eq!(body.signature, SIGNATURE);
    assert_eq!(mobivate.default_region(), None);
    std::env::set_var("MOBIVATE_DEFAULT_REGION", "KE");
    let mobivate = Mobivate::from_env().unwrap();
    assert_eq!(mobivate.default_region(), Some("KE"));
    std::env::set_var("MOBIVATE_DEFAULT_REGION", "Kenya");
    let err = Mobivate::from_env().unwrap_err();
    assert!(err.to_string().contains("MOBIVATE_DEFAULT_REGION"), "{err}");
    std::env::remove_var("MOBIVATE_DEFAULT_REGION");
}
