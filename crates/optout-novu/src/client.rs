//! The typed client: [`Novu`], its builder and the DELETE it sends.

use std::fmt;
use std::str::FromStr;

use optout_core::http::{optional_env, require_secret, required_env, secret_header, HttpConfig};
use optout_core::reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use optout_core::reqwest::{Method, Url};
use optout_core::secrecy::SecretString;
use optout_core::{
    http_builder_methods, validate, Error, HttpClient, Request, Response, TopicOutcome,
};
use serde::Serialize;

use crate::errors::decode;
use crate::mapping::only_item;
use crate::wire::{
    items_body, Confirmed, DeleteBody, DeleteSubscriptionsResponse, DeletedSubscription, Item,
    Meta, SubscriptionRef,
};
use crate::{
    DEFAULT_BASE_URL, EU_BASE_URL, MAX_IDEMPOTENCY_KEY_LEN, MAX_SUBSCRIPTIONS, PROVIDER,
    REGION_VAR, SECRET_KEY_VAR, USER_AGENT,
};

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
    /// An `idempotency_key` is sent as the `idempotency-key` header, which Novu documents for
    /// this call: unchanged when there is one chunk, as `{key}-{n}` (`n` = 1-based chunk
    /// number) when there are several. Each sent key must fit in 255 bytes, the limit Novu
    /// enforces where it honours keys. What it does not do: Novu's server acts on the key for
    /// POST and PATCH only, so on this DELETE it replays nothing, detects no concurrent
    /// duplicate (no 409) and no reused key with another body (no 422). The header is
    /// harmless (ignored) and a retry, with or without a key, runs the DELETE again.
    ///
    /// If a chunk fails after earlier ones succeeded, the error is returned and its message
    /// says how many chunks were applied (they stay applied; later chunks were not sent).
    /// Sending the same call again is safe without any key: an item already deleted comes
    /// back as `SUBSCRIPTION_NOT_FOUND`.
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
        if total > 1 {
            optout_core::plan::then(format!(
                "chunks 2 to {total} follow one after another, each once the one before succeeded"
            ));
        }
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
        let body = DeleteBody {
            subscriptions: items,
        };
        let request = Request::json(Method::DELETE, self.topic_url(topic_key), &body)?;
        with_key(request, idempotency_key)
    }

    /// The URL of a topic's subscriptions.
    fn topic_url(&self, topic_key: &str) -> Url {
        self.http
            .endpoint(&["v2", "topics", topic_key, "subscriptions"])
    }

    /// One DELETE of 1 to 100 items, already validated, whose answer `read` maps while the
    /// body is at hand: the answer's strings are borrowed from it, not copied.
    pub(crate) async fn send_one<T>(
        &self,
        topic_key: &str,
        items: &[Item<'_>],
        idempotency_key: Option<&str>,
        read: impl Fn(u16, &DeleteSubscriptionsResponse<Confirmed<'_>>) -> T,
    ) -> Result<T, Error> {
        // The same bytes as `request` would send, written without serde (see `items_body`).
        let body = items_body(items);
        let request = Request::json_bytes(Method::DELETE, self.topic_url(topic_key), body);
        let request = with_key(request, idempotency_key)?;
        let decode = |response: Response<'_>| {
            let (status, answer) = decode::<Confirmed<'_>>(response)?;
            Ok(read(status, &answer))
        };
        self.http.send(request, decode).await
    }

    /// One topic of an `Unsubscribe`: one DELETE with one item.
    pub(crate) async fn unsubscribe_topic(
        &self,
        topic_key: &str,
        item: Item<'_>,
        idempotency_key: Option<&str>,
    ) -> Result<TopicOutcome, Error> {
        let read = |status, response: &DeleteSubscriptionsResponse<Confirmed<'_>>| {
            only_item(topic_key, &item, status, response)
        };
        self.send_one(topic_key, &[item], idempotency_key, read)
            .await?
    }
}

/// `request` with its idempotency key, if any.
fn with_key(request: Request, idempotency_key: Option<&str>) -> Result<Request, Error> {
    match idempotency_key {
        Some(key) => Ok(request.header("idempotency-key", idempotency_header(key)?)),
        None => Ok(request),
    }
}

/// The key for each of `chunks` requests: `key` itself for one, `{key}-{n}` for several.
pub(crate) fn derived_keys(key: Option<&str>, chunks: usize) -> Vec<Option<String>> {
    (1..=chunks)
        .map(|n| match key {
            Some(key) if chunks > 1 => Some(format!("{key}-{n}")),
            other => other.map(str::to_owned),
        })
        .collect()
}

pub(crate) fn idempotency_header(key: &str) -> Result<HeaderValue, Error> {
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
