//! The dry run of Mobivate: the plan of a docs example is the request the real call sends
//! (built by the same code), sends nothing, shows no secret, and refuses bad input as the
//! call does.

use optout_core::{Recipient, Topics, Unsubscribe, Unsubscriber};
use optout_testkit::{assert_planned_as_received, received};
use wiremock::MockServer;

const SECRET: &str = "43e36f54eef111e270639871000000f1";

fn client(server: &MockServer) -> optout_mobivate::Mobivate {
    optout_mobivate::Mobivate::builder()
        .account_id(SECRET)
        .base_url(server.uri())
        .max_retries(0)
        .build()
        .unwrap()
}

fn example() -> Unsubscribe {
    Unsubscribe::new(
        Recipient::phone("+254700000000").unwrap(),
        Topics::one("c71e2c2ee68b410a82d6c5f910c2d428"),
    )
}

#[tokio::test]
async fn the_plan_is_the_request_the_call_sends() {
    let server = MockServer::start().await;
    let client = client(&server);
    let plan = client.plan(&example()).await.unwrap();
    assert!(received(&server).await.is_empty(), "a plan sends nothing");
    assert_eq!(plan.requests.len(), 1, "{plan}");
    // The server answers 404 (nothing mounted): what matters is what reached it.
    let _ = client.unsubscribe(&example()).await;
    let sent = received(&server).await;
    assert_eq!(sent.len(), plan.requests.len());
    for (planned, sent) in plan.requests.iter().zip(&sent) {
        assert!(planned.url.starts_with(&server.uri()), "{planned}");
        assert_planned_as_received(planned, sent, &[SECRET]);
    }
}

#[tokio::test]
async fn bad_input_is_refused_by_the_plan_as_by_the_call() {
    let server = MockServer::start().await;
    let client = client(&server);
    let bad = Unsubscribe::new(
        Recipient::email("alice@example.com").unwrap(),
        Topics::one("t1"),
    );
    let planned = client.plan(&bad).await.unwrap_err();
    let called = client.unsubscribe(&bad).await.unwrap_err();
    assert_eq!(planned.to_string(), called.to_string());
    assert_eq!(planned.kind(), called.kind());
    assert!(received(&server).await.is_empty(), "nothing was sent");
}
