//! The library's typed clients against the sandbox, end to end: each provider's typed call and
//! its `Unsubscriber`, "already" answers, closed-world 404s, `Topics::All`, Novu's chunking,
//! the fan-out and `Box<dyn Unsubscriber>`; and the umbrella crate's feature gating.

use std::collections::BTreeMap;

use optout::fanout::{FanOut, PersonOptOut};
use optout::providers::hubspot::{self, HubSpot, SourceOfStatus, SubscriptionState};
use optout::providers::migma::{Migma, TopicSubscriptionRequest};
use optout::providers::mobivate::Mobivate;
use optout::providers::novu::{Novu, SubscriptionRef, SUBSCRIPTION_NOT_FOUND};
use optout::providers::pushy::{self, Pushy};
use optout::{
    ErrorKind, LegalBasis, Outcome, Provider, Recipient, Topics, Unsubscribe, Unsubscriber,
};
use optout_sandbox::{Api, Sandbox, Seed, DEFAULT_MOBIVATE_ACCOUNT_ID};

const CAMPAIGN: &str = "c71e2c2ee68b410a82d6c5f910c2d428";
const DEVICE: &str = "a6345d0278adc55d3474f5";
const EMAIL: &str = "alice@example.com";
const MSISDN: &str = "254700000000";

async fn sandbox() -> Sandbox {
    Sandbox::start().await.expect("the sandbox starts")
}

fn migma(base: &str) -> Migma {
    Migma::builder()
        .base_url(base)
        .api_key("sk_TEST_MIGMA")
        .project_id("proj_1")
        .build()
        .expect("migma client")
}

fn novu(base: &str) -> Novu {
    Novu::builder()
        .base_url(base)
        .secret_key("sk_TEST_NOVU")
        .build()
        .expect("novu client")
}

fn pushy(base: &str) -> Pushy {
    Pushy::builder()
        .base_url(base)
        .api_key("sk_TEST_PUSHY")
        .build()
        .expect("pushy client")
}

fn mobivate(base: &str) -> Mobivate {
    Mobivate::builder()
        .base_url(base)
        .account_id(DEFAULT_MOBIVATE_ACCOUNT_ID)
        .build()
        .expect("mobivate client")
}

fn hubspot(base: &str) -> HubSpot {
    HubSpot::builder()
        .base_url(base)
        .access_token("pat-TEST-HUBSPOT")
        .build()
        .expect("hubspot client")
}

fn request(recipient: Recipient, topics: Topics) -> Unsubscribe {
    Unsubscribe::new(recipient, topics)
}

// ---------------------------------------------------------------------------------------
// Migma
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn migma_typed_call_and_unsubscriber() {
    let sandbox = sandbox().await;
    let client = migma(&sandbox.base_url());
    let typed = TopicSubscriptionRequest {
        subscriber_id: "contact_42".into(),
        project_id: "proj_1".into(),
    };
    let data = client
        .unsubscribe_from_topic("newsletter", &typed)
        .await
        .expect("typed call");
    assert_eq!(data.subscribed, Some(false), "{data:?}");
    assert_eq!(data.topic_id.as_deref(), Some("newsletter"), "{data:?}");
    assert_eq!(
        data.subscriber_id.as_deref(),
        Some("contact_42"),
        "{data:?}"
    );
    assert!(!sandbox.is_subscribed(Api::Migma, "contact_42", "newsletter"));

    let receipt = client
        .unsubscribe(&request(
            Recipient::subscriber("contact_7").unwrap(),
            Topics::only(["a", "b"]),
        ))
        .await
        .expect("unsubscriber");
    assert_eq!(receipt.provider, Provider::Migma);
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert_eq!(receipt.topics, Topics::only(["a", "b"]));
    assert!(!sandbox.is_subscribed(Api::Migma, "contact_7", "a"));
    assert!(!sandbox.is_subscribed(Api::Migma, "contact_7", "b"));
    assert_eq!(sandbox.stats().requests(Api::Migma), 3);

    // Migma has no "already" answer: a repeat confirms again.
    let again = client
        .unsubscribe(&request(
            Recipient::subscriber("contact_7").unwrap(),
            Topics::one("a"),
        ))
        .await
        .expect("repeat");
    assert_eq!(again.outcome, Outcome::Unsubscribed);

    // Topics::All is not something Migma can do: nothing is sent.
    let before = sandbox.stats().total_requests();
    let err = client
        .unsubscribe(&request(
            Recipient::subscriber("contact_7").unwrap(),
            Topics::All,
        ))
        .await
        .expect_err("unsupported");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(sandbox.stats().total_requests(), before);
}

