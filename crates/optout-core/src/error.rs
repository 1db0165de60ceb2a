//! The one error type of optout, and the status classification (written once, here).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::scrub::{clean, scrub_active, Scrubber};
use crate::{Provider, Receipt};

/// What went wrong, by meaning. Decide what to do from this, [`Error::is_retryable`] and
/// [`Error::retry_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was refused before anything was sent: see [`Error::field`].
    InvalidInput,
    /// The provider cannot do this (a recipient kind or `Topics::All`); nothing was sent.
    Unsupported,
    /// A credential or setting is missing or malformed; nothing was sent.
    Config,
    /// The provider refused the credentials (401, 403).
    Unauthorized,
    /// The topic, campaign, subscriber or device does not exist (404).
    NotFound,
    /// The provider is rate limiting us (429).
    RateLimited,
    /// The provider refused the request as such (other 4xx, or a 2xx that says it failed).
    Rejected,
    /// The provider failed (5xx).
    Server,
    /// No answer in time (a client timeout, or 408).
    Timeout,
    /// The connection failed (refused, reset, DNS, TLS).
    Network,
    /// The answer could not be understood.
    Decode,
    /// Several topics were sent and at least one failed (the others may have been
    /// unsubscribed): see [`Error::partial`] for each topic's receipt or error.
    Partial,
    /// A run of many opt-outs stopped part way (its input or journal failed, or the runtime
    /// shut down): what came before may have been sent, and what came after was not.
    Interrupted,
}

impl ErrorKind {
    /// The kind an HTTP error status means. This is the one place statuses are classified.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            401 | 403 => ErrorKind::Unauthorized,
            404 | 410 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Rejected,
        }
    }

    /// Whether a status can succeed if the same request is sent again: 408, 429 and 5xx.
    pub fn status_is_retryable(status: u16) -> bool {
        matches!(status, 408 | 429 | 500..=599)
    }

    fn describe(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Config => "configuration error",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::NotFound => "not found",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Server => "server error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Network => "network error",
            ErrorKind::Decode => "could not decode the response",
            ErrorKind::Partial => "partly done",
            ErrorKind::Interrupted => "interrupted",
        }
    }
}

/// A request that covered several topics, where some succeeded and some failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Partial {
    /// One receipt per topic that was confirmed.
    pub done: Vec<Receipt>,
    /// Each topic that failed, with its error. Nothing here was confirmed.
    pub failed: Vec<(String, Error)>,
}

/// The error of every optout call.
///
/// It carries the provider, the HTTP status, the provider's own error code and message, how
/// many attempts were made, and whether trying again can help. Its `Display` is one line that
/// says all of it, and never contains a credential.
///
/// ```
/// # mod optout { pub use optout_core::*; }
/// use optout::{Error, ErrorKind, Provider};
/// let err = Error::api(Provider::HubSpot, 429)
///     .with_code("RATE_LIMIT")
///     .with_message("You have reached your daily limit.")
///     .with_retryable(false);
/// assert_eq!(err.kind(), ErrorKind::RateLimited);
/// assert!(!err.is_retryable());
/// assert_eq!(
///     err.to_string(),
///     "hubspot: rate limited (HTTP 429, code RATE_LIMIT): You have reached your daily limit.; not retryable"
/// );
/// ```
///
/// It is `Clone`: one failed request shared by several opt-outs (a Novu batch) gives each of
/// them the same error, source included.
#[derive(thiserror::Error, Clone)]
#[error("{details}")]
pub struct Error {
    details: Box<Details>,
    #[source]
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

#[derive(Debug, Clone)]
struct Details {
    kind: ErrorKind,
    provider: Option<Provider>,
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
    field: Option<String>,
    snippet: Option<String>,
    retryable: bool,
    retry_after: Option<Duration>,
    attempts: u32,
    partial: Option<Partial>,
}

impl Error {
    fn new(kind: ErrorKind, provider: Option<Provider>) -> Self {
        Error {
            details: Box::new(Details {
                kind,
                provider,
                status: None,
                code: None,
                message: None,
                field: None,
                snippet: None,
                retryable: false,
                retry_after: None,
                attempts: 0,
                partial: None,
            }),
            source: None,
        }
    }

