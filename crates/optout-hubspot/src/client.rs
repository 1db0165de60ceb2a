//! The typed client: the builder, the three calls, and what each answers.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use optout_core::http::{require_secret, required_env, secret_header, HttpConfig};
use optout_core::reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use optout_core::reqwest::{Method, Url};
use optout_core::secrecy::SecretString;
use optout_core::{http_builder_methods, validate, Error, HttpClient, Outcome, Request, Response};

use crate::auth::{OAuthCredentials, TokenSource};
use crate::decode::{batch_answer, decode_v3, decode_v4_all, V3Status};
use crate::view::BatchAnswer;
use crate::wire::{
    validate_inputs, BatchResponse, BatchWriteBody, BatchWriteRequest, SetStatusSuccessReason,
    StatusWrite, SubscriptionStatus, UnsubscribeRequest,
};
use crate::{
    ACCESS_TOKEN_VAR, BATCH_SIZE_VAR, CLIENT_ID_VAR, CLIENT_SECRET_VAR, DEFAULT_BASE_URL,
    DEFAULT_BATCH_SIZE, PROVIDER, REFRESH_TOKEN_VAR, USER_AGENT,
};

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

/// What the v4 unsubscribe-all said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsubscribeAllOutcome {
    /// HubSpot confirmed it: a `COMPLETE` answer listing this address's statuses, all
    /// `UNSUBSCRIBED`. [`HubSpot::unsubscribe_all`] always gives the batch (`Some`): an empty
    /// answer confirms nothing and is an error.
    Accepted(Option<BatchResponse>),
    /// HubSpot answered with an error whose message says the address is already unsubscribed.
    AlreadyUnsubscribed {
        /// HubSpot's message.
        message: String,
    },
}

impl UnsubscribeAllOutcome {
    /// `AlreadyUnsubscribed` when HubSpot said so, or listed statuses that all had
    /// `NO_STATUS_CHANGE` (every one was unsubscribed before); otherwise `Unsubscribed`.
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

/// A successful answer with HubSpot's correlation id (the `X-HubSpot-Correlation-Id` header,
/// or for an "already unsubscribed" error the body's `correlationId`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Answer<T> {
    /// What HubSpot said.
    pub body: T,
    /// The id HubSpot support can trace the call by.
    pub correlation_id: Option<String>,
    /// An earlier attempt of this call may have made the change (its answer was lost), so an
    /// "already unsubscribed" here may be this call's own work.
    pub earlier_attempt_may_have_applied: bool,
}

/// A HubSpot client: one connection pool, the access token (in a sensitive header), retries.
///
/// Its `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct HubSpot {
    http: HttpClient,
    /// `.../communication-preferences/v3/unsubscribe`, built once: every bulk row posts to it.
    v3_unsubscribe: Url,
    /// The brand (business unit) the unsubscribe-all is for, if one was named.
    business_unit_id: Option<u64>,
    /// The most statuses one batch write carries (1: no batch writes).
    pub(crate) batch_size: usize,
    /// Set once a batch write was refused as a whole (a token without the batch scope): the
    /// client then sends one v3 call per subscription, and has warned once. Shared by clones.
    pub(crate) batch_refused: Arc<AtomicBool>,
    /// With OAuth credentials: where each call's `Authorization` comes from.
    tokens: Option<Arc<TokenSource>>,
}

/// Builds a [`HubSpot`] client.
#[derive(Debug, Default)]
#[must_use]
pub struct HubSpotBuilder {
    access_token: Option<SecretString>,
    oauth: Option<OAuthCredentials>,
    http: HttpConfig,
    business_unit_id: Option<u64>,
    batch_size: Option<usize>,
}

impl HubSpotBuilder {
    /// A builder with the token from `HUBSPOT_ACCESS_TOKEN`, the base URL from
    /// `HUBSPOT_BASE_URL` and the batch size from `HUBSPOT_BATCH_SIZE` (see
    /// [`batch_size`](Self::batch_size)) if set; further settings can follow.
    ///
    /// A public app's OAuth credentials come from `HUBSPOT_CLIENT_ID`,
    /// `HUBSPOT_CLIENT_SECRET` and `HUBSPOT_REFRESH_TOKEN` instead (see
    /// [`oauth`](Self::oauth)): all three, and without `HUBSPOT_ACCESS_TOKEN`. Both kinds set,
    /// or only some of the three, is a configuration error naming the variables.
    pub fn from_env() -> Result<Self, Error> {
        let (access_token, oauth) = credentials_from_env()?;
        Ok(HubSpotBuilder {
            access_token,
            oauth,
            http: HttpConfig::from_env(PROVIDER),
            business_unit_id: None,
            batch_size: batch_size_from_env()?,
        })
    }

