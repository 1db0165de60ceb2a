//! The dry run of Novu: the plan of a docs example is the request the real call sends
//! (built by the same code), sends nothing, shows no secret, and refuses bad input as the
//! call does.

use optout_core::{Recipient, Topics, Unsubscribe, Unsubscriber};
use optout_testkit::{
    assert_plan_is_the_call, assert_plan_refuses_as_the_call, assert_planned_as_received, received,
};
use wiremock::MockServer;

const SECRET: &str = "novu-secret-0123456789abcdef";

fn client(server: &MockServer) -> optout_novu::Novu {
    optout_novu::Novu::builder()
        .secret_key(SECRET)
        .base_url(server.uri())
        .max_retries(0)
        .build()
        .unwrap()
}

fn example() -> Unsubscribe {
    Unsubscribe::new(
        Recipient::subscriber("user-123").unwrap(),
        Topics::one("product-updates"),
    )
    .idempotency_key("9f1c-4b7e")
}

#[tokio::test]
async fn the_plan_is_the_request_the_call_sends() {
    let server = MockServer::start().await;
    // The server answers 404 (nothing mounted): what matters is what reached it.
    assert_plan_is_the_call(&server, &client(&server), &example(), 1, &[SECRET]).await;
}

#[tokio::test]
async fn bad_input_is_refused_by_the_plan_as_by_the_call() {
    let server = MockServer::start().await;
    let client = client(&server);
    let bad = Unsubscribe::new(
        Recipient::email("alice@example.com").unwrap(),
        Topics::one("t1"),
    );
    assert_plan_refuses_as_the_call(&server, &client, &bad).await;
}

#[tokio::test]
async fn the_plan_of_a_batch_is_the_delete_sent() {
    let server = MockServer::start().await;
    let client = client(&server);
    let rows: Vec<Unsubscribe> = ["user-1", "user-2", "user-3"]
        .iter()
        .map(|s| Unsubscribe::new(Recipient::subscriber(*s).unwrap(), Topics::one("news")))
        .collect();
    let (plan, checked) = client.plan_many(&rows).await;
    assert!(checked.iter().all(Result::is_ok));
    assert!(received(&server).await.is_empty(), "a plan sends nothing");
    assert_eq!(plan.requests.len(), 1, "{plan}");
    let _ = client.unsubscribe_many(&rows).await;
    let sent = received(&server).await;
    assert_eq!(sent.len(), 1);
    assert_planned_as_received(&plan.requests[0], &sent[0], &[SECRET]);
}
