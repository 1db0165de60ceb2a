//! The one error type of optout: [`Error`], its constructors and accessors, and its parts (the
//! status classification is written once, in `kind`).

mod kind;
mod partial;
mod show;

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use crate::scrub::{clean, Scrubber};
use crate::{Provider, Receipt};

pub use kind::ErrorKind;
pub use partial::Partial;
pub use show::snippet;

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

    /// The HTTP status of the answer this error was decoded from, where its decoder did not
    /// set one (an answer that does not confirm the change, a 2xx that cannot be read).
    pub(crate) fn answered_with(&mut self, status: u16) {
        self.details.status.get_or_insert(status);
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

#[cfg(test)]
mod tests;
