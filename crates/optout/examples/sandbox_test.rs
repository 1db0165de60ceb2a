//! Testing your own code against the sandbox: start it in-process on a free loopback port,
//! point a client at it, unsubscribe, and check what the sandbox recorded. Needs no account
//! and no network; the same lines work in a `#[tokio::test]`.
//!
//! ```sh
//! cargo run -p optout --features hubspot --example sandbox_test
//! ```

use optout::providers::hubspot::HubSpot;
use optout::{Outcome, Recipient, Topics, Unsubscribe, Unsubscriber};
use optout_sandbox::{Api, Sandbox};

#[tokio::main]
async fn main() -> Result<(), optout::Error> {
    // 127.0.0.1, a free port; an open world where everyone is subscribed to everything.
    let sandbox = Sandbox::start().await.expect("the sandbox starts");
    let hubspot = HubSpot::builder()
        .access_token("any-token")
        .base_url(sandbox.base_url())
        .build()?;

    let request = Unsubscribe::new(Recipient::email("alice@example.com")?, Topics::one("12345"));
    let first = hubspot.unsubscribe(&request).await?;
    assert_eq!(first.outcome, Outcome::Unsubscribed);
    assert!(!sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "12345"));

    // The same request again gets HubSpot's own "already unsubscribed" answer.
    let again = hubspot.unsubscribe(&request).await?;
    assert_eq!(again.outcome, Outcome::AlreadyUnsubscribed);
    assert_eq!(sandbox.stats().requests(Api::HubSpot), 2);

    println!("{first}\n{again}");
    Ok(())
}
