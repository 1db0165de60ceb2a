//! Unsubscribe email addresses from [HubSpot](https://www.hubspot.com) communication-preference
//! subscription types.
//!
//! Calls ([docs](https://developers.hubspot.com/docs/api-reference/legacy/communication-preferences/v3/guide)):
//! - `POST /communication-preferences/v3/unsubscribe` with
//!   `{"emailAddress","subscriptionId","legalBasis"?,"legalBasisExplanation"?}`: one
//!   subscription type ([`HubSpot::unsubscribe_from_subscription`]);
//! - `POST /communication-preferences/v4/statuses/{email}/unsubscribe-all?channel=EMAIL`: every
//!   email subscription ([`HubSpot::unsubscribe_all`]);
//! - `POST /communication-preferences/v4/statuses/batch/write`: many statuses at once
//!   ([`HubSpot::batch_write`]).
//!
//! [`HubSpot`] implements [`Unsubscriber`] for [`Recipient::Email`]: [`Topics::Only`] is one v3
//! call per subscription id, [`Topics::All`] is the v4 unsubscribe-all.
//!
//! ```no_run
//! # mod optout { pub use optout_core::*; pub mod providers { pub mod hubspot { pub use optout_hubspot::*; } } }
//! use optout::{LegalBasis, Recipient, Topics, Unsubscribe, Unsubscriber};
//! use optout::providers::hubspot::HubSpot;
//! # async fn run() -> Result<(), optout::Error> {
//! let hubspot = HubSpot::from_env()?; // HUBSPOT_ACCESS_TOKEN, optional HUBSPOT_BASE_URL
//! let request = Unsubscribe::new(Recipient::email("alice@example.com")?, Topics::one("289137114"))
//!     .legal_basis(LegalBasis::ConsentWithNotice, "User clicked unsubscribe");
//! let receipt = hubspot.unsubscribe(&request).await?;
//! println!("{}: {} ({:?})", receipt.recipient, receipt.outcome, receipt.reference);
//! # Ok(()) }
//! ```

use std::fmt;

use optout_core::http::{require_secret, required_env, secret_header, HttpConfig};
use optout_core::reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use optout_core::reqwest::{Method, StatusCode, Url};
use optout_core::secrecy::SecretString;
use optout_core::{
    async_trait, http_builder_methods, snippet, validate, Error, HttpClient, LegalBasis, Outcome,
    Provider, Receipt, Recipient, Request, Response, TopicOutcome, Topics, Unsubscribe,
    Unsubscriber,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// HubSpot's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// The variable [`HubSpot::from_env`] reads the access token from.
pub const ACCESS_TOKEN_VAR: &str = "HUBSPOT_ACCESS_TOKEN";
/// The response header whose value becomes a receipt's reference.
pub const CORRELATION_ID_HEADER: &str = "x-hubspot-correlation-id";
/// The only channel the v4 API supports.
pub const CHANNEL_EMAIL: &str = "EMAIL";
const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
const PROVIDER: Provider = Provider::HubSpot;
/// [`CORRELATION_ID_HEADER`], parsed once.
const CORRELATION: HeaderName = HeaderName::from_static(CORRELATION_ID_HEADER);

/// A HubSpot enum that keeps values this crate does not know as [`Other`](SubscriptionState::Other),
/// so that a new value never turns a confirmed opt-out into a decode error.
macro_rules! lenient_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this crate does not know, kept as HubSpot sent it.
            Other(String),
        }

        impl $name {
            /// HubSpot's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(other) => other,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // A visitor rather than `String::deserialize`: a known value costs no copy.
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$name, E> {
                        Ok(match text {
                            $($wire => $name::$variant,)+
                            _ => $name::Other(text.to_owned()),
                        })
                    }
                }
                d.deserialize_str(Visitor)
            }
        }
    };
}

