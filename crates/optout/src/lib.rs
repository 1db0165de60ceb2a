//! **optout** honours an opt-out everywhere it has to be honoured: one trait,
//! [`Unsubscriber`], unsubscribes a person from email topics (Migma), notification topics
//! (Novu), push topics (Pushy), SMS campaigns (Mobivate) and CRM subscription types (HubSpot).
//!
//! Enable only the providers you use; each is a Cargo feature:
//!
//! | feature | provider | module |
//! |---|---|---|
//! | `migma` | Migma email topics | [`providers::migma`] |
//! | `novu` | Novu notification topics | [`providers::novu`] |
//! | `pushy` | Pushy push topics | [`providers::pushy`] |
//! | `mobivate` | Mobivate SMS campaigns | [`providers::mobivate`] |
//! | `hubspot` | HubSpot subscription types | [`providers::hubspot`] |
//! | `full` | all of the above | |
//! | `bulk` | [`bulk`]: CSV opt-outs with a journal | |
//! | `outbox` | [`outbox`]: durable opt-outs, worker, receipts | |
//! | `rustls` (default) / `native-tls` | the TLS library | |
//!
//! ```no_run
//! # #[cfg(feature = "hubspot")]
//! # async fn run() -> Result<(), optout::Error> {
//! use optout::{LegalBasis, Recipient, Topics, Unsubscribe, Unsubscriber};
//! use optout::providers::hubspot::HubSpot;
//!
//! let hubspot = HubSpot::from_env()?; // HUBSPOT_ACCESS_TOKEN
//! let receipt = hubspot
//!     .unsubscribe(
//!         &Unsubscribe::new(Recipient::email("alice@example.com")?, Topics::one("12345"))
//!             .legal_basis(LegalBasis::ConsentWithNotice, "User clicked unsubscribe"),
//!     )
//!     .await?;
//! println!("{} {} at {}", receipt.recipient, receipt.outcome, receipt.provider);
//! # Ok(()) }
//! ```
//!
//! Any provider can be held as `Box<dyn Unsubscriber>`; [`fanout::FanOut`] sends one
//! person's opt-out to every configured provider at once.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The README's Rust snippets are compiled as doctests of this crate (they name every provider
// and `optout-sandbox`, a dev-dependency), so that what a reader pastes compiles.
#[cfg(all(doctest, feature = "full", feature = "bulk"))]
#[doc = include_str!("../../../README.md")]
struct ReadmeSnippets;

#[cfg(feature = "bulk")]
#[cfg_attr(docsrs, doc(cfg(feature = "bulk")))]
pub mod bulk;
pub mod connect;
pub mod fanout;

/// Durable opt-outs: accept once, a worker sends until every provider confirms, receipts in a
/// hash chain (feature `outbox`; SQLite or PostgreSQL).
#[cfg(feature = "outbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "outbox")))]
pub mod outbox {
    pub use optout_outbox::*;
}

pub use connect::{from_env, Overrides};
/// The HTTP client and secret types the clients use, to share a pool or hold a key.
pub use optout_core::{reqwest, secrecy};

pub use optout_core::{
    async_trait, Error, ErrorKind, LegalBasis, Outcome, Partial, Plan, PlannedRequest, Provider,
    RateLimit, RateShare, RateShareError, Receipt, Recipient, RetryPolicy, SharedSlot,
    TopicOutcome, Topics, Unsubscribe, Unsubscriber, UnsubscriberExt,
};

// The plumbing's old paths, kept so that nothing written against them breaks; new code uses
// `optout::provider_kit`.
#[doc(hidden)]
pub use optout_core::{http, per_topic, validate, Decision, HttpClient, HttpConfig};

/// What only an author of a new provider client needs: the shared HTTP client (one connection
/// pool, retries, secret-safe errors), the input checks, the per-topic fold and the retry
/// decision. An application sending opt-outs does not need anything here.
///
/// ```
/// use optout::provider_kit::{per_topic, validate, Decision, HttpClient, HttpConfig};
/// # // The paths these had before `provider_kit` keep working, hidden from the docs.
/// # use optout::{http, per_topic as _, validate as _, Decision as _, HttpClient as _};
/// # let _: optout::HttpConfig = http::HttpConfig::default();
///
/// let config = HttpConfig::default();
/// assert!(config.base_url.is_none());
/// assert!(validate::non_empty("recipient", "alice").is_ok());
/// ```
pub mod provider_kit {
    #[doc(inline)]
    pub use optout_core::{engine, http, plan, validate};
    pub use optout_core::{
        per_topic, plan_by_capture, plan_many_by_capture, receipts, receipts_owned, snippet,
        wait_from_headers, Answered, Decision, HttpClient, HttpConfig, Request, Response,
        TOPIC_CONCURRENCY,
    };
}

/// The provider clients, each behind its Cargo feature; each module is the provider crate
/// itself, with its docs.
///
/// ```no_run
/// # #[cfg(all(feature = "migma", feature = "novu", feature = "pushy", feature = "mobivate", feature = "hubspot"))]
/// # fn run() -> Result<(), optout::Error> {
/// use optout::providers::{hubspot::HubSpot, migma::Migma, mobivate::Mobivate, novu::Novu, pushy::Pushy};
/// use optout::Unsubscriber;
///
/// // Each reads its credentials from the environment (see the README's table).
/// let clients: Vec<Box<dyn Unsubscriber>> = vec![
///     Box::new(HubSpot::from_env()?),
///     Box::new(Migma::from_env()?),
///     Box::new(Mobivate::from_env()?),
///     Box::new(Novu::from_env()?),
///     Box::new(Pushy::from_env()?),
/// ];
/// # let _ = clients; Ok(()) }
/// ```
pub mod providers {
    #[cfg(feature = "hubspot")]
    #[cfg_attr(docsrs, doc(cfg(feature = "hubspot")))]
    #[doc(inline)]
    pub use optout_hubspot as hubspot;
    #[cfg(feature = "migma")]
    #[cfg_attr(docsrs, doc(cfg(feature = "migma")))]
    #[doc(inline)]
    pub use optout_migma as migma;
    #[cfg(feature = "mobivate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mobivate")))]
    #[doc(inline)]
    pub use optout_mobivate as mobivate;
    #[cfg(feature = "novu")]
    #[cfg_attr(docsrs, doc(cfg(feature = "novu")))]
    #[doc(inline)]
    pub use optout_novu as novu;
    #[cfg(feature = "pushy")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pushy")))]
    #[doc(inline)]
    pub use optout_pushy as pushy;
}