    /// Bad input, refused before sending: `field` names the input, `reason` says what was wrong
    /// and what is allowed.
    pub fn invalid_input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::InvalidInput, None);
        e.details.field = Some(field.into());
        e.details.message = Some(reason.into());
        e
    }

    /// Something `provider` cannot do, refused before sending.
    pub fn unsupported(provider: Provider, what: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::Unsupported, Some(provider));
        e.details.message = Some(what.into());
        e
    }

    /// A missing or malformed setting. Name the setting (e.g. the environment variable), never
    /// its value if it is a secret.
    pub fn config(message: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::Config, None);
        e.details.message = Some(message.into());
        e
    }

    /// A run of many opt-outs stopped part way: `message` says why (a journal that cannot be
    /// written, an input that cannot be read). Unlike [`config`](Self::config), it does not
    /// say that nothing was sent.
    ///
    /// ```
    /// # mod optout { pub use optout_core::*; }
    /// use optout::{Error, ErrorKind};
    /// let err = Error::interrupted("cannot append to the journal run.journal: disk full");
    /// assert_eq!(err.kind(), ErrorKind::Interrupted);
    /// assert!(err.was_sent());
    /// assert_eq!(
    ///     err.to_string(),
    ///     "interrupted: cannot append to the journal run.journal: disk full; \
    ///      what came before may have been sent"
    /// );
    /// ```
    pub fn interrupted(message: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::Interrupted, None);
        e.details.message = Some(message.into());
        e
    }

    /// The provider answered `status` as an error. The kind and whether a retry can help come
    /// from the status ([`ErrorKind::from_status`]); add what the body said with the `with_`
    /// methods.
    pub fn api(provider: Provider, status: u16) -> Self {
        let kind = if (200..300).contains(&status) {
            ErrorKind::Rejected
        } else {
            ErrorKind::from_status(status)
        };
        let mut e = Error::new(kind, Some(provider));
        e.details.status = Some(status);
        e.details.retryable = ErrorKind::status_is_retryable(status);
        e
    }

    /// An answer that could not be decoded. `body` is quoted in a short snippet (the first 160
    /// characters, control characters escaped); `reason`, like every provider text, is cleaned
    /// as [`with_message`](Self::with_message) says.
    ///
    /// It is retryable when the status is 2xx (the request went out and its effect is not
    /// known; repeating an unsubscribe is harmless, and a garbled success is usually a passing
    /// fault) or when the status itself is ([`ErrorKind::status_is_retryable`]: a garbled 5xx is
    /// still a 5xx). A garbled 4xx stays not retryable, as its status says.
    ///
    /// ```
    /// # mod optout { pub use optout_core::*; }
    /// use optout::{Error, Provider};
    /// assert!(Error::decode(Provider::HubSpot, 200, "the body is not JSON", b"<html>").is_retryable());
    /// assert!(Error::decode(Provider::HubSpot, 503, "the body is not JSON", b"<html>").is_retryable());
    /// assert!(!Error::decode(Provider::HubSpot, 400, "the body is not JSON", b"<html>").is_retryable());
    /// ```
    pub fn decode(provider: Provider, status: u16, reason: impl Into<String>, body: &[u8]) -> Self {
        let mut e = Error::new(ErrorKind::Decode, Some(provider));
        e.details.status = Some(status);
        e.details.message = Some(clean(&reason.into()));
        e.details.snippet = Some(snippet(body));
        e.details.retryable =
            (200..300).contains(&status) || ErrorKind::status_is_retryable(status);
        e
    }

    /// A request was sent but its outcome is not known: the answer said nothing about it.
    /// Retryable, since repeating an unsubscribe is harmless.
    ///
    /// ```
    /// # mod optout { pub use optout_core::*; }
    /// use optout::{Error, ErrorKind, Provider};
    /// let err = Error::unconfirmed(Provider::Novu, "the answer has no result for this row");
    /// assert_eq!(err.kind(), ErrorKind::Decode);
    /// assert!(err.was_sent() && err.is_retryable());
    /// ```
    pub fn unconfirmed(provider: Provider, message: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::Decode, Some(provider));
        e.details.message = Some(message.into());
        e.details.retryable = true;
        e
    }

    /// No answer in time.
    pub fn timeout(provider: Provider) -> Self {
        let mut e = Error::new(ErrorKind::Timeout, Some(provider));
        e.details.retryable = true;
        e
    }

    /// A transport failure. The URL is stripped from `source` (it can hold a key).
    pub fn network(provider: Provider, source: reqwest::Error) -> Self {
        let kind = if source.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Network
        };
        let source = source.without_url();
        let mut chain = Vec::new();
        let mut cause: Option<&(dyn StdError + 'static)> = Some(&source);
        while let Some(c) = cause {
            let text = c.to_string();
            if !chain.iter().any(|seen: &String| seen.contains(&text)) {
                chain.push(text);
            }
            cause = c.source();
        }
        let mut e = Error::new(kind, Some(provider));
        e.details.retryable = true;
        e.details.message = Some(clean(&chain.join(": ")));
        e.source = Some(Arc::new(source));
        e
    }

    /// Several topics, some done and some failed. `failed` must not be empty.
    pub fn partial_failure(
        provider: Provider,
        done: Vec<Receipt>,
        failed: Vec<(String, Error)>,
    ) -> Self {
        let mut e = Error::new(ErrorKind::Partial, Some(provider));
        e.details.retryable = failed.iter().any(|(_, e)| e.is_retryable());
        e.details.retry_after = failed.iter().filter_map(|(_, e)| e.retry_after()).max();
        // Every confirmed topic took at least one request.
        let sent: u32 = failed.iter().map(|(_, e)| e.attempts()).sum();
        e.details.attempts = sent.saturating_add(done.len() as u32);
        e.details.partial = Some(Partial { done, failed });
        e
    }

    /// Sets the provider's own error code, cleaned as [`with_message`](Self::with_message)
    /// says.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        let code = code.into();
        self.details.code = Some(clean(&code)).filter(|c| !c.is_empty());
        self
    }

    /// Sets the provider's own message.
    ///
    /// Provider text is printed, logged and journalled, so it is cleaned on the way in:
    /// control characters are escaped (a message cannot forge a log line or drive a terminal),
    /// it is cut to [`MAX_TEXT_CHARS`](crate::scrub::MAX_TEXT_CHARS) characters, and inside a
    /// decoder run by [`HttpClient::send`](crate::HttpClient::send) the client's credentials
    /// are scrubbed from it first.
    ///
    /// ```
    /// # mod optout { pub use optout_core::*; }
    /// use optout::{Error, Provider};
    /// let e = Error::api(Provider::Novu, 400).with_message("bad\n1 unsubscribed\x1b[2K");
    /// assert_eq!(e.message(), Some("bad\\n1 unsubscribed\\u{1b}[2K"));
    /// ```
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        let message = message.into();
        self.details.message = Some(clean(&message)).filter(|m| !m.is_empty());
        self
    }

    /// Overrides whether a retry can help (e.g. HubSpot's daily limit is a 429 that cannot).
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.details.retryable = retryable;
        if !retryable {
            self.details.retry_after = None;
        }
        self
    }

    /// Sets how long the provider asked us to wait.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.details.retry_after = Some(wait);
        self
    }

    /// Sets the provider (for errors made before the provider was known).
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.details.provider = Some(provider);
        self
    }

    pub(crate) fn set_attempts(&mut self, attempts: u32) {
        self.details.attempts = attempts;
    }

    /// Removes `scrubber`'s credentials from every text of the error, and of the errors of a
    /// partial failure.
    pub(crate) fn scrub(&mut self, scrubber: &Scrubber) {
        let details = &mut *self.details;
        for text in [
            &mut details.message,
            &mut details.snippet,
            &mut details.code,
            &mut details.field,
        ]
        .into_iter()
        .flatten()
        {
            if let std::borrow::Cow::Owned(done) = scrubber.scrub(text) {
                *text = done;
            }
        }
        if let Some(partial) = &mut details.partial {
            for (_, error) in &mut partial.failed {
                error.scrub(scrubber);
            }
        }
    }

    /// What went wrong, by meaning.
    pub fn kind(&self) -> ErrorKind {
        self.details.kind
    }

    /// The provider, if the error came from one.
    pub fn provider(&self) -> Option<Provider> {
        self.details.provider
    }

    /// The HTTP status, if the provider answered.
    pub fn status(&self) -> Option<u16> {
        self.details.status
    }

    /// The provider's own error code (e.g. `INVALID_DEVICE_TOKEN`).
    pub fn code(&self) -> Option<&str> {
        self.details.code.as_deref()
    }

    /// The provider's own message, or our reason.
    pub fn message(&self) -> Option<&str> {
        self.details.message.as_deref()
    }

    /// For [`ErrorKind::InvalidInput`], the field that was refused.
    pub fn field(&self) -> Option<&str> {
        self.details.field.as_deref()
    }

    /// Whether sending the same request again can succeed.
    pub fn is_retryable(&self) -> bool {
        self.details.retryable
    }

    /// How long the provider asked us to wait before trying again, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.details.retry_after
    }

    /// How many requests were sent before giving up (0 if none was sent).
    pub fn attempts(&self) -> u32 {
        self.details.attempts
    }

    /// Whether anything may have reached the provider. `false` means nothing was sent.
    pub fn was_sent(&self) -> bool {
        !matches!(
            self.kind(),
            ErrorKind::InvalidInput | ErrorKind::Unsupported | ErrorKind::Config
        )
    }

    /// For [`ErrorKind::Partial`], what was done and what failed.
    pub fn partial(&self) -> Option<&Partial> {
        self.details.partial.as_ref()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.details;
        let mut s = f.debug_struct("Error");
        s.field("kind", &d.kind);
        let optional: [(&str, Option<&dyn fmt::Debug>); 8] = [
            ("provider", d.provider.as_ref().map(|v| v as _)),
            ("status", d.status.as_ref().map(|v| v as _)),
            ("code", d.code.as_ref().map(|v| v as _)),
            ("message", d.message.as_ref().map(|v| v as _)),
            ("field", d.field.as_ref().map(|v| v as _)),
            ("snippet", d.snippet.as_ref().map(|v| v as _)),
            ("retry_after", d.retry_after.as_ref().map(|v| v as _)),
            ("partial", d.partial.as_ref().map(|v| v as _)),
        ];
        for (name, value) in optional.into_iter() {
            if let Some(value) = value {
                s.field(name, value);
            }
        }
        s.field("retryable", &d.retryable);
        s.field("attempts", &d.attempts);
        if let Some(source) = &self.source {
            s.field("source", source);
        }
        s.finish()
    }
}

