//! Unsubscribe phone numbers from [Mobivate](https://mobivate.com) SMS campaigns.
//!
//! One endpoint: `POST /subscriptions/v1/{campaign_id}/unsubscribe` with
//! `{"msisdn","signature"}` (plus `"keyword"` when one is configured), where the
//! [`signature`] is the MD5 of the account id, the campaign id and the MSISDN. No header
//! carries a credential: the account id only signs. [`Mobivate`] is the typed client:
//! [`Mobivate::unsubscribe_campaign`]. It implements [`Unsubscriber`] for
//! [`Recipient::Phone`] with [`Topics::Only`](optout_core::Topics::Only) naming campaign ids (one call per campaign).
//!
//! ```no_run
//! # mod optout { pub use optout_core::*; pub mod providers { pub mod mobivate { pub use optout_mobivate::*; } } }
//! use optout::{Recipient, Topics, Unsubscribe, Unsubscriber};
//! use optout::providers::mobivate::Mobivate;
//! # async fn run() -> Result<(), optout::Error> {
//! let mobivate = Mobivate::from_env()?; // MOBIVATE_ACCOUNT_ID, optional MOBIVATE_KEYWORD, MOBIVATE_DEFAULT_REGION and MOBIVATE_BASE_URL
//! let request = Unsubscribe::new(Recipient::phone("+254 700 000000")?, Topics::one("c71e2c2ee68b410a82d6c5f910c2d428"));
//! let receipt = mobivate.unsubscribe(&request).await?;
//! println!("{}: {} ({:?})", receipt.recipient, receipt.outcome, receipt.reference);
//! # Ok(()) }
//! ```

use optout_core::http::{optional_env, require_secret, required_env, HttpConfig};
use optout_core::reqwest::header::HeaderMap;
use optout_core::reqwest::{Method, Url};
use optout_core::secrecy::{ExposeSecret, SecretString};
use optout_core::{
    async_trait, http_builder_methods, snippet, validate, Error, HttpClient, Outcome, Provider,
    Receipt, Recipient, Request, Response, TopicOutcome, Unsubscribe, Unsubscriber,
};

mod wire;

pub use wire::{signature, UnsubscribeRequest, UnsubscribeResponse};

/// Mobivate's production subscription API.
pub const DEFAULT_BASE_URL: &str = "https://subscription-api.mobivate.com";
/// The variable [`Mobivate::from_env`] reads the account id (the signing secret) from.
pub const ACCOUNT_ID_VAR: &str = "MOBIVATE_ACCOUNT_ID";
/// The variable [`Mobivate::from_env`] reads the optional keyword from.
pub const KEYWORD_VAR: &str = "MOBIVATE_KEYWORD";
/// The variable [`Mobivate::from_env`] (and [`Recipient::for_provider`]) read the region of
/// national phone numbers from, e.g. `KE`.
pub const DEFAULT_REGION_VAR: &str = optout_core::PHONE_REGION_VAR;
/// The `state` of a successful unsubscribe.
pub const UNSUBSCRIBED: &str = "unsubscribed";
const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
const PROVIDER: Provider = Provider::Mobivate;

/// A Mobivate client: one connection pool, the account id (the signing secret), the optional
/// keyword, retries.
///
/// Its `Debug` never shows the account id.
#[derive(Debug, Clone)]
pub struct Mobivate {
    http: HttpClient,
    account_id: SecretString,
    keyword: Option<String>,
    default_region: Option<String>,
}

/// Builds a [`Mobivate`] client.
#[derive(Debug, Default)]
#[must_use]
pub struct MobivateBuilder {
    account_id: Option<SecretString>,
    keyword: Option<String>,
    default_region: Option<String>,
    http: HttpConfig,
}

