//! Unsubscribe one Migma contact from one topic.
//!
//! Against the sandbox (`optout sandbox` in another terminal):
//!
//! ```sh
//! MIGMA_BASE_URL=http://127.0.0.1:8025 MIGMA_API_KEY=any MIGMA_PROJECT_ID=proj_1 \
//!   cargo run -p optout --features migma --example migma -- contact_42 newsletter
//! ```

use optout::providers::migma::Migma;
use optout::{Recipient, Topics, Unsubscribe, Unsubscriber};

#[tokio::main]
async fn main() -> Result<(), optout::Error> {
    let mut args = std::env::args().skip(1);
    let contact = args.next().unwrap_or_else(|| "contact_42".into());
    let topic = args.next().unwrap_or_else(|| "newsletter".into());

    let migma = Migma::from_env()?; // MIGMA_API_KEY, MIGMA_PROJECT_ID, optional MIGMA_BASE_URL
    let request = Unsubscribe::new(Recipient::subscriber(contact)?, Topics::one(topic));
    let receipt = migma.unsubscribe(&request).await?;
    println!("{receipt}");
    Ok(())
}
