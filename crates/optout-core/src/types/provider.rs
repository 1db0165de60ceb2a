//! [`Provider`]: the providers optout speaks to, by name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The providers optout speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// Migma email topics.
    Migma,
    /// Novu notification topics.
    Novu,
    /// Pushy push-notification topics.
    Pushy,
    /// Mobivate SMS campaigns.
    Mobivate,
    /// HubSpot communication-preference subscription types.
    #[serde(rename = "hubspot")]
    HubSpot,
}

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Provider; 5] = [
        Provider::Migma,
        Provider::Novu,
        Provider::Pushy,
        Provider::Mobivate,
        Provider::HubSpot,
    ];

    /// The lower-case name used on the command line, in JSON and in error messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::Migma => "migma",
            Provider::Novu => "novu",
            Provider::Pushy => "pushy",
            Provider::Mobivate => "mobivate",
            Provider::HubSpot => "hubspot",
        }
    }

    /// The prefix of this provider's environment variables, e.g. `HUBSPOT` for
    /// `HUBSPOT_BASE_URL`.
    pub const fn env_prefix(self) -> &'static str {
        match self {
            Provider::Migma => "MIGMA",
            Provider::Novu => "NOVU",
            Provider::Pushy => "PUSHY",
            Provider::Mobivate => "MOBIVATE",
            Provider::HubSpot => "HUBSPOT",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::invalid_input(
                    "provider",
                    format!("unknown provider {s:?}; expected one of migma, novu, pushy, mobivate, hubspot"),
                )
            })
    }
}