// ---------------------------------------------------------------------------------------
// Novu
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn novu_typed_call_counts_and_already_on_repeat() {
    let sandbox = sandbox().await;
    let client = novu(&sandbox.base_url());
    let items = [
        SubscriptionRef::subscriber("user-1"),
        SubscriptionRef::subscriber("user-2"),
    ];
    let first = client
        .delete_topic_subscriptions("product-updates", &items, None)
        .await
        .expect("typed call");
    assert_eq!(first.meta.total_count, 2, "{first:?}");
    assert_eq!(first.meta.successful, 2, "{first:?}");
    assert_eq!(first.meta.failed, 0, "{first:?}");
    assert_eq!(first.data.len(), 2, "{first:?}");
    assert!(first.errors.is_empty(), "{first:?}");
    assert!(first.data.iter().all(|d| !d.id.is_empty()), "{first:?}");
    assert!(!sandbox.is_subscribed(Api::Novu, "user-1", "product-updates"));

    // Every item failed: Novu answers 400 with the full result, which the typed call returns.
    let again = client
        .delete_topic_subscriptions("product-updates", &items, None)
        .await
        .expect("the 400 with a full result is an answer");
    assert_eq!(again.meta.successful, 0, "{again:?}");
    assert_eq!(again.meta.failed, 2, "{again:?}");
    assert!(
        again
            .errors
            .iter()
            .all(|e| e.code.as_deref() == Some(SUBSCRIPTION_NOT_FOUND)),
        "{again:?}"
    );

    // Through the trait: unsubscribed, then already.
    let req = request(
        Recipient::subscriber("user-3").unwrap(),
        Topics::one("product-updates"),
    );
    let receipt = client.unsubscribe(&req).await.expect("first");
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert!(
        receipt.reference.is_some(),
        "the subscription ids: {receipt:?}"
    );
    let receipt = client.unsubscribe(&req).await.expect("repeat");
    assert_eq!(receipt.outcome, Outcome::AlreadyUnsubscribed);
    assert_eq!(sandbox.stats().requests(Api::Novu), 4);
}

#[tokio::test]
async fn novu_250_subscriptions_go_in_3_requests() {
    let sandbox = sandbox().await;
    let client = novu(&sandbox.base_url());
    let items: Vec<SubscriptionRef> = (0..250)
        .map(|i| SubscriptionRef::subscriber(format!("bulk-{i}")))
        .collect();
    let response = client
        .delete_topic_subscriptions("digest", &items, Some("run-1"))
        .await
        .expect("typed call");
    assert_eq!(response.meta.total_count, 250, "{:?}", response.meta);
    assert_eq!(response.meta.successful, 250, "{:?}", response.meta);
    assert_eq!(response.meta.failed, 0, "{:?}", response.meta);
    assert_eq!(response.data.len(), 250);
    assert_eq!(sandbox.stats().requests(Api::Novu), 3, "100 + 100 + 50");
    for i in [0, 99, 100, 199, 200, 249] {
        assert!(!sandbox.is_subscribed(Api::Novu, &format!("bulk-{i}"), "digest"));
    }
    // An outsider is still subscribed.
    assert!(sandbox.is_subscribed(Api::Novu, "bulk-250", "digest"));
}