    /// A private app's access token or an OAuth access token, with the
    /// `communication_preferences.write` scope.
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.access_token = Some(SecretString::from(token.into()));
        self
    }

    /// A public app's OAuth credentials instead of a fixed access token: the app's client id
    /// and secret and the install's refresh token. The client gets an access token from
    /// `POST /oauth/v1/token` (`grant_type=refresh_token`, form-encoded, on the base URL),
    /// refreshes it a minute before it expires (HubSpot's last about 30 minutes), and once
    /// more when a call is answered 401, then sends that call again. The secret, the refresh
    /// token and the access tokens never show in `Debug` or errors. Give this or
    /// [`access_token`](Self::access_token), not both.
    pub fn oauth(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        refresh_token: impl Into<String>,
    ) -> Self {
        self.oauth = Some(OAuthCredentials {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            refresh_token: SecretString::from(refresh_token.into()),
        });
        self
    }

    /// The brand (HubSpot's "business unit", with the Brands add-on) whose subscriptions the
    /// unsubscribe-all ([`Topics::All`](optout_core::Topics::All)) covers, sent as the
    /// documented `businessUnitId` query parameter; HubSpot's default brand is `0`. Without
    /// it, the parameter is not sent and HubSpot uses the account's default. The v3 call and
    /// the batch write take no brand (a subscription id belongs to one already).
    pub fn business_unit_id(mut self, id: u64) -> Self {
        self.business_unit_id = Some(id);
        self
    }

    /// The most statuses one batch write (`POST /communication-preferences/v4/statuses/batch/write`)
    /// carries, and so [`Unsubscriber::batch_size`](optout_core::Unsubscriber::batch_size):
    /// default [`DEFAULT_BATCH_SIZE`]. HubSpot documents no limit for this endpoint; its other
    /// batch endpoints take 100. `1` turns batch writes off (one v3 call per subscription).
    /// Checked by `build()`: 0 is refused.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = Some(size);
        self
    }

    http_builder_methods!();

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<HubSpot, Error> {
        let batch_size = self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if batch_size == 0 {
            return Err(Error::config(
                "HubSpot batch_size is 0; use 1 (no batch writes) or more",
            ));
        }
        let mut headers = HeaderMap::new();
        let (secrets, oauth) = match (self.access_token, self.oauth) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "HubSpot was given both an access token and OAuth credentials; give one",
                ))
            }
            (token, None) => {
                let token = require_secret(token, ACCESS_TOKEN_VAR)?;
                headers.insert(
                    AUTHORIZATION,
                    secret_header("Bearer", &token, ACCESS_TOKEN_VAR)?,
                );
                (vec![token], None)
            }
            (None, Some(credentials)) => {
                if credentials.client_id.trim().is_empty() {
                    return Err(Error::config("HubSpot OAuth client id is empty"));
                }
                let secret = require_secret(
                    Some(credentials.client_secret.clone()),
                    "HubSpot OAuth client secret",
                )?;
                let refresh = require_secret(
                    Some(credentials.refresh_token.clone()),
                    "HubSpot OAuth refresh token",
                )?;
                (vec![secret, refresh], Some(credentials))
            }
        };
        // The token endpoint shares the API's connection pool when one is given.
        let token_client = match (&oauth, &self.http.client) {
            (Some(_), Some(client)) => Some(client.clone()),
            (Some(_), None) => Some(
                optout_core::reqwest::Client::builder()
                    .connect_timeout(self.http.connect_timeout)
                    .redirect(optout_core::reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| {
                        Error::config(format!("cannot build the HTTP client: {}", e.without_url()))
                    })?,
            ),
            (None, _) => None,
        };
        let timeout = self.http.timeout;
        let http = HttpClient::new(
            PROVIDER,
            self.http,
            DEFAULT_BASE_URL,
            USER_AGENT,
            headers,
            secrets,
        )?;
        let tokens = match (oauth, token_client) {
            (Some(credentials), Some(client)) => Some(Arc::new(TokenSource::new(
                credentials,
                http.endpoint(&["oauth", "v1", "token"]),
                client,
                timeout,
                USER_AGENT,
            ))),
            _ => None,
        };
        let v3_unsubscribe = http.endpoint(&["communication-preferences", "v3", "unsubscribe"]);
        Ok(HubSpot {
            http,
            v3_unsubscribe,
            business_unit_id: self.business_unit_id,
            batch_size,
            batch_refused: Arc::new(AtomicBool::new(false)),
            tokens,
        })
    }
}

