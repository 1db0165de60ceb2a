//! One-click unsubscribe links (RFC 8058): signed tokens, the URL and the two mail headers.
//!
//! A token names who opts out of what (the [`Scope`]) and proves that we issued it:
//!
//! ```text
//! v1.<kid>.<base64url(payload)>.<base64url(HMAC-SHA256(key[kid], "optout/unsub/v1|" + kid + "|" + payload))>
//! ```
//!
//! - `v1` is the format; `kid` names the key that signed it, so keys can rotate: the first key
//!   of [`LinkKeys`] signs, every key verifies.
//! - The payload is a canonical, length-prefixed encoding of the issue time and, per provider,
//!   the recipient and the topics (or all). Exactly one payload means a given scope and time:
//!   a decoded payload that would not encode back to the same bytes is refused.
//! - Tokens do not expire: the law wants a link to work 30 (CAN-SPAM) to 60 (CASL) days after
//!   the mail was sent, and an opt-out that arrives late is still an opt-out. Retire a key only
//!   when no mail signed with it can still be opened.
//! - The MAC is checked with [`Mac::verify_slice`], in constant time, before anything in the
//!   payload is read.
//!
//! ```
//! use optout_core::{Provider, Recipient, Topics};
//! use optout_serve::link::{LinkKeys, Scope};
//!
//! let keys = LinkKeys::parse("k2:0123456789abcdef0123456789abcdef,k1:fedcba9876543210fedcba9876543210")?;
//! let scope = Scope::new(Provider::HubSpot, Recipient::email("alice@example.com")?, Topics::one("12345"))?;
//! let link = keys.link("https://unsub.example.com", &scope)?;
//! assert!(link.url.starts_with("https://unsub.example.com/u/v1.k2."));
//! assert_eq!(link.headers()[1], ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_string()));
//!
//! let verified = keys.verify(&link.token)?;
//! assert_eq!(verified.scope, scope);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use optout_core::Error;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

mod scope;

pub use scope::Scope;

type HmacSha256 = Hmac<Sha256>;

/// The environment variable that holds the link keys: `ID:SECRET,ID:SECRET,...`.
pub const KEYS_ENV: &str = "OPTOUT_LINK_KEYS";

/// The token format this module writes and reads.
pub const TOKEN_VERSION: &str = "v1";

/// The longest token accepted or issued, in bytes. Longer ones are refused before any
/// decoding, so an oversized path costs nothing; links also stay well inside what mail clients
/// and proxies pass on.
pub const MAX_TOKEN_LEN: usize = 1500;

/// The shortest secret accepted, in bytes: 32, HMAC-SHA256's output size.
pub const MIN_SECRET_LEN: usize = 32;

/// The longest key id accepted.
pub const MAX_KID_LEN: usize = 32;

/// The name of the `List-Unsubscribe-Post` header and its one value (RFC 8058 §3.1).
pub const ONE_CLICK_HEADER: (&str, &str) = ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");

/// What the MAC covers before the key id and the payload, so that a MAC made for something
/// else with the same key can never pass as a link token.
const DOMAIN: &[u8] = b"optout/unsub/v1|";

