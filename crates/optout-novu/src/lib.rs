//! Unsubscribe subscribers from [Novu](https://novu.co) topics.
//!
//! One endpoint: `DELETE /v2/topics/{topicKey}/subscriptions` with
//! `{"subscriptions":[{"subscriberId","identifier"?}]}`
//! ([docs](https://docs.novu.co/api-reference/topics/delete-topic-subscriptions)). [`Novu`] is
//! the typed client: [`Novu::delete_topic_subscriptions`] takes any number of subscriptions and
//! sends them in chunks of 100. It implements [`Unsubscriber`] for [`Recipient::Subscriber`]
//! with [`Topics::Only`] (one DELETE per topic key), and batches in
//! [`Unsubscriber::unsubscribe_many`]: requests for the same single topic share one DELETE of
//! up to 100 subscriptions.
//!
//! ```no_run
//! # mod optout { pub use optout_core::*; pub mod providers { pub mod novu { pub use optout_novu::*; } } }
//! use optout::{Recipient, Topics, Unsubscribe, Unsubscriber};
//! use optout::providers::novu::Novu;
//! # async fn run() -> Result<(), optout::Error> {
//! let novu = Novu::from_env()?; // NOVU_SECRET_KEY, optional NOVU_REGION and NOVU_BASE_URL
//! let request = Unsubscribe::new(Recipient::subscriber("user-123")?, Topics::one("product-updates"));
//! let receipt = novu.unsubscribe(&request).await?;
//! println!("{}: {}", receipt.recipient, receipt.outcome);
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use optout_core::http::{optional_env, require_secret, required_env, secret_header, HttpConfig};
use optout_core::reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use optout_core::reqwest::{Method, Url};
use optout_core::secrecy::SecretString;
use optout_core::{
    async_trait, http_builder_methods, snippet, validate, Error, HttpClient, Outcome, Provider,
    Receipt, Recipient, Request, Response, TopicOutcome, Topics, Unsubscribe, Unsubscriber,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Novu's production API in the US region (the default).
pub const DEFAULT_BASE_URL: &str = "https://api.novu.co";
/// Novu's production API in the EU region.
pub const EU_BASE_URL: &str = "https://eu.api.novu.co";
/// The variable [`Novu::from_env`] reads the secret key from.
pub const SECRET_KEY_VAR: &str = "NOVU_SECRET_KEY";
/// The variable [`Novu::from_env`] reads the region from (`us` or `eu`; optional).
pub const REGION_VAR: &str = "NOVU_REGION";
/// The most subscriptions one request may name.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// The longest idempotency key Novu accepts (a longer one is a 400).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// The per-item code meaning "this subscription did not exist": already unsubscribed.
pub const SUBSCRIPTION_NOT_FOUND: &str = "SUBSCRIPTION_NOT_FOUND";
const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
const PROVIDER: Provider = Provider::Novu;

/// Where the Novu account lives; chooses the default base URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Region {
    /// `https://api.novu.co` (the default).
    #[default]
    Us,
    /// `https://eu.api.novu.co`.
    Eu,
}

impl Region {
    /// The region's API base URL.
    pub const fn base_url(self) -> &'static str {
        match self {
            Region::Us => DEFAULT_BASE_URL,
            Region::Eu => EU_BASE_URL,
        }
    }

    /// `us` or `eu`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Region {
    type Err = Error;

    /// `us` or `eu`, in any case; anything else is a configuration error.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "us" => Ok(Region::Us),
            "eu" => Ok(Region::Eu),
            _ => Err(Error::config(format!(
                "{s:?} is not a Novu region; expected us or eu"
            ))),
        }
    }
}

/// One item of the request body: a subscriber (all their subscriptions in the topic), one
/// subscription by its identifier, or both. Absent fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct SubscriptionRef {
    /// The subscriber id; alone, it removes every subscription of the subscriber in the topic.
    #[serde(rename = "subscriberId", skip_serializing_if = "Option::is_none")]
    pub subscriber_id: Option<String>,
    /// The subscription identifier, to remove that one subscription only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

impl SubscriptionRef {
    /// Every subscription of `subscriber_id` in the topic.
    pub fn subscriber(subscriber_id: impl Into<String>) -> Self {
        SubscriptionRef {
            subscriber_id: Some(subscriber_id.into()),
            identifier: None,
        }
    }

    /// The subscription with this identifier.
    pub fn by_identifier(identifier: impl Into<String>) -> Self {
        SubscriptionRef {
            subscriber_id: None,
            identifier: Some(identifier.into()),
        }
    }

