//! [`Request`], one request ready to send, and [`Response`], an answer as a provider's decoder
//! sees it.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{Error, Outcome, Provider};

/// One request, ready to send (and to send again: the body is shared, not copied).
///
/// Its `Debug` shows the method, the path and the header names only: the query and header
/// values may hold credentials.
#[derive(Clone)]
pub struct Request {
    pub(super) method: Method,
    pub(super) url: Url,
    pub(super) headers: HeaderMap,
    pub(super) body: Option<Bytes>,
    /// The body is JSON: sent with `Content-Type: application/json`.
    pub(super) json: bool,
}

impl Request {
    /// A request without a body.
    pub fn new(method: Method, url: Url) -> Self {
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            json: false,
        }
    }

    /// A request with `body` serialized as JSON and `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(method: Method, url: Url, body: &T) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::invalid_input("body", format!("cannot be encoded as JSON: {e}")))?;
        let mut request = Request::new(method, url);
        request.json = true; // the header comes from the client's prepared JSON headers
        request.body = Some(Bytes::from(bytes));
        Ok(request)
    }

    /// A request with `body`, already encoded as JSON, and `Content-Type: application/json`:
    /// for a provider that writes a body itself (byte for byte what [`Request::json`] would
    /// write) where serializing it row by row costs more than the row.
    pub fn json_bytes(method: Method, url: Url, body: Vec<u8>) -> Self {
        let mut request = Request::new(method, url);
        request.json = true;
        request.body = Some(Bytes::from(body));
        request
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The URL (beware: it may hold a key in its query).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The body, if any.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.url.path())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("json", &self.json)
            .field("body_len", &self.body.as_ref().map_or(0, Bytes::len))
            .finish()
    }
}

/// An answer, as handed to a provider's decoder.
#[derive(Debug)]
pub struct Response<'a> {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: &'a HeaderMap,
    /// The whole body.
    pub body: &'a [u8],
    /// An earlier attempt of this request may have applied the change: its answer was lost
    /// after the request went out (a timeout, a reset connection, a 5xx, a garbled answer).
    /// An "already unsubscribed" in this answer may then be the earlier attempt's own work:
    /// map it with [`Response::already_unsubscribed`] (or [`Outcome::already`]).
    pub earlier_attempt_may_have_applied: bool,
}

impl<'a> Response<'a> {
    /// The outcome to report when this answer says the recipient is already unsubscribed:
    /// [`Outcome::AlreadyUnsubscribed`], unless an earlier attempt of this request may have
    /// made the change, in which case [`Outcome::Unsubscribed`] (never report as "already" a
    /// change this call may have made).
    pub fn already_unsubscribed(&self) -> Outcome {
        Outcome::already(self.earlier_attempt_may_have_applied)
    }

    /// Decodes the body as JSON, or answers a decode error quoting a short snippet.
    ///
    /// `T` may borrow from the body (`&'a str`, `Cow<'a, str>` fields): a decoder that reads
    /// the answer while it is at hand need not copy every string out of it.
    pub fn json<T: Deserialize<'a>>(&self, provider: Provider) -> Result<T, Error> {
        self.decode()
            .map_err(|e| Error::decode(provider, self.status.as_u16(), json_reason(&e), self.body))
    }

    /// Decodes the body as JSON if it is, `None` otherwise (for error bodies that may be HTML
    /// from a proxy).
    pub fn try_json<T: Deserialize<'a>>(&self) -> Option<T> {
        self.decode().ok()
    }

    /// The body checked as UTF-8 once, whole, then parsed as text: `serde_json::from_slice`
    /// checks every string it reads on its own, which was a twentieth of the client's work
    /// for a Novu answer of 100 items. A body that is not UTF-8 goes through `from_slice`,
    /// for the same error as before.
    fn decode<T: Deserialize<'a>>(&self) -> Result<T, serde_json::Error> {
        match std::str::from_utf8(self.body) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(self.body),
        }
    }
}

/// serde_json's message, without the input it may echo.
fn json_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "the body ends before the JSON does".into(),
        Category::Syntax => "the body is not JSON".into(),
        Category::Io => "the body could not be read".into(),
        Category::Data => {
            let text = e.to_string();
            // "missing field `success` at line 1 column 2" -> keep what precedes " at line".
            text.split(" at line").next().unwrap_or(&text).to_string()
        }
    }
}
