//! OAuth access tokens that expire (HubSpot public apps: about 30 minutes), refreshed with the
//! app's client id and secret and the install's refresh token against
//! `POST /oauth/v1/token` (`grant_type=refresh_token`, form-encoded): before the token
//! expires, and once more when a call is answered 401.

use std::time::Duration;

use optout_core::reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use optout_core::reqwest::{self, Url};
use optout_core::secrecy::{ExposeSecret, SecretString};
use optout_core::Error;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::PROVIDER;

/// A token is refreshed once less than this is left of its life.
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// HubSpot's documented lifetime, assumed when the answer gives no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(1800);

/// The app's credentials and the install's refresh token. `Debug` shows the client id only.
#[derive(Clone)]
pub(crate) struct OAuthCredentials {
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) refresh_token: SecretString,
}

impl std::fmt::Debug for OAuthCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("refresh_token", &"[REDACTED]")
            .finish()
    }
}

/// The access token in use and when it expires.
struct Current {
    token: SecretString,
    expires_at: Instant,
}

/// Hands out a fresh access token, refreshing it when needed (one refresh at a time: callers
/// that find it stale wait for the one refresh, then share its token).
pub(crate) struct TokenSource {
    credentials: OAuthCredentials,
    token_url: Url,
    client: reqwest::Client,
    timeout: Duration,
    user_agent: &'static str,
    current: Mutex<Option<Current>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("credentials", &self.credentials)
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

/// HubSpot's answer to a refresh.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

/// HubSpot's error answer from the token endpoint (`{"status":"BAD_REFRESH_TOKEN","message"}`).
#[derive(Deserialize)]
struct TokenError {
    status: Option<String>,
    message: Option<String>,
}

impl TokenSource {
    pub(crate) fn new(
        credentials: OAuthCredentials,
        token_url: Url,
        client: reqwest::Client,
        timeout: Duration,
        user_agent: &'static str,
    ) -> Self {
        TokenSource {
            credentials,
            token_url,
            client,
            timeout,
            user_agent,
            current: Mutex::new(None),
        }
    }

    /// The secrets to scrub from any text a provider sends back.
    pub(crate) fn secrets(&self) -> Vec<SecretString> {
        vec![
            self.credentials.client_secret.clone(),
            self.credentials.refresh_token.clone(),
        ]
    }

    /// `Authorization: Bearer <token>`: the token in use unless it expires within
    /// [`REFRESH_MARGIN`] or is `rejected` (a token a call was just refused with), in which
    /// case it is refreshed first.
    pub(crate) async fn authorization(
        &self,
        rejected: Option<&HeaderValue>,
    ) -> Result<HeaderValue, Error> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref() {
            let header = bearer(&c.token)?;
            let fresh = c.expires_at > Instant::now() + REFRESH_MARGIN;
            if fresh && rejected != Some(&header) {
                return Ok(header);
            }
        }
        // A dry run: the refresh is recorded (once per plan, as concurrent calls share one
        // refresh), not sent, and the calls carry a placeholder for the token it answers.
        if optout_core::plan::is_capturing() {
            let note = "the calls after the token refresh carry the access token it answers";
            if optout_core::plan::then(note) {
                let scrubber = optout_core::scrub::Scrubber::new(&self.secrets());
                let _ =
                    optout_core::plan::intercept(PROVIDER, || self.refresh_request(), &scrubber);
            }
            return bearer(&SecretString::from("the-refreshed-access-token"));
        }
        let refreshed = self.refresh().await?;
        let header = bearer(&refreshed.token)?;
        *current = Some(refreshed);
        Ok(header)
    }

    /// The refresh, as it goes on the wire.
    fn refresh_request(&self) -> reqwest::Request {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("client_id", &self.credentials.client_id)
            .append_pair(
                "client_secret",
                self.credentials.client_secret.expose_secret(),
            )
            .append_pair(
                "refresh_token",
                self.credentials.refresh_token.expose_secret(),
            )
            .finish();
        let mut request = reqwest::Request::new(reqwest::Method::POST, self.token_url.clone());
        *request.timeout_mut() = Some(self.timeout);
        let headers = request.headers_mut();
        headers.insert(USER_AGENT, HeaderValue::from_static(self.user_agent));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded;charset=UTF-8"),
        );
        *request.body_mut() = Some(body.into());
        request
    }

    async fn refresh(&self) -> Result<Current, Error> {
        let started = Instant::now();
        let response = self
            .client
            .execute(self.refresh_request())
            .await
            .map_err(|e| Error::network(PROVIDER, e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::network(PROVIDER, e))?;
        if !status.is_success() {
            let said = serde_json::from_slice::<TokenError>(&bytes).ok();
            let (code, message) = said
                .map(|e| (e.status.unwrap_or_default(), e.message.unwrap_or_default()))
                .unwrap_or_default();
            let message = self.scrub(format!(
                "HubSpot refused to refresh the OAuth access token: {message}"
            ));
            return Err(Error::api(PROVIDER, status.as_u16())
                .with_code(self.scrub(code))
                .with_message(message));
        }
        // Never quote this body: it holds the new token.
        let answer: TokenAnswer = serde_json::from_slice(&bytes).map_err(|_| {
            Error::api(PROVIDER, status.as_u16())
                .with_code("BAD_TOKEN_ANSWER")
                .with_message(
                    "HubSpot's answer to the token refresh is not JSON with an access_token",
                )
        })?;
        if answer.access_token.trim().is_empty() {
            return Err(Error::api(PROVIDER, status.as_u16())
                .with_code("BAD_TOKEN_ANSWER")
                .with_message("HubSpot's answer to the token refresh has an empty access_token"));
        }
        let lifetime = answer
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        Ok(Current {
            token: SecretString::from(answer.access_token),
            expires_at: started + lifetime,
        })
    }

    /// `text` without the client secret or the refresh token.
    fn scrub(&self, text: String) -> String {
        let mut text = text;
        for secret in self.secrets() {
            let secret = secret.expose_secret();
            if !secret.is_empty() && text.contains(secret) {
                text = text.replace(secret, "[REDACTED]");
            }
        }
        text
    }
}

/// `Bearer <token>`, marked sensitive so that it is never printed.
fn bearer(token: &SecretString) -> Result<HeaderValue, Error> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            Error::api(PROVIDER, 200)
                .with_code("BAD_TOKEN_ANSWER")
                .with_message("HubSpot's refreshed access token cannot go in an HTTP header")
        })?;
    value.set_sensitive(true);
    Ok(value)
}
