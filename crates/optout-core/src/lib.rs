//! The core of [optout](https://docs.rs/optout): the [`Unsubscriber`] trait every provider
//! implements, the shared types ([`Recipient`], [`Topics`], [`Unsubscribe`], [`Receipt`]), the
//! one [`Error`], the [`RetryPolicy`], and the HTTP plumbing provider crates build on.
//!
//! Applications usually depend on the `optout` crate, which re-exports all of this together
//! with the providers they enable.
//!
//! Where to find things:
//! - `types`: the request and receipt model;
//! - `error`: [`Error`], [`ErrorKind`] and the status classification;
//! - `retry`: [`RetryPolicy::decide`] and [`wait_from_headers`], pure functions;
//! - [`http`]: [`HttpClient`] (one connection pool, retries, secret-safe errors);
//! - `rate`: [`RateLimit`] and the rate governor each client shares with its clones;
//! - `rate_share`: [`RateShare`], one limit shared by several processes (through a store);
//! - [`scrub`]: what keeps credentials and control characters out of error text;
//! - [`validate`]: the input checks every provider applies before sending;
//! - [`plan`]: dry runs, the requests a call would send, recorded instead of sent.

mod answered;
pub mod engine;
mod error;
pub mod http;
pub mod plan;
mod rate;
mod rate_share;
mod retry;
pub mod scrub;
mod types;
mod unsubscriber;
pub mod validate;

pub use answered::{receipts, receipts_owned, Answered};
pub use async_trait::async_trait;
pub use error::{snippet, Error, ErrorKind, Partial};
pub use http::{HttpClient, HttpConfig, Request, Response};
pub use plan::{Plan, PlannedRequest};
pub use rate::RateLimit;
pub use rate_share::{RateShare, RateShareError, SharedSlot};
pub use retry::{wait_from_headers, Decision, RetryPolicy};
pub use types::{
    LegalBasis, Outcome, Provider, Receipt, Recipient, Topics, Unsubscribe, PHONE_REGION_VAR,
};
pub use unsubscriber::{
    per_topic, plan_by_capture, plan_many_by_capture, TopicOutcome, Unsubscriber, UnsubscriberExt,
    TOPIC_CONCURRENCY,
};

/// Re-exported so that provider crates and users name the same versions.
pub use {reqwest, secrecy};
