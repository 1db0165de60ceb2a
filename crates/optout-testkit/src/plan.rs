//! The dry-run contract every provider's tests check: a plan sends nothing, and the real call
//! then sends exactly the requests it showed; bad input is refused by both alike.

use optout_core::{Plan, Unsubscribe, Unsubscriber};
use wiremock::MockServer;

use crate::{assert_planned_as_received, received};

/// Plans `request` with `client` (which sends to `server`), checks that nothing reached the
/// server and that the plan holds `requests` requests, then makes the real call and checks
/// that it sent exactly those, each as [`assert_planned_as_received`] (no one of `secrets`
/// shown). The server's answers do not matter (nothing need be mounted). Returns the plan.
pub async fn assert_plan_is_the_call<C: Unsubscriber + ?Sized>(
    server: &MockServer,
    client: &C,
    request: &Unsubscribe,
    requests: usize,
    secrets: &[&str],
) -> Plan {
    let plan = client
        .plan(request)
        .await
        .expect("a valid request is planned");
    assert!(received(server).await.is_empty(), "a plan sends nothing");
    assert_eq!(plan.requests.len(), requests, "{plan}");
    let _ = client.unsubscribe(request).await;
    let sent = received(server).await;
    assert_eq!(
        sent.len(),
        plan.requests.len(),
        "the call sent what was planned"
    );
    for (planned, sent) in plan.requests.iter().zip(&sent) {
        assert!(planned.url.starts_with(&server.uri()), "{planned}");
        assert_planned_as_received(planned, sent, secrets);
    }
    plan
}

/// `client.plan(bad)` fails with the error `client.unsubscribe(bad)` fails with (same text,
/// same kind), and nothing reached `server`.
pub async fn assert_plan_refuses_as_the_call<C: Unsubscriber + ?Sized>(
    server: &MockServer,
    client: &C,
    bad: &Unsubscribe,
) {
    let planned = client.plan(bad).await.expect_err("the plan refuses it");
    let called = client
        .unsubscribe(bad)
        .await
        .expect_err("the call refuses it");
    assert_eq!(planned.to_string(), called.to_string());
    assert_eq!(planned.kind(), called.kind());
    assert!(received(server).await.is_empty(), "nothing was sent");
}