lenient_enum!(
    /// v3: whether the contact is subscribed.
    SubscriptionState {
        /// `SUBSCRIBED`
        Subscribed = "SUBSCRIBED",
        /// `NOT_SUBSCRIBED`
        NotSubscribed = "NOT_SUBSCRIBED",
    }
);
lenient_enum!(
    /// v3: where the status comes from.
    SourceOfStatus {
        /// `BRAND_WIDE_STATUS`
        BrandWideStatus = "BRAND_WIDE_STATUS",
        /// `PORTAL_WIDE_STATUS` (the contact opted out of the whole portal)
        PortalWideStatus = "PORTAL_WIDE_STATUS",
        /// `SUBSCRIPTION_STATUS`
        SubscriptionStatus = "SUBSCRIPTION_STATUS",
    }
);
lenient_enum!(
    /// v4: a subscription status, as read or written.
    StatusState {
        /// `SUBSCRIBED`
        Subscribed = "SUBSCRIBED",
        /// `UNSUBSCRIBED`
        Unsubscribed = "UNSUBSCRIBED",
        /// `NOT_SPECIFIED`
        NotSpecified = "NOT_SPECIFIED",
    }
);
lenient_enum!(
    /// v4: the state of a batch action.
    BatchStatus {
        /// `PENDING`
        Pending = "PENDING",
        /// `PROCESSING`
        Processing = "PROCESSING",
        /// `CANCELED`
        Canceled = "CANCELED",
        /// `COMPLETE`
        Complete = "COMPLETE",
    }
);
lenient_enum!(
    /// v4: why a status write succeeded.
    SetStatusSuccessReason {
        /// `RESUBSCRIBE_OCCURRED`
        ResubscribeOccurred = "RESUBSCRIBE_OCCURRED",
        /// `NO_STATUS_CHANGE`: the status already was what was asked.
        NoStatusChange = "NO_STATUS_CHANGE",
        /// `UNSUBSCRIBE_FROM_ALL_OCCURRED`
        UnsubscribeFromAllOccurred = "UNSUBSCRIBE_FROM_ALL_OCCURRED",
        /// `REQUESTED_CHANGE_OCCURRED`
        RequestedChangeOccurred = "REQUESTED_CHANGE_OCCURRED",
    }
);

/// The body of `POST /communication-preferences/v3/unsubscribe`, as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnsubscribeRequest {
    /// The contact's email address.
    pub email_address: String,
    /// The subscription type's id.
    pub subscription_id: String,
    /// The legal basis (required by GDPR-enabled portals); sent only when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<LegalBasis>,
    /// Its explanation; required with a legal basis, sent only with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis_explanation: Option<String>,
}

impl UnsubscribeRequest {
    /// `email_address` from `subscription_id`, without a legal basis.
    pub fn new(email_address: impl Into<String>, subscription_id: impl Into<String>) -> Self {
        UnsubscribeRequest {
            email_address: email_address.into(),
            subscription_id: subscription_id.into(),
            legal_basis: None,
            legal_basis_explanation: None,
        }
    }

    /// Records a legal basis and its explanation.
    pub fn legal_basis(mut self, basis: LegalBasis, explanation: impl Into<String>) -> Self {
        self.legal_basis = Some(basis);
        self.legal_basis_explanation = Some(explanation.into());
        self
    }

    /// Checks the request, so that nothing malformed is sent.
    pub fn validate(&self) -> Result<(), Error> {
        validate::email("emailAddress", &self.email_address)?;
        validate::non_empty("subscriptionId", &self.subscription_id)?;
        check_legal_basis(
            "legalBasisExplanation",
            self.legal_basis,
            self.legal_basis_explanation.as_deref(),
        )
    }
}

