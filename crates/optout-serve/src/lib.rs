//! Receive opt-outs over HTTP.
//!
//! - [`link`]: RFC 8058 one-click unsubscribe links: signed, versioned tokens with key
//!   rotation, the URL `BASE/u/TOKEN` and the two mail headers.
//! - [`server`]: an axum server in front of a durable store ([`Intake`]): `POST /u/{token}`
//!   (one-click), `GET /u/{token}` (a confirmation page), the JSON API `POST /v1/opt-outs` and
//!   `GET /v1/opt-outs/{id}`, `/healthz`, `/readyz` and `/metrics`.
//! - [`api`]: the JSON body of `POST /v1/opt-outs`, checked field by field.
//! - [`memory`]: an in-memory [`Intake`] for tests (not durable).
//! - `outbox` (feature `outbox`): the durable outbox as the [`Intake`].
//!
//! The server answers "accepted" only after the store has committed the opt-out; an opt-out
//! the store could not take is answered 503, so the sender tries again and nothing is lost.
//! Terminate TLS in a reverse proxy in front of it.

pub mod api;
pub mod intake;
pub mod link;
pub mod memory;
pub mod metrics;
#[cfg(feature = "outbox")]
pub mod outbox;
mod page;
pub mod server;

pub use intake::{
    Accepted, Channel, Counts, Intake, IntakeError, OptOut, OptOutStatus, Target, TaskState,
    TaskStatus,
};
pub use link::{Link, LinkKeys, Scope, TokenError, Verified};
pub use metrics::{Metrics, Timed};
pub use server::{router, ApiTokens, Config};
