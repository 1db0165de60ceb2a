//! Unsubscribe devices from [Pushy](https://pushy.me) push topics.
//!
//! One endpoint: `POST /topics/unsubscribe?api_key=KEY` with `{"token","topics"}`
//! ([docs](https://pushy.me/docs/api/pubsub-unsubscribe)). [`Pushy`] is the typed client and
//! implements [`Unsubscriber`] for [`Recipient::Device`] with [`Topics::Only`] (at most 100
//! topics) or [`Topics::All`] (sent as Pushy's wildcard `["*"]`).
//!
//! ```no_run
//! # mod optout { pub use optout_core::*; pub mod providers { pub mod pushy { pub use optout_pushy::*; } } }
//! use optout::{Recipient, Topics, Unsubscribe, Unsubscriber};
//! use optout::providers::pushy::Pushy;
//! # async fn run() -> Result<(), optout::Error> {
//! let pushy = Pushy::from_env()?; // PUSHY_SECRET_API_KEY, optional PUSHY_BASE_URL
//! let request = Unsubscribe::new(Recipient::device("a6345d0278adc55d3474f5")?, Topics::only(["news", "media"]));
//! let receipt = pushy.unsubscribe(&request).await?;
//! println!("{}: {}", receipt.recipient, receipt.outcome);
//! # Ok(()) }
//! ```

use optout_core::http::{require_secret, required_env, HttpConfig};
use optout_core::reqwest::header::HeaderMap;
use optout_core::reqwest::Method;
use optout_core::secrecy::{ExposeSecret, SecretString};
use optout_core::{
    async_trait, http_builder_methods, snippet, validate, Error, HttpClient, Outcome, Provider,
    Receipt, Recipient, Request, Response, Topics, Unsubscribe, Unsubscriber,
};
use serde::{Deserialize, Deserializer, Serialize};

/// Pushy's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.pushy.me";
/// The variable [`Pushy::from_env`] reads the key from.
pub const API_KEY_VAR: &str = "PUSHY_SECRET_API_KEY";
/// The most topics one request may name.
pub const MAX_TOPICS: usize = 100;
/// Pushy's "every topic" wildcard.
pub const ALL_TOPICS: &str = "*";
const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
const PROVIDER: Provider = Provider::Pushy;

/// The body of `POST /topics/unsubscribe`, as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsubscribeRequest {
    /// The device token.
    pub token: String,
    /// 1 to 100 topics, each matching `[a-zA-Z0-9-_.]{1,100}`, or `["*"]` for all.
    pub topics: Vec<String>,
}

impl UnsubscribeRequest {
    /// Checks the request as Pushy would, so that nothing malformed is sent.
    pub fn validate(&self) -> Result<(), Error> {
        validate::non_empty("token", &self.token)?;
        if self.topics.is_empty() || self.topics.len() > MAX_TOPICS {
            return Err(Error::invalid_input(
                "topics",
                format!(
                    "{} topics given; Pushy takes 1 to {MAX_TOPICS} per request, or [\"*\"] for all",
                    self.topics.len()
                ),
            ));
        }
        if self.topics == [ALL_TOPICS] {
            return Ok(());
        }
        for topic in &self.topics {
            let ok = (1..=100).contains(&topic.len())
                && topic
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !ok {
                return Err(Error::invalid_input(
                    "topic",
                    format!(
                        "{topic:?} is not a Pushy topic; allowed: 1 to 100 of a-z, A-Z, 0-9, '-', '_', '.' \
                         (or \"*\" alone for all topics)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The answer to a successful unsubscribe: `{"success": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct UnsubscribeResponse {
    /// `true` when Pushy applied the change. Accepted as a boolean or as the string `"true"`,
    /// which Pushy has been seen to send.
    #[serde(deserialize_with = "bool_or_string")]
    pub success: bool,
}

/// Pushy's error body: `{"code": "INVALID_DEVICE_TOKEN", "error": "The provided device token is invalid."}`.
///
/// Read leniently: a number is taken as its text, an object as its JSON, blank as absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// Pushy's error code.
    #[serde(default, deserialize_with = "text")]
    pub code: Option<String>,
    /// Pushy's message.
    #[serde(default, deserialize_with = "text")]
    pub error: Option<String>,
}

impl ErrorBody {
    /// Whether the body says anything about an error.
    fn is_error(&self) -> bool {
        self.code.is_some() || self.error.is_some()
    }
}

/// Any answer on a 2xx, read as leniently as can be: `success` as a flag, the error fields.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    #[serde(default, deserialize_with = "optional_flag")]
    success: Option<bool>,
    #[serde(flatten)]
    error: ErrorBody,
}

fn optional_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        // Anything else says nothing: not a confirmation.
        _ => None,
    })
}

/// A string as is, a number or other JSON as its text, `null` or blank as `None`.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(snippet(other.to_string().as_bytes())),
    };
    Ok(text.filter(|t| !t.trim().is_empty()))
}

fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    match Flag::deserialize(d)? {
        Flag::Bool(b) => Ok(b),
        Flag::Text(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Flag::Text(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        Flag::Text(s) => Err(serde::de::Error::custom(format!(
            "`success` is {s:?}, expected true or false"
        ))),
    }
}

/// A Pushy client: one connection pool, the secret API key, retries.
///
/// Its `Debug` never shows the key.
#[derive(Debug, Clone)]
pub struct Pushy {
    http: HttpClient,
    api_key: SecretString,
}

/// Builds a [`Pushy`] client.
#[derive(Debug, Default)]
#[must_use]
pub struct PushyBuilder {
    api_key: Option<SecretString>,
    http: HttpConfig,
}

impl PushyBuilder {
    /// A builder with the key from `PUSHY_SECRET_API_KEY` and the base URL from
    /// `PUSHY_BASE_URL` if set; further settings can follow.
    pub fn from_env() -> Result<Self, Error> {
        Ok(PushyBuilder {
            api_key: Some(required_env(API_KEY_VAR)?),
            http: HttpConfig::from_env(PROVIDER),
        })
    }

    /// The app's Secret API Key (Pushy Dashboard, API Authentication tab).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    http_builder_methods!();

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Pushy, Error> {
        let api_key = require_secret(self.api_key, API_KEY_VAR)?;
        let http = HttpClient::new(
            PROVIDER,
            self.http,
            DEFAULT_BASE_URL,
            USER_AGENT,
            HeaderMap::new(),
            vec![api_key.clone()],
        )?;
        Ok(Pushy { http, api_key })
    }
}

impl Pushy {
    /// A builder; set at least [`api_key`](PushyBuilder::api_key).
    pub fn builder() -> PushyBuilder {
        PushyBuilder::default()
    }

    /// A client from `PUSHY_SECRET_API_KEY`, with the base URL from `PUSHY_BASE_URL` if set.
    pub fn from_env() -> Result<Pushy, Error> {
        PushyBuilder::from_env()?.build()
    }

    /// `POST /topics/unsubscribe`: the typed call, validated before it is sent.
    pub async fn unsubscribe_topics(
        &self,
        request: &UnsubscribeRequest,
    ) -> Result<UnsubscribeResponse, Error> {
        request.validate()?;
        let mut url = self.http.endpoint(&["topics", "unsubscribe"]);
        url.query_pairs_mut()
            .append_pair("api_key", self.api_key.expose_secret());
        let request = Request::json(Method::POST, url, request)?;
        self.http.send(request, decode).await
    }
}

/// Turns Pushy's answer into the typed response or an error with Pushy's code and message.
///
/// Only a 2xx that says `success: true` and carries no error is a success. A 2xx with Pushy's
/// error body (`code`, `error`) is a rejection with them. A 2xx with `success` false or
/// missing, or `success: true` together with an error, confirms nothing:
/// [`Error::unconfirmed`] (retryable: an unsubscribe is safe to repeat).
fn decode(response: Response<'_>) -> Result<UnsubscribeResponse, Error> {
    let status = response.status.as_u16();
    let api_error = |body: ErrorBody| {
        let error = Error::api(PROVIDER, status);
        let error = match body.code {
            Some(code) => error.with_code(code),
            None => error,
        };
        match body.error {
            Some(message) => error.with_message(message),
            None => error,
        }
    };
    if !response.status.is_success() {
        return Err(match response.try_json::<ErrorBody>() {
            Some(body) if body.is_error() => api_error(body),
            _ => Error::api(PROVIDER, status).with_message(snippet(response.body)),
        });
    }
    let answer: Answer = response.json(PROVIDER)?;
    let unconfirmed = |why: String| {
        unconfirmed(
            &response,
            format!("Pushy answered HTTP {status} with {why}; the opt-out is not confirmed"),
        )
    };
    match (answer.success, answer.error.is_error()) {
        (Some(true), false) => Ok(UnsubscribeResponse { success: true }),
        (Some(true), true) => {
            let ErrorBody { code, error } = answer.error;
            let said = [code, error].into_iter().flatten().collect::<Vec<_>>();
            Err(unconfirmed(format!(
                "success: true but also an error ({})",
                said.join(": ")
            )))
        }
        // Pushy's own error body on a 2xx: a refusal, with Pushy's code and message.
        (_, true) => Err(api_error(answer.error)),
        (Some(false), false) => Err(unconfirmed("success: false and no error".into())),
        (None, false) => Err(unconfirmed(format!(
            "no success: true ({})",
            snippet(response.body)
        ))),
    }
}

/// A 2xx whose answer does not confirm the opt-out: a decode error that keeps the HTTP
/// status and a snippet of the body, retryable (an unsubscribe is safe to repeat), never done.
/// What [`Error::unconfirmed`] means, with the status.
fn unconfirmed(response: &Response<'_>, message: String) -> Error {
    Error::decode(PROVIDER, response.status.as_u16(), message, response.body).with_retryable(true)
}

#[async_trait]
impl Unsubscriber for Pushy {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    /// Maps a [`Recipient::Device`] and its topics onto one `POST /topics/unsubscribe`;
    /// [`Topics::All`] becomes `["*"]`, and `"*"` in [`Topics::Only`] is refused (it would
    /// unsubscribe from every topic while the receipt named one). Pushy has no "already unsubscribed" answer, so a
    /// success is always [`Outcome::Unsubscribed`].
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        let Recipient::Device { token } = &request.recipient else {
            return Err(Error::unsupported(
                PROVIDER,
                format!(
                    "unsubscribe a {} recipient; Pushy takes a device token",
                    request.recipient.kind()
                ),
            ));
        };
        let topics = match &request.topics {
            Topics::All => vec![ALL_TOPICS.to_string()],
            Topics::Only(ids) => {
                // "*" sent as a topic would unsubscribe the device from every topic while the
                // receipt named one topic "*": every topic is asked for with Topics::All.
                if ids.iter().any(|id| id.trim() == ALL_TOPICS) {
                    return Err(Error::invalid_input(
                        "topic",
                        "\"*\" is Pushy's wildcard for every topic, not a topic id; to \
                         unsubscribe from all topics use --all-topics (Topics::All), otherwise \
                         name topics of a-z, A-Z, 0-9, '-', '_', '.'",
                    ));
                }
                validate::unique("topic", ids)?.into_owned()
            }
        };
        let typed = UnsubscribeRequest {
            token: token.clone(),
            topics,
        };
        self.unsubscribe_topics(&typed).await?;
        Ok(Receipt::new(
            PROVIDER,
            request.recipient.clone(),
            request.topics.clone(),
            Outcome::Unsubscribed,
            None,
        ))
    }

    /// The requests [`unsubscribe`](Unsubscriber::unsubscribe) would send, built by the same
    /// code and recorded instead of sent ([`optout_core::plan`]).
    async fn plan(&self, request: &Unsubscribe) -> Result<optout_core::Plan, Error> {
        optout_core::plan_by_capture(self, request).await
    }

    /// The requests [`unsubscribe_many`](Unsubscriber::unsubscribe_many) would send,
    /// recorded instead of sent.
    async fn plan_many(
        &self,
        requests: &[Unsubscribe],
    ) -> (optout_core::Plan, Vec<Result<(), Error>>) {
        optout_core::plan_many_by_capture(self, requests).await
    }
}