impl fmt::Display for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(provider) = self.provider {
            write!(f, "{provider}: ")?;
        }
        match self.kind {
            ErrorKind::InvalidInput => {
                let field = self.field.as_deref().unwrap_or("input");
                let reason = self.message.as_deref().unwrap_or("is not valid");
                return write!(f, "invalid {field}: {reason}; nothing was sent");
            }
            ErrorKind::Unsupported => {
                let what = self.message.as_deref().unwrap_or("do this");
                return write!(f, "cannot {what}; nothing was sent");
            }
            ErrorKind::Config => {
                let what = self.message.as_deref().unwrap_or("invalid setting");
                return write!(f, "configuration: {what}; nothing was sent");
            }
            ErrorKind::Partial => return self.fmt_partial(f),
            ErrorKind::Interrupted => {
                let why = self.message.as_deref().unwrap_or("the run stopped");
                return write!(f, "interrupted: {why}; what came before may have been sent");
            }
            kind => f.write_str(kind.describe())?,
        }
        match (self.status, &self.code) {
            (Some(status), Some(code)) => write!(f, " (HTTP {status}, code {code})")?,
            (Some(status), None) => write!(f, " (HTTP {status})")?,
            (None, Some(code)) => write!(f, " (code {code})")?,
            (None, None) => {}
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(snippet) = &self.snippet {
            write!(f, "; body: {snippet}")?;
        }
        if self.retryable {
            f.write_str("; retryable")?;
            if let Some(wait) = self.retry_after {
                write!(f, " after {}s", wait.as_secs_f64().ceil())?;
            }
        } else {
            f.write_str("; not retryable")?;
        }
        if self.attempts > 1 {
            write!(f, "; gave up after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl Details {
    fn fmt_partial(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(partial) = &self.partial else {
            return f.write_str("partly done");
        };
        let done: Vec<String> = partial.done.iter().map(|r| r.topics.to_string()).collect();
        let total = partial.done.len() + partial.failed.len();
        write!(f, "{} of {total} topics done", done.len())?;
        if !done.is_empty() {
            write!(f, " ({})", done.join(", "))?;
        }
        f.write_str("; failed:")?;
        for (i, (topic, error)) in partial.failed.iter().enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            write!(f, "{sep}[{topic}] {error}")?;
        }
        Ok(())
    }
}

/// The error as JSON, for `--json` output and journals:
/// `{"kind","provider","status","code","message","field","retryable","retry_after_secs",
/// "attempts","error"}` (absent values omitted; `error` is the `Display` line).
impl Serialize for Error {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = &self.details;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("kind", &d.kind)?;
        if let Some(p) = d.provider {
            map.serialize_entry("provider", &p)?;
        }
        if let Some(v) = d.status {
            map.serialize_entry("status", &v)?;
        }
        if let Some(v) = &d.code {
            map.serialize_entry("code", v)?;
        }
        if let Some(v) = &d.message {
            map.serialize_entry("message", v)?;
        }
        if let Some(v) = &d.field {
            map.serialize_entry("field", v)?;
        }
        map.serialize_entry("retryable", &d.retryable)?;
        if let Some(v) = d.retry_after {
            map.serialize_entry("retry_after_secs", &v.as_secs_f64())?;
        }
        map.serialize_entry("attempts", &d.attempts)?;
        if let Some(p) = &d.partial {
            map.serialize_entry("done", &p.done)?;
            let failed: Vec<_> = p
                .failed
                .iter()
                .map(|(topic, error)| serde_json::json!({ "topic": topic, "error": error }))
                .collect();
            map.serialize_entry("failed", &failed)?;
        }
        map.serialize_entry("error", &self.to_string())?;
        map.end()
    }
}

