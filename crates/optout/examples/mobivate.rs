//! Unsubscribe one phone number from one Mobivate SMS campaign (the request is signed with
//! the account id).
//!
//! Against the sandbox (`optout sandbox` in another terminal), whose Mobivate account id is
//! `43e36f54eef111e270639871000000f1` unless started with `--mobivate-account-id`:
//!
//! ```sh
//! MOBIVATE_BASE_URL=http://127.0.0.1:8025 MOBIVATE_ACCOUNT_ID=43e36f54eef111e270639871000000f1 \
//!   cargo run -p optout --features mobivate --example mobivate -- 254700000000 c71e2c2ee68b410a82d6c5f910c2d428
//! ```

use optout::providers::mobivate::Mobivate;
use optout::{Recipient, Topics, Unsubscribe, Unsubscriber};

#[tokio::main]
async fn main() -> Result<(), optout::Error> {
    let mut args = std::env::args().skip(1);
    let phone = args.next().unwrap_or_else(|| "254700000000".into());
    let campaign = args
        .next()
        .unwrap_or_else(|| "c71e2c2ee68b410a82d6c5f910c2d428".into());

    let mobivate = Mobivate::from_env()?; // MOBIVATE_ACCOUNT_ID, optional MOBIVATE_KEYWORD, MOBIVATE_BASE_URL
    let request = Unsubscribe::new(Recipient::phone(phone)?, Topics::one(campaign));
    let receipt = mobivate.unsubscribe(&request).await?;
    println!("{receipt}");
    Ok(())
}
