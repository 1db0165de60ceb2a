//! Keeping credentials and terminal control sequences out of the text an [`Error`](crate::Error)
//! carries.
//!
//! Two rules, applied wherever provider text enters an error:
//! - **Secrets.** A [`Scrubber`] replaces the forms a credential can come back in: its exact
//!   value, its URL-encoded forms (a server echoing the request URL echoes Pushy's key encoded),
//!   and whatever follows `Bearer `, `ApiKey ` or `api_key=` / `api_key:`. Nothing shorter than
//!   [`MIN_SECRET_LEN`] characters is treated as a secret: scrubbing a one-letter test token
//!   would turn `Authentication` into `Au[REDACTED]hen[REDACTED]ica[REDACTED]ion`.
//! - **Printable, bounded.** [`clean`] escapes control characters (newlines, escape sequences,
//!   bidirectional overrides), so a message can neither forge a log line nor drive a terminal,
//!   and cuts it to [`MAX_TEXT_CHARS`] characters.
//!
//! Text is scrubbed before it is cut, so a key straddling the cut cannot leak in part.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

/// Credentials shorter than this many characters are not scrubbed by value: no real API key
/// or token is this short, and replacing every occurrence of a short string mangles the text
/// around it. (A short value after `Bearer `, `ApiKey ` or `api_key=` is left too.)
pub const MIN_SECRET_LEN: usize = 8;

/// The longest provider text (code, message) an error keeps, in characters; longer text is cut
/// on a character boundary and ends with `…`.
pub const MAX_TEXT_CHARS: usize = 500;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// The forms of a client's credentials to remove from provider text.
///
/// Its `Debug` shows how many forms it holds, never one of them.
#[derive(Clone, Default)]
pub struct Scrubber {
    /// Each credential raw and URL-encoded, longest first, none shorter than
    /// [`MIN_SECRET_LEN`].
    forms: Vec<SecretString>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("forms", &self.forms.len())
            .finish()
    }
}

impl Scrubber {
    /// A scrubber for `secrets`: each as it is and URL-encoded as a query value (`+` or `%20`
    /// for a space, upper- or lower-case hex). Secrets shorter than [`MIN_SECRET_LEN`]
    /// characters are left out.
    pub fn new(secrets: &[SecretString]) -> Self {
        let mut all: Vec<String> = Vec::with_capacity(secrets.len() * 4);
        for secret in secrets {
            let raw = secret.expose_secret();
            if raw.chars().count() < MIN_SECRET_LEN {
                continue;
            }
            let form: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
            let spaces = form.replace('+', "%20");
            let lower = lower_hex(&spaces);
            for text in [raw.to_string(), form, spaces, lower] {
                if !all.contains(&text) {
                    all.push(text);
                }
            }
        }
        // Longest first, so that a form containing another is scrubbed whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Scrubber {
            forms: all.into_iter().map(SecretString::from).collect(),
        }
    }

    /// `text` without the credentials' forms and without the values that follow `Bearer `,
    /// `ApiKey ` and `api_key=` (when at least [`MIN_SECRET_LEN`] characters long).
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for form in &self.forms {
            let form = form.expose_secret();
            if text.contains(form) {
                text = Cow::Owned(text.replace(form, REDACTED));
            }
        }
        match scrub_contexts(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(done) => Cow::Owned(done),
        }
    }

    /// How many forms it removes by value (for tests and `Debug`).
    pub fn forms(&self) -> usize {
        self.forms.len()
    }

    #[cfg(test)]
    pub(crate) fn exposed_forms(&self) -> Vec<&str> {
        self.forms.iter().map(|s| s.expose_secret()).collect()
    }
}

/// `%2B` -> `%2b`: the same percent-encoding with lower-case hex digits.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if hex_left > 0 {
            out.push(c.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            if c == '%' {
                hex_left = 2;
            }
            out.push(c);
        }
    }
    out
}

/// The keywords a credential follows, and whether `=`/`:` (rather than spaces) separates it.
const CONTEXTS: [(&str, bool); 3] = [("bearer", false), ("apikey", false), ("api_key", true)];

/// Whether `c` can be part of a credential as it appears after a keyword.
fn in_value(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '"' | '\''
                | '&'
                | ','
                | ';'
                | '<'
                | '>'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '\\'
                | '#'
        ))
}