/// A legal basis needs a non-empty explanation, and an explanation needs a basis.
fn check_legal_basis(
    field: &str,
    basis: Option<LegalBasis>,
    explanation: Option<&str>,
) -> Result<(), Error> {
    match (basis, explanation) {
        (Some(_), Some(text)) => validate::non_empty(field, text),
        (Some(basis), None) => Err(Error::invalid_input(
            field,
            format!("is required with the legal basis {basis}; say why it applies"),
        )),
        (None, Some(_)) => Err(Error::invalid_input(
            field,
            "was given without a legal basis; give both or neither",
        )),
        (None, None) => Ok(()),
    }
}

/// The v3 answer: the subscription's status after the change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionStatus {
    /// The subscription type's id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Whether the contact is subscribed.
    pub status: SubscriptionState,
    /// Where the status comes from.
    pub source_of_status: SourceOfStatus,
    /// The brand the subscription belongs to, if any.
    pub brand_id: Option<i64>,
    /// The legal basis of the current status (a string, so that a new value is kept).
    pub legal_basis: Option<String>,
    /// Its explanation.
    pub legal_basis_explanation: Option<String>,
    /// The preference group's name.
    pub preference_group_name: Option<String>,
}

/// What the v3 unsubscribe said. `S` is the decoded status: the whole [`SubscriptionStatus`]
/// for [`HubSpot::unsubscribe_from_subscription`] (the `Unsubscriber` mapping decodes only
/// the fields it reads).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsubscribeOutcome<S = SubscriptionStatus> {
    /// The contact is now unsubscribed; HubSpot's status of the subscription.
    Unsubscribed(S),
    /// HubSpot answered 400 "… is already unsubscribed from subscription …".
    AlreadyUnsubscribed {
        /// HubSpot's message.
        message: String,
    },
}

/// What a v3 answer's status must show for the unsubscribe to count: its state, and the
/// subscription id and source that the error names when it is still `SUBSCRIBED`.
trait V3Status: serde::de::DeserializeOwned {
    fn state(&self) -> (&SubscriptionState, &str, &SourceOfStatus);
}

impl V3Status for SubscriptionStatus {
    fn state(&self) -> (&SubscriptionState, &str, &SourceOfStatus) {
        (&self.status, &self.id, &self.source_of_status)
    }
}

/// The fields of a v3 answer the `Unsubscriber` mapping reads; the others (`name`,
/// `description`, ...) are skipped by the parser, not copied into strings.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Confirmed {
    #[serde(deserialize_with = "id_text")]
    id: String,
    status: SubscriptionState,
    source_of_status: SourceOfStatus,
}

impl V3Status for Confirmed {
    fn state(&self) -> (&SubscriptionState, &str, &SourceOfStatus) {
        (&self.status, &self.id, &self.source_of_status)
    }
}

/// What the v4 unsubscribe-all said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsubscribeAllOutcome {
    /// HubSpot accepted it; `None` when the body was empty (the docs say that, without
    /// `verbose=true`, the answer is empty).
    Accepted(Option<BatchResponse>),
    /// HubSpot answered with an error whose message says the address is already unsubscribed.
    AlreadyUnsubscribed {
        /// HubSpot's message.
        message: String,
    },
}

impl UnsubscribeAllOutcome {
    /// `AlreadyUnsubscribed` when HubSpot said so, or listed statuses that all had
    /// `NO_STATUS_CHANGE`; otherwise `Unsubscribed` (an empty answer tells nothing more).
    pub fn outcome(&self) -> Outcome {
        match self {
            UnsubscribeAllOutcome::AlreadyUnsubscribed { .. } => Outcome::AlreadyUnsubscribed,
            UnsubscribeAllOutcome::Accepted(Some(batch))
                if !batch.results.is_empty()
                    && batch.results.iter().all(|r| {
                        r.set_status_success_reason == Some(SetStatusSuccessReason::NoStatusChange)
                    }) =>
            {
                Outcome::AlreadyUnsubscribed
            }
            UnsubscribeAllOutcome::Accepted(_) => Outcome::Unsubscribed,
        }
    }
}

