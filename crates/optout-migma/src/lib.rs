//! Unsubscribe contacts from [Migma](https://migma.ai) email topics.
//!
//! One endpoint: `POST /v1/topics/{id}/unsubscribe` with `{"subscriberId","projectId"}`
//! (Migma's API reference, operation `UnsubscribeFromTopic`; the key needs `audience:write`).
//! [`Migma`] is the typed client: [`Migma::unsubscribe_from_topic`]. It implements
//! [`Unsubscriber`] for [`Recipient::Subscriber`] (a Migma contact id, no identifier) with
//! [`Topics::Only`](optout_core::Topics::Only) (one call per topic id).
//!
//! ```no_run
//! # mod optout { pub use optout_core::*; pub mod providers { pub mod migma { pub use optout_migma::*; } } }
//! use optout::{Recipient, Topics, Unsubscribe, Unsubscriber};
//! use optout::providers::migma::Migma;
//! # async fn run() -> Result<(), optout::Error> {
//! let migma = Migma::from_env()?; // MIGMA_API_KEY, MIGMA_PROJECT_ID, optional MIGMA_BASE_URL
//! let request = Unsubscribe::new(Recipient::subscriber("CONTACT_ID")?, Topics::one("TOPIC_ID"));
//! let receipt = migma.unsubscribe(&request).await?;
//! println!("{}: {}", receipt.recipient, receipt.outcome);
//! # Ok(()) }
//! ```

use optout_core::http::{optional_env, require_secret, required_env, secret_header, HttpConfig};
use optout_core::reqwest::header::{HeaderMap, AUTHORIZATION};
use optout_core::reqwest::{Method, Url};
use optout_core::secrecy::SecretString;
use optout_core::{
    async_trait, http_builder_methods, snippet, validate, Error, HttpClient, Outcome, Provider,
    Receipt, Recipient, Request, Response, TopicOutcome, Unsubscribe, Unsubscriber,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Migma's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.migma.ai";
/// The variable [`Migma::from_env`] reads the API key from.
pub const API_KEY_VAR: &str = "MIGMA_API_KEY";
/// The variable [`Migma::from_env`] reads the project id from.
pub const PROJECT_ID_VAR: &str = "MIGMA_PROJECT_ID";
const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
const PROVIDER: Provider = Provider::Migma;

/// The body of `POST /v1/topics/{id}/unsubscribe` (Migma's `TopicSubscriptionRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicSubscriptionRequest {
    /// The contact id to unsubscribe.
    pub subscriber_id: String,
    /// The project (brand) the contact and topic belong to.
    pub project_id: String,
}

impl TopicSubscriptionRequest {
    /// Checks the request (both fields are required by Migma), so that nothing malformed is
    /// sent.
    pub fn validate(&self) -> Result<(), Error> {
        validate::non_empty("subscriber_id", &self.subscriber_id)?;
        validate::non_empty("project_id", &self.project_id)
    }
}

/// Migma's answer: `{"success": true, "data": {...}, "error": null}`
/// (`ApiResponseTopicSubscription`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TopicSubscriptionResponse {
    /// Whether Migma applied the change (required).
    pub success: bool,
    /// The subscription as it is now (nullable).
    #[serde(default)]
    pub data: Option<TopicSubscription>,
    /// Migma's message when `success` is false (nullable). Documented as a string; an
    /// object is read as its `code` and `message` (or quoted whole when it has no message).
    #[serde(default, deserialize_with = "error_text")]
    pub error: Option<String>,
}

/// A contact's subscription to a topic, as Migma reports it after the call. Migma marks none
/// of these fields required, so none is here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TopicSubscription {
    /// The topic id.
    #[serde(default)]
    pub topic_id: Option<String>,
    /// The contact id.
    #[serde(default)]
    pub subscriber_id: Option<String>,
    /// Whether the contact is still subscribed (`false` after an unsubscribe).
    #[serde(default)]
    pub subscribed: Option<bool>,
}

/// Migma's error body: `{"success": false, "error": "..."}` (`ApiError`).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// Always `false` on an error.
    #[serde(default)]
    pub success: Option<bool>,
    /// Migma's message (a string, or an object read as for
    /// [`TopicSubscriptionResponse::error`]).
    #[serde(default, deserialize_with = "error_text")]
    pub error: Option<String>,
}