/// Replaces the value after each keyword of [`CONTEXTS`] (ASCII case-insensitive, not inside
/// a longer word) when it is at least [`MIN_SECRET_LEN`] characters long.
fn scrub_contexts(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of `text` already in `out`
    let mut i = 0;
    while i < bytes.len() {
        let mut advanced = false;
        for (keyword, assigned) in CONTEXTS {
            let end = i + keyword.len();
            let Some(candidate) = bytes.get(i..end) else {
                continue;
            };
            if !candidate.eq_ignore_ascii_case(keyword.as_bytes()) {
                continue;
            }
            let starts_word = i == 0
                || bytes
                    .get(i - 1)
                    .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
            if !starts_word {
                continue;
            }
            // Skip the separator: spaces for `Bearer`/`ApiKey`; `"`? then `=` or `:` then
            // spaces and quotes for `api_key`.
            let mut j = end;
            if assigned {
                if bytes.get(j) == Some(&b'"') {
                    j += 1;
                }
                if !matches!(bytes.get(j), Some(b'=' | b':')) {
                    continue;
                }
                j += 1;
                while matches!(bytes.get(j), Some(b' ' | b'"' | b'\'')) {
                    j += 1;
                }
            } else {
                let spaces = bytes[j..].iter().take_while(|b| **b == b' ').count();
                if spaces == 0 {
                    continue;
                }
                j += spaces;
            }
            let rest = &text[j..];
            let len: usize = rest
                .chars()
                .take_while(|c| in_value(*c))
                .map(char::len_utf8)
                .sum();
            let value = &rest[..len];
            if value.chars().count() < MIN_SECRET_LEN || value == REDACTED {
                continue;
            }
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..j]);
            out.push_str(REDACTED);
            copied = j + len;
            i = copied;
            advanced = true;
            break;
        }
        if !advanced {
            i += 1;
            // Stay on a character boundary.
            while i < bytes.len() && !text.is_char_boundary(i) {
                i += 1;
            }
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

/// Whether `c` must be escaped to print safely on one line: control characters, line and
/// paragraph separators, and the bidirectional formatting characters that reorder what a
/// terminal shows.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Provider text made safe to keep in an error: scrubbed with the scrubber of the client
/// whose answer is being decoded (if any), control characters escaped (`\n`, `\r`, `\t`,
/// others as `\u{1b}`), and cut to [`MAX_TEXT_CHARS`] characters with a trailing `…`.
///
/// Escaping leaves backslashes alone, so cleaning text twice changes nothing.
pub fn clean(text: &str) -> String {
    bound(&scrub_active(text), MAX_TEXT_CHARS)
}

/// `text` scrubbed with the scrubber of the client whose answer is being decoded, if any.
pub(crate) fn scrub_active(text: &str) -> Cow<'_, str> {
    ACTIVE
        .try_with(|a| a.borrow().as_ref().map(|a| a.scrubber.scrub(text)))
        .ok()
        .flatten()
        .unwrap_or(Cow::Borrowed(text))
}

