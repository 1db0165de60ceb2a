//! HubSpot with OAuth credentials (public apps): access tokens from `POST /oauth/v1/token`,
//! refreshed before they expire and once on a 401, against a loopback wiremock server.

use optout_core::{ErrorKind, Outcome, Topics, Unsubscribe, Unsubscriber};
use optout_hubspot::HubSpot;
use optout_testkit::{fast_retry, header, mount_first, received, renderings};
use serde_json::json;
use wiremock::matchers::{header as has_header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::*;

const TOKEN_PATH: &str = "/oauth/v1/token";
const V3_PATH: &str = "/communication-preferences/v3/unsubscribe";
const CLIENT_SECRET: &str = "cs-s3cr3t-app";
const REFRESH_TOKEN: &str = "rt-s3cr3t-install";

fn oauth_client(server: &MockServer) -> HubSpot {
    HubSpot::builder()
        .oauth("client-id-1", CLIENT_SECRET, REFRESH_TOKEN)
        .base_url(server.uri())
        .retry_policy(fast_retry())
        .build()
        .unwrap()
}

/// HubSpot's answer to a refresh: `access_token`, valid `expires_in` seconds.
fn token_answer(access_token: &str, expires_in: u64) -> ResponseTemplate {
    ok(json!({
        "token_type": "bearer",
        "refresh_token": REFRESH_TOKEN,
        "access_token": access_token,
        "expires_in": expires_in
    }))
}

/// Mounts the token endpoint answering `access_token` for the next refresh only.
async fn mount_token(server: &MockServer, access_token: &str, expires_in: u64) {
    let given = Mock::given(method("POST")).and(path(TOKEN_PATH));
    mount_first(server, given, token_answer(access_token, expires_in), 1).await;
}

/// Mounts the v3 call answered `response` when sent with `access_token`, `times` times.
async fn mount_v3_with(
    server: &MockServer,
    access_token: &str,
    response: ResponseTemplate,
    times: u64,
) {
    let given = Mock::given(method("POST"))
        .and(path(V3_PATH))
        .and(has_header(
            "authorization",
            format!("Bearer {access_token}"),
        ));
    optout_testkit::mount(server, given, response, times).await;
}

fn v3_done() -> ResponseTemplate {
    ok(json!({"id": "1", "name": "N", "description": "D",
              "status": "NOT_SUBSCRIBED", "sourceOfStatus": "SUBSCRIPTION_STATUS"}))
}

fn request() -> Unsubscribe {
    Unsubscribe::new(alice(), Topics::one("1"))
}

#[tokio::test]
async fn a_token_is_fetched_form_encoded_then_reused_while_fresh() {
    let server = MockServer::start().await;
    mount_token(&server, "at-1", 1800).await;
    mount_v3_with(&server, "at-1", v3_done(), 2).await;
    let hubspot = oauth_client(&server);
    for _ in 0..2 {
        let receipt = hubspot.unsubscribe(&request()).await.unwrap();
        assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    }
    let requests = received(&server).await;
    let refreshes: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == TOKEN_PATH)
        .collect();
    assert_eq!(refreshes.len(), 1);
    let r = refreshes[0];
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(r.url.query(), None);
    assert_eq!(
        header(r, "content-type").as_deref(),
        Some("application/x-www-form-urlencoded;charset=UTF-8")
    );
    assert_eq!(header(r, "authorization"), None);
    let form: Vec<(String, String)> = url_pairs(&r.body);
    assert_eq!(
        form,
        [
            ("grant_type".into(), "refresh_token".into()),
            ("client_id".into(), "client-id-1".into()),
            ("client_secret".into(), CLIENT_SECRET.into()),
            ("refresh_token".into(), REFRESH_TOKEN.into()),
        ]
    );
}

fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(body).unwrap();
    text.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_call() {
    let server = MockServer::start().await;
    // 30 s left is inside the one-minute margin: each call refreshes first.
    mount_token(&server, "at-1", 30).await;
    mount_token(&server, "at-2", 30).await;
    mount_v3_with(&server, "at-1", v3_done(), 1).await;
    mount_v3_with(&server, "at-2", v3_done(), 1).await;
    let hubspot = oauth_client(&server);
    for _ in 0..2 {
        hubspot.unsubscribe(&request()).await.unwrap();
    }
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_sends_the_call_again() {
    let server = MockServer::start().await;
    mount_token(&server, "at-revoked", 1800).await;
    mount_token(&server, "at-2", 1800).await;
    let refused = ResponseTemplate::new(401).set_body_json(error_body(
        "The OAuth token used to make this call expired 1 second(s) ago.",
        "EXPIRED_AUTHENTICATION",
        "c-401",
    ));
    mount_v3_with(&server, "at-revoked", refused, 1).await;
    mount_v3_with(&server, "at-2", v3_done(), 1).await;
    let receipt = oauth_client(&server).unsubscribe(&request()).await.unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
}

#[tokio::test]
async fn a_second_401_is_the_error_not_a_loop() {
    let server = MockServer::start().await;
    mount_token(&server, "at-1", 1800).await;
    mount_token(&server, "at-2", 1800).await;
    let refused = || {
        ResponseTemplate::new(401).set_body_json(error_body(
            "Authentication credentials not found.",
            "INVALID_AUTHENTICATION",
            "c-401",
        ))
    };
    mount_v3_with(&server, "at-1", refused(), 1).await;
    mount_v3_with(&server, "at-2", refused(), 1).await;
    let err = oauth_client(&server)
        .unsubscribe(&request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
}

#[tokio::test]
async fn a_refused_refresh_sends_nothing_and_shows_no_secret() {
    let server = MockServer::start().await;
    let refused = ResponseTemplate::new(400).set_body_json(json!({
        "status": "BAD_REFRESH_TOKEN",
        "message": format!("missing or invalid refresh token {REFRESH_TOKEN}"),
        "correlationId": "c-oauth"
    }));
    let given = Mock::given(method("POST")).and(path(TOKEN_PATH));
    optout_testkit::mount(&server, given, refused, 1).await;
    let builder = HubSpot::builder()
        .oauth("client-id-1", CLIENT_SECRET, REFRESH_TOKEN)
        .base_url(server.uri())
        .max_retries(0);
    let builder_debug = format!("{builder:?}");
    let hubspot = builder.build().unwrap();
    let err = hubspot.unsubscribe(&request()).await.unwrap_err();
    assert_eq!(err.code(), Some("BAD_REFRESH_TOKEN"));
    assert_eq!(err.status(), Some(400));
    assert!(
        err.to_string().contains("refresh the OAuth access token"),
        "{err}"
    );
    let text = format!("{builder_debug} {hubspot:?} {}", renderings(&err));
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(received(&server)
        .await
        .iter()
        .all(|r| r.url.path() == TOKEN_PATH));
}

#[tokio::test]
async fn an_access_token_never_shows_even_when_the_answer_is_odd() {
    let server = MockServer::start().await;
    // No expires_in: HubSpot's 30 minutes are assumed; an answer that is not the documented
    // shape is an error that does not quote the body (it holds the token).
    let odd = ok(json!({"access_token": 12345, "note": "at-s3cr3t-odd"}));
    let given = Mock::given(method("POST")).and(path(TOKEN_PATH));
    optout_testkit::mount(&server, given, odd, 1).await;
    let err = oauth_client(&server)
        .unsubscribe(&request())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("BAD_TOKEN_ANSWER"));
    assert!(!renderings(&err).contains("s3cr3t"), "{err}");
}

#[test]
fn oauth_and_an_access_token_are_exclusive_and_checked() {
    let both = HubSpot::builder()
        .access_token("pat")
        .oauth("id", "secret", "refresh")
        .build()
        .unwrap_err();
    assert_eq!(both.kind(), ErrorKind::Config);
    for (id, secret, refresh) in [(" ", "s", "r"), ("id", "", "r"), ("id", "s", " ")] {
        let err = HubSpot::builder()
            .oauth(id, secret, refresh)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    }
}

#[tokio::test]
async fn a_plan_shows_the_refresh_and_the_call_and_sends_nothing() {
    let server = MockServer::start().await;
    let hubspot = oauth_client(&server);
    let two = Unsubscribe::new(alice(), Topics::only(["1", "2"]));
    let plan = hubspot.plan(&two).await.unwrap();
    assert!(received(&server).await.is_empty(), "a plan sends nothing");
    // One refresh, shared by both calls, as a real run shares it.
    let paths: Vec<&str> = plan
        .requests
        .iter()
        .map(|r| r.url.trim_start_matches(&server.uri()))
        .collect();
    assert_eq!(paths, [TOKEN_PATH, V3_PATH, V3_PATH], "{plan}");
    assert!(plan.then.iter().any(|t| t.contains("401")), "{plan}");

    mount_token(&server, "at-1-0123456789", 1800).await;
    mount_v3_with(&server, "at-1-0123456789", v3_done(), 1).await;
    hubspot
        .unsubscribe(&Unsubscribe::new(alice(), Topics::one("1")))
        .await
        .unwrap();
    let sent = received(&server).await;
    let secrets = [CLIENT_SECRET, REFRESH_TOKEN, "at-1-0123456789"];
    optout_testkit::assert_planned_as_received(&plan.requests[0], &sent[0], &secrets);
    optout_testkit::assert_planned_as_received(&plan.requests[1], &sent[1], &secrets);
}

/// `from_env` with the three OAuth variables: a refreshing client, against a loopback token
/// endpoint at `HUBSPOT_BASE_URL`. One test: the environment is the whole process's.
#[tokio::test]
async fn from_env_reads_the_oauth_variables() {
    let server = MockServer::start().await;
    mount_token(&server, "at-env", 1800).await;
    mount_v3_with(&server, "at-env", v3_done(), 1).await;
    std::env::remove_var("HUBSPOT_ACCESS_TOKEN");
    std::env::set_var("HUBSPOT_BASE_URL", server.uri());
    std::env::set_var("HUBSPOT_CLIENT_ID", "client-id-1");
    std::env::set_var("HUBSPOT_CLIENT_SECRET", CLIENT_SECRET);
    let partial = HubSpot::from_env().unwrap_err();
    assert_eq!(partial.kind(), ErrorKind::Config);
    assert!(
        partial
            .to_string()
            .contains("HUBSPOT_REFRESH_TOKEN is not set"),
        "{partial}"
    );
    std::env::set_var("HUBSPOT_REFRESH_TOKEN", REFRESH_TOKEN);
    let hubspot = HubSpot::from_env().unwrap();
    let receipt = hubspot.unsubscribe(&request()).await.unwrap();
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert_eq!(received(&server).await[0].url.path(), TOKEN_PATH);

    std::env::set_var("HUBSPOT_ACCESS_TOKEN", "pat-na1-static");
    let both = HubSpot::from_env().unwrap_err();
    let text = renderings(&both);
    assert!(text.contains("HUBSPOT_ACCESS_TOKEN") && text.contains("HUBSPOT_CLIENT_SECRET"));
    assert!(
        !text.contains(CLIENT_SECRET) && !text.contains("pat-na1-static"),
        "{text}"
    );
    for var in [
        "HUBSPOT_ACCESS_TOKEN",
        "HUBSPOT_BASE_URL",
        "HUBSPOT_CLIENT_ID",
        "HUBSPOT_CLIENT_SECRET",
        "HUBSPOT_REFRESH_TOKEN",
    ] {
        std::env::remove_var(var);
    }
}
