use md5::{Digest, Md5};
use optout_sandbox::{Api, Sandbox, Seed};
use serde_json::{json, Value};

use crate::{is_hex, post, Reply};

const CAMPAIGN: &str = "c71e2c2ee68b410a82d6c5f910c2d428";
const MSISDN: &str = "254700000000";
/// The docs' worked example: MD5(account 43e36f54eef111e270639871000000f1 + campaign + msisdn).
const SIGNATURE: &str = "1af289e14aa593c843da7cd869a8e2f7";

fn url(sandbox: &Sandbox, campaign: &str) -> String {
    format!(
        "{}/subscriptions/v1/{campaign}/unsubscribe",
        sandbox.base_url()
    )
}

fn sign(account: &str, campaign: &str, msisdn: &str) -> String {
    let digest = Md5::digest(format!("{account}{campaign}{msisdn}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The envelope without its (random) reference, which is checked separately.
fn envelope(reply: &Reply) -> Value {
    let mut body = reply.assert_json_type().json();
    let reference = body["reference"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = reference.strip_prefix("AP:").unwrap().split('-').collect();
    assert_eq!(parts.len(), 3, "{reference}");
    assert!(parts.iter().all(|p| is_hex(p, p.len()) && !p.is_empty()));
    body.as_object_mut().unwrap().remove("reference");
    body
}

#[tokio::test]
async fn unsubscribes_with_the_docs_signature_and_a_repeat_succeeds() {
    let sandbox = Sandbox::start().await.unwrap();
    let body = json!({"msisdn": MSISDN, "signature": SIGNATURE}).to_string();
    let expected = json!({
        "authenticated": true, "valid_msisdn": true, "valid_campaign": true,
        "campaign_status": "active", "campaign_name": format!("Campaign {CAMPAIGN}"),
        "campaign_service": "12345", "state": "unsubscribed", "error": null,
    });
    let first = post(&url(&sandbox, CAMPAIGN), &[], &body).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(envelope(&first), expected);
    assert!(!sandbox.is_subscribed(Api::Mobivate, MSISDN, CAMPAIGN));
    let again = post(&url(&sandbox, CAMPAIGN), &[], &body).await;
    assert_eq!((again.status, envelope(&again)), (200, expected));
    assert_ne!(first.json()["reference"], again.json()["reference"]);
}

#[tokio::test]
async fn accepts_a_keyword_and_any_key_order() {
    let sandbox = Sandbox::start().await.unwrap();
    let body = format!(r#"{{"keyword":"STOP","signature":"{SIGNATURE}","msisdn":"{MSISDN}"}}"#);
    assert_eq!(post(&url(&sandbox, CAMPAIGN), &[], &body).await.status, 200);
}

#[tokio::test]
async fn refuses_a_bad_signature() {
    let sandbox = Sandbox::start().await.unwrap();
    let wrong_order = sign("43e36f54eef111e270639871000000f1", MSISDN, CAMPAIGN);
    for body in [
        json!({"msisdn": MSISDN, "signature": "00000000000000000000000000000000"}),
        json!({"msisdn": MSISDN, "signature": wrong_order}),
        json!({"msisdn": "254700000001", "signature": SIGNATURE}),
        json!({"msisdn": MSISDN}),
    ] {
        let reply = post(&url(&sandbox, CAMPAIGN), &[], &body.to_string()).await;
        assert_eq!(reply.status, 401, "{body}");
        let env = envelope(&reply);
        assert_eq!(env["authenticated"], false);
        assert_eq!(env["state"], Value::Null);
        assert!(env["error"].is_string());
        for key in [
            "valid_msisdn",
            "valid_campaign",
            "campaign_status",
            "campaign_name",
            "campaign_service",
        ] {
            assert!(env.get(key).is_some(), "{key} always present");
        }
    }
    assert!(sandbox.is_subscribed(Api::Mobivate, MSISDN, CAMPAIGN));
}

#[tokio::test]
async fn checks_against_the_configured_account() {
    let account = "0123456789abcdef0123456789abcdef";
    let sandbox = Sandbox::builder()
        .mobivate_account_id(account)
        .start()
        .await
        .unwrap();
    let docs = json!({"msisdn": MSISDN, "signature": SIGNATURE}).to_string();
    assert_eq!(post(&url(&sandbox, CAMPAIGN), &[], &docs).await.status, 401);
    let ours = json!({"msisdn": MSISDN, "signature": sign(account, CAMPAIGN, MSISDN)});
    let reply = post(&url(&sandbox, CAMPAIGN), &[], &ours.to_string()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn refuses_a_malformed_msisdn() {
    let sandbox = Sandbox::start().await.unwrap();
    for msisdn in ["+254700000000", "12345", "1234567890123456", "2547000000ab"] {
        let signature = sign(
            optout_sandbox::DEFAULT_MOBIVATE_ACCOUNT_ID,
            CAMPAIGN,
            msisdn,
        );
        let body = json!({"msisdn": msisdn, "signature": signature}).to_string();
        let reply = post(&url(&sandbox, CAMPAIGN), &[], &body).await;
        assert_eq!(reply.status, 400, "{msisdn}");
        let env = envelope(&reply);
        assert_eq!(env["authenticated"], true);
        assert_eq!(env["valid_msisdn"], false);
        assert!(env["error"].is_string());
    }
}

#[tokio::test]
async fn closed_world_has_404_campaigns() {
    let seed = Seed::new().subscription(Api::Mobivate, MSISDN, CAMPAIGN);
    let sandbox = Sandbox::builder().seed(seed).start().await.unwrap();
    let other = "ffffffffffffffffffffffffffffffff";
    let body = json!({"msisdn": MSISDN, "signature": sign(optout_sandbox::DEFAULT_MOBIVATE_ACCOUNT_ID, other, MSISDN)});
    let reply = post(&url(&sandbox, other), &[], &body.to_string()).await;
    assert_eq!(reply.status, 404);
    let env = envelope(&reply);
    assert_eq!(
        (env["authenticated"].clone(), env["valid_campaign"].clone()),
        (json!(true), json!(false))
    );
    let docs = json!({"msisdn": MSISDN, "signature": SIGNATURE}).to_string();
    assert_eq!(post(&url(&sandbox, CAMPAIGN), &[], &docs).await.status, 200);
    assert!(!sandbox.is_subscribed(Api::Mobivate, MSISDN, CAMPAIGN));
}