// ---------------------------------------------------------------------------------------
// Pushy
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn pushy_typed_call_unsubscriber_and_all_topics() {
    let sandbox = sandbox().await;
    let client = pushy(&sandbox.base_url());
    let typed = pushy::UnsubscribeRequest {
        token: DEVICE.into(),
        topics: vec!["news".into(), "media".into()],
    };
    let answer = client.unsubscribe_topics(&typed).await.expect("typed call");
    assert!(answer.success);
    assert!(!sandbox.is_subscribed(Api::Pushy, DEVICE, "news"));
    assert!(!sandbox.is_subscribed(Api::Pushy, DEVICE, "media"));
    assert_eq!(
        sandbox.stats().requests(Api::Pushy),
        1,
        "one call for both topics"
    );

    let receipt = client
        .unsubscribe(&request(
            Recipient::device("other-device").unwrap(),
            Topics::one("sports"),
        ))
        .await
        .expect("unsubscriber");
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert!(!sandbox.is_subscribed(Api::Pushy, "other-device", "sports"));

    // Topics::All: ["*"], every topic of the device.
    sandbox.subscribe(Api::Pushy, "third-device", "alerts");
    sandbox.subscribe(Api::Pushy, "third-device", "promos");
    let receipt = client
        .unsubscribe(&request(
            Recipient::device("third-device").unwrap(),
            Topics::All,
        ))
        .await
        .expect("all topics");
    assert_eq!(receipt.topics, Topics::All);
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    for topic in ["alerts", "promos", "anything-else"] {
        assert!(
            !sandbox.is_subscribed(Api::Pushy, "third-device", topic),
            "{topic}"
        );
    }

    // A bad topic is refused before sending.
    let before = sandbox.stats().total_requests();
    let err = client
        .unsubscribe(&request(
            Recipient::device(DEVICE).unwrap(),
            Topics::one("has space"),
        ))
        .await
        .expect_err("invalid");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(sandbox.stats().total_requests(), before);
}

// ---------------------------------------------------------------------------------------
// Mobivate
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn mobivate_typed_call_and_unsubscriber() {
    let sandbox = sandbox().await;
    let client = mobivate(&sandbox.base_url());
    let answer = client
        .unsubscribe_campaign(CAMPAIGN, MSISDN)
        .await
        .expect("typed call");
    assert!(answer.is_unsubscribed(), "{answer:?}");
    let reference = answer.reference.clone().unwrap_or_default();
    assert!(reference.starts_with("AP:"), "{answer:?}");
    assert_ne!(answer.authenticated, Some(false), "{answer:?}");
    assert!(!sandbox.is_subscribed(Api::Mobivate, MSISDN, CAMPAIGN));

    let receipt = client
        .unsubscribe(&request(
            Recipient::phone("+254 711 000000").unwrap(),
            Topics::one(CAMPAIGN),
        ))
        .await
        .expect("unsubscriber");
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert!(
        receipt
            .reference
            .as_deref()
            .is_some_and(|r| r.starts_with("AP:")),
        "{receipt:?}"
    );
    assert!(!sandbox.is_subscribed(Api::Mobivate, "254711000000", CAMPAIGN));

    // A client signing with another account is refused by the sandbox.
    let wrong = Mobivate::builder()
        .base_url(sandbox.base_url())
        .account_id("ffffffffffffffffffffffffffffffff")
        .max_retries(0)
        .build()
        .expect("client");
    let err = wrong
        .unsubscribe_campaign(CAMPAIGN, "254722000000")
        .await
        .expect_err("bad signature");
    assert!(err.was_sent());
    assert!(!err.to_string().contains("ffffffffffffffffffffffffffffffff"));
    assert!(sandbox.is_subscribed(Api::Mobivate, "254722000000", CAMPAIGN));
}

