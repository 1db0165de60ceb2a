//! How an error is shown: its `Debug` (never a credential), its one-line `Display`, its JSON,
//! and [`snippet`], the excerpt of a response body it quotes.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::scrub::scrub_active;

use super::{Details, Error, ErrorKind};

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
