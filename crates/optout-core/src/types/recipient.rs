//! [`Recipient`]: who opts out (an email, a subscriber id, a device token, a phone number),
//! checked as the provider needs it, and [`PHONE_REGION_VAR`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Provider;
use crate::{validate, Error};

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