    /// Narrows to the subscription with this identifier.
    pub fn with_identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// Checks the item as Novu would: at least one of the two, neither empty.
    pub fn validate(&self) -> Result<(), Error> {
        self.borrowed().validate()
    }

    fn borrowed(&self) -> Item<'_> {
        Item {
            subscriber_id: self.subscriber_id.as_deref(),
            identifier: self.identifier.as_deref(),
        }
    }
}

/// A [`SubscriptionRef`] borrowed from the request it comes from, sent the same way: the
/// `Unsubscriber` mapping does not copy a subscriber id per row to send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct Item<'a> {
    #[serde(rename = "subscriberId", skip_serializing_if = "Option::is_none")]
    subscriber_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identifier: Option<&'a str>,
}

impl Item<'_> {
    fn validate(&self) -> Result<(), Error> {
        if self.subscriber_id.is_none() && self.identifier.is_none() {
            return Err(Error::invalid_input(
                "subscription",
                "has neither a subscriberId nor an identifier; Novu needs at least one",
            ));
        }
        if let Some(id) = self.subscriber_id {
            validate::non_empty("subscriberId", id)?;
        }
        if let Some(identifier) = self.identifier {
            validate::non_empty("identifier", identifier)?;
        }
        Ok(())
    }
}

/// The body of one DELETE: 1 to 100 items ([`SubscriptionRef`]s or [`Item`]s).
#[derive(Serialize)]
struct DeleteBody<'a, I> {
    subscriptions: &'a [I],
}

/// The answer: `{data, meta, errors?}`. Also what Novu sends with a 400 when every item
/// failed. Merged over chunks by [`Novu::delete_topic_subscriptions`].
///
/// `D` is how each deleted subscription is decoded: [`DeletedSubscription`], everything Novu
/// documents, for the typed API; the `Unsubscriber` mapping decodes only what it reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DeleteSubscriptionsResponse<D = DeletedSubscription> {
    /// The subscriptions deleted.
    pub data: Vec<D>,
    /// The counts.
    pub meta: Meta,
    /// One entry per item that failed (absent when none did).
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<SubscriptionError>,
}

impl<D> DeleteSubscriptionsResponse<D> {
    fn merge(&mut self, other: DeleteSubscriptionsResponse<D>) {
        self.data.extend(other.data);
        self.errors.extend(other.errors);
        let (m, o) = (&mut self.meta, other.meta);
        m.total_count = m.total_count.saturating_add(o.total_count);
        m.successful = m.successful.saturating_add(o.successful);
        m.failed = m.failed.saturating_add(o.failed);
    }
}

/// One deleted subscription. Only `_id` is required; the rest is kept when Novu sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeletedSubscription {
    /// The subscription's id (`_id`): the receipt's reference.
    #[serde(rename = "_id")]
    pub id: String,
    /// The subscription identifier.
    pub identifier: Option<String>,
    /// The topic.
    pub topic: Option<TopicSummary>,
    /// The subscriber (Novu sends `null` when it no longer exists).
    pub subscriber: Option<SubscriberSummary>,
    /// When the subscription was created.
    pub created_at: Option<String>,
    /// When the subscription was last updated.
    pub updated_at: Option<String>,
    /// The subscription's context keys, e.g. `tenant:org-a`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub context_keys: Vec<String>,
}

/// A deleted subscription as the `Unsubscriber` mapping reads it: which subscriber (or, when
/// Novu sends `subscriber: null`, which identifier) and the `_id` for the receipt. Decoding
/// only this, and skipping the topic, names and dates, halves the cost of a 100-item answer
/// (about 1.2 us -> 0.5 us per item), the largest per-row cost of a Novu bulk run. The
/// strings are borrowed from the body while the answer is read (see [`Novu::send_one`]).
#[derive(Debug, Deserialize)]
struct Confirmed<'a> {
    #[serde(rename = "_id", borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    identifier: Option<Text<'a>>,
    #[serde(borrow)]
    subscriber: Option<ConfirmedSubscriber<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmedSubscriber<'a> {
    #[serde(borrow)]
    subscriber_id: Option<Text<'a>>,
}

/// A string of Novu's answer: borrowed from the body, or owned when JSON escapes in it had to
/// be undone. (serde's own `Cow<str>` support does not borrow inside an `Option`.)
#[derive(Debug)]
struct Text<'a>(Cow<'a, str>);

