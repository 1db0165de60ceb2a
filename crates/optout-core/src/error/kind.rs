//! [`ErrorKind`]: what went wrong, by meaning, and which kinds may be retried.

use serde::Serialize;

/// What went wrong, by meaning. Decide what to do from this,
/// [`Error::is_retryable`](crate::Error::is_retryable) and
/// [`Error::retry_after`](crate::Error::retry_after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was refused before anything was sent: see [`Error::field`](crate::Error::field).
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
    /// unsubscribed): see [`Error::partial`](crate::Error::partial) for each topic's receipt or error.
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

    pub(super) fn describe(self) -> &'static str {
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
