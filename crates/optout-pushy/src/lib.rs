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
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// Pushy's error code.
    #[serde(default)]
    pub code: Option<String>,
    /// Pushy's message.
    #[serde(default)]
    pub error: Option<String>,
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
fn decode(response: Response<'_>) -> Result<UnsubscribeResponse, Error> {
    let status = response.status.as_u16();
    if !response.status.is_success() {
        let error = Error::api(PROVIDER, status);
        return Err(match response.try_json::<ErrorBody>() {
            Some(ErrorBody {
                code,
                error: message,
            }) => error
                .with_code(code.unwrap_or_default())
                .with_message(message.unwrap_or_default()),
            None => error.with_message(snippet(response.body)),
        });
    }
    let body: UnsubscribeResponse = response.json(PROVIDER)?;
    if !body.success {
        // A 2xx that says it failed: it may carry Pushy's error too.
        let ErrorBody { code, error } = response.try_json().unwrap_or_default();
        return Err(Error::api(PROVIDER, status)
            .with_code(code.unwrap_or_default())
            .with_message(error.unwrap_or_else(|| "Pushy answered success: false".into())));
    }
    Ok(body)
}

#[async_trait]
impl Unsubscriber for Pushy {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    /// Maps a [`Recipient::Device`] and its topics onto one `POST /topics/unsubscribe`;
    /// [`Topics::All`] becomes `["*"]`. Pushy has no "already unsubscribed" answer, so a
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
            Topics::Only(ids) => validate::unique("topic", ids)?.into_owned(),
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
}