// ---------------------------------------------------------------------------------------
// HubSpot
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn hubspot_typed_call_status_correlation_id_and_already() {
    let sandbox = sandbox().await;
    let client = hubspot(&sandbox.base_url());
    let typed = hubspot::UnsubscribeRequest::new(EMAIL, "12345")
        .legal_basis(LegalBasis::ConsentWithNotice, "Clicked unsubscribe");
    let answer = client
        .unsubscribe_from_subscription(&typed)
        .await
        .expect("typed call");
    let correlation_id = answer.correlation_id.clone().unwrap_or_default();
    assert!(!correlation_id.is_empty(), "{answer:?}");
    match &answer.body {
        hubspot::UnsubscribeOutcome::Unsubscribed(status) => {
            assert_eq!(
                status.status,
                SubscriptionState::NotSubscribed,
                "{status:?}"
            );
            assert_eq!(status.id, "12345", "{status:?}");
            assert_eq!(
                status.source_of_status,
                SourceOfStatus::SubscriptionStatus,
                "{status:?}"
            );
            assert_eq!(
                status.legal_basis.as_deref(),
                Some("CONSENT_WITH_NOTICE"),
                "{status:?}"
            );
        }
        other => panic!("expected Unsubscribed, got {other:?}"),
    }
    assert!(!sandbox.is_subscribed(Api::HubSpot, EMAIL, "12345"));

    let again = client
        .unsubscribe_from_subscription(&typed)
        .await
        .expect("already is an answer");
    match &again.body {
        hubspot::UnsubscribeOutcome::AlreadyUnsubscribed { message } => {
            assert!(message.contains("already unsubscribed"), "{message}");
        }
        other => panic!("expected AlreadyUnsubscribed, got {other:?}"),
    }
    assert!(again.correlation_id.is_some(), "{again:?}");

    // Through the trait: two topics, then the same again.
    let req = request(
        Recipient::email("Bob@Example.com").unwrap(),
        Topics::only(["1", "2"]),
    );
    let receipt = client.unsubscribe(&req).await.expect("first");
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert!(receipt.reference.is_some(), "correlation ids: {receipt:?}");
    assert!(!sandbox.is_subscribed(Api::HubSpot, "bob@example.com", "1"));
    let receipt = client.unsubscribe(&req).await.expect("repeat");
    assert_eq!(receipt.outcome, Outcome::AlreadyUnsubscribed);
    assert_eq!(sandbox.stats().requests(Api::HubSpot), 6);
}

#[tokio::test]
async fn hubspot_all_topics_unsubscribes_from_everything() {
    let sandbox = sandbox().await;
    let client = hubspot(&sandbox.base_url());
    sandbox.subscribe(Api::HubSpot, EMAIL, "111");
    sandbox.subscribe(Api::HubSpot, EMAIL, "222");
    let receipt = client
        .unsubscribe(&request(Recipient::email(EMAIL).unwrap(), Topics::All))
        .await
        .expect("unsubscribe-all");
    assert_eq!(receipt.topics, Topics::All);
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert!(receipt.reference.is_some(), "{receipt:?}");
    for topic in ["111", "222", "333"] {
        assert!(
            !sandbox.is_subscribed(Api::HubSpot, EMAIL, topic),
            "{topic}"
        );
    }
    assert_eq!(sandbox.stats().requests(Api::HubSpot), 1, "one v4 call");
}

#[tokio::test]
async fn hubspot_typed_unsubscribe_all_lists_the_changed_subscriptions() {
    let sandbox = sandbox().await;
    let client = hubspot(&sandbox.base_url());
    sandbox.subscribe(Api::HubSpot, EMAIL, "111");
    sandbox.subscribe(Api::HubSpot, EMAIL, "222");
    let answer = client.unsubscribe_all(EMAIL).await.expect("typed call");
    assert!(answer.correlation_id.is_some(), "{answer:?}");
    let hubspot::UnsubscribeAllOutcome::Accepted(Some(batch)) = &answer.body else {
        panic!("expected a batch answer, got {answer:?}");
    };
    assert_eq!(batch.status, hubspot::BatchStatus::Complete, "{batch:?}");
    let mut ids: Vec<&str> = batch
        .results
        .iter()
        .map(|r| r.subscription_id.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["111", "222"], "{batch:?}");
    for r in &batch.results {
        assert_eq!(r.subscriber_id_string, EMAIL, "{r:?}");
        assert_eq!(r.channel, "EMAIL", "{r:?}");
    }
    assert_eq!(answer.body.outcome(), Outcome::Unsubscribed);
}