/// The keys that sign and verify link tokens. The first signs; all verify.
///
/// Its `Debug` shows the key ids only.
#[derive(Clone)]
pub struct LinkKeys {
    keys: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkKeys")
            .field("kids", &self.kids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl LinkKeys {
    /// Parses `ID:SECRET,ID:SECRET,...`. An id is 1 to 32 letters, digits, `-` or `_`; a
    /// secret at least [`MIN_SECRET_LEN`] bytes (say 32 random bytes, hex-encoded); ids are
    /// unique. Errors name the position of the bad entry, never a secret.
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, entry) in spec.split(',').enumerate() {
            let n = i + 1;
            let entry = entry.trim();
            let Some((kid, secret)) = entry.split_once(':') else {
                return Err(Error::config(format!(
                    "{KEYS_ENV}: entry {n} is not ID:SECRET"
                )));
            };
            let kid = kid.trim();
            if !valid_kid(kid) {
                return Err(Error::config(format!(
                    "{KEYS_ENV}: entry {n}: the key id must be 1 to {MAX_KID_LEN} letters, digits, '-' or '_'"
                )));
            }
            if secret.len() < MIN_SECRET_LEN {
                return Err(Error::config(format!(
                    "{KEYS_ENV}: key {kid:?}: the secret is {} bytes; at least {MIN_SECRET_LEN} are required",
                    secret.len()
                )));
            }
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(Error::config(format!(
                    "{KEYS_ENV}: key id {kid:?} appears twice"
                )));
            }
            keys.push((kid.to_string(), secret.as_bytes().to_vec()));
        }
        Ok(LinkKeys { keys })
    }

    /// The keys from [`KEYS_ENV`] (`OPTOUT_LINK_KEYS`).
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var(KEYS_ENV) {
            Ok(spec) if !spec.trim().is_empty() => Self::parse(&spec),
            Ok(_) | Err(std::env::VarError::NotPresent) => Err(Error::config(format!(
                "{KEYS_ENV} is not set; set it to ID:SECRET (e.g. k1: and 32 random bytes as hex)"
            ))),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Error::config(format!("{KEYS_ENV} is not valid UTF-8")))
            }
        }
    }

    /// The key ids, the signing one first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(kid, _)| kid.as_str())
    }

    fn mac(&self, kid: &str) -> Option<HmacSha256> {
        let (_, secret) = self.keys.iter().find(|(k, _)| k == kid)?;
        let mut mac = HmacSha256::new_from_slice(secret).ok()?;
        mac.update(DOMAIN);
        mac.update(kid.as_bytes());
        mac.update(b"|");
        Some(mac)
    }

    /// The token for `scope`, signed with the first key.
    pub fn sign(&self, scope: &Scope) -> Result<String, Error> {
        let (kid, _) = self
            .keys
            .first()
            .ok_or_else(|| Error::config(format!("{KEYS_ENV}: no key")))?;
        let payload = scope.encode();
        let mut mac = self
            .mac(kid)
            .ok_or_else(|| Error::config(format!("{KEYS_ENV}: unusable key")))?;
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        let token = format!(
            "{TOKEN_VERSION}.{kid}.{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        );
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::invalid_input(
                "topic",
                format!(
                    "the link would be {} bytes long; at most {MAX_TOKEN_LEN} are allowed (fewer or shorter topics)",
                    token.len()
                ),
            ));
        }
        Ok(token)
    }

    /// The link for `scope` under `base` (e.g. `https://unsub.example.com`): `BASE/u/TOKEN`.
    ///
    /// `base` must be an `https` URL without query or fragment; `http` is accepted for
    /// loopback hosts only (tests, a local demo).
    pub fn link(&self, base: &str, scope: &Scope) -> Result<Link, Error> {
        let base = check_base(base)?;
        let token = self.sign(scope)?;
        Ok(Link {
            url: format!("{base}/u/{token}"),
            token,
        })
    }

    /// Checks `token` and returns what it names. Nothing in the payload is read before the MAC
    /// has been verified (in constant time) with the key the token names.
    pub fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let mut parts = token.split('.');
        let (Some(version), Some(kid), Some(payload), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        if version != TOKEN_VERSION {
            return Err(TokenError::UnknownVersion);
        }
        if !valid_kid(kid) {
            return Err(TokenError::Malformed);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac(kid).ok_or(TokenError::UnknownKey)?;
        mac.update(&payload);
        mac.verify_slice(&tag)
            .map_err(|_| TokenError::BadSignature)?;
        let scope = Scope::decode(&payload).ok_or(TokenError::Malformed)?;
        Ok(Verified {
            scope,
            kid: kid.to_string(),
            fingerprint: Sha256::digest(&payload).into(),
        })
    }
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_base(base: &str) -> Result<&str, Error> {
    let bad = |why: &str| Error::invalid_input("base", format!("{base:?}: {why}"));
    let base = base.trim().trim_end_matches('/');
    let rest = if let Some(rest) = base.strip_prefix("https://") {
        rest
    } else if let Some(rest) = base.strip_prefix("http://") {
        let host = rest.split('/').next().unwrap_or("");
        let host = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err(bad(
                "RFC 8058 wants an https URL (http is accepted for localhost only)",
            ));
        }
        rest
    } else {
        return Err(bad("must start with https://"));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("has no host"));
    }
    if rest.contains(['?', '#']) || rest.bytes().any(|b| b <= b' ' || b >= 0x7f || b == b'"') {
        return Err(bad(
            "must be a plain URL without query, fragment, spaces or quotes",
        ));
    }
    Ok(base)
}

/// Why a token was refused. The text never contains the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_LEN`].
    TooLong,
    /// Not `v1.KID.PAYLOAD.MAC`, bad base64, or a payload that is not canonical.
    Malformed,
    /// A format version we do not know.
    UnknownVersion,
    /// Signed with a key we do not have (never had, or retired).
    UnknownKey,
    /// The MAC does not match: forged or altered.
    BadSignature,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::TooLong => "the link token is too long",
            TokenError::Malformed => "the link token is malformed",
            TokenError::UnknownVersion => "the link token has an unknown version",
            TokenError::UnknownKey => "the link token was signed with an unknown key",
            TokenError::BadSignature => "the link token's signature does not match",
        })
    }
}

impl std::error::Error for TokenError {}

/// A token that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// Who opts out of what.
    pub scope: Scope,
    /// The key that signed it.
    pub kid: String,
    /// SHA-256 of the payload: the same scope issued at the same time has the same
    /// fingerprint, whichever key signed it.
    pub fingerprint: [u8; 32],
}

impl Verified {
    /// The idempotency key of the opt-out this token asks for: `oneclick:` and the
    /// base64url fingerprint. Posting the same link twice (or the same payload re-signed
    /// with another key) is one opt-out.
    pub fn idempotency_key(&self) -> String {
        format!("oneclick:{}", URL_SAFE_NO_PAD.encode(self.fingerprint))
    }
}

/// A link: the URL to put in `List-Unsubscribe`, and its token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Link {
    /// `BASE/u/TOKEN`.
    pub url: String,
    /// The token alone.
    pub token: String,
}

impl Link {
    /// The two headers a sender puts in its mail, in this order:
    /// `List-Unsubscribe: <URL>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
    /// The mail's DKIM signature must cover both (RFC 8058 §4).
    pub fn headers(&self) -> [(&'static str, String); 2] {
        [
            ("List-Unsubscribe", format!("<{}>", self.url)),
            (ONE_CLICK_HEADER.0, ONE_CLICK_HEADER.1.to_string()),
        ]
    }
}

/// `{"url": ..., "headers": {"List-Unsubscribe": ..., "List-Unsubscribe-Post": ...}}`.
impl Serialize for Link {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Headers<'a>(&'a Link);
        impl Serialize for Headers<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let headers = self.0.headers();
                let mut map = s.serialize_map(Some(headers.len()))?;
                for (name, value) in &headers {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("url", &self.url)?;
        map.serialize_entry("headers", &Headers(self))?;
        map.end()
    }
}

#[cfg(test)]
mod tests;