/// A short, printable excerpt of a response body: at most 160 characters, control characters
/// escaped, so that it fits on one log line. Inside a decoder run by
/// [`HttpClient::send`](crate::HttpClient::send), the client's credentials are scrubbed
/// before the body is cut, so that a key straddling the cut does not leak in part.
pub fn snippet(body: &[u8]) -> String {
    const MAX: usize = 160;
    /// Scrubbed along with the excerpt: more than any credential is long.
    const MARGIN: usize = 1024;
    let head = body.get(..(MAX + MARGIN) * 4).unwrap_or(body);
    let lossy = String::from_utf8_lossy(head);
    let cut = lossy
        .char_indices()
        .nth(MAX + MARGIN)
        .map_or(lossy.len(), |(i, _)| i);
    let text = scrub_active(&lossy[..cut]);
    let mut out = String::with_capacity(MAX + 8);
    out.push('"');
    for (i, c) in text.chars().enumerate() {
        if i == MAX {
            out.push_str("...");
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('"');
    if body.is_empty() {
        out = "(empty)".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, Recipient, Topics};

    #[test]
    fn statuses_are_classified_once() {
        assert_eq!(ErrorKind::from_status(401), ErrorKind::Unauthorized);
        assert_eq!(ErrorKind::from_status(403), ErrorKind::Unauthorized);
        assert_eq!(ErrorKind::from_status(404), ErrorKind::NotFound);
        assert_eq!(ErrorKind::from_status(408), ErrorKind::Timeout);
        assert_eq!(ErrorKind::from_status(422), ErrorKind::Rejected);
        assert_eq!(ErrorKind::from_status(429), ErrorKind::RateLimited);
        assert_eq!(ErrorKind::from_status(503), ErrorKind::Server);
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(ErrorKind::status_is_retryable(s), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422] {
            assert!(!ErrorKind::status_is_retryable(s), "{s}");
        }
    }

    #[test]
    fn display_says_everything_needed_to_act() {
        let e = Error::api(Provider::Pushy, 400)
            .with_code("INVALID_DEVICE_TOKEN")
            .with_message("The provided device token is invalid.");
        assert_eq!(
            e.to_string(),
            "pushy: rejected (HTTP 400, code INVALID_DEVICE_TOKEN): The provided device token is invalid.; not retryable"
        );
        let mut e = Error::api(Provider::Novu, 503).with_retry_after(Duration::from_secs(2));
        e.set_attempts(4);
        assert_eq!(
            e.to_string(),
            "novu: server error (HTTP 503); retryable after 2s; gave up after 4 attempts"
        );
        let e = Error::invalid_input("recipient", "must not be empty");
        assert_eq!(
            e.to_string(),
            "invalid recipient: must not be empty; nothing was sent"
        );
        assert!(!e.was_sent());
    }

    #[test]
    fn decode_errors_quote_a_short_escaped_snippet() {
        let body = format!("<html>\n{}</html>", "x".repeat(500));
        let e = Error::decode(Provider::Migma, 200, "expected JSON", body.as_bytes());
        let text = e.to_string();
        assert!(text.contains(r#"body: "<html>\nxxx"#), "{text}");
        assert!(text.len() < 300, "{text}");
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert_eq!(snippet(b""), "(empty)");
    }

    #[test]
    fn a_garbled_2xx_is_retryable_and_a_garbled_4xx_is_not() {
        // A 2xx that cannot be read went out with an unknown effect; sending the unsubscribe
        // again is harmless and, as every rerun showed, usually confirms it.
        for status in [200, 201, 202, 204, 299] {
            let e = Error::decode(Provider::HubSpot, status, "the body is not JSON", b"<html>");
            assert!(e.is_retryable() && e.was_sent(), "{status}: {e}");
            assert!(e.to_string().ends_with("; retryable"), "{status}: {e}");
        }
        for status in [500, 502, 503, 408, 429] {
            assert!(
                Error::decode(Provider::Novu, status, "x", b"").is_retryable(),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 422, 301] {
            assert!(
                !Error::decode(Provider::Novu, status, "x", b"").is_retryable(),
                "{status}"
            );
        }
    }

    #[test]
    fn scrub_removes_secrets_from_provider_text() {
        let mut e = Error::api(Provider::Pushy, 401).with_message("bad key sk_live_123");
        e.scrub(&Scrubber::new(&[secrecy::SecretString::from(
            "sk_live_123",
        )]));
        assert_eq!(e.message(), Some("bad key [REDACTED]"));
    }

    #[test]
    fn partial_keeps_both_sides_and_is_retryable_if_any_failure_is() {
        let done = Receipt::new(
            Provider::HubSpot,
            Recipient::email("a@example.com").unwrap(),
            Topics::one("1"),
            Outcome::Unsubscribed,
            None,
        );
        let e = Error::partial_failure(
            Provider::HubSpot,
            vec![done],
            vec![("2".into(), Error::api(Provider::HubSpot, 503))],
        );
        assert!(e.is_retryable());
        let text = e.to_string();
        assert!(
            text.starts_with("hubspot: 1 of 2 topics done (1); failed: [2] hubspot: server error"),
            "{text}"
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "partial");
        assert_eq!(json["done"][0]["topics"][0], "1");
        assert_eq!(json["failed"][0]["topic"], "2");
        assert_eq!(json["failed"][0]["error"]["status"], 503);
    }
}
