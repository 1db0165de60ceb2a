//! Building any enabled provider's client from the environment, with overrides (the command
//! line's `--base-url`, `--timeout`, `--retries`).

use std::sync::Arc;
use std::time::Duration;

use optout_core::{Error, Provider, RateLimit, RateShare, Unsubscriber};

/// Settings that win over the environment.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Overrides {
    /// Replaces `<PROVIDER>_BASE_URL` and the provider's default.
    pub base_url: Option<String>,
    /// Time for one attempt.
    pub timeout: Option<Duration>,
    /// Retries after the first attempt.
    pub retries: Option<u32>,
    /// A client to share, so that several providers use one connection pool.
    pub http_client: Option<optout_core::reqwest::Client>,
    /// The account's rate limit, instead of the provider's published one.
    pub rate_limit: Option<RateLimit>,
    /// Where the rate limit is shared with other processes (e.g. the PostgreSQL outbox
    /// store's [`RateShare`]).
    pub rate_share: Option<Arc<dyn RateShare>>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Overrides::default()
    }

    /// Sets the base URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the timeout of one attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the number of retries.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// Sets the account's rate limit (shared by every request of the client built).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Shares the rate limit with other processes through `share` (see
    /// [`RateShare`]).
    pub fn rate_share(mut self, share: Arc<dyn RateShare>) -> Self {
        self.rate_share = Some(share);
        self
    }

    /// Shares a `reqwest::Client`.
    pub fn http_client(mut self, client: optout_core::reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }
}

/// Applies the overrides to any provider builder (they all share the HTTP setters).
macro_rules! build {
    ($builder:ty, $overrides:expr) => {{
        let mut builder = <$builder>::from_env()?;
        let o: &Overrides = $overrides;
        if let Some(url) = &o.base_url {
            builder = builder.base_url(url.clone());
        }
        if let Some(timeout) = o.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(retries) = o.retries {
            builder = builder.max_retries(retries);
        }
        if let Some(limit) = o.rate_limit {
            builder = builder.rate_limit(limit);
        }
        if let Some(share) = &o.rate_share {
            builder = builder.rate_share(share.clone());
        }
        if let Some(client) = &o.http_client {
            builder = builder.http_client(client.clone());
        }
        Arc::new(builder.build()?) as Arc<dyn Unsubscriber>
    }};
}

/// The client of `provider`, with credentials and base URL from its environment variables
/// (see the README) and `overrides` on top.
///
/// A provider whose Cargo feature is off is [`ErrorKind::Unsupported`](crate::ErrorKind).
/// A missing credential or a bad base URL is a configuration error naming the variable;
/// nothing is sent either way.
pub fn from_env(provider: Provider, overrides: &Overrides) -> Result<Arc<dyn Unsubscriber>, Error> {
    let _ = overrides; // unused when no provider feature is enabled
    Ok(match provider {
        #[cfg(feature = "migma")]
        Provider::Migma => build!(optout_migma::MigmaBuilder, overrides),
        #[cfg(feature = "novu")]
        Provider::Novu => build!(optout_novu::NovuBuilder, overrides),
        #[cfg(feature = "pushy")]
        Provider::Pushy => build!(optout_pushy::PushyBuilder, overrides),
        #[cfg(feature = "mobivate")]
        Provider::Mobivate => build!(optout_mobivate::MobivateBuilder, overrides),
        #[cfg(feature = "hubspot")]
        Provider::HubSpot => build!(optout_hubspot::HubSpotBuilder, overrides),
        #[allow(unreachable_patterns)]
        other => {
            return Err(Error::unsupported(
                other,
                format!("be used: this build of optout was compiled without the `{other}` feature"),
            ))
        }
    })
}
