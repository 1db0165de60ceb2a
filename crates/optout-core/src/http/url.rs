//! Base URLs: checking one, showing one without its credentials, and encoding a path segment.

use url::Url;

use crate::scrub::{bound, REDACTED};
use crate::{Error, Provider};

/// RFC 3986's path segment encoding: every byte but the unreserved `A-Za-z0-9-._~` as `%XX`.
pub(super) fn encode_segment(segment: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in segment.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// A base URL as it may be shown: credentials (`user:password@`) and any query or fragment
/// replaced by `[REDACTED]`, control characters escaped, at most 200 characters.
pub(super) fn shown_url(text: &str) -> String {
    let text = text.trim();
    let after_scheme = text.find("://").map_or(0, |i| i + 3);
    let mut shown = String::with_capacity(text.len());
    shown.push_str(&text[..after_scheme]);
    let rest = &text[after_scheme..];
    let (rest, tail) = match rest.find(['?', '#']) {
        Some(i) => (&rest[..i], Some(&rest[i..i + 1])),
        None => (rest, None),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            shown.push_str(REDACTED);
            shown.push_str(&rest[at..]);
        }
        None => shown.push_str(rest),
    }
    if let Some(mark) = tail {
        shown.push_str(mark);
        shown.push_str(REDACTED);
    }
    bound(&shown, 200)
}

/// Checks a base URL: `http` or `https`, a host, no credentials, query or fragment.
pub fn parse_base_url(provider: Provider, text: &str) -> Result<Url, Error> {
    let var = format!("{}_BASE_URL", provider.env_prefix());
    let shown = shown_url(text);
    let bad = |why: &str| {
        Error::config(format!(
            "base URL \"{shown}\" for {provider} is not usable: {why} (set with --base-url or {var}; \
             expected e.g. http://127.0.0.1:8025)"
        ))
    };
    // url's parse errors name the problem, never the input.
    let url = Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it must not hold credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    Ok(url)
}
