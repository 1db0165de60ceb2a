//! The dry run of HubSpot: the plan of a docs example is the request the real call sends
//! (built by the same code), sends nothing, shows no secret, and refuses bad input as the
//! call does.

use optout_core::{Recipient, Topics, Unsubscribe, Unsubscriber};
use optout_testkit::{
    assert_plan_is_the_call, assert_plan_refuses_as_the_call, assert_planned_as_received, received,
};
use wiremock::MockServer;

const SECRET: &str = "pat-na1-s3cr3t-0123456789";

fn client(server: &MockServer) -> optout_hubspot::HubSpot {
    optout_hubspot::HubSpot::builder()
        .access_token(SECRET)
        .base_url(server.uri())
        .max_retries(0)
        .build()
        .unwrap()
}

fn example() -> Unsubscribe {
    Unsubscribe::new(
        Recipient::email("alice@example.com").unwrap(),
        Topics::only(["289137114", "289137115"]),
    )
    .legal_basis(
        optout_core::LegalBasis::ConsentWithNotice,
        "User clicked unsubscribe",
    )
}

#[tokio::test]
async fn the_plan_is_the_request_the_call_sends() {
    let server = MockServer::start().await;
    // The server answers 404 (nothing mounted): what matters is what reached it.
    assert_plan_is_the_call(&server, &client(&server), &example(), 2, &[SECRET]).await;
}

#[tokio::test]
async fn bad_input_is_refused_by_the_plan_as_by_the_call() {
    let server = MockServer::start().await;
    let client = client(&server);
    let bad = Unsubscribe::new(Recipient::subscriber("c1").unwrap(), Topics::one("t1"));
    assert_plan_refuses_as_the_call(&server, &client, &bad).await;
}

#[tokio::test]
async fn the_plan_of_a_batch_is_the_batch_write_sent() {
    let server = MockServer::start().await;
    let client = client(&server);
    let rows: Vec<Unsubscribe> = ["a@example.com", "b@example.com", "c@example.com"]
        .iter()
        .map(|a| Unsubscribe::new(Recipient::email(*a).unwrap(), Topics::one("289137114")))
        .collect();
    let (plan, checked) = client.plan_many(&rows).await;
    assert!(checked.iter().all(Result::is_ok));
    assert!(received(&server).await.is_empty(), "a plan sends nothing");
    assert_eq!(plan.requests.len(), 1, "{plan}");
    assert!(plan.requests[0].url.ends_with("/batch/write"));
    assert!(plan.then[0].contains("v3"), "{plan}");
    let _ = client.unsubscribe_many(&rows).await;
    let sent = received(&server).await;
    // The batch write is answered 404: its pairs then go one by one (not in the plan).
    assert_planned_as_received(&plan.requests[0], &sent[0], &[SECRET]);
}