#[tokio::test]
async fn hubspot_unsubscribe_all_results_say_unsubscribed_in_v4_terms() {
    let sandbox = sandbox().await;
    let client = hubspot(&sandbox.base_url());
    sandbox.subscribe(Api::HubSpot, EMAIL, "111");
    let answer = client.unsubscribe_all(EMAIL).await.expect("typed call");
    let hubspot::UnsubscribeAllOutcome::Accepted(Some(batch)) = &answer.body else {
        panic!("expected a batch answer, got {answer:?}");
    };
    assert!(!batch.results.is_empty());
    for r in &batch.results {
        assert_eq!(r.status, hubspot::StatusState::Unsubscribed, "{r:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Closed world: unknown topics are 404 -> NotFound
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_topic_in_a_closed_world_is_not_found_for_every_provider() {
    let seed = Seed::new()
        .subscription(Api::Migma, "contact_42", "newsletter")
        .subscription(Api::Novu, "user-123", "product-updates")
        .subscription(Api::Mobivate, MSISDN, CAMPAIGN)
        .subscription(Api::HubSpot, EMAIL, "12345");
    let sandbox = Sandbox::builder()
        .seed(seed)
        .start()
        .await
        .expect("sandbox");
    let base = sandbox.base_url();
    let clients: Vec<(Box<dyn Unsubscriber>, Recipient, &str, &str)> = vec![
        (
            Box::new(migma(&base)),
            Recipient::subscriber("contact_42").unwrap(),
            "newsletter",
            "no-such-topic",
        ),
        (
            Box::new(novu(&base)),
            Recipient::subscriber("user-123").unwrap(),
            "product-updates",
            "no-such-topic",
        ),
        (
            Box::new(mobivate(&base)),
            Recipient::phone(MSISDN).unwrap(),
            CAMPAIGN,
            "00000000000000000000000000000000",
        ),
        (
            Box::new(hubspot(&base)),
            Recipient::email(EMAIL).unwrap(),
            "12345",
            "99999",
        ),
    ];
    for (client, recipient, known, unknown) in clients {
        let provider = client.provider();
        let err = client
            .unsubscribe(&request(recipient.clone(), Topics::one(unknown)))
            .await
            .expect_err("unknown topic");
        assert_eq!(err.kind(), ErrorKind::NotFound, "{provider}: {err}");
        assert_eq!(err.status(), Some(404), "{provider}: {err}");
        assert_eq!(err.provider(), Some(provider), "{err}");
        assert!(!err.is_retryable(), "{err}");
        assert_eq!(err.attempts(), 1, "{err}");
        // The known topic still works in the same closed world.
        let receipt = client
            .unsubscribe(&request(recipient, Topics::one(known)))
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(receipt.outcome, Outcome::Unsubscribed, "{provider}");
    }
    assert!(!sandbox.is_subscribed(Api::HubSpot, EMAIL, "12345"));
    assert!(!sandbox.is_subscribed(Api::Novu, "user-123", "product-updates"));
}

#[tokio::test]
async fn one_unknown_topic_among_several_never_hides_the_others() {
    let seed = Seed::new().subscription(Api::HubSpot, EMAIL, "1");
    let sandbox = Sandbox::builder()
        .seed(seed)
        .start()
        .await
        .expect("sandbox");
    let client = hubspot(&sandbox.base_url());
    let err = client
        .unsubscribe(&request(
            Recipient::email(EMAIL).unwrap(),
            Topics::only(["1", "404"]),
        ))
        .await
        .expect_err("partly done");
    assert_eq!(err.kind(), ErrorKind::Partial, "{err}");
    let partial = err.partial().expect("what was done");
    assert_eq!(partial.done.len(), 1, "{err}");
    assert_eq!(partial.done[0].topics, Topics::one("1"));
    assert_eq!(partial.failed.len(), 1, "{err}");
    assert_eq!(partial.failed[0].0, "404");
    assert_eq!(partial.failed[0].1.kind(), ErrorKind::NotFound);
    assert!(!sandbox.is_subscribed(Api::HubSpot, EMAIL, "1"));
}

// ---------------------------------------------------------------------------------------
// Box<dyn Unsubscriber>, fan-out
// ---------------------------------------------------------------------------------------

/// A client, the recipient it takes, its sandbox api, the recipient as stored, and a topic.
type Member = (
    Box<dyn Unsubscriber>,
    Recipient,
    Api,
    &'static str,
    &'static str,
);

/// Each provider, its recipient and a topic.
fn five(base: &str) -> Vec<Member> {
    vec![
        (
            Box::new(migma(base)),
            Recipient::subscriber("contact_42").unwrap(),
            Api::Migma,
            "contact_42",
            "newsletter",
        ),
        (
            Box::new(novu(base)),
            Recipient::subscriber("user-123").unwrap(),
            Api::Novu,
            "user-123",
            "product-updates",
        ),
        (
            Box::new(pushy(base)),
            Recipient::device(DEVICE).unwrap(),
            Api::Pushy,
            DEVICE,
            "news",
        ),
        (
            Box::new(mobivate(base)),
            Recipient::phone(MSISDN).unwrap(),
            Api::Mobivate,
            MSISDN,
            CAMPAIGN,
        ),
        (
            Box::new(hubspot(base)),
            Recipient::email(EMAIL).unwrap(),
            Api::HubSpot,
            EMAIL,
            "12345",
        ),
    ]
}

#[tokio::test]
async fn a_box_dyn_unsubscriber_holds_every_provider() {
    let sandbox = sandbox().await;
    let clients = five(&sandbox.base_url());
    let providers: Vec<Provider> = clients.iter().map(|(c, ..)| c.provider()).collect();
    assert_eq!(providers, Provider::ALL);
    for (client, recipient, api, stored, topic) in &clients {
        let receipt = client
            .unsubscribe(&request(recipient.clone(), Topics::one(*topic)))
            .await
            .unwrap_or_else(|e| panic!("{api}: {e}"));
        assert_eq!(receipt.provider, client.provider());
        assert_eq!(&receipt.recipient, recipient);
        assert_eq!(receipt.outcome, Outcome::Unsubscribed);
        assert!(!sandbox.is_subscribed(*api, stored, topic), "{api}");
        assert_eq!(sandbox.stats().requests(*api), 1, "{api}");
        // Debug never shows the credential.
        let debug = format!("{client:?}");
        assert!(
            !debug.contains("sk_TEST") && !debug.contains("pat-TEST"),
            "{debug}"
        );
        assert!(!debug.contains(DEFAULT_MOBIVATE_ACCOUNT_ID), "{debug}");
    }
    // A recipient kind the provider does not take: unsupported, nothing sent.
    let before = sandbox.stats().total_requests();
    for (client, ..) in &clients {
        let wrong = if client.provider() == Provider::HubSpot {
            Recipient::device(DEVICE).unwrap()
        } else {
            Recipient::email(EMAIL).unwrap()
        };
        let err = client
            .unsubscribe(&request(wrong, Topics::one("x")))
            .await
            .expect_err("wrong recipient kind");
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(!err.was_sent());
    }
    assert_eq!(sandbox.stats().total_requests(), before);
}

#[tokio::test]
async fn the_fan_out_gives_one_result_per_provider() {
    let sandbox = sandbox().await;
    let base = sandbox.base_url();
    let fanout = FanOut::new()
        .with(migma(&base))
        .with(novu(&base))
        .with(pushy(&base))
        .with(mobivate(&base))
        .with(hubspot(&base));
    assert_eq!(fanout.providers().collect::<Vec<_>>(), Provider::ALL);
    let opt_out = PersonOptOut::default()
        .email(EMAIL)
        .phone("+254 700 000000")
        .device(DEVICE)
        .subscriber(Provider::Migma, "contact_42")
        .subscriber(Provider::Novu, "user-123")
        .topics(Provider::Migma, Topics::one("newsletter"))
        .topics(Provider::Novu, Topics::one("product-updates"))
        .topics(Provider::Pushy, Topics::only(["news", "media"]))
        .topics(Provider::Mobivate, Topics::one(CAMPAIGN))
        .topics(Provider::HubSpot, Topics::one("12345"))
        .legal_basis(LegalBasis::ConsentWithNotice, "Clicked unsubscribe");

    let results = fanout.unsubscribe(&opt_out).await;
    assert_eq!(results.len(), 5);
    let order: Vec<Provider> = results.iter().map(|r| r.provider).collect();
    assert_eq!(order, Provider::ALL, "in the order added");
    for r in &results {
        assert!(r.is_done(), "{r:?}");
        assert_eq!(r.receipts.len(), 1, "{r:?}");
        assert_eq!(r.receipts[0].outcome, Outcome::Unsubscribed, "{r:?}");
    }
    for (_, _, api, stored, topic) in five(&base) {
        assert!(!sandbox.is_subscribed(api, stored, topic), "{api}");
    }
    assert!(!sandbox.is_subscribed(Api::Pushy, DEVICE, "media"));

    // Again: each provider's own answer to a repeat.
    let again = fanout.unsubscribe(&opt_out).await;
    let outcomes: BTreeMap<Provider, Outcome> = again
        .iter()
        .map(|r| {
            assert!(r.is_done(), "{r:?}");
            (r.provider, r.receipts[0].outcome)
        })
        .collect();
    assert_eq!(outcomes[&Provider::Novu], Outcome::AlreadyUnsubscribed);
    assert_eq!(outcomes[&Provider::HubSpot], Outcome::AlreadyUnsubscribed);
    assert_eq!(outcomes[&Provider::Migma], Outcome::Unsubscribed);
    assert_eq!(outcomes[&Provider::Pushy], Outcome::Unsubscribed);
    assert_eq!(outcomes[&Provider::Mobivate], Outcome::Unsubscribed);
}

#[tokio::test]
async fn the_fan_out_reports_a_failure_and_a_skip_without_hiding_successes() {
    let sandbox = Sandbox::builder()
        .key(Api::Novu, "the-right-key")
        .start()
        .await
        .expect("sandbox");
    let base = sandbox.base_url();
    let fanout = FanOut::new()
        .with(hubspot(&base))
        .with(novu(&base)) // wrong key: 401
        .with(pushy(&base)); // no device given: skipped
    let opt_out = PersonOptOut::default()
        .email(EMAIL)
        .subscriber(Provider::Novu, "user-123")
        .topics(Provider::HubSpot, Topics::one("12345"))
        .topics(Provider::Novu, Topics::one("product-updates"))
        .topics(Provider::Pushy, Topics::All);
    let results = fanout.unsubscribe(&opt_out).await;
    assert_eq!(results.len(), 3);
    assert!(results[0].is_done(), "{:?}", results[0]);
    assert!(!results[1].is_done());
    assert_eq!(results[1].errors.len(), 1, "{:?}", results[1]);
    assert_eq!(results[1].errors[0].kind(), ErrorKind::Unauthorized);
    assert_eq!(results[1].errors[0].status(), Some(401));
    assert!(!results[2].is_done());
    assert!(results[2].skipped.is_some(), "{:?}", results[2]);
    assert_eq!(sandbox.stats().requests(Api::Pushy), 0);
    assert!(!sandbox.is_subscribed(Api::HubSpot, EMAIL, "12345"));
    assert!(sandbox.is_subscribed(Api::Novu, "user-123", "product-updates"));
}

// ---------------------------------------------------------------------------------------
// Feature gating of the umbrella crate
// ---------------------------------------------------------------------------------------

#[test]
fn the_umbrella_compiles_only_the_enabled_provider() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "tree",
            "-p",
            "optout",
            "--no-default-features",
            "--features",
            "pushy,rustls",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(optout_tests::workspace_dir())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for wanted in ["optout", "optout-pushy", "optout-core"] {
        assert!(crates.contains(&wanted), "{wanted} missing from:\n{tree}");
    }
    for unwanted in [
        "optout-migma",
        "optout-novu",
        "optout-mobivate",
        "optout-hubspot",
        "optout-sandbox",
        "csv",
    ] {
        assert!(!crates.contains(&unwanted), "{unwanted} in:\n{tree}");
    }
}

// ---------------------------------------------------------------------------------------
// Exact on the wire, seen from the other side
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_pushy_key_with_reserved_characters_arrives_intact() {
    const KEY: &str = "sk+TEST/SECRET=1&x=2 #?";
    let sandbox = Sandbox::builder()
        .key(Api::Pushy, KEY)
        .start()
        .await
        .expect("sandbox");
    let client = Pushy::builder()
        .base_url(sandbox.base_url())
        .api_key(KEY)
        .build()
        .expect("client");
    let receipt = client
        .unsubscribe(&request(
            Recipient::device(DEVICE).unwrap(),
            Topics::one("news"),
        ))
        .await
        .expect("the sandbox decodes the query to the same key");
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert!(!sandbox.is_subscribed(Api::Pushy, DEVICE, "news"));
    assert!(!format!("{client:?}").contains("SECRET"));
}

#[tokio::test]
async fn path_ids_with_reserved_characters_stay_one_segment() {
    const ID: &str = "a b/c?d#e%f";
    let sandbox = sandbox().await;
    let base = sandbox.base_url();
    let cases: Vec<(Box<dyn Unsubscriber>, Recipient, Api, &str)> = vec![
        (
            Box::new(migma(&base)),
            Recipient::subscriber("contact_42").unwrap(),
            Api::Migma,
            "contact_42",
        ),
        (
            Box::new(novu(&base)),
            Recipient::subscriber("user-123").unwrap(),
            Api::Novu,
            "user-123",
        ),
        (
            Box::new(mobivate(&base)),
            Recipient::phone(MSISDN).unwrap(),
            Api::Mobivate,
            MSISDN,
        ),
    ];
    for (client, recipient, api, stored) in cases {
        let receipt = client
            .unsubscribe(&request(recipient, Topics::one(ID)))
            .await
            .unwrap_or_else(|e| panic!("{api}: {e}"));
        assert_eq!(receipt.outcome, Outcome::Unsubscribed, "{api}");
        assert!(
            !sandbox.is_subscribed(api, stored, ID),
            "{api}: the id arrived changed"
        );
        assert!(
            sandbox.is_subscribed(api, stored, "a b"),
            "{api}: cut at the slash"
        );
        assert_eq!(sandbox.stats().requests(api), 1, "{api}");
    }
    assert_eq!(sandbox.stats().unrouted, 0);
}

#[tokio::test]
async fn hubspot_unsubscribe_all_keeps_a_plus_in_the_address() {
    const PLUS: &str = "alice+news@example.com";
    let sandbox = sandbox().await;
    let client = hubspot(&sandbox.base_url());
    sandbox.subscribe(Api::HubSpot, PLUS, "111");
    sandbox.subscribe(Api::HubSpot, "alice news@example.com", "111");
    let receipt = client
        .unsubscribe(&request(Recipient::email(PLUS).unwrap(), Topics::All))
        .await
        .expect("unsubscribe-all");
    assert_eq!(receipt.outcome, Outcome::Unsubscribed);
    assert!(!sandbox.is_subscribed(Api::HubSpot, PLUS, "111"));
    assert!(sandbox.is_subscribed(Api::HubSpot, "alice news@example.com", "111"));
}

#[tokio::test]
async fn a_timeout_is_a_retryable_timeout_error() {
    let sandbox = Sandbox::builder()
        .faults(optout_sandbox::Faults {
            latency: std::time::Duration::from_secs(3),
            ..optout_sandbox::Faults::NONE
        })
        .start()
        .await
        .expect("sandbox");
    let client = HubSpot::builder()
        .base_url(sandbox.base_url())
        .access_token("pat-TEST-HUBSPOT")
        .timeout(std::time::Duration::from_millis(300))
        .max_retries(0)
        .build()
        .expect("client");
    let started = std::time::Instant::now();
    let err = client
        .unsubscribe(&request(
            Recipient::email(EMAIL).unwrap(),
            Topics::one("12345"),
        ))
        .await
        .expect_err("too slow");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.is_retryable(), "{err}");
    assert!(err.was_sent());
}
