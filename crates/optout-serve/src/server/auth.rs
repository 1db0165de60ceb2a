//! Who may call the JSON API: the bearer tokens ([`ApiTokens`]) and their check, and the
//! `Idempotency-Key` header.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use optout_core::Error;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::reply::error;
use super::AppState;

/// The environment variable with the API's bearer tokens, comma-separated.
pub const API_TOKENS_ENV: &str = "OPTOUT_API_TOKENS";

/// The shortest API token accepted.
pub const MIN_API_TOKEN_LEN: usize = 16;

/// The bearer tokens of the JSON API. Kept as SHA-256 digests and compared in constant time;
/// `Debug` shows only how many there are.
#[derive(Clone, Default)]
pub struct ApiTokens(Vec<[u8; 32]>);

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiTokens({} tokens)", self.0.len())
    }
}

impl ApiTokens {
    /// Parses comma-separated tokens, each at least [`MIN_API_TOKEN_LEN`] bytes of printable
    /// ASCII. An empty list is allowed: then every API request is refused (401).
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let mut out = Vec::new();
        for (i, token) in spec.split(',').map(str::trim).enumerate() {
            if token.is_empty() && spec.trim().is_empty() {
                break;
            }
            if token.len() < MIN_API_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::config(format!(
                    "{API_TOKENS_ENV}: token {} must be at least {MIN_API_TOKEN_LEN} printable characters",
                    i + 1
                )));
            }
            out.push(Sha256::digest(token.as_bytes()).into());
        }
        Ok(ApiTokens(out))
    }

    /// The tokens from [`API_TOKENS_ENV`]; none if it is unset.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var(API_TOKENS_ENV) {
            Ok(spec) => Self::parse(&spec),
            Err(std::env::VarError::NotPresent) => Ok(ApiTokens::default()),
            Err(_) => Err(Error::config(format!(
                "{API_TOKENS_ENV} is not valid UTF-8"
            ))),
        }
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (the API then refuses everything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `presented` is one of the tokens. Every token is compared (digest against
    /// digest, in constant time), whichever matches.
    pub fn check(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = subtle::Choice::from(0);
        for token in &self.0 {
            found |= token.ct_eq(&digest);
        }
        found.into()
    }
}

/// Checks the bearer token; `None` when allowed.
pub(super) fn unauthorized(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match presented {
        Some(token) if state.config.api_tokens.check(token) => None,
        _ => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                Some("Authorization"),
                "a valid bearer token is required (Authorization: Bearer TOKEN)",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Some(r)
        }
    }
}

/// An `Idempotency-Key`: 1 to 255 printable ASCII characters.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Box<Response>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(k)
            if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (b' '..=b'~').contains(&b)) =>
        {
            Ok(Some(format!("api:{k}")))
        }
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            Some("Idempotency-Key"),
            "must be 1 to 255 printable ASCII characters",
        ))),
    }
}
