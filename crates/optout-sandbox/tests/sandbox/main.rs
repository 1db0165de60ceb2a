//! Integration tests: real HTTP on loopback with reqwest, one sandbox per test.

mod faults;
mod hubspot;
mod migma;
mod mobivate;
mod novu;
mod pushy;
mod rate;
mod server;

use reqwest::header::HeaderMap;
use reqwest::{Client, Method};
use serde_json::Value;

/// What came back.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The answer's headers.
    pub headers: HeaderMap,
    /// The body, as text.
    pub text: String,
}

impl Reply {
    /// The body as JSON; panics (failing the test) if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the answer is labelled JSON.
    pub fn assert_json_type(&self) -> &Self {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        self
    }
}

/// Sends `body` verbatim (with `Content-Type: application/json` when there is one).
pub async fn send(
    client: &Client,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut req = client.request(method, url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let res = req.send().await.expect("the sandbox answers");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.expect("a body");
    Reply {
        status,
        headers,
        text,
    }
}

/// `POST url` with a JSON body.
pub async fn post(url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    send(&Client::new(), Method::POST, url, headers, Some(body)).await
}

/// Is `s` lower-case hex of length `n`?
pub fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