/// A v4 batch answer (`BatchResponsePublicStatus` / `ActionResponseWithResultsPublicStatus`).
///
/// Only `status` is required: `results` defaults to empty and the timestamps are kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BatchResponse {
    /// `PENDING`, `PROCESSING`, `CANCELED` or `COMPLETE`.
    pub status: BatchStatus,
    /// The statuses written.
    #[serde(default)]
    pub results: Vec<PublicStatus>,
    /// When the action started (RFC 3339).
    pub started_at: Option<String>,
    /// When it completed.
    pub completed_at: Option<String>,
    /// When it was requested.
    pub requested_at: Option<String>,
    /// Inputs that failed.
    #[serde(default)]
    pub errors: Vec<StandardError>,
    /// How many failed.
    pub num_errors: Option<u64>,
}

/// One v4 subscription status.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PublicStatus {
    /// The contact's email address.
    pub subscriber_id_string: String,
    /// The subscription type's id (a number on the wire; a string is accepted too).
    #[serde(deserialize_with = "id_text")]
    pub subscription_id: String,
    /// The status now.
    pub status: StatusState,
    /// `EMAIL`.
    pub channel: String,
    /// What set the status.
    pub source: Option<String>,
    /// When (RFC 3339).
    pub timestamp: Option<String>,
    /// The brand (business unit), if any.
    pub business_unit_id: Option<i64>,
    /// The legal basis recorded.
    pub legal_basis: Option<String>,
    /// Its explanation.
    pub legal_basis_explanation: Option<String>,
    /// Why the write succeeded (`NO_STATUS_CHANGE` when nothing changed).
    pub set_status_success_reason: Option<SetStatusSuccessReason>,
    /// The subscription type's name.
    pub subscription_name: Option<String>,
}

/// An error listed inside a v4 batch answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StandardError {
    /// HubSpot's category.
    pub category: Option<String>,
    /// HubSpot's message.
    pub message: Option<String>,
    /// The failed input's id, if given.
    pub id: Option<String>,
}

/// The body of `POST /communication-preferences/v4/statuses/batch/write`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchWriteRequest {
    /// The statuses to write (at least one).
    pub inputs: Vec<StatusWrite>,
}

/// One status to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusWrite {
    /// The contact's email address.
    pub subscriber_id_string: String,
    /// `EMAIL`, the only channel HubSpot supports.
    pub channel: String,
    /// The status to set.
    pub status_state: StatusState,
    /// The subscription type's id (a number on the wire).
    pub subscription_id: u64,
    /// The legal basis; sent only when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<LegalBasis>,
    /// Its explanation; required with a legal basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis_explanation: Option<String>,
}

impl StatusWrite {
    /// Unsubscribes `email` from `subscription_id` on the email channel.
    pub fn unsubscribe(email: impl Into<String>, subscription_id: u64) -> Self {
        StatusWrite {
            subscriber_id_string: email.into(),
            channel: CHANNEL_EMAIL.into(),
            status_state: StatusState::Unsubscribed,
            subscription_id,
            legal_basis: None,
            legal_basis_explanation: None,
        }
    }

    /// Records a legal basis and its explanation.
    pub fn legal_basis(mut self, basis: LegalBasis, explanation: impl Into<String>) -> Self {
        self.legal_basis = Some(basis);
        self.legal_basis_explanation = Some(explanation.into());
        self
    }
}

impl BatchWriteRequest {
    /// Checks every input, so that nothing malformed is sent.
    pub fn validate(&self) -> Result<(), Error> {
        if self.inputs.is_empty() {
            return Err(Error::invalid_input(
                "inputs",
                "no status given; give at least one",
            ));
        }
        for input in &self.inputs {
            validate::email("subscriberIdString", &input.subscriber_id_string)?;
            if input.channel != CHANNEL_EMAIL {
                return Err(Error::invalid_input(
                    "channel",
                    format!(
                        "{:?} is not supported; HubSpot takes only \"EMAIL\"",
                        input.channel
                    ),
                ));
            }
            if let StatusState::Other(other) = &input.status_state {
                return Err(Error::invalid_input(
                    "statusState",
                    format!(
                        "{other:?} is not allowed; use SUBSCRIBED, UNSUBSCRIBED or NOT_SPECIFIED"
                    ),
                ));
            }
            let explanation = input.legal_basis_explanation.as_deref();
            check_legal_basis("legalBasisExplanation", input.legal_basis, explanation)?;
        }
        Ok(())
    }
}