impl MobivateBuilder {
    /// A builder with the account id from `MOBIVATE_ACCOUNT_ID`, the keyword from
    /// `MOBIVATE_KEYWORD`, the default region from `MOBIVATE_DEFAULT_REGION` and the base URL
    /// from `MOBIVATE_BASE_URL` if set; further settings can follow.
    pub fn from_env() -> Result<Self, Error> {
        Ok(MobivateBuilder {
            account_id: Some(required_env(ACCOUNT_ID_VAR)?),
            keyword: optional_env(KEYWORD_VAR),
            default_region: optional_env(DEFAULT_REGION_VAR),
            http: HttpConfig::from_env(PROVIDER),
        })
    }

    /// The account id, which signs every request (it is a secret: never sent, never shown).
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(SecretString::from(account_id.into()));
        self
    }

    /// The keyword sent with every request (optional; none is sent unless set).
    pub fn keyword(mut self, keyword: impl Into<String>) -> Self {
        self.keyword = Some(keyword.into());
        self
    }

    /// The region national phone numbers are read in by [`Mobivate::phone`]: an ISO 3166-1
    /// alpha-2 code such as `KE` (`0700 000000` is then `254700000000`). Unset, a national
    /// number is refused, since its country is unknown.
    pub fn default_region(mut self, region: impl Into<String>) -> Self {
        self.default_region = Some(region.into());
        self
    }

    http_builder_methods!();

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Mobivate, Error> {
        let account_id = require_secret(self.account_id, ACCOUNT_ID_VAR)?;
        let default_region = self
            .default_region
            .map(|region| {
                validate::phone_region(DEFAULT_REGION_VAR, &region).map_err(|e| {
                    Error::config(format!(
                        "{DEFAULT_REGION_VAR}: {}",
                        e.message().unwrap_or("is not a region code")
                    ))
                })
            })
            .transpose()?;
        if let Some(keyword) = &self.keyword {
            // Exact in what we send: a blank keyword is a mistake, not "no keyword".
            validate::non_empty(KEYWORD_VAR, keyword).map_err(|e| {
                Error::config(format!(
                    "{KEYWORD_VAR} {}; leave it unset to send no keyword",
                    e.message().unwrap_or("is not valid")
                ))
            })?;
        }
        let http = HttpClient::new(
            PROVIDER,
            self.http,
            DEFAULT_BASE_URL,
            USER_AGENT,
            HeaderMap::new(),
            vec![account_id.clone()],
        )?;
        Ok(Mobivate {
            http,
            account_id,
            keyword: self.keyword,
            default_region,
        })
    }
}

impl Mobivate {
    /// A builder; set at least [`account_id`](MobivateBuilder::account_id).
    pub fn builder() -> MobivateBuilder {
        MobivateBuilder::default()
    }

