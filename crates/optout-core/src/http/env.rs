//! Credentials and settings: read from the environment, checked, and put in a header without
//! ever being printed.

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::Error;

/// A header value holding a credential (e.g. `Bearer <token>`), marked sensitive so that
/// reqwest and hyper never print it. The error names `variable`, never the value.
pub fn secret_header(
    scheme: &str,
    secret: &SecretString,
    variable: &str,
) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(&format!("{scheme} {}", secret.expose_secret()))
        .map_err(|_| {
            Error::config(format!(
                "{variable} contains characters that cannot go in an HTTP header"
            ))
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A credential from the environment, or a configuration error naming the variable.
pub fn required_env(name: &str) -> Result<SecretString, Error> {
    optional_env(name)
        .map(SecretString::from)
        .ok_or_else(|| Error::config(format!("{name} is not set")))
}

/// A setting from the environment; `None` when unset or empty.
pub fn optional_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Refuses an empty credential at build time, naming it.
pub fn require_secret(secret: Option<SecretString>, name: &str) -> Result<SecretString, Error> {
    match secret {
        Some(s) if !s.expose_secret().trim().is_empty() => Ok(s),
        Some(_) => Err(Error::config(format!("{name} is empty"))),
        None => Err(Error::config(format!("{name} is not set"))),
    }
}
