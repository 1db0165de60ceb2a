//! The request: [`Unsubscribe`] and the [`LegalBasis`] it may record.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Recipient, Topics};
use crate::Error;

/// The legal basis for processing recorded with an opt-out (HubSpot's enum; required for GDPR
/// portals).
///
/// Parses from HubSpot's spelling (`CONSENT_WITH_NOTICE`) or the command line's
/// (`consent-with-notice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum LegalBasis {
    /// `CONSENT_WITH_NOTICE`
    ConsentWithNotice,
    /// `LEGITIMATE_INTEREST_CLIENT`
    LegitimateInterestClient,
    /// `LEGITIMATE_INTEREST_OTHER`
    LegitimateInterestOther,
    /// `LEGITIMATE_INTEREST_PQL`
    LegitimateInterestPql,
    /// `NON_GDPR`
    NonGdpr,
    /// `PERFORMANCE_OF_CONTRACT`
    PerformanceOfContract,
    /// `PROCESS_AND_STORE`
    ProcessAndStore,
}

impl LegalBasis {
    /// Every legal basis, in HubSpot's order.
    pub const ALL: [LegalBasis; 7] = [
        LegalBasis::ConsentWithNotice,
        LegalBasis::LegitimateInterestClient,
        LegalBasis::LegitimateInterestOther,
        LegalBasis::LegitimateInterestPql,
        LegalBasis::NonGdpr,
        LegalBasis::PerformanceOfContract,
        LegalBasis::ProcessAndStore,
    ];

    /// HubSpot's wire name, e.g. `CONSENT_WITH_NOTICE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LegalBasis::ConsentWithNotice => "CONSENT_WITH_NOTICE",
            LegalBasis::LegitimateInterestClient => "LEGITIMATE_INTEREST_CLIENT",
            LegalBasis::LegitimateInterestOther => "LEGITIMATE_INTEREST_OTHER",
            LegalBasis::LegitimateInterestPql => "LEGITIMATE_INTEREST_PQL",
            LegalBasis::NonGdpr => "NON_GDPR",
            LegalBasis::PerformanceOfContract => "PERFORMANCE_OF_CONTRACT",
            LegalBasis::ProcessAndStore => "PROCESS_AND_STORE",
        }
    }
}

impl fmt::Display for LegalBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LegalBasis {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let wanted = s.trim().replace('-', "_");
        LegalBasis::ALL
            .into_iter()
            .find(|b| b.as_str().eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| {
                let allowed: Vec<_> = LegalBasis::ALL.iter().map(|b| b.as_str()).collect();
                Error::invalid_input(
                    "legal_basis",
                    format!("unknown legal basis {s:?}; allowed: {}", allowed.join(", ")),
                )
            })
    }
}

/// One opt-out request, the same for every provider.
///
/// ```
/// # mod optout { pub use optout_core::*; }
/// use optout::{LegalBasis, Recipient, Topics, Unsubscribe};
/// let request = Unsubscribe::new(Recipient::email("alice@example.com")?, Topics::one("12345"))
///     .legal_basis(LegalBasis::ConsentWithNotice, "User clicked unsubscribe")
///     .idempotency_key("req-7f3a");
/// assert_eq!(request.topics, Topics::one("12345"));
/// # Ok::<(), optout::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Unsubscribe {
    /// Who opts out.
    pub recipient: Recipient,
    /// From what.
    pub topics: Topics,
    /// The legal basis and its explanation (HubSpot records them; others ignore them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<(LegalBasis, String)>,
    /// A key that makes a retried request safe to repeat, where the provider supports one (Novu).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl Unsubscribe {
    /// A request to unsubscribe `recipient` from `topics`.
    pub fn new(recipient: Recipient, topics: Topics) -> Self {
        Unsubscribe {
            recipient,
            topics,
            legal_basis: None,
            idempotency_key: None,
        }
    }

    /// Records the legal basis and its explanation.
    pub fn legal_basis(mut self, basis: LegalBasis, explanation: impl Into<String>) -> Self {
        self.legal_basis = Some((basis, explanation.into()));
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}