/// `text` with control characters escaped, cut to `max` characters (plus `…`).
pub(crate) fn bound(text: &str, max: usize) -> String {
    if !text.chars().any(needs_escape) && text.chars().count() <= max {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(max * 4) + 4);
    for (count, c) in text.chars().enumerate() {
        if count >= max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// What a decoder runs with inside [`HttpClient::send`](crate::HttpClient::send).
struct Active {
    scrubber: Arc<Scrubber>,
    earlier_attempt_may_have_applied: bool,
}

thread_local! {
    static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
}

/// Runs `f` (synchronous: a decoder, or the building of an error from an answer) with
/// `scrubber` active, so that every [`Error`](crate::Error) made inside it is scrubbed where
/// its text is set, and [`earlier_attempt_may_have_applied`] answers `earlier`.
pub(crate) fn with_decoding<R>(
    scrubber: &Arc<Scrubber>,
    earlier: bool,
    f: impl FnOnce() -> R,
) -> R {
    struct Restore(Option<Active>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = ACTIVE.try_with(|a| *a.borrow_mut() = previous);
        }
    }
    let previous = ACTIVE.with(|a| {
        a.borrow_mut().replace(Active {
            scrubber: Arc::clone(scrubber),
            earlier_attempt_may_have_applied: earlier,
        })
    });
    let _restore = Restore(previous);
    f()
}

/// Inside a decoder run by [`HttpClient::send`](crate::HttpClient::send): whether an earlier
/// attempt of this send may have applied the change (its answer was lost: a timeout or a
/// reset after the request went out, a 5xx, a garbled answer). Outside a decoder: `false`.
///
/// Prefer [`Response::earlier_attempt_may_have_applied`](crate::Response) where the
/// response is at hand; this is for code deep inside a decoder that only sees the parsed
/// answer. Turn it into an outcome with [`Outcome::already`](crate::Outcome::already).
pub fn earlier_attempt_may_have_applied() -> bool {
    ACTIVE
        .try_with(|a| {
            a.borrow()
                .as_ref()
                .is_some_and(|a| a.earlier_attempt_may_have_applied)
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber(secrets: &[&str]) -> Scrubber {
        let secrets: Vec<SecretString> = secrets.iter().map(|s| SecretString::from(*s)).collect();
        Scrubber::new(&secrets)
    }

    #[test]
    fn forms_are_raw_and_url_encoded_longest_first() {
        let s = scrubber(&["k y+/é-long"]);
        assert_eq!(
            s.exposed_forms(),
            [
                "k%20y%2B%2F%C3%A9-long",
                "k%20y%2b%2f%c3%a9-long",
                "k+y%2B%2F%C3%A9-long",
                "k y+/é-long"
            ]
        );
    }

    #[test]
    fn short_secrets_are_not_scrubbed_by_value() {
        let s = scrubber(&["t", "x", "1234567"]);
        assert_eq!(s.forms(), 0);
        let text = "Authentication failed: token x1234567 expired";
        assert_eq!(s.scrub(text), text);
    }

    #[test]
    fn exact_values_and_encoded_forms_are_scrubbed() {
        let s = scrubber(&["sk_live_abc/123"]);
        assert_eq!(
            s.scrub("key sk_live_abc/123 or sk_live_abc%2F123 or sk_live_abc%2f123"),
            "key [REDACTED] or [REDACTED] or [REDACTED]"
        );
    }

    #[test]
    fn values_after_credential_keywords_are_scrubbed_even_if_unknown() {
        let s = Scrubber::default();
        for (text, want) in [
            (
                "GET /topics/unsubscribe?api_key=0123456789abcdef&x=1",
                "GET /topics/unsubscribe?api_key=[REDACTED]&x=1",
            ),
            (
                r#"{"api_key":"0123456789abcdef"}"#,
                r#"{"api_key":"[REDACTED]"}"#,
            ),
            (
                "Authorization: ApiKey nv_0123456789 refused",
                "Authorization: ApiKey [REDACTED] refused",
            ),
            ("bearer  pat-na1-0123456789.", "bearer  [REDACTED]"),
            // Short values are ordinary words, not credentials.
            ("the ApiKey is invalid", "the ApiKey is invalid"),
            ("Bearer token missing", "Bearer token missing"),
            // Inside a longer word: not a keyword.
            ("my_api_key=0123456789abcdef", "my_api_key=0123456789abcdef"),
            ("x-api_key=0123456789abcdef", "x-api_key=[REDACTED]"),
            ("Bearer [REDACTED]", "Bearer [REDACTED]"),
            (
                "Bearér ünïcödé Bearer 0123456789",
                "Bearér ünïcödé Bearer [REDACTED]",
            ),
        ] {
            assert_eq!(s.scrub(text), want, "{text}");
        }
    }

    #[test]
    fn clean_escapes_control_characters_and_bounds_the_length() {
        let forged = "ok\n20000 unsubscribed, 0 already, 0 failed\x1b[2K\r\u{202e}";
        let cleaned = clean(forged);
        assert_eq!(
            cleaned,
            "ok\\n20000 unsubscribed, 0 already, 0 failed\\u{1b}[2K\\r\\u{202e}"
        );
        assert!(!cleaned.chars().any(needs_escape));
        assert_eq!(clean(&cleaned), cleaned, "cleaning twice changes nothing");

        let long = "é".repeat(900_000);
        let cut = clean(&long);
        assert_eq!(cut.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(cut.ends_with("é…"));
        assert_eq!(clean("short"), "short");
    }

    #[test]
    fn clean_scrubs_before_it_cuts_inside_a_decoder_only() {
        let s = Arc::new(scrubber(&["0123456789abcdefghijklmn"]));
        // The key straddles the 500-character cut.
        let text = format!("{}0123456789abcdefghijklmn", "x".repeat(490));
        assert!(
            clean(&text).contains("0123456789"),
            "no client, no scrubbing"
        );
        let cleaned = with_decoding(&s, false, || clean(&text));
        assert!(!cleaned.contains("0123456789"), "{cleaned}");
        assert!(cleaned.ends_with(REDACTED), "{cleaned}");
        assert!(with_decoding(&s, true, earlier_attempt_may_have_applied));
        assert!(!with_decoding(&s, false, earlier_attempt_may_have_applied));
        assert!(!earlier_attempt_may_have_applied());
    }
}
