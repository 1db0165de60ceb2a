//! Dry runs: the requests a call would send, built by the client's own code and recorded
//! instead of sent.
//!
//! [`capture`] runs a future (a provider's `unsubscribe`) with every [`HttpClient::send`]
//! of its task answering at once with a "not sent" error, after recording the
//! `reqwest::Request` it would have sent: the same code builds the request a real call sends
//! and the one a plan shows, so the two cannot drift. Nothing reaches the network, no rate
//! limit is waited for, and nothing is retried.
//!
//! A call whose next request depends on an answer (a batch refused as a whole, a token to
//! refresh, a later chunk) stops at the first answer: the plan holds what would be sent
//! first, and [`Plan::then`] says what may follow.
//!
//! [`HttpClient::send`]: crate::HttpClient::send

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::scrub::Scrubber;
use crate::{Error, ErrorKind, Provider};

/// What a redacted value reads as in a plan.
pub const REDACTED_VALUE: &str = "<redacted>";

/// The code of the error a captured request is answered with.
const NOT_SENT_CODE: &str = "DRY_RUN_NOT_SENT";

tokio::task_local! {
    static CAPTURE: Arc<Capture>;
}

/// What a dry run recorded so far.
#[derive(Default)]
struct Capture {
    requests: Mutex<Vec<PlannedRequest>>,
    then: Mutex<Vec<String>>,
}

/// One request a dry run would have sent, with its secrets redacted.
///
/// `Display` is one line: `METHOD URL [name: value; ...] BODY`. `Serialize` gives the same
/// fields as JSON, the body as JSON when it is JSON. The headers are those optout sets (the
/// HTTP library adds `Host` and `Content-Length`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlannedRequest {
    /// Whose API it goes to.
    pub provider: Provider,
    /// `POST`, `DELETE`, ...
    pub method: String,
    /// The URL, with credentials in its query (Pushy's `api_key`) as `<redacted>`.
    pub url: String,
    /// The headers in the order they go out; credentials (`Authorization`, keys, any
    /// header marked sensitive) as `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// The body as text (`None`: no body), with credential fields (a signature, a client
    /// secret, a refresh token) as `<redacted>`.
    pub body: Option<String>,
}

impl PlannedRequest {
    /// The value of header `name` (any case), if the request has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.body.as_deref()?).ok()
    }

    /// What `request` is, redacted: header values marked sensitive or named for a credential,
    /// query and body fields named for one, and any form of `scrubber`'s secrets.
    pub(crate) fn redacted(
        provider: Provider,
        request: &reqwest::Request,
        scrubber: &Scrubber,
    ) -> Self {
        let scrub = |text: &str| scrubber.scrub(text).into_owned();
        let mut url = request.url().clone();
        if url.query().is_some() {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if secret_name(&k) {
                        REDACTED_VALUE.into()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            // `<` and `>` stay readable: the URL is shown, not sent.
            let query: Vec<String> = pairs
                .iter()
                .map(|(k, v)| {
                    let enc = |s: &str| -> String {
                        if s == REDACTED_VALUE {
                            s.to_owned()
                        } else {
                            url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
                        }
                    };
                    format!("{}={}", enc(k), enc(v))
                })
                .collect();
            url.set_query(None);
            let mut text = url.to_string();
            text.push('?');
            text.push_str(&query.join("&"));
            return PlannedRequest {
                url: scrub(&text),
                ..PlannedRequest::rest(provider, request, scrubber)
            };
        }
        PlannedRequest {
            url: scrub(url.as_str()),
            ..PlannedRequest::rest(provider, request, scrubber)
        }
    }

    /// Everything but the URL (left empty).
    fn rest(provider: Provider, request: &reqwest::Request, scrubber: &Scrubber) -> Self {
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| {
                let shown = if value.is_sensitive() || secret_name(name.as_str()) {
                    REDACTED_VALUE.to_owned()
                } else {
                    scrubber
                        .scrub(&String::from_utf8_lossy(value.as_bytes()))
                        .into_owned()
                };
                (name.as_str().to_owned(), shown)
            })
            .collect();
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(|bytes| redact_body(&String::from_utf8_lossy(bytes)))
            .map(|text| scrubber.scrub(&text).into_owned());
        PlannedRequest {
            provider,
            method: request.method().as_str().to_owned(),
            url: String::new(),
            headers,
            body,
        }
    }
}

/// Whether a header, query or body field of this name holds a credential.
fn secret_name(name: &str) -> bool {
    let normal: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    matches!(
        normal.as_str(),
        "authorization"
            | "proxyauthorization"
            | "cookie"
            | "apikey"
            | "xapikey"
            | "hapikey"
            | "accesstoken"
            | "refreshtoken"
            | "clientsecret"
            | "secret"
            | "password"
            | "signature"
    )
}