/// A successful answer with HubSpot's correlation id (the `X-HubSpot-Correlation-Id` header,
/// or for an "already unsubscribed" error the body's `correlationId`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Answer<T> {
    /// What HubSpot said.
    pub body: T,
    /// The id HubSpot support can trace the call by.
    pub correlation_id: Option<String>,
}

/// HubSpot's error body: `{status, message, correlationId, category, subCategory?, errors?}`;
/// rate limits add `errorType` (`RATE_LIMIT`) and `policyName` (`DAILY`, `TEN_SECONDLY_ROLLING`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ErrorBody {
    /// The message.
    pub message: Option<String>,
    /// The id HubSpot support can trace the call by.
    pub correlation_id: Option<String>,
    /// The category, e.g. `VALIDATION_ERROR`.
    pub category: Option<String>,
    /// The kind of error, e.g. `RATE_LIMIT`; preferred to `category` as the code.
    pub error_type: Option<String>,
    /// The rate-limit policy hit.
    pub policy_name: Option<String>,
}

/// Accepts an id as a JSON string or integer.
fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    // A visitor rather than an untagged enum, which would buffer every value first.
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an id, as a string or a number")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_owned())
        }
        fn visit_string<E: serde::de::Error>(self, text: String) -> Result<String, E> {
            Ok(text)
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<String, E> {
            Ok(n.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<String, E> {
            Ok(n.to_string())
        }
    }
    d.deserialize_any(Visitor)
}

/// A HubSpot client: one connection pool, the access token (in a sensitive header), retries.
///
/// Its `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct HubSpot {
    http: HttpClient,
    /// `.../communication-preferences/v3/unsubscribe`, built once: every bulk row posts to it.
    v3_unsubscribe: Url,
}

/// Builds a [`HubSpot`] client.
#[derive(Debug, Default)]
#[must_use]
pub struct HubSpotBuilder {
    access_token: Option<SecretString>,
    http: HttpConfig,
}

impl HubSpotBuilder {
    /// A builder with the token from `HUBSPOT_ACCESS_TOKEN` and the base URL from
    /// `HUBSPOT_BASE_URL` if set; further settings can follow.
    pub fn from_env() -> Result<Self, Error> {
        Ok(HubSpotBuilder {
            access_token: Some(required_env(ACCESS_TOKEN_VAR)?),
            http: HttpConfig::from_env(PROVIDER),
        })
    }

    /// A private app's access token or an OAuth access token, with the
    /// `communication_preferences.write` scope.
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.access_token = Some(SecretString::from(token.into()));
        self
    }

    http_builder_methods!();

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<HubSpot, Error> {
        let token = require_secret(self.access_token, ACCESS_TOKEN_VAR)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            secret_header("Bearer", &token, ACCESS_TOKEN_VAR)?,
        );
        let http = HttpClient::new(
            PROVIDER,
            self.http,
            DEFAULT_BASE_URL,
            USER_AGENT,
            headers,
            vec![token],
        )?;
        let v3_unsubscribe = http.endpoint(&["communication-preferences", "v3", "unsubscribe"]);
        Ok(HubSpot {
            http,
            v3_unsubscribe,
        })
    }
}

impl HubSpot {
    /// A builder; set at least [`access_token`](HubSpotBuilder::access_token).
    pub fn builder() -> HubSpotBuilder {
        HubSpotBuilder::default()
    }