impl Text<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<Text<'a>>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

/// The topic of a deleted subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TopicSummary {
    /// Novu's internal id (`_id`).
    #[serde(rename = "_id")]
    pub id: Option<String>,
    /// The topic key.
    pub key: Option<String>,
    /// The topic name.
    pub name: Option<String>,
}

/// The subscriber of a deleted subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriberSummary {
    /// Novu's internal id (`_id`).
    #[serde(rename = "_id")]
    pub id: Option<String>,
    /// The subscriber id.
    pub subscriber_id: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
}

/// `meta`: how many items were asked for, deleted and failed (missing counts read as 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct Meta {
    /// Items in the request(s).
    pub total_count: u64,
    /// Subscriptions deleted.
    pub successful: u64,
    /// Items that failed.
    pub failed: u64,
}

/// One failed item, e.g. `{"subscriberId":"x","code":"SUBSCRIBER_NOT_FOUND","message":".."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionError {
    /// The subscriber id of the item (`unknown` when the item had none).
    pub subscriber_id: Option<String>,
    /// The item's identifier, when Novu echoes it.
    pub identifier: Option<String>,
    /// Novu's code: `SUBSCRIPTION_NOT_FOUND`, `SUBSCRIBER_NOT_FOUND`, `INVALID_REQUEST`, ...
    pub code: Option<String>,
    /// Novu's message.
    pub message: Option<String>,
}

/// Novu's error body: `{statusCode, timestamp, path, message, error?}`, where `message` is a
/// string or (validation errors) an array of strings. Only what optout reads is kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ErrorBody {
    /// A string, an array of strings, or (rarely) another JSON value.
    pub message: Option<Value>,
    /// The HTTP reason (`Not Found`), used as the code when there is no `code`.
    pub error: Option<String>,
    /// A specific code, when Novu sends one.
    pub code: Option<String>,
    /// Novu's error id (5xx), for its support.
    pub error_id: Option<String>,
    /// Validation details, when there is no message.
    pub errors: Option<Value>,
}

impl ErrorBody {
    /// The message as one line: arrays joined with `; `, Novu's error id appended.
    pub fn text(&self) -> String {
        let as_text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let message = self.message.as_ref().filter(|m| !m.is_null());
        let mut text = match message.or(self.errors.as_ref()) {
            None | Some(Value::Null) => String::new(),
            Some(Value::Array(items)) => items.iter().map(as_text).collect::<Vec<_>>().join("; "),
            Some(other) => as_text(other),
        };
        if let Some(id) = &self.error_id {
            text = format!("{text} (errorId {id})").trim_start().to_string();
        }
        text
    }
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A Novu client: one connection pool, the secret key (in a sensitive header), retries.
///
/// Its `Debug` never shows the key.
#[derive(Debug, Clone)]
pub struct Novu {
    http: HttpClient,
}

/// Builds a [`Novu`] client.
#[derive(Debug, Default)]
#[must_use]
pub struct NovuBuilder {
    secret_key: Option<SecretString>,
    region: Region,
    http: HttpConfig,
}

impl NovuBuilder {
    /// A builder with the key from `NOVU_SECRET_KEY`, the region from `NOVU_REGION` (`us` or
    /// `eu`, default `us`) and the base URL from `NOVU_BASE_URL` if set.
    pub fn from_env() -> Result<Self, Error> {
        let region = match optional_env(REGION_VAR) {
            None => Region::Us,
            Some(value) => value.parse().map_err(|_| {
                Error::config(format!("{REGION_VAR} is {value:?}; expected us or eu"))
            })?,
        };
        Ok(NovuBuilder {
            secret_key: Some(required_env(SECRET_KEY_VAR)?),
            region,
            http: HttpConfig::from_env(PROVIDER),
        })
    }

    /// The environment's secret key (Novu dashboard, API Keys).
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.secret_key = Some(SecretString::from(key.into()));
        self
    }

    /// The region, which chooses the default base URL. A [`base_url`](Self::base_url) wins.
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    http_builder_methods!();

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Novu, Error> {
        let key = require_secret(self.secret_key, SECRET_KEY_VAR)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            secret_header("ApiKey", &key, SECRET_KEY_VAR)?,
        );
        let http = HttpClient::new(
            PROVIDER,
            self.http,
            self.region.base_url(),
            USER_AGENT,
            headers,
            vec![key],
        )?;
        Ok(Novu { http })
    }
}

