//! Helpers shared by the optout crates' tests against a loopback [`wiremock`] server: mount a
//! mock expected an exact number of times, read what the server received, check a request
//! whole. Dev-only (`publish = false`): crates take it as a path-only dev-dependency, which
//! `cargo publish` strips.

pub mod pg;
mod plan;

pub use plan::{assert_plan_is_the_call, assert_plan_refuses_as_the_call};

use std::time::Duration;

use optout_core::RetryPolicy;
use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockBuilder, MockServer, Request, Respond, ResponseTemplate};

/// The default retry policy with 1–5 ms backoff, so retrying tests stay fast.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5))
}

/// Mounts `response` on `server` for requests matching `given`, which must match exactly
/// `times` requests (checked when the server is dropped).
pub async fn mount(
    server: &MockServer,
    given: MockBuilder,
    response: impl Respond + 'static,
    times: u64,
) {
    expect(server, given.respond_with(response), times).await;
}

/// Like [`mount`], but `response` answers only the first `times` matching requests (later
/// ones fall through to the mocks mounted after it); exactly `times` are expected.
pub async fn mount_first(
    server: &MockServer,
    given: MockBuilder,
    response: impl Respond + 'static,
    times: u64,
) {
    expect(
        server,
        given.respond_with(response).up_to_n_times(times),
        times,
    )
    .await;
}

async fn expect(server: &MockServer, mock: Mock, times: u64) {
    mock.expect(times).mount(server).await;
}

/// A new server answering in turn, whatever the request: the first `n1` requests with `r1`,
/// the next `n2` with `r2`, and so on for each `(r, n)` of `steps`; each step expects exactly
/// its `n` requests.
pub async fn in_turn(steps: impl IntoIterator<Item = (ResponseTemplate, u64)>) -> MockServer {
    let server = MockServer::start().await;
    for (response, times) in steps {
        mount_first(&server, Mock::given(any()), response, times).await;
    }
    server
}

/// A new server answering every request with `response`, however many there are.
pub async fn serve(response: impl Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// Every request `server` received so far, in order.
pub async fn received(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

/// The one request `server` received; fails the test if it received none or several.
pub async fn only_request(server: &MockServer) -> Request {
    let mut requests = received(server).await;
    assert_eq!(requests.len(), 1, "exactly one request");
    requests.remove(0)
}

/// The value of `r`'s header `name` (the first one, if repeated), as text.
pub fn header(r: &Request, name: &str) -> Option<String> {
    r.headers
        .get(name)
        .map(|v| v.to_str().expect("a visible-ASCII header").to_owned())
}

/// A JSON request as a test expects it, whole; see [`assert_request`].
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The HTTP method, e.g. `"POST"`.
    pub method: &'a str,
    /// The URL path, percent-encoded as sent.
    pub path: &'a str,
    /// The query string (`None`: no `?` at all).
    pub query: Option<&'a str>,
    /// The `Authorization` header (`None`: absent).
    pub authorization: Option<&'a str>,
    /// The `User-Agent` header, e.g. `optout-novu/0.1.0`.
    pub user_agent: &'a str,
    /// Further headers and their values (`None`: absent).
    pub headers: &'a [(&'a str, Option<&'a str>)],
    /// The body as JSON (`None`: no body at all).
    pub body: Option<Value>,
}

/// Asserts `r` is `expected` whole: method, path, query, `Authorization`,
/// `Content-Type: application/json`, `Accept: application/json`, `User-Agent`, the further
/// headers and the body.
pub fn assert_request(r: &Request, expected: &Expected) {
    assert_eq!(r.method.as_str(), expected.method);
    assert_eq!(r.url.path(), expected.path);
    assert_eq!(r.url.query(), expected.query);
    assert_eq!(
        header(r, "authorization").as_deref(),
        expected.authorization
    );
    assert_eq!(
        header(r, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(header(r, "accept").as_deref(), Some("application/json"));
    assert_eq!(
        header(r, "user-agent").as_deref(),
        Some(expected.user_agent)
    );
    for (name, value) in expected.headers {
        assert_eq!(header(r, name).as_deref(), *value, "header {name}");
    }
    match &expected.body {
        Some(body) => assert_eq!(&json_body(r), body),
        None => assert!(r.body.is_empty(), "no body expected"),
    }
}

/// `r`'s body parsed as JSON; panics (failing the test) if it is not JSON.
pub fn json_body(r: &Request) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&r.body)))
}