    /// A client from `HUBSPOT_ACCESS_TOKEN`, with the base URL from `HUBSPOT_BASE_URL` if set.
    pub fn from_env() -> Result<HubSpot, Error> {
        HubSpotBuilder::from_env()?.build()
    }

    /// `POST /communication-preferences/v3/unsubscribe`: one subscription type, validated
    /// before it is sent. HubSpot's 400 "already unsubscribed" is
    /// [`UnsubscribeOutcome::AlreadyUnsubscribed`]; a 200 that still says `SUBSCRIBED` is an
    /// error, never a success.
    pub async fn unsubscribe_from_subscription(
        &self,
        request: &UnsubscribeRequest,
    ) -> Result<Answer<UnsubscribeOutcome>, Error> {
        request.validate()?;
        self.send_unsubscribe(request).await
    }

    /// The POST of [`unsubscribe_from_subscription`](Self::unsubscribe_from_subscription),
    /// for a request already checked, decoding the answer's status as `S`.
    async fn send_unsubscribe<S: V3Status>(
        &self,
        request: &UnsubscribeRequest,
    ) -> Result<Answer<UnsubscribeOutcome<S>>, Error> {
        let url = self.v3_unsubscribe.clone();
        self.http
            .send(Request::json(Method::POST, url, request)?, decode_v3::<S>)
            .await
    }

    /// `POST /communication-preferences/v4/statuses/{email}/unsubscribe-all?channel=EMAIL`:
    /// every email subscription. The docs define no body, so none is sent (and no legal basis:
    /// the endpoint takes none). A 200 whose batch status is `CANCELED` or that lists errors is
    /// an error.
    pub async fn unsubscribe_all(
        &self,
        email: &str,
    ) -> Result<Answer<UnsubscribeAllOutcome>, Error> {
        validate::email("subscriberIdString", email)?;
        let mut url = self
            .http
            .endpoint(&["communication-preferences", "v4", "statuses"]);
        // The address is one segment with everything but unreserved characters escaped: `+`
        // would read as a space to some servers, and `@` is escaped as HubSpot's SDKs do.
        let path = format!("{}/{}/unsubscribe-all", url.path(), encode_segment(email));
        url.set_path(&path);
        url.set_query(Some("channel=EMAIL"));
        // Every request carries Content-Type (ARCHITECTURE §4), this bodiless one too.
        let request = Request::new(Method::POST, url)
            .header("content-type", HeaderValue::from_static("application/json"));
        self.http.send(request, decode_v4_all).await
    }