impl Novu {
    /// A builder; set at least [`secret_key`](NovuBuilder::secret_key).
    pub fn builder() -> NovuBuilder {
        NovuBuilder::default()
    }

    /// A client from `NOVU_SECRET_KEY`, `NOVU_REGION` and `NOVU_BASE_URL` (see
    /// [`NovuBuilder::from_env`]).
    pub fn from_env() -> Result<Novu, Error> {
        NovuBuilder::from_env()?.build()
    }

    /// The base URL requests go to (the override, else the region's).
    pub fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    /// `DELETE /v2/topics/{topicKey}/subscriptions` for any number of subscriptions, sent one
    /// chunk of at most 100 after another; `data`, `meta` (summed) and `errors` are merged.
    /// Everything is validated before the first chunk is sent.
    ///
    /// An `idempotency_key` is sent as the `idempotency-key` header: unchanged when there is
    /// one chunk, as `{key}-{n}` (`n` = 1-based chunk number) when there are several, so that
    /// each body has its own key. Each sent key must fit in 255 bytes.
    ///
    /// If a chunk fails after earlier ones succeeded, the error is returned and its message
    /// says how many chunks were applied (they stay applied; later chunks were not sent).
    /// Sending the same call again is safe: an item already deleted comes back as
    /// `SUBSCRIPTION_NOT_FOUND`.
    pub async fn delete_topic_subscriptions(
        &self,
        topic_key: &str,
        subscriptions: &[SubscriptionRef],
        idempotency_key: Option<&str>,
    ) -> Result<DeleteSubscriptionsResponse, Error> {
        validate::path_segment("topic", topic_key)?;
        if subscriptions.is_empty() {
            return Err(Error::invalid_input(
                "subscriptions",
                "none given; name at least one (any number is sent in chunks of 100)",
            ));
        }
        for item in subscriptions {
            item.validate()?;
        }
        let chunks: Vec<&[SubscriptionRef]> = subscriptions.chunks(MAX_SUBSCRIPTIONS).collect();
        let keys = derived_keys(idempotency_key, chunks.len());
        let mut requests = Vec::with_capacity(chunks.len());
        for (chunk, key) in chunks.iter().zip(&keys) {
            requests.push(self.request(topic_key, chunk, key.as_deref())?);
        }
        let total = requests.len();
        let mut merged = DeleteSubscriptionsResponse {
            data: Vec::new(),
            meta: Meta::default(),
            errors: Vec::new(),
        };
        // A closure, not `decode` itself: its lifetime is in a bound (early-bound), so only a
        // closure is general over the lifetime of every answer's body.
        #[allow(clippy::redundant_closure)]
        let typed = |response: Response<'_>| decode::<DeletedSubscription>(response);
        for (done, request) in requests.into_iter().enumerate() {
            match self.http.send(request, typed).await {
                Ok((_, part)) => merged.merge(part),
                Err(error) if done == 0 => return Err(error),
                Err(error) => {
                    let applied: usize = chunks.iter().take(done).map(|c| c.len()).sum();
                    let message = format!(
                        "chunk {} of {total} failed after chunks 1-{done} ({applied} subscriptions) \
                         were applied; later chunks were not sent: {}",
                        done + 1,
                        error.message().unwrap_or("no message"),
                    );
                    return Err(error.with_message(message));
                }
            }
        }
        Ok(merged)
    }

    /// One DELETE: the body of `items` and, with a key, its idempotency header.
    fn request<I: Serialize>(
        &self,
        topic_key: &str,
        items: &[I],
        idempotency_key: Option<&str>,
    ) -> Result<Request, Error> {
        let url = self
            .http
            .endpoint(&["v2", "topics", topic_key, "subscriptions"]);
        let body = DeleteBody {
            subscriptions: items,
        };
        let mut request = Request::json(Method::DELETE, url, &body)?;
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", idempotency_header(key)?);
        }
        Ok(request)
    }

    /// One DELETE of 1 to 100 items, already validated, whose answer `read` maps while the
    /// body is at hand: the answer's strings are borrowed from it, not copied.
    async fn send_one<T>(
        &self,
        topic_key: &str,
        items: &[Item<'_>],
        idempotency_key: Option<&str>,
        read: impl Fn(u16, &DeleteSubscriptionsResponse<Confirmed<'_>>) -> T,
    ) -> Result<T, Error> {
        let request = self.request(topic_key, items, idempotency_key)?;
        let decode = |response: Response<'_>| {
            let (status, answer) = decode::<Confirmed<'_>>(response)?;
            Ok(read(status, &answer))
        };
        self.http.send(request, decode).await
    }

    /// One topic of an [`Unsubscribe`]: one DELETE with one item.
    async fn unsubscribe_topic(
        &self,
        topic_key: &str,
        item: Item<'_>,
        idempotency_key: Option<&str>,
    ) -> Result<TopicOutcome, Error> {
        self.send_one(topic_key, &[item], idempotency_key, only_item)
            .await?
    }
}

