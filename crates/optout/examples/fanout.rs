//! One person's opt-out, sent at once to every provider whose credentials are set
//! ([`FanOut::from_env`]), with one result per provider.
//!
//! Against the sandbox (`optout sandbox` in another terminal), with every provider:
//!
//! ```sh
//! export HUBSPOT_BASE_URL=http://127.0.0.1:8025 HUBSPOT_ACCESS_TOKEN=any
//! export PUSHY_BASE_URL=http://127.0.0.1:8025 PUSHY_SECRET_API_KEY=any
//! export NOVU_BASE_URL=http://127.0.0.1:8025 NOVU_SECRET_KEY=any
//! export MIGMA_BASE_URL=http://127.0.0.1:8025 MIGMA_API_KEY=any MIGMA_PROJECT_ID=proj_1
//! export MOBIVATE_BASE_URL=http://127.0.0.1:8025 MOBIVATE_ACCOUNT_ID=43e36f54eef111e270639871000000f1
//! cargo run -p optout --features full --example fanout
//! ```
//!
//! Set only some of them and the others are listed as left out. Exits 1 unless every
//! provider confirmed.

use optout::fanout::{FanOut, PersonOptOut};
use optout::{LegalBasis, Provider, Topics};

#[tokio::main]
async fn main() -> Result<(), optout::Error> {
    let fanout = FanOut::from_env()?;
    for (provider, why) in fanout.left_out() {
        eprintln!("left out {provider}: {why}");
    }

    let opt_out = PersonOptOut::default()
        .email("alice@example.com")
        .phone("254700000000")
        .device("a6345d0278adc55d3474f5")
        .subscriber(Provider::Migma, "contact_42")
        .subscriber(Provider::Novu, "user-123")
        .legal_basis(LegalBasis::ConsentWithNotice, "User clicked unsubscribe");
    // Topics only for the providers in the fan-out: topics for one that is not are an error.
    let opt_out = fanout.providers().fold(opt_out, |o, provider| {
        let topics = match provider {
            Provider::HubSpot => Topics::one("12345"),
            Provider::Migma => Topics::one("newsletter"),
            Provider::Novu => Topics::one("product-updates"),
            Provider::Pushy => Topics::All,
            _ => Topics::one("c71e2c2ee68b410a82d6c5f910c2d428"),
        };
        o.topics(provider, topics)
    });

    let mut all_done = true;
    for result in fanout.unsubscribe(&opt_out).await {
        for receipt in &result.receipts {
            println!("{receipt}");
        }
        for error in &result.errors {
            println!("{}: FAILED: {error}", result.provider);
        }
        if let Some(why) = &result.skipped {
            println!("{}: skipped: {why}", result.provider);
        }
        all_done &= result.is_done();
    }
    if !all_done {
        std::process::exit(1);
    }
    Ok(())
}
