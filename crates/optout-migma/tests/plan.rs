//! The dry run of Migma: the plan of a docs example is the request the real call sends
//! (built by the same code), sends nothing, shows no secret, and refuses bad input as the
//! call does.

use optout_core::{Recipient, Topics, Unsubscribe};
use optout_testkit::{assert_plan_is_the_call, assert_plan_refuses_as_the_call};
use wiremock::MockServer;

const SECRET: &str = "migma-key-0123456789abcdef";

fn client(server: &MockServer) -> optout_migma::Migma {
    optout_migma::Migma::builder()
        .api_key(SECRET)
        .project_id("proj_1")
        .base_url(server.uri())
        .max_retries(0)
        .build()
        .unwrap()
}

fn example() -> Unsubscribe {
    Unsubscribe::new(
        Recipient::subscriber("contact_42").unwrap(),
        Topics::one("newsletter"),
    )
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
