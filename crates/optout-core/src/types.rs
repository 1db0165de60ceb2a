//! The unified model: who opts out ([`Recipient`]), from what ([`Topics`]), the request
//! ([`Unsubscribe`]) and the proof that it was honoured ([`Receipt`]).

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{validate, Error};

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

/// The person (or device) who opts out, in the form a provider knows them by.
///
/// Build one with the validating constructors, which reject bad input before anything is sent:
///
/// ```
/// # mod optout { pub use optout_core::*; }
/// use optout::Recipient;
/// let alice = Recipient::email("alice@example.com")?;
/// assert!(Recipient::email("alice").is_err());
/// let phone = Recipient::phone("+254 700 000000")?; // stored as "254700000000"
/// assert_eq!(phone.to_string(), "254700000000");
/// # Ok::<(), optout::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Recipient {
    /// An email address (HubSpot).
    Email {
        /// The address, as given.
        address: String,
    },
    /// A phone number as an MSISDN: the E.164 digits (country code first), no `+` (Mobivate).
    /// Build it with [`Recipient::phone`] or [`Recipient::phone_in_region`].
    Phone {
        /// The digits.
        msisdn: String,
    },
    /// A push device token (Pushy).
    Device {
        /// The token.
        token: String,
    },
    /// A provider-side subscriber or contact id (Migma, Novu).
    Subscriber {
        /// The subscriber (Novu) or contact (Migma) id.
        id: String,
        /// Novu's subscription identifier, to remove one subscription of the subscriber only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identifier: Option<String>,
    },
}

impl Recipient {
    /// An email address; it must have a local part and a domain.
    pub fn email(address: impl Into<String>) -> Result<Self, Error> {
        let address = address.into();
        validate::email("recipient", &address)?;
        Ok(Recipient::Email { address })
    }

    /// A phone number in international form: `+` or `00` and the country code
    /// (`+254 700 000000`, `0044 20 7946 0000`), or an MSISDN as Mobivate takes it
    /// (`254700000000`). It is parsed with libphonenumber's metadata and stored as E.164 digits
    /// without the `+` (`+44 (0)20 7946 0000` becomes `442079460000`).
    ///
    /// A national number (`0700 000000`) is refused: its country is unknown, and guessing
    /// would opt out someone else's number. Use [`phone_in_region`](Self::phone_in_region)
    /// for those. A number no country allocates is refused too; see
    /// [`validate::phone`] for the rules.
    ///
    /// ```
    /// # mod optout { pub use optout_core::*; }
    /// use optout::Recipient;
    /// assert_eq!(Recipient::phone("+44 (0)20 7946 0000")?.to_string(), "442079460000");
    /// assert!(Recipient::phone("0700 000000").is_err());
    /// # Ok::<(), optout_core::Error>(())
    /// ```
    pub fn phone(number: impl AsRef<str>) -> Result<Self, Error> {
        Self::phone_with("recipient", number.as_ref(), None)
    }

    /// A phone number where a national number is read in `region`, an ISO 3166-1 alpha-2
    /// code such as `KE` (international forms ignore it).
    ///
    /// ```
    /// # mod optout { pub use optout_core::*; }
    /// use optout::Recipient;
    /// let r = Recipient::phone_in_region("0700 000000", "KE")?;
    /// assert_eq!(r, Recipient::Phone { msisdn: "254700000000".into() });
    /// # Ok::<(), optout_core::Error>(())
    /// ```
    pub fn phone_in_region(number: impl AsRef<str>, region: &str) -> Result<Self, Error> {
        Self::phone_with("recipient", number.as_ref(), Some(region))
    }

    fn phone_with(field: &str, number: &str, region: Option<&str>) -> Result<Self, Error> {
        let msisdn = validate::phone(field, number, region)?;
        Ok(Recipient::Phone { msisdn })
    }

    /// A push device token.
    pub fn device(token: impl Into<String>) -> Result<Self, Error> {
        let token = token.into();
        validate::non_empty("recipient", &token)?;
        Ok(Recipient::Device { token })
    }

    /// A provider-side subscriber or contact id.
    pub fn subscriber(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        validate::non_empty("recipient", &id)?;
        Ok(Recipient::Subscriber {
            id,
            identifier: None,
        })
    }