    /// `POST /communication-preferences/v4/statuses/batch/write`, validated before it is sent.
    /// The answer is returned as HubSpot gives it: check [`BatchResponse::errors`] for inputs
    /// that failed.
    pub async fn batch_write(
        &self,
        request: &BatchWriteRequest,
    ) -> Result<Answer<BatchResponse>, Error> {
        request.validate()?;
        let path = [
            "communication-preferences",
            "v4",
            "statuses",
            "batch",
            "write",
        ];
        let url = self.http.endpoint(&path);
        let decode = |r: Response<'_>| {
            if !r.status.is_success() {
                return Err(api_error(&r));
            }
            Ok(Answer {
                body: r.json(PROVIDER)?,
                correlation_id: correlation_id(&r),
            })
        };
        self.http
            .send(Request::json(Method::POST, url, request)?, decode)
            .await
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn correlation_id(r: &Response<'_>) -> Option<String> {
    r.headers
        .get(CORRELATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn traced(message: Option<String>, correlation_id: Option<&str>) -> String {
    let message = message.unwrap_or_default();
    match correlation_id.filter(|c| !c.is_empty()) {
        Some(id) if message.is_empty() => format!("(correlationId {id})"),
        Some(id) => format!("{message} (correlationId {id})"),
        None => message,
    }
}

/// HubSpot's error body as an [`Error`]: code `errorType` or `category`, message with the
/// correlation id. A daily rate limit is not retryable (it resets at midnight).
fn api_error(r: &Response<'_>) -> Error {
    let status = r.status.as_u16();
    let error = Error::api(PROVIDER, status);
    let Some(body) = r.try_json::<ErrorBody>() else {
        return error.with_message(snippet(r.body));
    };
    let daily_policy = body
        .policy_name
        .as_deref()
        .is_some_and(|p| p.to_ascii_uppercase().contains("DAILY"));
    let daily_spent = r
        .headers
        .get("x-hubspot-ratelimit-daily-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    let code = body.error_type.or(body.category).unwrap_or_default();
    let error = error
        .with_code(code)
        .with_message(traced(body.message, body.correlation_id.as_deref()));
    if r.status == StatusCode::TOO_MANY_REQUESTS && (daily_policy || daily_spent) {
        error.with_retryable(false)
    } else {
        error
    }
}

/// A 400 (or 409) whose message says the address is already unsubscribed: its message and the
/// correlation id (header first, then body).
fn already_unsubscribed(r: &Response<'_>) -> Option<(String, Option<String>)> {
    if !matches!(r.status.as_u16(), 400 | 409) {
        return None;
    }
    let body: ErrorBody = r.try_json()?;
    let message = body.message?;
    if !message
        .to_ascii_lowercase()
        .contains("already unsubscribed")
    {
        return None;
    }
    Some((message, correlation_id(r).or(body.correlation_id)))
}

fn decode_v3<S: V3Status>(r: Response<'_>) -> Result<Answer<UnsubscribeOutcome<S>>, Error> {
    if !r.status.is_success() {
        return match already_unsubscribed(&r) {
            Some((message, correlation_id)) => Ok(Answer {
                body: UnsubscribeOutcome::AlreadyUnsubscribed { message },
                correlation_id,
            }),
            None => Err(api_error(&r)),
        };
    }
    let status: S = r.json(PROVIDER)?;
    let correlation_id = correlation_id(&r);
    if let (SubscriptionState::Subscribed, id, source) = status.state() {
        return Err(Error::api(PROVIDER, r.status.as_u16())
            .with_code("SUBSCRIBED")
            .with_message(traced(
                Some(format!(
                    "HubSpot answered the unsubscribe but subscription {id} is still SUBSCRIBED (source {source})"
                )),
                correlation_id.as_deref(),
            )));
    }
    Ok(Answer {
        body: UnsubscribeOutcome::Unsubscribed(status),
        correlation_id,
    })
}

fn decode_v4_all(r: Response<'_>) -> Result<Answer<UnsubscribeAllOutcome>, Error> {
    if !r.status.is_success() {
        return match already_unsubscribed(&r) {
            Some((message, correlation_id)) => Ok(Answer {
                body: UnsubscribeAllOutcome::AlreadyUnsubscribed { message },
                correlation_id,
            }),
            None => Err(api_error(&r)),
        };
    }
    let correlation_id = correlation_id(&r);
    // The docs: without `verbose=true` "the response will be empty". Accept that.
    if r.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Answer {
            body: UnsubscribeAllOutcome::Accepted(None),
            correlation_id,
        });
    }
    let batch: BatchResponse = r.json(PROVIDER)?;
    // `PENDING` and `PROCESSING` mean HubSpot has taken the opt-out: accepted. `CANCELED`, or any
    // error listed, means it may not have been applied: fail loudly.
    if batch.status == BatchStatus::Canceled
        || !batch.errors.is_empty()
        || batch.num_errors.unwrap_or(0) > 0
    {
        let first = batch.errors.first().cloned().unwrap_or_default();
        return Err(Error::api(PROVIDER, r.status.as_u16())
            .with_code(first.category.unwrap_or_else(|| batch.status.to_string()))
            .with_message(traced(
                Some(first.message.unwrap_or_else(|| {
                    format!(
                        "HubSpot answered the unsubscribe-all with status {}",
                        batch.status
                    )
                })),
                correlation_id.as_deref(),
            )));
    }
    Ok(Answer {
        body: UnsubscribeAllOutcome::Accepted(Some(batch)),
        correlation_id,
    })
}

#[async_trait]
impl Unsubscriber for HubSpot {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    /// [`Topics::Only`]: one v3 unsubscribe per subscription id, with the request's legal
    /// basis, folded as [`optout_core::per_topic`] does (a failure never hides a success). [`Topics::All`]: the v4 unsubscribe-all, which records no legal
    /// basis (one given is still checked, then not sent); it is `AlreadyUnsubscribed` only when
    /// HubSpot's answer says nothing changed, otherwise `Unsubscribed`. Everything is checked
    /// before anything is sent; the reference is HubSpot's correlation id.
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        let Recipient::Email { address } = &request.recipient else {
            return Err(Error::unsupported(
                PROVIDER,
                format!(
                    "unsubscribe a {} recipient; HubSpot takes an email address",
                    request.recipient.kind()
                ),
            ));
        };
        validate::email("recipient", address)?;
        let basis = request.legal_basis.as_ref().map(|(b, _)| *b);
        let explanation = request.legal_basis.as_ref().map(|(_, e)| e.as_str());
        check_legal_basis("legal_basis_explanation", basis, explanation)?;

        if request.topics == Topics::All {
            let answer = self.unsubscribe_all(address).await?;
            return Ok(Receipt::new(
                PROVIDER,
                request.recipient.clone(),
                Topics::All,
                answer.body.outcome(),
                answer.correlation_id,
            ));
        }
        let ids = validate::topic_ids(PROVIDER, "topic", &request.topics)?;
        let calls = ids.iter().map(|id| {
            let mut typed = UnsubscribeRequest::new(address.clone(), id.clone());
            typed.legal_basis = basis;
            typed.legal_basis_explanation = explanation.map(str::to_owned);
            async move {
                // Checked above: the address, the legal basis and the ids.
                let answer = self.send_unsubscribe::<Confirmed>(&typed).await?;
                let outcome = match answer.body {
                    UnsubscribeOutcome::Unsubscribed(_) => Outcome::Unsubscribed,
                    UnsubscribeOutcome::AlreadyUnsubscribed { .. } => Outcome::AlreadyUnsubscribed,
                };
                Ok(TopicOutcome {
                    outcome,
                    reference: answer.correlation_id,
                })
            }
        });
        optout_core::per_topic(PROVIDER, request, &ids, calls).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: &str, state: &str) -> Result<SubscriptionStatus, serde_json::Error> {
        serde_json::from_str(&format!(
            r#"{{"id":{id},"name":"N","description":"D","status":"{state}","sourceOfStatus":"SUBSCRIPTION_STATUS"}}"#
        ))
    }

    #[test]
    fn ids_are_text_whether_sent_as_strings_or_numbers() {
        assert_eq!(
            status(r#""289137114""#, "SUBSCRIBED").unwrap().id,
            "289137114"
        );
        assert_eq!(status("289137114", "SUBSCRIBED").unwrap().id, "289137114");
        assert_eq!(status(r#""a\"b""#, "SUBSCRIBED").unwrap().id, "a\"b");
        let err = status("true", "SUBSCRIBED").unwrap_err().to_string();
        assert!(err.contains("an id, as a string or a number"), "{err}");
    }

    #[test]
    fn enums_keep_unknown_values_and_refuse_non_strings() {
        let s = status("1", "NOT_SUBSCRIBED").unwrap();
        assert_eq!(s.status, SubscriptionState::NotSubscribed);
        assert_eq!(s.source_of_status, SourceOfStatus::SubscriptionStatus);
        let s = status("1", r#"NEW_\u0053TATE"#).unwrap();
        assert_eq!(s.status, SubscriptionState::Other("NEW_STATE".into()));
        assert!(serde_json::from_str::<SubscriptionState>("7").is_err());
    }
}