    /// A client from `MOBIVATE_ACCOUNT_ID` and `MOBIVATE_KEYWORD` (optional), with the base URL
    /// from `MOBIVATE_BASE_URL` if set.
    pub fn from_env() -> Result<Mobivate, Error> {
        MobivateBuilder::from_env()?.build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    /// The region national phone numbers are read in, if one is set (upper case, e.g. `KE`).
    pub fn default_region(&self) -> Option<&str> {
        self.default_region.as_deref()
    }

    /// The recipient for a phone number as a person wrote it: the international form as
    /// [`Recipient::phone`] reads it, and a national number read in the
    /// [`default_region`](MobivateBuilder::default_region) (refused when none is set).
    ///
    /// ```
    /// # mod optout { pub use optout_core::*; pub mod providers { pub mod mobivate { pub use optout_mobivate::*; } } }
    /// use optout::Recipient;
    /// use optout::providers::mobivate::Mobivate;
    /// let mobivate = Mobivate::builder().account_id("acc").default_region("KE").build()?;
    /// assert_eq!(
    ///     mobivate.phone("0700 000000")?,
    ///     Recipient::Phone { msisdn: "254700000000".into() }
    /// );
    /// # Ok::<(), optout_core::Error>(())
    /// ```
    pub fn phone(&self, number: &str) -> Result<Recipient, Error> {
        match &self.default_region {
            Some(region) => Recipient::phone_in_region(number, region),
            None => Recipient::phone(number),
        }
    }

    /// The signed body for `msisdn` in `campaign_id`, with the configured keyword.
    pub fn request(&self, campaign_id: &str, msisdn: &str) -> UnsubscribeRequest {
        UnsubscribeRequest {
            msisdn: msisdn.to_owned(),
            signature: signature(self.account_id.expose_secret(), campaign_id, msisdn),
            keyword: self.keyword.clone(),
        }
    }

    /// `POST /subscriptions/v1/{campaign_id}/unsubscribe`: the typed call, validated and
    /// signed before it is sent.
    ///
    /// Only a 2xx whose `state` is `unsubscribed` is a success. A `false` flag
    /// (`authenticated`, `valid_msisdn`, `valid_campaign`) is an error that says which and
    /// what it means; its kind comes from the HTTP status (a 404 is
    /// [`NotFound`](optout_core::ErrorKind::NotFound), a 2xx
    /// [`Rejected`](optout_core::ErrorKind::Rejected)). A 2xx with another `state`, or none,
    /// confirms nothing: [`Error::unconfirmed`] (retryable). The answer may be JSON or the
    /// docs' Python notation of it (`True`, `Null`).
    ///
    /// `msisdn` must be E.164 digits without `+` as [`Recipient::phone`] writes them
    /// ([`validate::msisdn`]).
    pub async fn unsubscribe_campaign(
        &self,
        campaign_id: &str,
        msisdn: &str,
    ) -> Result<UnsubscribeResponse, Error> {
        validate::path_segment("campaign", campaign_id)?;
        validate::msisdn("msisdn", msisdn)?;
        let url = self
            .http
            .endpoint(&["subscriptions", "v1", campaign_id, "unsubscribe"]);
        let request = Request::json(Method::POST, url, &self.request(campaign_id, msisdn))?;
        self.http.send(request, decode).await
    }
}

/// Mobivate's documented answer is written with Python's `True`, `False` and `Null`/`None`
/// rather than JSON's `true`, `false`, `null`. If the body is that (JSON but for those words
/// outside strings), it answers the body in JSON; anything else (another bare word, a body
/// that is not text) is `None`, and the body is judged as it is.
fn python_literals_as_json(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let mut in_string = false;
    let mut changed = false;
    while let Some((i, c)) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.push(chars.next()?.1),
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c.is_ascii_alphabetic() {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !d.is_ascii_alphanumeric() {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            let json = match &text[i..end] {
                word @ ("true" | "false" | "null") => word,
                "True" => "true",
                "False" => "false",
                "Null" | "None" => "null",
                _ => return None,
            };
            changed |= json != &text[i..end];
            out.push_str(json);
        } else {
            out.push(c);
        }
    }
    changed.then_some(out)
}

/// The body as Mobivate's envelope: JSON, or the docs' Python notation of it.
fn envelope(response: &Response<'_>) -> Result<UnsubscribeResponse, Error> {
    let strict = response.json::<UnsubscribeResponse>(PROVIDER);
    match strict {
        Err(e) => python_literals_as_json(response.body)
            .and_then(|json| serde_json::from_str(&json).ok())
            .ok_or(e),
        ok => ok,
    }
}

/// Turns Mobivate's answer into the typed response or an error that says why.
fn decode(response: Response<'_>) -> Result<UnsubscribeResponse, Error> {
    let status = response.status.as_u16();
    let error = Error::api(PROVIDER, status);
    if !response.status.is_success() {
        // Errors come in the same envelope; a proxy may answer HTML. Trust the status for
        // the kind, and the body for the explanation.
        let message = envelope(&response)
            .ok()
            .and_then(|body| {
                body.refusal().or_else(|| body.said()).or_else(|| {
                    body.state
                        .map(|state| format!("Mobivate answered state {state:?}"))
                })
            })
            .unwrap_or_else(|| snippet(response.body));
        return Err(error.with_message(message));
    }
    let body = envelope(&response)?;
    if let Some(refusal) = body.refusal() {
        return Err(error.with_message(refusal));
    }
    if !body.is_unsubscribed() {
        // A 2xx whose state is not "unsubscribed" confirms nothing: unconfirmed, never done,
        // and worth sending again (an unsubscribe is safe to repeat). (A 2xx with state
        // "unsubscribed" and an `error` text is a success: the state is what Mobivate
        // documents as the outcome.)
        let state = body
            .state
            .as_deref()
            .map_or_else(|| "no state".to_string(), |s| format!("state {s:?}"));
        let campaign = body
            .campaign_status
            .as_deref()
            .map(|s| format!(" (campaign status {s:?})"))
            .unwrap_or_default();
        let mut message = format!(
            "Mobivate answered HTTP {status} with {state}{campaign}, not \"{UNSUBSCRIBED}\"; \
             the opt-out is not confirmed"
        );
        if let Some(said) = body.said() {
            message = format!("{message}; {said}");
        }
        return Err(unconfirmed(&response, message));
    }
    Ok(body)
}

/// A 2xx whose answer does not confirm the opt-out: a decode error that keeps the HTTP
/// status and a snippet of the body, retryable (an unsubscribe is safe to repeat), never done.
/// What [`Error::unconfirmed`] means, with the status.
fn unconfirmed(response: &Response<'_>, message: String) -> Error {
    Error::decode(PROVIDER, response.status.as_u16(), message, response.body).with_retryable(true)
}

#[async_trait]
impl Unsubscriber for Mobivate {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    /// Maps a [`Recipient::Phone`] onto one signed
    /// `POST /subscriptions/v1/{campaign_id}/unsubscribe` per campaign id. Mobivate has no
    /// "already unsubscribed" answer, so a success is always [`Outcome::Unsubscribed`]; the
    /// receipt's reference is Mobivate's `reference`.
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        let Recipient::Phone { msisdn } = &request.recipient else {
            return Err(Error::unsupported(
                PROVIDER,
                format!(
                    "unsubscribe a {} recipient; Mobivate takes a phone number (MSISDN)",
                    request.recipient.kind()
                ),
            ));
        };
        validate::msisdn("recipient", msisdn)?;
        let campaigns = validate::topic_ids(PROVIDER, "campaign", &request.topics)?;
        let calls = campaigns.iter().map(|campaign_id| async move {
            let answer = self.unsubscribe_campaign(campaign_id, msisdn).await?;
            Ok(TopicOutcome {
                outcome: Outcome::Unsubscribed,
                reference: answer.reference.filter(|r| !r.trim().is_empty()),
            })
        });
        optout_core::per_topic(PROVIDER, request, &campaigns, calls).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_docs_worked_example() {
        assert_eq!(
            signature(
                "43e36f54eef111e270639871000000f1",
                "c71e2c2ee68b410a82d6c5f910c2d428",
                "254700000000"
            ),
            "1af289e14aa593c843da7cd869a8e2f7"
        );
        // The order matters: the prose's order (campaign, msisdn, account) gives another hash.
        assert_ne!(
            signature(
                "c71e2c2ee68b410a82d6c5f910c2d428",
                "254700000000",
                "43e36f54eef111e270639871000000f1"
            ),
            "1af289e14aa593c843da7cd869a8e2f7"
        );
        assert_eq!(signature("", "", ""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn the_docs_sample_in_json_decodes_and_flags_are_lenient() {
        let body: UnsubscribeResponse = serde_json::from_str(
            r#"{"authenticated": "True", "valid_msisdn": true, "valid_campaign": null,
                "campaign_service": 12345, "state": "Unsubscribed", "error": null}"#,
        )
        .unwrap();
        assert_eq!(body.authenticated, Some(true));
        assert_eq!(body.valid_campaign, None);
        assert_eq!(body.campaign_service.as_deref(), Some("12345"));
        assert!(body.is_unsubscribed());
        assert!(body.refusal().is_none());
        assert!(
            serde_json::from_str::<UnsubscribeResponse>(r#"{"authenticated": "maybe"}"#).is_err()
        );
    }
}
