//! End to end against the sandbox: a link is made, a mailbox provider POSTs it, the outbox
//! commits it, an in-process worker sends it, a receipt is written, and the provider agrees.

use std::sync::Arc;
use std::time::Duration;

use optout::providers::hubspot::HubSpot;
use optout::providers::pushy::Pushy;
use optout_core::{Outcome, Provider, Recipient, Topics, Unsubscriber};
use optout_sandbox::{Api, Sandbox};
use optout_serve::link::{LinkKeys, Scope};
use optout_serve::outbox::{Outbox, OutboxIntake, Worker, WorkerConfig};
use optout_serve::{server, ApiTokens, Config, Intake, Metrics, Timed};
use serde_json::Value;

const KEYS: &str = "k1:0123456789abcdef0123456789abcdef";
const API_TOKEN: &str = "e2e-api-token-0123456789";

fn store_url() -> (String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "optout-serve-e2e-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    (format!("sqlite:{}", dir.join("optout.db").display()), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_click_post_becomes_a_receipt_and_the_provider_agrees() {
    let sandbox = Sandbox::start().await.unwrap();
    let (url, dir) = store_url();
    let outbox = Outbox::open(&url).await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let intake: Arc<dyn Intake> = Arc::new(OutboxIntake::new(outbox.clone()));
    let config = Config::new(
        ApiTokens::parse(API_TOKEN).unwrap(),
        LinkKeys::parse(KEYS).unwrap(),
    );
    let router = server::router(intake, config, metrics.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(
        listener,
        router,
        Duration::from_secs(10),
        Duration::from_secs(5),
        async move {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();

    // The mailbox provider presses "Unsubscribe" (twice: one opt-out).
    let scope = Scope::new(
        Provider::HubSpot,
        Recipient::email("alice@example.com").unwrap(),
        Topics::one("12345"),
    )
    .unwrap();
    let link = LinkKeys::parse(KEYS).unwrap().link(&base, &scope).unwrap();
    assert!(sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "12345"));
    for _ in 0..2 {
        let resp = http
            .post(&link.url)
            .form(&[("List-Unsubscribe", "One-Click")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(outbox.counts().await.unwrap().total.pending, 1);

    // And an API client sends a push opt-out.
    let resp = http
        .post(format!("{base}/v1/opt-outs"))
        .bearer_auth(API_TOKEN)
        .header("idempotency-key", "e2e-1")
        .json(&serde_json::json!({
            "identities": {"device": "a6345d0278adc55d3474f5"},
            "scope": {"pushy": {"topics": ["news"]}},
            "source": "e2e"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let accepted: Value = resp.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap().to_string();
    assert!(accepted["deadlines"]["pushy"].is_string(), "{accepted}");

    // The worker sends both.
    let hubspot: Arc<dyn Unsubscriber> = Arc::new(
        HubSpot::builder()
            .base_url(sandbox.base_url())
            .access_token("pat-TEST-HUBSPOT")
            .build()
            .unwrap(),
    );
    let pushy: Arc<dyn Unsubscriber> = Arc::new(
        Pushy::builder()
            .base_url(sandbox.base_url())
            .api_key("TEST-PUSHY")
            .build()
            .unwrap(),
    );
    let worker = Worker::new(
        outbox.store(),
        [
            Timed::wrap(hubspot, metrics.clone()),
            Timed::wrap(pushy, metrics.clone()),
        ],
        WorkerConfig::default(),
    );
    let summary = worker.run_until_idle().await.unwrap();
    assert_eq!(summary.done, 2, "{summary:?}");

    // The provider agrees, and the receipts say so.
    assert!(!sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "12345"));
    assert!(!sandbox.is_subscribed(Api::Pushy, "a6345d0278adc55d3474f5", "news"));
    let receipts = outbox.receipts(&Default::default()).await.unwrap();
    assert_eq!(receipts.len(), 2);
    let alice = receipts
        .iter()
        .find(|r| r.provider == Provider::HubSpot)
        .unwrap();
    assert_eq!(
        alice.recipient,
        Recipient::email("alice@example.com").unwrap()
    );
    assert_eq!(alice.outcome, Outcome::Unsubscribed);
    assert_eq!(alice.source.as_deref(), Some("one-click"));

    let status: Value = http
        .get(format!("{base}/v1/opt-outs/{id}"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["tasks"][0]["state"], "done", "{status}");
    assert_eq!(status["receipts"][0]["outcome"], "unsubscribed", "{status}");

    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("optout_tasks{provider=\"hubspot\",state=\"done\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("optout_send_seconds_count{provider=\"hubspot\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("optout_accepted_total{source=\"one_click\"} 1"),
        "{text}"
    );

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    drop(outbox);
    let _ = std::fs::remove_dir_all(dir);
}
