//! What the sandbox emulates ([`Config`]) and what it has served ([`Stats`]).

use std::collections::BTreeMap;
use std::fmt;

use crate::{Api, Faults, RateLimit, Seed, DEFAULT_MOBIVATE_ACCOUNT_ID};

/// What the sandbox emulates: its world, credentials and faults.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// Closes the worlds of the providers it names; `None`: every world open.
    pub seed: Option<Seed>,
    /// The only credential each listed provider accepts; unlisted: any non-empty one.
    pub keys: BTreeMap<Api, String>,
    /// The account id Mobivate signatures are checked against.
    pub mobivate_account_id: String,
    /// Faults at start.
    pub faults: Faults,
    /// Rate limits enforced per provider (rolling windows), answered with the provider's own
    /// 429 and rate headers.
    pub rate_limits: BTreeMap<Api, RateLimit>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: None,
            keys: BTreeMap::new(),
            mobivate_account_id: DEFAULT_MOBIVATE_ACCOUNT_ID.to_owned(),
            faults: Faults::NONE,
            rate_limits: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are test keys, but they may be copied from real ones: never print them.
        let keys: Vec<_> = self.keys.keys().map(|api| (api, "[REDACTED]")).collect();
        f.debug_struct("Config")
            .field("seed", &self.seed)
            .field("keys", &keys)
            .field("mobivate_account_id", &self.mobivate_account_id)
            .field("faults", &self.faults)
            .field("rate_limits", &self.rate_limits)
            .finish()
    }
}

/// Requests served per provider and TCP connections accepted, since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests routed to Migma's endpoint (faulted ones included).
    pub migma: u64,
    /// Requests routed to Novu's endpoint.
    pub novu: u64,
    /// Requests routed to Pushy's endpoint.
    pub pushy: u64,
    /// Requests routed to Mobivate's endpoint.
    pub mobivate: u64,
    /// Requests routed to HubSpot's endpoints.
    pub hubspot: u64,
    /// Requests for no known endpoint (answered 404/405).
    pub unrouted: u64,
    /// TCP connections accepted: far fewer than requests when clients reuse connections.
    pub connections: u64,
    /// Requests refused with a 429 by a configured rate limit
    /// ([`SandboxBuilder::rate_limit`](crate::SandboxBuilder::rate_limit)), all providers
    /// together; they are counted in the per-provider requests too. Injected 429s ([`Faults`])
    /// are not counted here.
    pub rate_limited: u64,
}

impl Stats {
    /// Requests routed to `api`.
    pub fn requests(&self, api: Api) -> u64 {
        match api {
            Api::Migma => self.migma,
            Api::Novu => self.novu,
            Api::Pushy => self.pushy,
            Api::Mobivate => self.mobivate,
            Api::HubSpot => self.hubspot,
        }
    }

    /// All requests, routed or not.
    pub fn total_requests(&self) -> u64 {
        Api::ALL.iter().map(|a| self.requests(*a)).sum::<u64>() + self.unrouted
    }
}