/// What Novu's answer to a DELETE of one item says about it: one item was sent, so every
/// `data` entry is one of its subscriptions (a subscriber id alone removes all of them) and
/// every `errors` entry is about it.
fn only_item(
    status: u16,
    response: &DeleteSubscriptionsResponse<Confirmed<'_>>,
) -> Result<TopicOutcome, Error> {
    let deleted = response.data.iter().map(|d| d.id.as_str());
    item_outcome(status, deleted, &response.errors, || {
        "Novu's answer lists neither a deleted subscription nor an error for this subscriber; \
         nothing is confirmed"
            .to_string()
    })
}

/// One item's outcome from what Novu's answer says about it: the `_id`s of its deleted
/// subscriptions, in the answer's order (unsubscribed, with them as the reference), else its
/// errors (all `SUBSCRIPTION_NOT_FOUND`: already unsubscribed; another: that error), else
/// nothing confirmed, said by `unconfirmed`.
fn item_outcome<'e>(
    status: u16,
    deleted: impl Iterator<Item = &'e str>,
    errors: impl IntoIterator<Item = &'e SubscriptionError>,
    unconfirmed: impl FnOnce() -> String,
) -> Result<TopicOutcome, Error> {
    let mut reference = String::new();
    for id in deleted {
        if !reference.is_empty() {
            reference.push(',');
        }
        reference.push_str(id);
    }
    if !reference.is_empty() {
        return Ok(TopicOutcome {
            outcome: Outcome::Unsubscribed,
            reference: Some(reference),
        });
    }
    let mut any = false;
    for error in errors {
        if error.code.as_deref() != Some(SUBSCRIPTION_NOT_FOUND) {
            return Err(item_error(status, error));
        }
        any = true;
    }
    if any {
        return Ok(TopicOutcome {
            outcome: Outcome::AlreadyUnsubscribed,
            reference: None,
        });
    }
    Err(Error::api(PROVIDER, status).with_message(unconfirmed()))
}

/// The key for each of `chunks` requests: `key` itself for one, `{key}-{n}` for several.
fn derived_keys(key: Option<&str>, chunks: usize) -> Vec<Option<String>> {
    (1..=chunks)
        .map(|n| match key {
            Some(key) if chunks > 1 => Some(format!("{key}-{n}")),
            other => other.map(str::to_owned),
        })
        .collect()
}

fn idempotency_header(key: &str) -> Result<HeaderValue, Error> {
    validate::non_empty("idempotency_key", key)?;
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(Error::invalid_input(
            "idempotency_key",
            format!(
                "is {} bytes long with any chunk or topic suffix; Novu takes at most \
                 {MAX_IDEMPOTENCY_KEY_LEN}",
                key.len()
            ),
        ));
    }
    // Exact in what we send: visible ASCII and spaces only (no obs-text bytes).
    let ascii = key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    match HeaderValue::from_str(key) {
        Ok(value) if ascii => Ok(value),
        _ => Err(Error::invalid_input(
            "idempotency_key",
            "cannot go in an HTTP header; use visible ASCII characters (a UUID is best)",
        )),
    }
}

/// A per-item failure as an error. Novu gives it no status of its own: codes ending in
/// `_NOT_FOUND` (e.g. `SUBSCRIBER_NOT_FOUND`) are reported as 404 so that the kind is
/// `NotFound`, others with the status of Novu's answer; the message names the real status.
fn item_error(status: u16, failure: &SubscriptionError) -> Error {
    let code = failure.code.clone().unwrap_or_default();
    let as_status = if code.ends_with("_NOT_FOUND") {
        404
    } else {
        status
    };
    let message = failure.message.as_deref().unwrap_or("the item failed");
    Error::api(PROVIDER, as_status)
        .with_code(code)
        .with_message(format!(
            "{message} (a per-item error in Novu's HTTP {status} answer)"
        ))
}

