//! The outbox's error: bad input (nothing stored) or the store failing.

/// What went wrong in the outbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The opt-out was refused; nothing was stored.
    #[error("{0}")]
    Invalid(#[from] optout_core::Error),
    /// The store URL is malformed or names an unknown kind of store.
    #[error("store URL: {0}")]
    Url(String),
    /// The store failed or could not be reached (message without secrets).
    #[error("store {store}: {message}")]
    Store {
        /// The store, password redacted.
        store: String,
        /// What failed.
        message: String,
    },
    /// No opt-out or task with this id.
    #[error("no opt-out with id {0}")]
    NotFound(String),
}

impl Error {
    /// A store error from sqlx, without the URL's password.
    pub(crate) fn store(store: &str, e: impl std::fmt::Display) -> Error {
        let mut message = e.to_string();
        if message.contains("pool timed out") {
            message = "cannot reach the database (no connection within the acquire timeout; \
                       is it running?)"
                .to_string();
        }
        Error::Store {
            store: store.to_string(),
            message,
        }
    }
}

/// The store URL with any password replaced by `***`, for messages.
///
/// ```
/// assert_eq!(
///     optout_outbox::redact("postgres://app:s3cret@db:5432/optout"),
///     "postgres://app:***@db:5432/optout"
/// );
/// assert_eq!(optout_outbox::redact("sqlite:optout.db"), "sqlite:optout.db");
/// ```
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
