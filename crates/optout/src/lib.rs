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

#[cfg(feature = "bulk")]
#[cfg_attr(docsrs, doc(cfg(feature = "bulk")))]
pub mod bulk;
pub mod connect;
pub mod fanout;

pub use connect::{from_env, Overrides};
/// The HTTP client and secret types the clients use, to share a pool or hold a key.
pub use optout_core::{reqwest, secrecy};

pub use optout_core::{
    async_trait, http, per_topic, validate, Decision, Error, ErrorKind, HttpClient, HttpConfig,
    LegalBasis, Outcome, Partial, Provider, RateLimit, Receipt, Recipient, RetryPolicy,
    TopicOutcome, Topics, Unsubscribe, Unsubscriber, UnsubscriberExt,
};

/// The provider crates, each behind its feature.
pub mod providers {
    /// Migma email topics (feature `migma`).
    #[cfg(feature = "migma")]
    #[cfg_attr(docsrs, doc(cfg(feature = "migma")))]
    pub mod migma {
        pub use optout_migma::*;
    }
    /// Novu notification topics (feature `novu`).
    #[cfg(feature = "novu")]
    #[cfg_attr(docsrs, doc(cfg(feature = "novu")))]
    pub mod novu {
        pub use optout_novu::*;
    }
    /// Pushy push topics (feature `pushy`).
    #[cfg(feature = "pushy")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pushy")))]
    pub mod pushy {
        pub use optout_pushy::*;
    }
    /// Mobivate SMS campaigns (feature `mobivate`).
    #[cfg(feature = "mobivate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mobivate")))]
    pub mod mobivate {
        pub use optout_mobivate::*;
    }
    /// HubSpot communication-preference subscription types (feature `hubspot`).
    #[cfg(feature = "hubspot")]
    #[cfg_attr(docsrs, doc(cfg(feature = "hubspot")))]
    pub mod hubspot {
        pub use optout_hubspot::*;
    }
}