/// Turns Novu's answer into the result (also from a 400 that carries it, which is how Novu
/// says every item failed) or an error with Novu's code and message.
fn decode<'a, D: Deserialize<'a>>(
    response: Response<'a>,
) -> Result<(u16, DeleteSubscriptionsResponse<D>), Error> {
    let status = response.status.as_u16();
    if response.status.is_success() {
        return Ok((status, response.json(PROVIDER)?));
    }
    if status == 400 {
        if let Some(result) = response.try_json::<DeleteSubscriptionsResponse<D>>() {
            return Ok((status, result));
        }
    }
    let error = Error::api(PROVIDER, status);
    let Some(body) = response.try_json::<ErrorBody>() else {
        return Err(error.with_message(snippet(response.body)));
    };
    // Novu's docs: 409 means a request with the same idempotency key is still being
    // processed, and comes with Retry-After; retrying then replays its answer.
    let error = if status == 409 {
        error.with_retryable(true)
    } else {
        error
    };
    Err(error
        .with_code(body.code.clone().or(body.error.clone()).unwrap_or_default())
        .with_message(body.text()))
}

#[async_trait]
impl Unsubscriber for Novu {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    /// Maps a [`Recipient::Subscriber`] (with its optional identifier) onto one DELETE per
    /// topic key, with one item each. Deleted -> [`Outcome::Unsubscribed`] (reference: the
    /// subscriptions' `_id`s); `SUBSCRIPTION_NOT_FOUND` -> [`Outcome::AlreadyUnsubscribed`];
    /// any other per-item code is an error with that code.
    ///
    /// An idempotency key is sent unchanged for one topic; for several, topic `n` (1-based,
    /// in the order given, repeats dropped) gets `{key}-{n}`, so each body has its own key.
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        let Recipient::Subscriber { id, identifier } = &request.recipient else {
            return Err(Error::unsupported(
                PROVIDER,
                format!(
                    "unsubscribe a {} recipient; Novu takes a subscriber id",
                    request.recipient.kind()
                ),
            ));
        };
        let topics = validate::topic_ids(PROVIDER, "topic", &request.topics)?;
        let item = Item {
            subscriber_id: Some(id),
            identifier: identifier.as_deref(),
        };
        item.validate()?;
        let keys = derived_keys(request.idempotency_key.as_deref(), topics.len());
        for key in keys.iter().flatten() {
            idempotency_header(key)?;
        }
        let calls = topics
            .iter()
            .zip(&keys)
            .map(|(topic, key)| self.unsubscribe_topic(topic, item, key.as_deref()));
        optout_core::per_topic(PROVIDER, request, &topics, calls).await
    }
    /// Up to 100 requests for the same topic share one DELETE.
    fn batch_size(&self) -> usize {
        MAX_SUBSCRIPTIONS
    }

    /// Groups the requests that name one subscriber and exactly one topic (and no idempotency
    /// key) by topic key, and sends each group in DELETEs of at most 100 items, mapping Novu's
    /// per-item answer back to each request: a `data` entry for the subscriber (and identifier,
    /// when given) -> [`Outcome::Unsubscribed`] with its `_id`; `SUBSCRIPTION_NOT_FOUND` ->
    /// [`Outcome::AlreadyUnsubscribed`]; another code -> that error; no entry at all -> an
    /// error (nothing is confirmed). A DELETE that fails as a whole fails every request in it.
    /// Everything else goes through [`unsubscribe`](Unsubscriber::unsubscribe), one by one.
    ///
    /// The same subscriber twice in a group is sent once and both requests get its outcome;
    /// the same subscriber id with a different identifier goes one by one, so that every item
    /// of a DELETE is about a different subscriber and Novu's answer maps back unambiguously.
    async fn unsubscribe_many(&self, requests: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        let mut results: Vec<Option<Result<Receipt, Error>>> =
            requests.iter().map(|_| None).collect();
        // Usually one or two topics per batch: a scan finds a request's group.
        let mut groups: Vec<Group<'_>> = Vec::new();
        let mut singles = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            let Some((topic, subscriber, item)) = batchable(request) else {
                singles.push(index);
                continue;
            };
            if let Some(group) = groups.iter_mut().find(|g| g.topic == topic) {
                group.add(subscriber, item, index, &mut singles);
                continue;
            }
            let mut group = Group::new(topic);
            group.add(subscriber, item, index, &mut singles);
            groups.push(group);
        }
        for group in &groups {
            for (chunk, items) in group.items.chunks(MAX_SUBSCRIPTIONS).enumerate() {
                let read = |status, response: &DeleteSubscriptionsResponse<Confirmed<'_>>| {
                    let answer = AnswerIndex::new(status, response);
                    items.iter().map(|item| answer.outcome(item)).collect()
                };
                let outcomes: Vec<Result<TopicOutcome, Error>> =
                    match self.send_one(&group.topic, items, None, read).await {
                        Ok(outcomes) => outcomes,
                        Err(error) => items.iter().map(|_| Err(error.clone())).collect(),
                    };
                for (k, outcome) in outcomes.into_iter().enumerate() {
                    let mut result = Some(outcome);
                    // Nearly always one request per item: the result is moved, not copied.
                    let mut asked = group.requesters(chunk * MAX_SUBSCRIPTIONS + k).peekable();
                    while let Some(index) = asked.next() {
                        let result = match asked.peek() {
                            Some(_) => result.clone(),
                            None => result.take(),
                        };
                        let (Some(result), Some(request), Some(slot)) =
                            (result, requests.get(index), results.get_mut(index))
                        else {
                            continue;
                        };
                        *slot = Some(result.map(|t| {
                            Receipt::new(
                                PROVIDER,
                                request.recipient.clone(),
                                Topics::Only(vec![group.topic.to_string()]),
                                t.outcome,
                                t.reference,
                            )
                        }));
                    }
                }
            }
        }
        for index in singles {
            if let (Some(request), Some(slot)) = (requests.get(index), results.get_mut(index)) {
                *slot = Some(self.unsubscribe(request).await);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::config("no call was made for this request"))))
            .collect()
    }
}

