//! Unsubscribe one Pushy device token from every topic (Pushy's `"*"`).
//!
//! Against the sandbox (`optout sandbox` in another terminal):
//!
//! ```sh
//! PUSHY_BASE_URL=http://127.0.0.1:8025 PUSHY_SECRET_API_KEY=any \
//!   cargo run -p optout --features pushy --example pushy -- a6345d0278adc55d3474f5
//! ```

use optout::providers::pushy::Pushy;
use optout::{Recipient, Topics, Unsubscribe, Unsubscriber};

#[tokio::main]
async fn main() -> Result<(), optout::Error> {
    let token = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "a6345d0278adc55d3474f5".into());

    let pushy = Pushy::from_env()?; // PUSHY_SECRET_API_KEY, optional PUSHY_BASE_URL
    let receipt = pushy
        .unsubscribe(&Unsubscribe::new(Recipient::device(token)?, Topics::All))
        .await?;
    println!("{receipt}");
    Ok(())
}