impl HubSpot {
    /// A builder; set [`access_token`](HubSpotBuilder::access_token) or
    /// [`oauth`](HubSpotBuilder::oauth).
    pub fn builder() -> HubSpotBuilder {
        HubSpotBuilder::default()
    }

    /// A client from `HUBSPOT_ACCESS_TOKEN` (or the OAuth variables: see
    /// [`HubSpotBuilder::from_env`]), with the base URL from `HUBSPOT_BASE_URL` if set.
    pub fn from_env() -> Result<HubSpot, Error> {
        HubSpotBuilder::from_env()?.build()
    }

    /// Sends `request` through the shared HTTP plumbing (retries included). With OAuth
    /// credentials it carries the current access token, and a 401 refreshes the token once
    /// and sends the request again.
    async fn send<T>(
        &self,
        request: Request,
        decode: impl Fn(Response<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let Some(tokens) = &self.tokens else {
            return self.http.send(request, decode).await;
        };
        optout_core::plan::then(
            "a call answered 401 refreshes the access token once and is sent again",
        );
        let authorization = tokens.authorization(None).await?;
        let first = request
            .clone()
            .header("authorization", authorization.clone());
        match self.http.send(first, &decode).await {
            Err(error) if error.status() == Some(401) => {
                let renewed = tokens.authorization(Some(&authorization)).await?;
                self.http
                    .send(request.header("authorization", renewed), decode)
                    .await
            }
            other => other,
        }
    }

    /// `POST /communication-preferences/v3/unsubscribe`: one subscription type, validated
    /// before it is sent. HubSpot's 400 "already unsubscribed" is
    /// [`UnsubscribeOutcome::AlreadyUnsubscribed`]. A 200 counts only when it is the status of
    /// the subscription asked for and says `NOT_SUBSCRIBED`: one that says `SUBSCRIBED`, an
    /// empty or unknown status, or is about another subscription is an
    /// [`Error::unconfirmed`] error (retryable), never a success.
    pub async fn unsubscribe_from_subscription(
        &self,
        request: &UnsubscribeRequest,
    ) -> Result<Answer<UnsubscribeOutcome>, Error> {
        request.validate()?;
        self.send_unsubscribe(request).await
    }

    /// The POST of [`unsubscribe_from_subscription`](Self::unsubscribe_from_subscription),
    /// for a request already checked, decoding the answer's status as `S`.
    pub(crate) async fn send_unsubscribe<S: V3Status>(
        &self,
        request: &UnsubscribeRequest,
    ) -> Result<Answer<UnsubscribeOutcome<S>>, Error> {
        let url = self.v3_unsubscribe.clone();
        let decode = |r: Response<'_>| decode_v3::<S>(r, &request.subscription_id);
        self.send(Request::json(Method::POST, url, request)?, decode)
            .await
    }

    /// `POST /communication-preferences/v4/statuses/{email}/unsubscribe-all?channel=EMAIL&verbose=true`
    /// (with `&businessUnitId=N` between the two when [`HubSpotBuilder::business_unit_id`]
    /// named a brand): every email subscription. The docs define no body, so none is sent:
    /// no `Content-Type`, and `Content-Length: 0`. The endpoint takes no legal basis.
    ///
    /// `verbose=true` makes HubSpot list the statuses it set (without it the answer is empty
    /// and confirms nothing). The answer counts only when it is `COMPLETE` and lists at least
    /// one status, every one for this address and `UNSUBSCRIBED`
    /// ([`UnsubscribeAllOutcome::Accepted`], always with the batch); `CANCELED` or a listed
    /// error is a rejection, and anything else (an empty body or 204, `PENDING`, `ERROR`, a
    /// status still `SUBSCRIBED`, ...) is an [`Error::unconfirmed`] error.
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
        let query = match self.business_unit_id {
            Some(id) => format!("channel=EMAIL&businessUnitId={id}&verbose=true"),
            None => "channel=EMAIL&verbose=true".to_owned(),
        };
        url.set_query(Some(&query));
        // No body, so no Content-Type; the length is said, as a POST without one may be
        // refused with 411 by a proxy on the way.
        let request =
            Request::new(Method::POST, url).header("content-length", HeaderValue::from_static("0"));
        self.send(request, |r: Response<'_>| decode_v4_all(r, email))
            .await
    }

    /// `POST /communication-preferences/v4/statuses/batch/write`, validated before it is sent.
    /// The answer (200, or 207 multi-status when some inputs failed) is returned as HubSpot
    /// gives it: check [`BatchResponse::errors`] for inputs that failed, and each result's
    /// status. [`Unsubscriber::unsubscribe_many`](optout_core::Unsubscriber::unsubscribe_many)
    /// builds on it and maps the answer back to each request. The endpoint needs a batch
    /// scope (Marketing Hub Enterprise): without it, HubSpot answers 403.
    pub async fn batch_write(
        &self,
        request: &BatchWriteRequest,
    ) -> Result<Answer<BatchResponse>, Error> {
        self.post_batch(&request.inputs, |r| batch_answer(&r)).await
    }

    /// The batch write of `inputs` (`unsubscribe_many`'s chunks, not copied), whose answer
    /// `read` maps while its body is at hand: the answer's strings are borrowed, not copied.
    pub(crate) async fn batch_write_read<T>(
        &self,
        inputs: &[StatusWrite],
        read: impl Fn(&Answer<BatchAnswer<'_>>) -> T,
    ) -> Result<T, Error> {
        self.post_batch(inputs, |r| batch_answer(&r).map(|answer| read(&answer)))
            .await
    }

    /// `POST /communication-preferences/v4/statuses/batch/write` of `inputs`, checked first,
    /// each answer decoded by `decode`.
    async fn post_batch<T>(
        &self,
        inputs: &[StatusWrite],
        decode: impl Fn(Response<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        validate_inputs(inputs)?;
        let path = [
            "communication-preferences",
            "v4",
            "statuses",
            "batch",
            "write",
        ];
        let url = self.http.endpoint(&path);
        let body = BatchWriteBody { inputs };
        self.send(Request::json(Method::POST, url, &body)?, decode)
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

/// The static token, or the OAuth credentials, from the environment: exactly one kind.
fn credentials_from_env() -> Result<(Option<SecretString>, Option<OAuthCredentials>), Error> {
    use optout_core::http::optional_env;
    let oauth_vars = [CLIENT_ID_VAR, CLIENT_SECRET_VAR, REFRESH_TOKEN_VAR];
    let [client_id, client_secret, refresh_token] = oauth_vars.map(optional_env);
    let any_oauth = client_id.is_some() || client_secret.is_some() || refresh_token.is_some();
    let token_set = optional_env(ACCESS_TOKEN_VAR).is_some();
    match (token_set, any_oauth, client_id, client_secret, refresh_token) {
        (true, true, ..) => Err(Error::config(format!(
            "both {ACCESS_TOKEN_VAR} (a private app's token) and HubSpot OAuth credentials ({}) are set; unset one: {ACCESS_TOKEN_VAR}, or {CLIENT_ID_VAR}, {CLIENT_SECRET_VAR} and {REFRESH_TOKEN_VAR}",
            oauth_vars
                .iter()
                .filter(|v| optional_env(v).is_some())
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        (true, false, ..) => Ok((Some(required_env(ACCESS_TOKEN_VAR)?), None)),
        (false, true, Some(client_id), Some(client_secret), Some(refresh_token)) => Ok((
            None,
            Some(OAuthCredentials {
                client_id: client_id.trim().to_owned(),
                client_secret: SecretString::from(client_secret),
                refresh_token: SecretString::from(refresh_token),
            }),
        )),
        (false, true, ..) => {
            let missing: Vec<&str> = oauth_vars
                .iter()
                .filter(|v| optional_env(v).is_none())
                .copied()
                .collect();
            Err(Error::config(format!(
                "HubSpot OAuth needs {CLIENT_ID_VAR}, {CLIENT_SECRET_VAR} and {REFRESH_TOKEN_VAR}: {} not set",
                match missing.as_slice() {
                    [one] => format!("{one} is"),
                    more => format!("{} are", more.join(" and ")),
                }
            )))
        }
        (false, false, ..) => Err(Error::config(format!(
            "{ACCESS_TOKEN_VAR} is not set (or, for a public app's OAuth, set {CLIENT_ID_VAR}, {CLIENT_SECRET_VAR} and {REFRESH_TOKEN_VAR})"
        ))),
    }
}

/// `HUBSPOT_BATCH_SIZE`, if set: a whole number of at least 1.
fn batch_size_from_env() -> Result<Option<usize>, Error> {
    let Some(text) = optout_core::http::optional_env(BATCH_SIZE_VAR) else {
        return Ok(None);
    };
    match text.trim().parse::<usize>() {
        Ok(size) if size >= 1 => Ok(Some(size)),
        _ => Err(Error::config(format!(
            "{BATCH_SIZE_VAR} is {text:?}; expected a whole number of at least 1 (1 turns batch \
             writes off)"
        ))),
    }
}