/// The requests of one batch for one topic key: each distinct item (sent as they are, in
/// DELETEs of up to 100) with the requests that asked for it.
///
/// Lookups here and in [`AnswerIndex`] are binary searches over sorted lists, not hash maps:
/// at most 100 entries, no allocation per entry and no hashing (SipHash and one allocation per
/// entry were a fifth of the per-row cost of a Novu bulk run).
struct Group<'a> {
    topic: Cow<'a, str>,
    items: Vec<Item<'a>>,
    /// The first request that asked for each item.
    first: Vec<usize>,
    /// (item, request) for the rare request that asks again for an item already there.
    again: Vec<(usize, usize)>,
    /// (subscriber id, its item), sorted.
    by_subscriber: Vec<(&'a str, usize)>,
}

impl<'a> Group<'a> {
    fn new(topic: Cow<'a, str>) -> Self {
        Group {
            topic,
            items: Vec::new(),
            first: Vec::new(),
            again: Vec::new(),
            by_subscriber: Vec::new(),
        }
    }

    /// Adds request `index` for `subscriber`'s `item`: to the item's requests if the same
    /// item is there, to `singles` if the same subscriber is there with another identifier.
    fn add(&mut self, subscriber: &'a str, item: Item<'a>, index: usize, singles: &mut Vec<usize>) {
        match self
            .by_subscriber
            .binary_search_by(|(s, _)| (*s).cmp(subscriber))
        {
            Ok(found) => match self.by_subscriber.get(found) {
                Some(&(_, at)) if self.items.get(at) == Some(&item) => self.again.push((at, index)),
                _ => singles.push(index),
            },
            Err(slot) => {
                self.by_subscriber
                    .insert(slot, (subscriber, self.items.len()));
                self.items.push(item);
                self.first.push(index);
            }
        }
    }

    /// The requests that asked for item `at`, first to last.
    fn requesters(&self, at: usize) -> impl Iterator<Item = usize> + '_ {
        let again = self.again.iter().filter(move |(item, _)| *item == at);
        self.first
            .get(at)
            .copied()
            .into_iter()
            .chain(again.map(|(_, index)| *index))
    }
}

/// The topic key, subscriber id and item of a request that can share a DELETE: a valid
/// subscriber, exactly one valid topic, no idempotency key (one key cannot cover a body shared
/// by several requests). Anything else, including bad input, goes through `unsubscribe`, which
/// refuses it with nothing sent.
fn batchable(request: &Unsubscribe) -> Option<(Cow<'_, str>, &str, Item<'_>)> {
    let Recipient::Subscriber { id, identifier } = &request.recipient else {
        return None;
    };
    if request.idempotency_key.is_some() {
        return None;
    }
    let topic = match validate::topic_ids(PROVIDER, "topic", &request.topics).ok()? {
        Cow::Borrowed([topic]) => Cow::Borrowed(topic.as_str()),
        Cow::Owned(topics) => match <[String; 1]>::try_from(topics) {
            Ok([topic]) => Cow::Owned(topic),
            Err(_) => return None,
        },
        Cow::Borrowed(_) => return None,
    };
    let item = Item {
        subscriber_id: Some(id),
        identifier: identifier.as_deref(),
    };
    item.validate().ok()?;
    Some((topic, id, item))
}

