//! [`HttpConfig`], the settings every provider client shares, and the
//! [`http_builder_methods!`](crate::http_builder_methods) macro that gives a provider's builder
//! their setters.

use std::sync::Arc;
use std::time::Duration;

use super::env::optional_env;
use super::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT};
use crate::rate::RateLimit;
use crate::retry::RetryPolicy;
use crate::Provider;

/// Settings every provider client shares. Provider builders hold one and expose its setters
/// (see [`http_builder_methods!`](crate::http_builder_methods)).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Overrides the provider's base URL (a sandbox, a proxy, the EU region).
    pub base_url: Option<String>,
    /// Time for one attempt.
    pub timeout: Duration,
    /// Time to open a connection (ignored when `client` is given: set it on that client).
    pub connect_timeout: Duration,
    /// When to retry.
    pub retry: RetryPolicy,
    /// A client to share, so that several provider clients use one connection pool.
    pub client: Option<reqwest::Client>,
    /// The account's rate limit, shared by every request of the client and its clones. `None`:
    /// the provider's published limit ([`RateLimit::published`]) against its production URL
    /// when `default_rate_limit` is set, otherwise only what the provider's answers say.
    pub rate_limit: Option<RateLimit>,
    /// Whether `rate_limit: None` means the provider's published limit (the default) rather
    /// than no configured limit.
    pub default_rate_limit: bool,
    /// Where the rate limit is shared with other processes sending with the same account
    /// (the PostgreSQL outbox store): every request also takes its slot there. `None`: this
    /// client (and its clones) keeps to the limit on its own.
    pub rate_share: Option<Arc<dyn crate::RateShare>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            client: None,
            rate_limit: None,
            default_rate_limit: true,
            rate_share: None,
        }
    }
}

impl HttpConfig {
    /// Defaults, with the base URL from `<PROVIDER>_BASE_URL` when it is set and not empty.
    pub fn from_env(provider: Provider) -> Self {
        HttpConfig {
            base_url: optional_env(&format!("{}_BASE_URL", provider.env_prefix())),
            ..HttpConfig::default()
        }
    }
}

/// Adds the shared setters (`base_url`, `timeout`, `connect_timeout`, `retry_policy`,
/// `max_retries`, `http_client`, `rate_limit`, `rate_share`, `no_rate_limit`, `http_config`) to a provider's builder, which must have a field
/// `http: optout_core::HttpConfig`. Written once here so that every provider's builder reads
/// the same.
#[macro_export]
macro_rules! http_builder_methods {
    () => {
        /// Sends to this base URL instead of the provider's (a sandbox, a proxy). It must be an
        /// `http` or `https` URL without query or fragment; checked by `build()`.
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.http.base_url = Some(url.into());
            self
        }

        /// Time allowed for one attempt (default 30 s).
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.http.timeout = timeout;
            self
        }

        /// Time allowed to open a connection (default 5 s).
        pub fn connect_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.http.connect_timeout = timeout;
            self
        }

        /// When to retry (default: 3 retries within 60 s).
        pub fn retry_policy(mut self, policy: $crate::RetryPolicy) -> Self {
            self.http.retry = policy;
            self
        }

        /// Shorthand for the number of retries in the retry policy.
        pub fn max_retries(mut self, retries: u32) -> Self {
            self.http.retry = self.http.retry.max_retries(retries);
            self
        }

        /// Shares a `reqwest::Client` (and so its connection pool) with other clients.
        pub fn http_client(mut self, client: $crate::reqwest::Client) -> Self {
            self.http.client = Some(client);
            self
        }

        /// Spends at most `limit` (e.g. `RateLimit::per(190, Duration::from_secs(10))`, or
        /// `"190/10s".parse()?`) across every request of this client and its clones: request
        /// starts are spaced evenly, and a 429 pauses them all until the provider's
        /// `Retry-After` or window has passed. By default the provider's published limit
        /// applies against its production API ([`RateLimit::published`]).
        pub fn rate_limit(mut self, limit: $crate::RateLimit) -> Self {
            self.http.rate_limit = Some(limit);
            self
        }

        /// Shares the rate limit with every other process sending with the same account
        /// through `share` (e.g. the PostgreSQL outbox store's): each request takes its slot
        /// there too, keyed by the provider and a fingerprint of the account, never a secret.
        /// If `share` cannot be reached, the client keeps to the limit on its own after one
        /// warning.
        pub fn rate_share(mut self, share: ::std::sync::Arc<dyn $crate::RateShare>) -> Self {
            self.http.rate_share = Some(share);
            self
        }

        /// No configured rate limit, not even the provider's published one: requests go as
        /// fast as they are sent, and only the provider's 429s and rate headers slow them.
        pub fn no_rate_limit(mut self) -> Self {
            self.http.rate_limit = None;
            self.http.default_rate_limit = false;
            self
        }

        /// Replaces all the shared HTTP settings at once.
        pub fn http_config(mut self, config: $crate::HttpConfig) -> Self {
            self.http = config;
            self
        }
    };
}