/// Migma's `error`: a string as documented, `null`, or (as seen) an object such as
/// `{"code": "...", "message": "..."}`, read as `code: message`. Blank is `None`.
fn error_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Object(map) => {
            let field = |name: &str| {
                map.get(name)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            };
            match (field("code"), field("message").or_else(|| field("error"))) {
                (Some(code), Some(message)) => Some(format!("{code}: {message}")),
                (None, Some(message)) => Some(message.to_string()),
                (Some(code), None) => Some(code.to_string()),
                (None, None) if map.is_empty() => None,
                (None, None) => Some(snippet(Value::Object(map).to_string().as_bytes())),
            }
        }
        other => Some(snippet(other.to_string().as_bytes())),
    };
    Ok(text.filter(|t| !t.trim().is_empty()))
}

/// A Migma client: one connection pool, the API key (sent as `Authorization: Bearer`), the
/// project id, retries.
///
/// Its `Debug` never shows the key.
#[derive(Debug, Clone)]
pub struct Migma {
    http: HttpClient,
    project_id: String,
}

/// Builds a [`Migma`] client.
#[derive(Debug, Default)]
#[must_use]
pub struct MigmaBuilder {
    api_key: Option<SecretString>,
    project_id: Option<String>,
    http: HttpConfig,
}

impl MigmaBuilder {
    /// A builder with the key from `MIGMA_API_KEY`, the project id from `MIGMA_PROJECT_ID`
    /// and the base URL from `MIGMA_BASE_URL` if set; further settings can follow.
    pub fn from_env() -> Result<Self, Error> {
        Ok(MigmaBuilder {
            api_key: Some(required_env(API_KEY_VAR)?),
            project_id: Some(
                optional_env(PROJECT_ID_VAR)
                    .ok_or_else(|| Error::config(format!("{PROJECT_ID_VAR} is not set")))?,
            ),
            http: HttpConfig::from_env(PROVIDER),
        })
    }

    /// The API key (Migma dashboard, Settings, API Integration; needs `audience:write`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// The project (brand) id every request names. Required.
    pub fn project_id(mut self, id: impl Into<String>) -> Self {
        self.project_id = Some(id.into());
        self
    }

    http_builder_methods!();

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Migma, Error> {
        let api_key = require_secret(self.api_key, API_KEY_VAR)?;
        let project_id = match self.project_id {
            Some(id) => {
                validate::non_empty(PROJECT_ID_VAR, &id).map_err(|e| {
                    Error::config(format!(
                        "{PROJECT_ID_VAR} {}",
                        e.message().unwrap_or("is not valid")
                    ))
                })?;
                id
            }
            None => return Err(Error::config(format!("{PROJECT_ID_VAR} is not set"))),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            secret_header("Bearer", &api_key, API_KEY_VAR)?,
        );
        let http = HttpClient::new(
            PROVIDER,
            self.http,
            DEFAULT_BASE_URL,
            USER_AGENT,
            headers,
            vec![api_key],
        )?;
        Ok(Migma { http, project_id })
    }
}

impl Migma {
    /// A builder; set at least [`api_key`](MigmaBuilder::api_key) and
    /// [`project_id`](MigmaBuilder::project_id).
    pub fn builder() -> MigmaBuilder {
        MigmaBuilder::default()
    }

    /// A client from `MIGMA_API_KEY` and `MIGMA_PROJECT_ID`, with the base URL from
    /// `MIGMA_BASE_URL` if set.
    pub fn from_env() -> Result<Migma, Error> {
        MigmaBuilder::from_env()?.build()
    }

    /// The project id every request names.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    /// `POST /v1/topics/{topic_id}/unsubscribe`: the typed call, validated before it is sent.
    ///
    /// Only a 2xx with `success: true`, no `error`, and `data` (when given) that says this
    /// contact is unsubscribed from this topic is a success. A 200 with `success: false` is an
    /// [`ErrorKind::Rejected`](optout_core::ErrorKind::Rejected) error with Migma's message.
    /// A 200 with `success: true` that also carries an `error`, says the contact is still
    /// subscribed, or names another topic or contact confirms nothing: it is
    /// [`Error::unconfirmed`] (retryable, since an unsubscribe is safe to repeat).
    pub async fn unsubscribe_from_topic(
        &self,
        topic_id: &str,
        request: &TopicSubscriptionRequest,
    ) -> Result<TopicSubscription, Error> {
        validate::path_segment("topic", topic_id)?;
        request.validate()?;
        let url = self
            .http
            .endpoint(&["v1", "topics", topic_id, "unsubscribe"]);
        let subscriber_id = request.subscriber_id.as_str();
        let request = Request::json(Method::POST, url, request)?;
        self.http
            .send(request, |response| {
                decode(response, topic_id, subscriber_id)
            })
            .await
    }
}

