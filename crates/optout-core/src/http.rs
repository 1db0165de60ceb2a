//! The HTTP plumbing every provider client shares: one connection pool per client, base-URL
//! checks, timeouts, the `User-Agent`, secret-safe errors, and the retry loop.

mod client;
mod config;
mod env;
mod request;
mod url;

use std::time::Duration;

pub use self::url::parse_base_url;
pub use crate::scrub::earlier_attempt_may_have_applied;
pub use client::HttpClient;
pub use config::HttpConfig;
pub use env::{optional_env, require_secret, required_env, secret_header};
pub use request::{Request, Response};

/// Default time for one attempt, from sending to the end of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest response body read; a larger one is a decode error. Every documented answer
/// is well under 64 KiB.
pub const MAX_BODY: usize = 1 << 20;

#[cfg(test)]
mod tests;
