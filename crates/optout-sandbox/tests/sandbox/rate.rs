use std::time::Duration;

use optout_sandbox::{Api, RateLimit, Sandbox};

use crate::{post, Reply};

const PUSHY_BODY: &str = r#"{"token":"a6345d0278adc55d3474f5","topics":["news"]}"#;

/// A sandbox enforcing `limits`.
async fn limited(limits: &[(Api, &str)]) -> Sandbox {
    let mut builder = Sandbox::builder();
    for (api, limit) in limits {
        builder = builder.rate_limit(*api, limit.parse::<RateLimit>().unwrap());
    }
    builder.start().await.unwrap()
}

/// HubSpot's v3 unsubscribe of `email` from subscription 123.
async fn post_hubspot(sandbox: &Sandbox, email: &str) -> Reply {
    let url = format!(
        "{}/communication-preferences/v3/unsubscribe",
        sandbox.base_url()
    );
    let body = format!(r#"{{"emailAddress":"{email}","subscriptionId":"123"}}"#);
    post(&url, &[("authorization", "Bearer t")], &body).await
}

async fn post_pushy(sandbox: &Sandbox) -> Reply {
    let url = format!("{}/topics/unsubscribe?api_key=k", sandbox.base_url());
    post(&url, &[], PUSHY_BODY).await
}

async fn delete_novu(sandbox: &Sandbox, subscriber: &str) -> Reply {
    let url = format!("{}/v2/topics/t/subscriptions", sandbox.base_url());
    let body = format!(r#"{{"subscriptions":["{subscriber}"]}}"#);
    crate::send(
        &reqwest::Client::new(),
        reqwest::Method::DELETE,
        &url,
        &[("authorization", "ApiKey k")],
        Some(&body),
    )
    .await
}

fn retry_after(reply: &Reply) -> Duration {
    let secs: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    Duration::from_secs(secs)
}

#[tokio::test]
async fn hubspot_over_its_limit_gets_its_own_429_and_rate_headers() {
    let sandbox = limited(&[(Api::HubSpot, "2/10s")]).await;
    let first = post_hubspot(&sandbox, "a@example.com").await;
    let second = post_hubspot(&sandbox, "b@example.com").await;
    let third = post_hubspot(&sandbox, "c@example.com").await;
    assert_eq!((first.status, second.status, third.status), (200, 200, 429));
    for (reply, remaining) in [(&first, "1"), (&second, "0"), (&third, "0")] {
        assert_eq!(reply.header("x-hubspot-ratelimit-max"), Some("2"));
        assert_eq!(
            reply.header("x-hubspot-ratelimit-interval-milliseconds"),
            Some("10000")
        );
        assert_eq!(
            reply.header("x-hubspot-ratelimit-remaining"),
            Some(remaining)
        );
    }
    let body = third.assert_json_type().json();
    assert_eq!(body["status"], "error");
    assert_eq!(
        body["message"],
        "You have reached your ten_secondly_rolling limit."
    );
    assert_eq!(body["errorType"], "RATE_LIMIT");
    assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");
    assert!(body["correlationId"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    // A refused request changes nothing.
    assert!(sandbox.is_subscribed(Api::HubSpot, "c@example.com", "123"));
    assert!(!sandbox.is_subscribed(Api::HubSpot, "a@example.com", "123"));
}

#[tokio::test]
async fn pushy_over_its_limit_gets_429_with_retry_after_and_others_are_untouched() {
    let sandbox = limited(&[(Api::Pushy, "1/min")]).await;
    assert_eq!(post_pushy(&sandbox).await.status, 200);
    let refused = post_pushy(&sandbox).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["code"], "RATE_LIMIT_EXCEEDED");
    let wait = retry_after(&refused);
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    // HubSpot has no limit here.
    for n in 0..5 {
        let reply = post_hubspot(&sandbox, &format!("u{n}@example.com")).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("x-hubspot-ratelimit-remaining"), None);
    }
}

#[tokio::test]
async fn novu_says_its_limit_in_ratelimit_headers() {
    let sandbox = limited(&[(Api::Novu, "1/min")]).await;
    let served = delete_novu(&sandbox, "s1").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("ratelimit-limit"), Some("1"));
    assert_eq!(served.header("ratelimit-remaining"), Some("0"));
    let reset: u64 = served.header("ratelimit-reset").unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset), "{reset}");
    let refused = delete_novu(&sandbox, "s2").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["statusCode"], 429);
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    assert!(retry_after(&refused) <= Duration::from_secs(60));
}
