//! [`Api`]: which of the five emulated APIs, by name.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// One of the five emulated APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Api {
    /// Migma: `POST /v1/topics/{id}/unsubscribe`.
    Migma,
    /// Novu: `DELETE /v2/topics/{topicKey}/subscriptions`.
    Novu,
    /// Pushy: `POST /topics/unsubscribe?api_key=KEY`.
    Pushy,
    /// Mobivate: `POST /subscriptions/v1/{campaign_id}/unsubscribe`.
    Mobivate,
    /// HubSpot: `POST /communication-preferences/v3/unsubscribe` and v4 `unsubscribe-all`.
    HubSpot,
}

impl Api {
    /// All five, in a fixed order.
    pub const ALL: [Api; 5] = [
        Api::Migma,
        Api::Novu,
        Api::Pushy,
        Api::Mobivate,
        Api::HubSpot,
    ];

    /// The lower-case name: `migma`, `novu`, `pushy`, `mobivate`, `hubspot`.
    pub fn name(self) -> &'static str {
        match self {
            Api::Migma => "migma",
            Api::Novu => "novu",
            Api::Pushy => "pushy",
            Api::Mobivate => "mobivate",
            Api::HubSpot => "hubspot",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Api {
    type Err = Error;

    /// Parses a name case-insensitively (`"hubspot"`, `"HubSpot"`).
    fn from_str(s: &str) -> Result<Self, Error> {
        Api::ALL
            .into_iter()
            .find(|api| api.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownApi(s.to_owned()))
    }
}