    /// A subscriber id with a Novu subscription identifier.
    pub fn subscriber_with_identifier(
        id: impl Into<String>,
        identifier: impl Into<String>,
    ) -> Result<Self, Error> {
        let (id, identifier) = (id.into(), identifier.into());
        validate::non_empty("recipient", &id)?;
        validate::non_empty("identifier", &identifier)?;
        Ok(Recipient::Subscriber {
            id,
            identifier: Some(identifier),
        })
    }

    /// The recipient `provider` takes, from one text value: an email address for HubSpot, a
    /// phone number for Mobivate, a device token for Pushy, a subscriber (Novu) or contact
    /// (Migma) id with an optional Novu subscription `identifier` for the others.
    ///
    /// A Mobivate number that is not in international form is read in the region named by
    /// `MOBIVATE_DEFAULT_REGION` (see [`phone_in_region`](Self::phone_in_region)); without
    /// it, a national number is refused. A malformed `MOBIVATE_DEFAULT_REGION` is a
    /// configuration error.
    ///
    /// ```
    /// # mod optout { pub use optout_core::*; }
    /// use optout::{Provider, Recipient};
    /// let r = Recipient::for_provider(Provider::Mobivate, "+254700000000", None)?;
    /// assert_eq!(r, Recipient::Phone { msisdn: "254700000000".into() });
    /// assert!(Recipient::for_provider(Provider::HubSpot, "not-an-email", None).is_err());
    /// # Ok::<(), optout::Error>(())
    /// ```
    pub fn for_provider(
        provider: Provider,
        value: &str,
        identifier: Option<&str>,
    ) -> Result<Self, Error> {
        let value = value.trim();
        let recipient = match provider {
            Provider::HubSpot => Recipient::email(value)?,
            Provider::Mobivate => {
                let region = default_phone_region()?;
                Recipient::phone_with("recipient", value, region.as_deref())?
            }
            Provider::Pushy => Recipient::device(value)?,
            Provider::Migma | Provider::Novu => match identifier.map(str::trim) {
                Some(identifier) if !identifier.is_empty() => {
                    Recipient::subscriber_with_identifier(value, identifier)?
                }
                _ => Recipient::subscriber(value)?,
            },
        };
        if identifier.is_some_and(|i| !i.trim().is_empty()) && provider != Provider::Novu {
            return Err(Error::invalid_input(
                "identifier",
                format!("only Novu takes a subscription identifier, not {provider}"),
            ));
        }
        Ok(recipient)
    }

    /// The kind of recipient, for messages: `email`, `phone`, `device` or `subscriber`.
    pub fn kind(&self) -> &'static str {
        match self {
            Recipient::Email { .. } => "email",
            Recipient::Phone { .. } => "phone",
            Recipient::Device { .. } => "device",
            Recipient::Subscriber { .. } => "subscriber",
        }
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::Email { address } => f.write_str(address),
            Recipient::Phone { msisdn } => f.write_str(msisdn),
            Recipient::Device { token } => f.write_str(token),
            Recipient::Subscriber {
                id,
                identifier: None,
            } => f.write_str(id),
            Recipient::Subscriber {
                id,
                identifier: Some(identifier),
            } => write!(f, "{id} ({identifier})"),
        }
    }
}

/// The variable [`Recipient::for_provider`] reads the region of national phone numbers from.
pub const PHONE_REGION_VAR: &str = "MOBIVATE_DEFAULT_REGION";

/// `MOBIVATE_DEFAULT_REGION`, checked; `None` when unset or blank.
fn default_phone_region() -> Result<Option<String>, Error> {
    match std::env::var(PHONE_REGION_VAR) {
        Ok(region) if !region.trim().is_empty() => {
            validate::phone_region(PHONE_REGION_VAR, &region)
                .map(Some)
                .map_err(|e| {
                    Error::config(format!(
                        "{PHONE_REGION_VAR}: {}",
                        e.message().unwrap_or("is not a region code")
                    ))
                })
        }
        Ok(_) => Ok(None),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::config(format!(
            "{PHONE_REGION_VAR} is not valid UTF-8; expected a region code such as KE"
        ))),
    }
}