/// `body` with the values of credential fields as `<redacted>`, everything else as it is:
/// a JSON body's string values, a form body's values.
fn redact_body(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
        let mut secrets = Vec::new();
        secret_values(&value, &mut secrets);
        let mut text = body.to_owned();
        for secret in secrets {
            // The value as the JSON text holds it (serde_json writes a string one way).
            if let Ok(encoded) = serde_json::to_string(&secret) {
                text = text.replace(&encoded, &format!("\"{REDACTED_VALUE}\""));
            }
        }
        return text;
    }
    let form = body.contains('=') && !body.contains([' ', '\n', '{']);
    if !form {
        return body.to_owned();
    }
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if secret_name(&decode(k)) => format!("{k}={REDACTED_VALUE}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("{text}=").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// The string values of credential fields anywhere in `value`.
fn secret_values(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if secret_name(k) && !s.is_empty() => {
                        out.push(s.clone())
                    }
                    other => secret_values(other, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| secret_values(v, out)),
        _ => {}
    }
}

impl fmt::Display for PlannedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} [", self.provider, self.method, self.url)?;
        for (i, (name, value)) in self.headers.iter().enumerate() {
            let sep = if i == 0 { "" } else { "; " };
            write!(f, "{sep}{name}: {}", crate::scrub::clean(value))?;
        }
        f.write_str("]")?;
        if let Some(body) = &self.body {
            // Escaped, never cut: the line is the request.
            write!(f, " {}", crate::scrub::bound(body, body.len()))?;
        }
        Ok(())
    }
}

impl Serialize for PlannedRequest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Headers<'a>(&'a [(String, String)]);
        impl Serialize for Headers<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
            }
        }
        let mut s = serializer.serialize_struct("PlannedRequest", 5)?;
        s.serialize_field("provider", &self.provider)?;
        s.serialize_field("method", &self.method)?;
        s.serialize_field("url", &self.url)?;
        s.serialize_field("headers", &Headers(&self.headers))?;
        match (self.json(), &self.body) {
            (Some(json), _) => s.serialize_field("body", &json)?,
            (None, body) => s.serialize_field("body", body)?,
        }
        s.end()
    }
}

/// The requests a call would send, in order, and what may follow depending on the answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// What would be sent, before any answer is known.
    pub requests: Vec<PlannedRequest>,
    /// What may be sent after, depending on the answers (one sentence each; empty when the
    /// call sends nothing more whatever the answers).
    pub then: Vec<String>,
}

impl Plan {
    /// Appends `other`'s requests and notes (notes once each).
    pub fn extend(&mut self, other: Plan) {
        self.requests.extend(other.requests);
        for note in other.then {
            if !self.then.contains(&note) {
                self.then.push(note);
            }
        }
    }
}

impl fmt::Display for Plan {
    /// One line per request, then one `  then: ...` line per note.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for line in self.requests.iter().map(ToString::to_string).chain(
            self.then
                .iter()
                .map(|note| format!("  then: {}", crate::scrub::clean(note))),
        ) {
            if !first {
                f.write_str("\n")?;
            }
            first = false;
            f.write_str(&line)?;
        }
        Ok(())
    }
}

/// Runs `call` as a dry run: each request an [`HttpClient`](crate::HttpClient) of this task
/// would send is recorded and answered with a "not sent" error ([`is_not_sent`]). Answers
/// the call's own result and what was recorded.
pub async fn capture<T>(call: impl Future<Output = T>) -> (T, Plan) {
    let capture = Arc::new(Capture::default());
    let result = CAPTURE.scope(Arc::clone(&capture), call).await;
    let plan = Plan {
        requests: take(&capture.requests),
        then: take(&capture.then),
    };
    (result, plan)
}

