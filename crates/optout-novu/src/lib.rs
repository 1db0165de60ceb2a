//! Unsubscribe subscribers from [Novu](https://novu.co) topics.
//!
//! One endpoint: `DELETE /v2/topics/{topicKey}/subscriptions` with
//! `{"subscriptions":[{"subscriberId","identifier"?}]}`
//! ([docs](https://docs.novu.co/api-reference/topics/delete-topic-subscriptions)). [`Novu`] is
//! the typed client: [`Novu::delete_topic_subscriptions`] takes any number of subscriptions and
//! sends them in chunks of 100. It implements [`Unsubscriber`] for [`Recipient::Subscriber`]
//! with [`Topics::Only`] (one DELETE per topic key), and batches in
//! [`Unsubscriber::unsubscribe_many`]: requests for the same single topic share one DELETE of
//! up to 100 subscriptions.
//!
//! ```no_run
//! # mod optout { pub use optout_core::*; pub mod providers { pub mod novu { pub use optout_novu::*; } } }
//! use optout::{Recipient, Topics, Unsubscribe, Unsubscriber};
//! use optout::providers::novu::Novu;
//! # async fn run() -> Result<(), optout::Error> {
//! let novu = Novu::from_env()?; // NOVU_SECRET_KEY, optional NOVU_REGION and NOVU_BASE_URL
//! let request = Unsubscribe::new(Recipient::subscriber("user-123")?, Topics::one("product-updates"));
//! let receipt = novu.unsubscribe(&request).await?;
//! println!("{}: {}", receipt.recipient, receipt.outcome);
//! # Ok(()) }
//! ```
//!
//! [`Unsubscriber`]: optout_core::Unsubscriber
//! [`Unsubscriber::unsubscribe_many`]: optout_core::Unsubscriber::unsubscribe_many
//! [`Recipient::Subscriber`]: optout_core::Recipient::Subscriber
//! [`Topics::Only`]: optout_core::Topics::Only

mod answer;
mod client;
mod errors;
mod group;
mod mapping;
mod wire;

use optout_core::Provider;

pub use client::{Novu, NovuBuilder, Region};
pub use errors::ErrorBody;
pub use wire::{
    DeleteSubscriptionsResponse, DeletedSubscription, Meta, SubscriberSummary, SubscriptionError,
    SubscriptionRef, TopicSummary,
};

/// Novu's production API in the US region (the default).
pub const DEFAULT_BASE_URL: &str = "https://api.novu.co";
/// Novu's production API in the EU region.
pub const EU_BASE_URL: &str = "https://eu.api.novu.co";
/// The variable [`Novu::from_env`] reads the secret key from.
pub const SECRET_KEY_VAR: &str = "NOVU_SECRET_KEY";
/// The variable [`Novu::from_env`] reads the region from (`us` or `eu`; optional).
pub const REGION_VAR: &str = "NOVU_REGION";
/// The most subscriptions one request may name.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// The longest idempotency key sent. Novu answers a longer one with a 400 on the calls where
/// it honours keys (POST and PATCH); optout refuses it on this DELETE too, before sending.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// The per-item code meaning "this subscription did not exist": already unsubscribed.
pub const SUBSCRIPTION_NOT_FOUND: &str = "SUBSCRIPTION_NOT_FOUND";
pub(crate) const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
pub(crate) const PROVIDER: Provider = Provider::Novu;
