//! Unsubscribe email addresses from [HubSpot](https://www.hubspot.com) communication-preference
//! subscription types.
//!
//! Calls ([docs](https://developers.hubspot.com/docs/api-reference/legacy/communication-preferences/v3/guide)):
//! - `POST /communication-preferences/v3/unsubscribe` with
//!   `{"emailAddress","subscriptionId","legalBasis"?,"legalBasisExplanation"?}`: one
//!   subscription type ([`HubSpot::unsubscribe_from_subscription`]);
//! - `POST /communication-preferences/v4/statuses/{email}/unsubscribe-all?channel=EMAIL`: every
//!   email subscription ([`HubSpot::unsubscribe_all`]);
//! - `POST /communication-preferences/v4/statuses/batch/write`: many statuses at once
//!   ([`HubSpot::batch_write`]).
//!
//! [`HubSpot`] implements [`Unsubscriber`] for [`Recipient::Email`]: [`Topics::Only`] is one v3
//! call per subscription id, [`Topics::All`] is the v4 unsubscribe-all, and `unsubscribe_many`
//! (bulk runs, the outbox) folds many requests into v4 batch writes of up to
//! [`DEFAULT_BATCH_SIZE`] statuses ([`HubSpotBuilder::batch_size`]), falling back to v3 calls
//! when the token lacks the batch scope. Nothing counts as done unless HubSpot's answer says so
//! for that address and subscription.
//!
//! [`Unsubscriber`]: optout_core::Unsubscriber
//! [`Recipient::Email`]: optout_core::Recipient::Email
//! [`Topics::Only`]: optout_core::Topics::Only
//! [`Topics::All`]: optout_core::Topics::All
//!
//! ```no_run
//! # mod optout { pub use optout_core::*; pub mod providers { pub mod hubspot { pub use optout_hubspot::*; } } }
//! use optout::{LegalBasis, Recipient, Topics, Unsubscribe, Unsubscriber};
//! use optout::providers::hubspot::HubSpot;
//! # async fn run() -> Result<(), optout::Error> {
//! let hubspot = HubSpot::from_env()?; // HUBSPOT_ACCESS_TOKEN, optional HUBSPOT_BASE_URL
//! let request = Unsubscribe::new(Recipient::email("alice@example.com")?, Topics::one("289137114"))
//!     .legal_basis(LegalBasis::ConsentWithNotice, "User clicked unsubscribe");
//! let receipt = hubspot.unsubscribe(&request).await?;
//! println!("{}: {} ({:?})", receipt.recipient, receipt.outcome, receipt.reference);
//! # Ok(()) }
//! ```
//!
//! The crate's modules, by concern: `wire` (the bodies as documented), `decode` (errors and
//! answers), `client` (the builder and the typed calls), `mapping` (the `Unsubscriber`).

mod auth;
mod batch;
mod client;
mod decode;
mod mapping;
mod view;
mod wire;

use optout_core::reqwest::header::HeaderName;
use optout_core::Provider;

pub use client::{Answer, HubSpot, HubSpotBuilder, UnsubscribeAllOutcome, UnsubscribeOutcome};
pub use wire::{
    BatchResponse, BatchStatus, BatchWriteRequest, ErrorBody, PublicStatus, SetStatusSuccessReason,
    SourceOfStatus, StandardError, StatusState, StatusWrite, SubscriptionState, SubscriptionStatus,
    UnsubscribeRequest,
};

/// HubSpot's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// The variable [`HubSpot::from_env`] reads the access token from.
pub const ACCESS_TOKEN_VAR: &str = "HUBSPOT_ACCESS_TOKEN";
/// With OAuth ([`HubSpotBuilder::oauth`]): the variable [`HubSpot::from_env`] reads the
/// public app's client id from.
pub const CLIENT_ID_VAR: &str = "HUBSPOT_CLIENT_ID";
/// With OAuth: the variable the app's client secret is read from.
pub const CLIENT_SECRET_VAR: &str = "HUBSPOT_CLIENT_SECRET";
/// With OAuth: the variable the install's refresh token is read from.
pub const REFRESH_TOKEN_VAR: &str = "HUBSPOT_REFRESH_TOKEN";
/// The optional variable [`HubSpot::from_env`] reads the batch size from
/// ([`HubSpotBuilder::batch_size`]; `1` turns batch writes off).
pub const BATCH_SIZE_VAR: &str = "HUBSPOT_BATCH_SIZE";
/// The response header whose value becomes a receipt's reference.
pub const CORRELATION_ID_HEADER: &str = "x-hubspot-correlation-id";
/// The only channel the v4 API supports.
pub const CHANNEL_EMAIL: &str = "EMAIL";
/// How many statuses one batch write carries unless [`HubSpotBuilder::batch_size`] says
/// otherwise: HubSpot documents no limit for `/communication-preferences/v4/statuses/batch/write`,
/// and 100 is the limit of its other batch endpoints.
pub const DEFAULT_BATCH_SIZE: usize = 100;
const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
const PROVIDER: Provider = Provider::HubSpot;
/// [`CORRELATION_ID_HEADER`], parsed once.
const CORRELATION: HeaderName = HeaderName::from_static(CORRELATION_ID_HEADER);