/// The values of `key` in `list`, a list of pairs sorted by key (and, within a key, by value).
fn sorted_lookup<'l, K: Ord + Copy, V: Copy>(
    list: &'l [(K, V)],
    key: K,
) -> impl Iterator<Item = V> + 'l {
    let from = list.partition_point(|(k, _)| *k < key);
    list.get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(move |(k, _)| *k == key)
        .map(|(_, v)| *v)
}

/// Two ascending sequences as one ascending sequence.
fn merge_ascending(
    a: impl Iterator<Item = usize>,
    b: impl Iterator<Item = usize>,
) -> impl Iterator<Item = usize> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if y < x => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

/// Novu's answer to a shared DELETE, indexed once so that each item's outcome is a lookup
/// rather than a scan of the whole answer (100 items, 100 entries).
struct AnswerIndex<'a> {
    status: u16,
    response: &'a DeleteSubscriptionsResponse<Confirmed<'a>>,
    /// (subscriber id, position in `data`), sorted.
    deleted: Vec<(&'a str, usize)>,
    /// (identifier, position in `data`) of the entries with `subscriber: null`, sorted: Novu
    /// sends that when the subscriber no longer exists, and only the identifier says whose it was.
    orphaned: Vec<(&'a str, usize)>,
    /// The per-item errors by subscriber id, sorted by it (and in the answer's order within).
    errors: Vec<(Option<&'a str>, &'a SubscriptionError)>,
}

impl<'a> AnswerIndex<'a> {
    fn new(status: u16, response: &'a DeleteSubscriptionsResponse<Confirmed<'a>>) -> Self {
        let mut deleted = Vec::with_capacity(response.data.len());
        let mut orphaned = Vec::new();
        for (at, d) in response.data.iter().enumerate() {
            let subscriber = d.subscriber.as_ref().and_then(|s| s.subscriber_id.as_ref());
            match (
                subscriber.map(Text::as_str),
                d.identifier.as_ref().map(Text::as_str),
            ) {
                (Some(s), _) => deleted.push((s, at)),
                (None, Some(identifier)) => orphaned.push((identifier, at)),
                (None, None) => {}
            }
        }
        deleted.sort_unstable();
        orphaned.sort_unstable();
        let mut errors: Vec<_> = response
            .errors
            .iter()
            .map(|e| (e.subscriber_id.as_deref(), e))
            .collect();
        errors.sort_by_key(|(subscriber, _)| *subscriber); // stable: the answer's order within
        AnswerIndex {
            status,
            response,
            deleted,
            orphaned,
            errors,
        }
    }

    /// What the answer says about `item`: its deleted subscriptions (when an identifier is
    /// given, only that one), else its errors.
    fn outcome(&self, item: &Item<'_>) -> Result<TopicOutcome, Error> {
        let (id, wanted) = (item.subscriber_id, item.identifier);
        let data = &self.response.data;
        let entry = |at: usize| data.get(at);
        let mine = id
            .into_iter()
            .flat_map(|id| sorted_lookup(&self.deleted, id))
            .filter(|&at| {
                wanted.is_none()
                    || entry(at)
                        .and_then(|d| d.identifier.as_ref())
                        .map(Text::as_str)
                        == wanted
            });
        let orphans = wanted
            .into_iter()
            .flat_map(|wanted| sorted_lookup(&self.orphaned, wanted));
        // The deleted subscriptions' ids, in the answer's order.
        let deleted = merge_ascending(mine, orphans)
            .filter_map(entry)
            .map(|d| d.id.as_str());
        let errors = sorted_lookup(&self.errors, id).filter(|e| {
            wanted.is_none() || e.identifier.is_none() || e.identifier.as_deref() == wanted
        });
        item_outcome(self.status, deleted, errors, || {
            format!(
                "Novu's answer to a batch of {} lists neither a deleted subscription nor an \
                 error for subscriber {:?}; nothing is confirmed",
                self.response.meta.total_count.max(1),
                id.unwrap_or("")
            )
        })
    }
}
