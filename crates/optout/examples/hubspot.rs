//! Unsubscribe one email address from one HubSpot subscription type, recording a legal basis.
//!
//! Against the sandbox (`optout sandbox` in another terminal):
//!
//! ```sh
//! HUBSPOT_BASE_URL=http://127.0.0.1:8025 HUBSPOT_ACCESS_TOKEN=any \
//!   cargo run -p optout --features hubspot --example hubspot -- alice@example.com 12345
//! ```
//!
//! Against HubSpot: leave `HUBSPOT_BASE_URL` unset and give a private app's token.

use optout::providers::hubspot::HubSpot;
use optout::{LegalBasis, Recipient, Topics, Unsubscribe, Unsubscriber};

#[tokio::main]
async fn main() -> Result<(), optout::Error> {
    let mut args = std::env::args().skip(1);
    let email = args.next().unwrap_or_else(|| "alice@example.com".into());
    let subscription_id = args.next().unwrap_or_else(|| "12345".into());

    let hubspot = HubSpot::from_env()?; // HUBSPOT_ACCESS_TOKEN, optional HUBSPOT_BASE_URL
    let request = Unsubscribe::new(Recipient::email(email)?, Topics::one(subscription_id))
        .legal_basis(LegalBasis::ConsentWithNotice, "User clicked unsubscribe");
    let receipt = hubspot.unsubscribe(&request).await?;
    println!("{receipt}");
    Ok(())
}