/// What to unsubscribe from: some topics, or everything the provider lets us name at once.
///
/// Serialized as a JSON array of ids, or the string `"all"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topics {
    /// These topics (ids, keys, campaign ids or subscription ids, as the provider names them).
    Only(Vec<String>),
    /// Every topic. Only Pushy (`["*"]`) and HubSpot (unsubscribe-all) can do this in one call.
    All,
}

impl Topics {
    /// One topic.
    pub fn one(id: impl Into<String>) -> Self {
        Topics::Only(vec![id.into()])
    }

    /// Several topics.
    pub fn only<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Topics::Only(ids.into_iter().map(Into::into).collect())
    }

    /// The ids, or `None` for [`Topics::All`].
    pub fn ids(&self) -> Option<&[String]> {
        match self {
            Topics::Only(ids) => Some(ids),
            Topics::All => None,
        }
    }
}

impl fmt::Display for Topics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topics::All => f.write_str("all"),
            Topics::Only(ids) => f.write_str(&ids.join(",")),
        }
    }
}

impl Serialize for Topics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Topics::Only(ids) => ids.serialize(s),
            Topics::All => s.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for Topics {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Only(Vec<String>),
            All(String),
        }
        match Repr::deserialize(d)? {
            Repr::Only(ids) => Ok(Topics::Only(ids)),
            Repr::All(s) if s == "all" => Ok(Topics::All),
            Repr::All(s) => Err(serde::de::Error::custom(format!(
                "expected a list of topics or \"all\", got {s:?}"
            ))),
        }
    }
}

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

/// What the provider said about the opt-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The recipient was subscribed and is not any more.
    Unsubscribed,
    /// The recipient was already unsubscribed; nothing changed. Still a success.
    AlreadyUnsubscribed,
}

impl Outcome {
    /// The outcome of a provider's "already unsubscribed" answer: `AlreadyUnsubscribed`,
    /// unless an earlier attempt of the same request may have applied the change (its answer
    /// was lost), in which case `Unsubscribed`: this call may have made the change, and a
    /// receipt must not say otherwise. See
    /// [`Response::earlier_attempt_may_have_applied`](crate::Response).
    ///
    /// ```
    /// # mod optout { pub use optout_core::*; }
    /// use optout::Outcome;
    /// assert_eq!(Outcome::already(false), Outcome::AlreadyUnsubscribed);
    /// assert_eq!(Outcome::already(true), Outcome::Unsubscribed);
    /// ```
    pub fn already(earlier_attempt_may_have_applied: bool) -> Outcome {
        if earlier_attempt_may_have_applied {
            Outcome::Unsubscribed
        } else {
            Outcome::AlreadyUnsubscribed
        }
    }

    /// Combines the outcomes of several topics: `Unsubscribed` if anything changed.
    pub fn merge(self, other: Outcome) -> Outcome {
        if self == Outcome::Unsubscribed || other == Outcome::Unsubscribed {
            Outcome::Unsubscribed
        } else {
            Outcome::AlreadyUnsubscribed
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Unsubscribed => "unsubscribed",
            Outcome::AlreadyUnsubscribed => "already unsubscribed",
        })
    }
}

/// Proof that an opt-out was honoured: what a compliance officer would keep.
///
/// Its `Display` is one line naming the provider, the recipient, the outcome, the topics and
/// the provider's reference, the line `optout unsubscribe` prints:
///
/// ```
/// # mod optout { pub use optout_core::*; }
/// use optout::{Outcome, Provider, Receipt, Recipient, Topics};
///
/// let receipt = Receipt::new(
///     Provider::HubSpot,
///     Recipient::email("alice@example.com")?,
///     Topics::one("12345"),
///     Outcome::Unsubscribed,
///     Some("3dd3ffd1".into()),
/// );
/// assert_eq!(
///     receipt.to_string(),
///     "hubspot: alice@example.com unsubscribed from 12345 (reference 3dd3ffd1)"
/// );
/// # Ok::<(), optout::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Receipt {
    /// Who honoured it.
    pub provider: Provider,
    /// Who opted out.
    pub recipient: Recipient,
    /// From what.
    pub topics: Topics,
    /// Whether anything changed.
    pub outcome: Outcome,
    /// The provider's own reference for the change (an id, a correlation reference), if any;
    /// several are joined with `,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When the provider confirmed it.
    #[serde(with = "rfc3339")]
    pub completed_at: SystemTime,
}