/// Every way `e` is shown: Display, Debug and JSON, space-separated, for "the secret never
/// shows" checks.
pub fn renderings(e: &optout_core::Error) -> String {
    let json = serde_json::to_string(e).expect("an error serializes");
    format!("{e} {e:?} {json}")
}

/// Asserts that `planned` (a dry run's request) is `received` (what the real call sent):
/// method, URL, headers and body equal, except where the plan shows `<redacted>` (a query
/// value, a header value, a JSON or form field), and for the headers the HTTP library adds
/// (`host`, `content-length` unless the client set it). Then asserts none of `secrets`
/// shows in the plan's `Display`, `Debug` or JSON.
pub fn assert_planned_as_received(
    planned: &optout_core::PlannedRequest,
    received: &Request,
    secrets: &[&str],
) {
    use optout_core::plan::REDACTED_VALUE;
    let same = |shown: &str, sent: &str| shown == REDACTED_VALUE || shown == sent;
    assert_eq!(planned.method, received.method.as_str(), "method");
    // The URL: up to the query as it is, then each query pair.
    let (shown_base, shown_query) = planned
        .url
        .split_once('?')
        .map_or((planned.url.as_str(), None), |(b, q)| (b, Some(q)));
    // wiremock names every server `localhost`: the path is compared, as sent.
    let after_scheme = shown_base.find("://").map_or(0, |i| i + 3);
    let shown_path = shown_base[after_scheme..]
        .find('/')
        .map_or("/", |i| &shown_base[after_scheme + i..]);
    assert_eq!(shown_path, received.url.path(), "URL path");
    let pairs = |q: &str| -> Vec<(String, String)> {
        q.split('&')
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    match (shown_query, received.url.query()) {
        (None, None) => {}
        (Some(shown), Some(sent)) => {
            let (shown, sent) = (pairs(shown), pairs(sent));
            assert_eq!(shown.len(), sent.len(), "query {shown:?} vs {sent:?}");
            for ((sk, sv), (rk, rv)) in shown.iter().zip(&sent) {
                assert_eq!(sk, rk, "query key");
                assert!(same(sv, rv), "query {sk}: {sv} vs {rv}");
            }
        }
        (shown, sent) => panic!("query: planned {shown:?}, sent {sent:?}"),
    }
    // The headers.
    for (name, value) in &planned.headers {
        let sent = header(received, name).unwrap_or_else(|| panic!("{name} was not sent"));
        assert!(same(value, &sent), "header {name}: {value} vs {sent}");
    }
    let added = ["host", "content-length"];
    for name in received.headers.keys() {
        assert!(
            planned.header(name.as_str()).is_some() || added.contains(&name.as_str()),
            "{name} was sent but is not in the plan"
        );
    }
    // The body.
    let sent_body = String::from_utf8(received.body.clone()).unwrap();
    match (&planned.body, sent_body.is_empty()) {
        (None, true) => {}
        (None, false) => panic!("a body was sent but none planned: {sent_body}"),
        (Some(shown), _) if !shown.contains(REDACTED_VALUE) => {
            assert_eq!(shown, &sent_body, "body")
        }
        (Some(shown), _) => match (
            serde_json::from_str(shown),
            serde_json::from_str(&sent_body),
        ) {
            (Ok(shown), Ok(sent)) => assert_json_redacted(&shown, &sent),
            _ => {
                let (shown, sent) = (pairs(shown), pairs(&sent_body));
                assert_eq!(shown.len(), sent.len(), "form {shown:?} vs {sent:?}");
                for ((sk, sv), (rk, rv)) in shown.iter().zip(&sent) {
                    assert_eq!(sk, rk);
                    assert!(same(sv, rv), "form {sk}");
                }
            }
        },
    }
    let all = format!(
        "{planned} {planned:?} {}",
        serde_json::to_string(planned).unwrap()
    );
    for secret in secrets {
        assert!(!all.contains(secret), "{secret} shows in the plan: {all}");
    }
}

/// `shown` is `sent` with some string values `<redacted>`.
fn assert_json_redacted(shown: &Value, sent: &Value) {
    match (shown, sent) {
        (Value::String(s), Value::String(_)) if s == optout_core::plan::REDACTED_VALUE => {}
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(a.len(), b.len(), "{shown} vs {sent}");
            for (k, v) in a {
                assert_json_redacted(v, b.get(k).unwrap_or_else(|| panic!("{k} not sent")));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len());
            a.iter()
                .zip(b)
                .for_each(|(a, b)| assert_json_redacted(a, b));
        }
        _ => assert_eq!(shown, sent),
    }
}