/// Turns Migma's answer into the subscription or an error with Migma's message.
fn decode(
    response: Response<'_>,
    topic_id: &str,
    subscriber_id: &str,
) -> Result<TopicSubscription, Error> {
    let status = response.status.as_u16();
    if !response.status.is_success() {
        // `{success:false, error}` for 400/401/403/404/409/429/5xx; a proxy may answer HTML,
        // and a JSON body without `error` is quoted too, so that the message is never empty.
        let message = response
            .try_json::<ErrorBody>()
            .and_then(|body| body.error)
            .unwrap_or_else(|| snippet(response.body));
        return Err(Error::api(PROVIDER, status).with_message(message));
    }
    let body: TopicSubscriptionResponse = response.json(PROVIDER)?;
    if !body.success {
        return Err(Error::api(PROVIDER, status).with_message(
            body.error
                .unwrap_or_else(|| "Migma answered success: false".into()),
        ));
    }
    let unconfirmed = |why: String| {
        unconfirmed(
            &response,
            format!(
                "Migma answered HTTP {status} with success: true but {why}; the opt-out of \
                 contact {subscriber_id:?} from topic {topic_id:?} is not confirmed"
            ),
        )
    };
    // `success: true` with an `error` contradicts itself: Migma documents `error` as the
    // message of a failed call, so it is not read as a confirmation.
    if let Some(error) = body.error {
        return Err(unconfirmed(format!("also an error: {error}")));
    }
    // `data` is nullable in Migma's schema: `success: true` alone is the confirmation. But
    // data that says otherwise (still subscribed, another topic or contact) overrules it.
    let data = body.data.unwrap_or_default();
    if data.subscribed == Some(true) {
        return Err(unconfirmed(
            "data.subscribed is true: the contact is still subscribed".into(),
        ));
    }
    if let Some(other) = data.topic_id.as_deref().filter(|t| *t != topic_id) {
        return Err(unconfirmed(format!(
            "data.topicId is {other:?}, another topic"
        )));
    }
    if let Some(other) = data
        .subscriber_id
        .as_deref()
        .filter(|c| *c != subscriber_id)
    {
        return Err(unconfirmed(format!(
            "data.subscriberId is {other:?}, another contact"
        )));
    }
    Ok(data)
}

/// A 2xx whose answer does not confirm the opt-out: a decode error that keeps the HTTP
/// status and a snippet of the body, retryable (an unsubscribe is safe to repeat), never done.
/// What [`Error::unconfirmed`] means, with the status.
fn unconfirmed(response: &Response<'_>, message: String) -> Error {
    Error::decode(PROVIDER, response.status.as_u16(), message, response.body).with_retryable(true)
}

#[async_trait]
impl Unsubscriber for Migma {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    /// Maps a [`Recipient::Subscriber`] (a Migma contact id) onto one
    /// `POST /v1/topics/{id}/unsubscribe` per topic. Migma has no "already unsubscribed"
    /// answer, so a success is always [`Outcome::Unsubscribed`]; it gives no reference.
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        let subscriber_id = match &request.recipient {
            Recipient::Subscriber {
                id,
                identifier: None,
            } => id,
            Recipient::Subscriber {
                identifier: Some(_),
                ..
            } => {
                return Err(Error::unsupported(
                    PROVIDER,
                    "use a subscription identifier; Migma takes a contact id alone",
                ))
            }
            other => {
                return Err(Error::unsupported(
                    PROVIDER,
                    format!(
                        "unsubscribe a {} recipient; Migma takes a contact id",
                        other.kind()
                    ),
                ))
            }
        };
        let topics = validate::topic_ids(PROVIDER, "topic", &request.topics)?;
        let typed = TopicSubscriptionRequest {
            subscriber_id: subscriber_id.clone(),
            project_id: self.project_id.clone(),
        };
        typed.validate()?;
        let typed = &typed;
        let calls = topics.iter().map(|topic_id| async move {
            self.unsubscribe_from_topic(topic_id, typed).await?;
            Ok(TopicOutcome {
                outcome: Outcome::Unsubscribed,
                reference: None,
            })
        });
        optout_core::per_topic(PROVIDER, request, &topics, calls).await
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