impl Receipt {
    /// A receipt completed now.
    pub fn new(
        provider: Provider,
        recipient: Recipient,
        topics: Topics,
        outcome: Outcome,
        reference: Option<String>,
    ) -> Self {
        Receipt {
            provider,
            recipient,
            topics,
            outcome,
            reference,
            completed_at: SystemTime::now(),
        }
    }
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {} from {}",
            self.provider, self.recipient, self.outcome, self.topics
        )?;
        match &self.reference {
            Some(reference) => write!(f, " (reference {reference})"),
            None => Ok(()),
        }
    }
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_basis_parses_both_spellings_and_lists_the_allowed_ones() {
        assert_eq!(
            "consent-with-notice".parse::<LegalBasis>().unwrap(),
            LegalBasis::ConsentWithNotice
        );
        assert_eq!(
            "NON_GDPR".parse::<LegalBasis>().unwrap(),
            LegalBasis::NonGdpr
        );
        let err = "gdpr".parse::<LegalBasis>().unwrap_err().to_string();
        assert!(err.contains("legal_basis"), "{err}");
        assert!(err.contains("PROCESS_AND_STORE"), "{err}");
    }

    #[test]
    fn receipt_round_trips_through_json() {
        let receipt = Receipt::new(
            Provider::HubSpot,
            Recipient::email("a@example.com").unwrap(),
            Topics::only(["1", "2"]),
            Outcome::AlreadyUnsubscribed,
            Some("ref".into()),
        );
        let json = serde_json::to_value(&receipt).unwrap();
        assert_eq!(json["provider"], "hubspot");
        assert_eq!(json["recipient"]["kind"], "email");
        assert_eq!(json["topics"], serde_json::json!(["1", "2"]));
        assert_eq!(json["outcome"], "already_unsubscribed");
        let back: Receipt = serde_json::from_value(json).unwrap();
        assert_eq!(back.topics, receipt.topics);
        assert_eq!(back.outcome, receipt.outcome);
    }

    #[test]
    fn topics_all_serializes_as_the_word_all() {
        assert_eq!(serde_json::to_value(Topics::All).unwrap(), "all");
        let t: Topics = serde_json::from_str("\"all\"").unwrap();
        assert_eq!(t, Topics::All);
        assert!(serde_json::from_str::<Topics>("\"some\"").is_err());
    }

    #[test]
    fn provider_names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert!("mailchimp".parse::<Provider>().is_err());
    }

    #[test]
    fn a_mobivate_recipient_reads_national_numbers_in_mobivate_default_region() {
        // The only test in this binary that touches MOBIVATE_DEFAULT_REGION.
        let phone = |v: &str| Recipient::for_provider(Provider::Mobivate, v, None);
        std::env::remove_var(PHONE_REGION_VAR);
        let err = phone("0700 000000").unwrap_err();
        assert_eq!(err.field(), Some("recipient"));
        assert!(err.to_string().contains("MOBIVATE_DEFAULT_REGION"), "{err}");
        assert_eq!(
            phone("+44 (0)20 7946 0000").unwrap(),
            Recipient::Phone {
                msisdn: "442079460000".into()
            }
        );
        std::env::set_var(PHONE_REGION_VAR, "KE");
        assert_eq!(
            phone("0700 000000").unwrap(),
            Recipient::Phone {
                msisdn: "254700000000".into()
            }
        );
        std::env::set_var(PHONE_REGION_VAR, "Kenya");
        let err = phone("0700 000000").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config, "{err}");
        assert!(err.to_string().contains("MOBIVATE_DEFAULT_REGION"), "{err}");
        std::env::remove_var(PHONE_REGION_VAR);
    }

    #[test]
    fn outcome_merge_reports_a_change_if_any_topic_changed() {
        use Outcome::*;
        assert_eq!(AlreadyUnsubscribed.merge(Unsubscribed), Unsubscribed);
        assert_eq!(
            AlreadyUnsubscribed.merge(AlreadyUnsubscribed),
            AlreadyUnsubscribed
        );
    }
}