fn take<T>(list: &Mutex<Vec<T>>) -> Vec<T> {
    std::mem::take(&mut *list.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Whether this task is in a dry run ([`capture`]): nothing may be sent.
pub fn is_capturing() -> bool {
    CAPTURE.try_with(|_| ()).is_ok()
}

/// In a dry run, records `request` (redacted with `scrubber`) and answers the "not sent"
/// error to return in place of an answer; outside one, `None`: send it.
pub fn intercept(
    provider: Provider,
    request: impl FnOnce() -> reqwest::Request,
    scrubber: &Scrubber,
) -> Option<Error> {
    CAPTURE
        .try_with(|capture| {
            let planned = PlannedRequest::redacted(provider, &request(), scrubber);
            if let Ok(mut requests) = capture.requests.lock() {
                requests.push(planned);
            }
            not_sent()
        })
        .ok()
}

/// In a dry run, notes what may be sent after the recorded requests depending on an answer
/// (once, however often it is noted), and answers whether it was new; outside one, nothing
/// (`false`).
pub fn then(note: impl Into<String>) -> bool {
    CAPTURE
        .try_with(|capture| {
            let note = note.into();
            let Ok(mut then) = capture.then.lock() else {
                return false;
            };
            let new = !then.contains(&note);
            if new {
                then.push(note);
            }
            new
        })
        .unwrap_or(false)
}

/// The error a captured request is answered with: nothing was sent.
fn not_sent() -> Error {
    Error::config("not sent: this is a dry run").with_code(NOT_SENT_CODE)
}

/// Whether `error` is the answer of a captured request (or, for a
/// [`Partial`](ErrorKind::Partial) error, every failure in it is).
pub fn is_not_sent(error: &Error) -> bool {
    match error.partial() {
        Some(partial) if error.kind() == ErrorKind::Partial => {
            partial.failed.iter().all(|(_, e)| is_not_sent(e))
        }
        _ => error.kind() == ErrorKind::Config && error.code() == Some(NOT_SENT_CODE),
    }
}

/// A call's result in a dry run: `Ok` when it failed only because nothing was sent (or
/// succeeded without sending), its error when it was refused before sending (bad input).
pub fn checked<T>(result: Result<T, Error>) -> Result<(), Error> {
    match result {
        Ok(_) => Ok(()),
        Err(error) if is_not_sent(&error) => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use secrecy::SecretString;

    const KEY: &str = "s3cr3t-0123456789abcdefg";

    fn request(url: &str, body: &str, sensitive: bool) -> reqwest::Request {
        let mut r = reqwest::Request::new(reqwest::Method::POST, url.parse().unwrap());
        let mut auth = HeaderValue::from_str(&format!("Bearer {KEY}")).unwrap();
        auth.set_sensitive(sensitive);
        r.headers_mut().insert("authorization", auth);
        r.headers_mut().insert(
            "x-note",
            HeaderValue::from_str(&format!("k {KEY}")).unwrap(),
        );
        *r.body_mut() = Some(body.to_owned().into());
        r
    }

    fn planned(url: &str, body: &str) -> PlannedRequest {
        let scrubber = Scrubber::new(&[SecretString::from(KEY)]);
        PlannedRequest::redacted(Provider::Pushy, &request(url, body, false), &scrubber)
    }

    #[test]
    fn secrets_are_redacted_in_url_headers_and_body_and_every_rendering() {
        let body = format!(r#"{{"msisdn":"254700000000","signature":"abc123","note":"{KEY}"}}"#);
        let p = planned(&format!("http://h/x?api_key={KEY}&b=1"), &body);
        assert_eq!(p.url, "http://h/x?api_key=<redacted>&b=1");
        assert_eq!(p.header("authorization"), Some(REDACTED_VALUE));
        assert_eq!(p.header("x-note"), Some("k [REDACTED]"));
        assert_eq!(
            p.body.as_deref(),
            Some(r#"{"msisdn":"254700000000","signature":"<redacted>","note":"[REDACTED]"}"#)
        );
        let all = format!("{p} {p:?} {}", serde_json::to_string(&p).unwrap());
        assert!(!all.contains(KEY) && !all.contains("abc123"), "{all}");
    }

    #[test]
    fn a_form_body_keeps_its_order_with_credentials_redacted() {
        let p = planned(
            "http://h/oauth/v1/token",
            "grant_type=refresh_token&client_id=c1&client_secret=cs-1&refresh_token=rt-1",
        );
        assert_eq!(
            p.body.as_deref(),
            Some("grant_type=refresh_token&client_id=c1&client_secret=<redacted>&refresh_token=<redacted>")
        );
    }

    #[test]
    fn display_is_one_line_per_request_and_json_has_the_body_as_json() {
        let p = planned("http://h/x", r#"{"a":"line\nbreak"}"#);
        let plan = Plan {
            requests: vec![p.clone(), p],
            then: vec!["more may follow".into()],
        };
        let text = plan.to_string();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.ends_with("\n  then: more may follow"));
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["requests"][0]["body"]["a"], "line\nbreak");
        assert_eq!(
            json["requests"][0]["headers"]["authorization"],
            REDACTED_VALUE
        );
    }

    #[tokio::test]
    async fn outside_a_capture_nothing_is_intercepted() {
        let scrubber = Scrubber::default();
        let build = || request("http://h/x", "", true);
        assert!(intercept(Provider::Pushy, build, &scrubber).is_none());
        assert!(!is_capturing());
        let ((), plan) = capture(async {
            let error = intercept(Provider::Pushy, build, &scrubber).unwrap();
            assert!(is_not_sent(&error) && !error.was_sent());
            assert!(then("x") && !then("x"));
        })
        .await;
        assert_eq!(plan.requests.len(), 1);
        assert_eq!(plan.then, ["x"]);
    }
}
