//! Remove one Novu subscriber from one topic, safely retryable with an idempotency key.
//!
//! Against the sandbox (`optout sandbox` in another terminal):
//!
//! ```sh
//! NOVU_BASE_URL=http://127.0.0.1:8025 NOVU_SECRET_KEY=any \
//!   cargo run -p optout --features novu --example novu -- user-123 product-updates
//! ```
//!
//! Run it twice: the second answer is Novu's own "already unsubscribed".

use optout::providers::novu::Novu;
use optout::{Recipient, Topics, Unsubscribe, Unsubscriber};

#[tokio::main]
async fn main() -> Result<(), optout::Error> {
    let mut args = std::env::args().skip(1);
    let subscriber = args.next().unwrap_or_else(|| "user-123".into());
    let topic = args.next().unwrap_or_else(|| "product-updates".into());

    let novu = Novu::from_env()?; // NOVU_SECRET_KEY, optional NOVU_REGION and NOVU_BASE_URL
    let request = Unsubscribe::new(Recipient::subscriber(subscriber)?, Topics::one(topic))
        .idempotency_key("optout-example-1");
    let receipt = novu.unsubscribe(&request).await?;
    println!("{receipt}");
    Ok(())
}
