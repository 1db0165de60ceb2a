use std::time::{Duration, Instant};

use optout_sandbox::{Api, Faults, Sandbox};
use serde_json::json;

use crate::{post, Reply};

const PUSHY_BODY: &str = r#"{"token":"a6345d0278adc55d3474f5","topics":["news"]}"#;
const HUBSPOT_BODY: &str = r#"{"emailAddress":"alice@example.com","subscriptionId":"123"}"#;

/// A sandbox started with `faults`.
async fn with_faults(faults: Faults) -> Sandbox {
    Sandbox::builder().faults(faults).start().await.unwrap()
}

/// Pushy's unsubscribe of device `a6345d0278adc55d3474f5` from `news`.
async fn post_pushy(sandbox: &Sandbox) -> Reply {
    let url = format!("{}/topics/unsubscribe?api_key=k", sandbox.base_url());
    post(&url, &[], PUSHY_BODY).await
}

/// HubSpot's v3 unsubscribe of alice@example.com from subscription 123.
async fn post_hubspot(sandbox: &Sandbox) -> Reply {
    let url = format!(
        "{}/communication-preferences/v3/unsubscribe",
        sandbox.base_url()
    );
    post(&url, &[("authorization", "Bearer t")], HUBSPOT_BODY).await
}

#[tokio::test]
async fn every_third_request_is_429_with_retry_after() {
    let faults = Faults {
        every_nth_429: Some(3),
        ..Faults::default()
    };
    let sandbox = with_faults(faults).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let reply = post_pushy(&sandbox).await;
        if reply.status == 429 {
            assert_eq!(reply.header("retry-after"), Some("1"));
            assert_eq!(
                reply.assert_json_type().json()["code"],
                "RATE_LIMIT_EXCEEDED"
            );
        }
        statuses.push(reply.status);
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);
    assert_eq!(sandbox.stats().pushy, 6);
}

#[tokio::test]
async fn retry_after_is_configurable_and_faults_change_state_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.set_faults(Faults {
        every_nth_429: Some(1),
        retry_after_secs: 7,
        ..Faults::default()
    });
    let reply = post_hubspot(&sandbox).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("7"));
    let body = reply.json();
    assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(body["status"], "error");
    assert!(sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "123"));
}

#[tokio::test]
async fn rate_one_5xx_fails_everything_until_cleared() {
    let sandbox = with_faults(Faults {
        rate_5xx: 1.0,
        ..Faults::default()
    })
    .await;
    for _ in 0..3 {
        let reply = post_hubspot(&sandbox).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert_eq!(reply.assert_json_type().json()["status"], "error");
    }
    let migma = format!("{}/v1/topics/t/unsubscribe", sandbox.base_url());
    let reply = post(&migma, &[("authorization", "Bearer k")], "{}").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["success"], json!(false));
    assert!(sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "123"));

    sandbox.set_faults(Faults::NONE);
    assert_eq!(sandbox.faults(), Faults::NONE);
    let reply = post_hubspot(&sandbox).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn malformed_bodies_are_200_and_not_json() {
    let sandbox = with_faults(Faults {
        rate_malformed: 1.0,
        ..Faults::default()
    })
    .await;
    for _ in 0..6 {
        let reply = post_pushy(&sandbox).await;
        assert_eq!(reply.status, 200);
        reply.assert_json_type();
        assert!(
            serde_json::from_str::<serde_json::Value>(&reply.text).is_err(),
            "{}",
            reply.text
        );
    }
    assert!(sandbox.is_subscribed(Api::Pushy, "a6345d0278adc55d3474f5", "news"));
}

#[tokio::test]
async fn latency_delays_answers() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.set_faults(Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    });
    let start = Instant::now();
    let reply = post_pushy(&sandbox).await;
    assert_eq!(reply.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn novu_faults_keep_novu_shape() {
    let sandbox = with_faults(Faults {
        every_nth_429: Some(1),
        ..Faults::default()
    })
    .await;
    let url = format!("{}/v2/topics/t/subscriptions", sandbox.base_url());
    let reply = crate::send(
        &reqwest::Client::new(),
        reqwest::Method::DELETE,
        &url,
        &[("authorization", "ApiKey k")],
        Some(r#"{"subscriptions":["s"]}"#),
    )
    .await;
    assert_eq!(reply.status, 429);
    let body = reply.json();
    assert_eq!(body["statusCode"], 429);
    assert_eq!(body["path"], "/v2/topics/t/subscriptions");
    let mobivate = format!("{}/subscriptions/v1/c/unsubscribe", sandbox.base_url());
    let reply = post(&mobivate, &[], "{}").await;
    assert_eq!(reply.status, 429);
    assert!(reply.json()["error"].is_string());
}
