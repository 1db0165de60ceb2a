//! The HTTP plumbing every provider client shares: one connection pool per client, base-URL
//! checks, timeouts, the `User-Agent`, secret-safe errors, and the retry loop.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::retry::{wait_from_headers, Decision, RetryPolicy};
use crate::{Error, Provider};

/// Default time for one attempt, from sending to the end of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest response body read; a larger one is a decode error. Every documented answer
/// is well under 64 KiB.
pub const MAX_BODY: usize = 1 << 20;

/// Settings every provider client shares. Provider builders hold one and expose its setters
/// (see [`http_builder_methods!`](crate::http_builder_methods)).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Overrides the provider's base URL (a sandbox, a proxy, the EU region).
    pub base_url: Option<String>,
    /// Time for one attempt.
    pub timeout: Duration,
    /// Time to open a connection (ignored when `client` is given: set it on that client).
    pub connect_timeout: Duration,
    /// When to retry.
    pub retry: RetryPolicy,
    /// A client to share, so that several provider clients use one connection pool.
    pub client: Option<reqwest::Client>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            client: None,
        }
    }
}

impl HttpConfig {
    /// Defaults, with the base URL from `<PROVIDER>_BASE_URL` when it is set and not empty.
    pub fn from_env(provider: Provider) -> Self {
        HttpConfig {
            base_url: optional_env(&format!("{}_BASE_URL", provider.env_prefix())),
            ..HttpConfig::default()
        }
    }
}

/// Adds the shared setters (`base_url`, `timeout`, `connect_timeout`, `retry_policy`,
/// `max_retries`, `http_client`) to a provider's builder, which must have a field
/// `http: optout_core::HttpConfig`. Written once here so that every provider's builder reads
/// the same.
#[macro_export]
macro_rules! http_builder_methods {
    () => {
        /// Sends to this base URL instead of the provider's (a sandbox, a proxy). It must be an
        /// `http` or `https` URL without query or fragment; checked by `build()`.
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.http.base_url = Some(url.into());
            self
        }

        /// Time allowed for one attempt (default 30 s).
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.http.timeout = timeout;
            self
        }

        /// Time allowed to open a connection (default 5 s).
        pub fn connect_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.http.connect_timeout = timeout;
            self
        }

        /// When to retry (default: 3 retries within 60 s).
        pub fn retry_policy(mut self, policy: $crate::RetryPolicy) -> Self {
            self.http.retry = policy;
            self
        }

        /// Shorthand for the number of retries in the retry policy.
        pub fn max_retries(mut self, retries: u32) -> Self {
            self.http.retry = self.http.retry.max_retries(retries);
            self
        }

        /// Shares a `reqwest::Client` (and so its connection pool) with other clients.
        pub fn http_client(mut self, client: $crate::reqwest::Client) -> Self {
            self.http.client = Some(client);
            self
        }

        /// Replaces all the shared HTTP settings at once.
        pub fn http_config(mut self, config: $crate::HttpConfig) -> Self {
            self.http = config;
            self
        }
    };
}

/// One request, ready to send (and to send again: the body is shared, not copied).
///
/// Its `Debug` shows the method, the path and the header names only: the query and header
/// values may hold credentials.
#[derive(Clone)]
pub struct Request {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Bytes>,
    /// The body is JSON: sent with `Content-Type: application/json`.
    json: bool,
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
}

impl<'a> Response<'a> {
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

/// A provider's connection to its API: one `reqwest::Client` (one connection pool), the base
/// URL, the headers every request carries, and the retry policy.
#[derive(Clone)]
pub struct HttpClient {
    provider: Provider,
    client: reqwest::Client,
    base: Url,
    headers: HeaderMap,
    /// `headers` and `Content-Type: application/json`, for requests with a JSON body.
    json_headers: HeaderMap,
    timeout: Duration,
    retry: RetryPolicy,
    secrets: Vec<SecretString>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("base_url", &self.base.as_str())
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Every credential as it may come back in a provider's text: raw, and URL-encoded as a query
/// value (`+` or `%20` for a space, upper- or lower-case hex), since a server that echoes the
/// request URL (Pushy's key is in the query string) echoes the encoded form.
fn with_encoded_forms(secrets: Vec<SecretString>) -> Vec<SecretString> {
    let mut all: Vec<String> = Vec::with_capacity(secrets.len() * 4);
    for secret in &secrets {
        let raw = secret.expose_secret();
        let form: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
        let spaces = form.replace('+', "%20");
        let lower = lower_hex(&spaces);
        for text in [raw.to_string(), form, spaces, lower] {
            if !text.is_empty() && !all.contains(&text) {
                all.push(text);
            }
        }
    }
    // Longest first, so that a form containing another is scrubbed whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.into_iter().map(SecretString::from).collect()
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

impl HttpClient {
    /// Builds the client for `provider`. `default_base` is the provider's production URL,
    /// `user_agent` the crate's `name/version`, `headers` what every request carries (mark
    /// credentials with [`secret_header`]), and `secrets` every credential, which are scrubbed
    /// from any text the provider sends back.
    pub fn new(
        provider: Provider,
        config: HttpConfig,
        default_base: &str,
        user_agent: &'static str,
        mut headers: HeaderMap,
        secrets: Vec<SecretString>,
    ) -> Result<Self, Error> {
        let base = parse_base_url(provider, config.base_url.as_deref().unwrap_or(default_base))?;
        headers.insert(USER_AGENT, HeaderValue::from_static(user_agent));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let client = match config.client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(config.connect_timeout)
                // No redirects: reqwest would resend a POST to a 301/302 target as a GET, and
                // no provider documents a redirect. A 3xx is answered as an error instead.
                .redirect(reqwest::redirect::Policy::none())
                .tcp_nodelay(true)
                .build()
                .map_err(|e| {
                    Error::config(format!("cannot build the HTTP client: {}", e.without_url()))
                })?,
        };
        let mut json_headers = headers.clone();
        json_headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(HttpClient {
            provider,
            client,
            base,
            headers,
            json_headers,
            timeout: config.timeout,
            retry: config.retry,
            secrets: with_encoded_forms(secrets),
        })
    }

    /// The provider this client talks to.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The base URL with `segments` appended, each percent-encoded as exactly one segment
    /// (so an id like `a b/c?d` stays one segment: `a%20b%2Fc%3Fd`).
    pub fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends `request`, retrying as the policy says, and hands each answer to `decode`.
    ///
    /// `decode` turns a response into the result or an [`Error`] (usually
    /// [`Error::api`] with the provider's code and message). `Retry-After` and
    /// `RateLimit-Reset` are read here, and credentials are scrubbed from the error's text.
    /// The final error records how many attempts were made.
    pub async fn send<T>(
        &self,
        request: Request,
        decode: impl Fn(Response<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut error = match self.attempt(&request, &decode).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let decision = self
                .retry
                .decide(&error, attempt, started.elapsed(), fastrand::f64());
            tracing::debug!(
                provider = %self.provider,
                method = %request.method,
                path = request.url.path(),
                attempt,
                error = %error,
                ?decision,
                "attempt failed"
            );
            match decision {
                Decision::RetryAfter(wait) => tokio::time::sleep(wait).await,
                Decision::Stop => {
                    error.set_attempts(attempt);
                    return Err(error);
                }
            }
        }
    }

    async fn attempt<T>(
        &self,
        request: &Request,
        decode: &impl Fn(Response<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        // Built directly rather than through `RequestBuilder`: the shared headers are copied
        // as one prepared map instead of being parsed and inserted one by one every time.
        let mut outgoing = reqwest::Request::new(request.method.clone(), request.url.clone());
        *outgoing.timeout_mut() = Some(self.timeout);
        let headers = outgoing.headers_mut();
        *headers = if request.json {
            self.json_headers.clone()
        } else {
            self.headers.clone()
        };
        for (name, value) in &request.headers {
            headers.insert(name, value.clone());
        }
        *outgoing.body_mut() = request.body.clone().map(reqwest::Body::from);
        let network = |e: reqwest::Error| Error::network(self.provider, e);
        let mut response = self.client.execute(outgoing).await.map_err(network)?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::with_capacity(
            response
                .content_length()
                .map_or(512, |n| n.min(MAX_BODY as u64) as usize),
        );
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(Error::decode(
                    self.provider,
                    status.as_u16(),
                    format!("the body is larger than {MAX_BODY} bytes"),
                    &body,
                ));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::trace!(provider = %self.provider, path = request.url.path(), status = status.as_u16(), "answer");
        decode(Response {
            status,
            headers: &headers,
            body: &body,
        })
        .map_err(|mut error| {
            if error.is_retryable() && error.retry_after().is_none() {
                if let Some(wait) = wait_from_headers(&headers, SystemTime::now()) {
                    error = error.with_retry_after(wait);
                }
            }
            let secrets: Vec<&str> = self.secrets.iter().map(|s| s.expose_secret()).collect();
            error.scrub(&secrets);
            error
        })
    }
}

/// Checks a base URL: `http` or `https`, a host, no credentials, query or fragment.
pub fn parse_base_url(provider: Provider, text: &str) -> Result<Url, Error> {
    let var = format!("{}_BASE_URL", provider.env_prefix());
    let bad = |why: &str| {
        Error::config(format!(
            "base URL {text:?} for {provider} is not usable: {why} (set with --base-url or {var}; \
             expected e.g. http://127.0.0.1:8025)"
        ))
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn client(base: &str, retry: RetryPolicy) -> HttpClient {
        let config = HttpConfig {
            base_url: Some(base.into()),
            retry: retry.backoff(Duration::from_millis(1), Duration::from_millis(2)),
            ..HttpConfig::default()
        };
        HttpClient::new(
            Provider::Pushy,
            config,
            "https://api.pushy.me",
            "optout-test/0.0.0",
            HeaderMap::new(),
            vec![SecretString::from("s3cr3t")],
        )
        .unwrap()
    }

    /// `POST {base}/x` through `c`, decoded by [`decode_status`].
    async fn post_x(c: &HttpClient) -> Result<u16, Error> {
        c.send(
            Request::new(Method::POST, c.endpoint(&["x"])),
            decode_status,
        )
        .await
    }

    fn decode_status(r: Response<'_>) -> Result<u16, Error> {
        if r.status.is_success() {
            Ok(r.status.as_u16())
        } else {
            Err(Error::api(Provider::Pushy, r.status.as_u16())
                .with_message(String::from_utf8_lossy(r.body).into_owned()))
        }
    }

    #[test]
    fn bodies_decode_the_same_whether_or_not_they_are_utf8() {
        let headers = HeaderMap::new();
        let response = |body: &'static [u8]| Response {
            status: StatusCode::OK,
            headers: &headers,
            body,
        };
        let text = response("{\"name\":\"caf\u{e9} \\u00e9\"}".as_bytes());
        let value: serde_json::Value = text.json(Provider::Novu).unwrap();
        assert_eq!(value["name"], "caf\u{e9} \u{e9}");
        assert_eq!(text.try_json::<serde_json::Value>(), Some(value));

        // Not UTF-8: the same decode error as `from_slice` gives, quoting a snippet.
        let bad = response(b"{\"name\":\"caf\xe9\"}");
        let err = bad.json::<serde_json::Value>(Provider::Novu).unwrap_err();
        assert_eq!((err.kind(), err.status()), (ErrorKind::Decode, Some(200)));
        assert!(err.to_string().contains("not JSON"), "{err}");
        assert_eq!(bad.try_json::<serde_json::Value>(), None);
    }

    #[test]
    fn base_urls_are_checked_when_the_client_is_built() {
        for bad in [
            "ftp://x",
            "not a url",
            "http://u:p@host",
            "http://h/?q=1",
            "http://h/#f",
        ] {
            let err = parse_base_url(Provider::Novu, bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
            assert!(err.to_string().contains("NOVU_BASE_URL"), "{err}");
        }
        assert!(parse_base_url(Provider::Novu, "http://127.0.0.1:9/prefix").is_ok());
    }

    #[test]
    fn endpoint_keeps_each_id_one_segment() {
        let c = client("http://127.0.0.1:9/base/", RetryPolicy::none());
        assert_eq!(
            c.endpoint(&["v1", "topics", "a b/c?d", "unsubscribe"])
                .as_str(),
            "http://127.0.0.1:9/base/v1/topics/a%20b%2Fc%3Fd/unsubscribe"
        );
        let c = client("http://127.0.0.1:9", RetryPolicy::none());
        assert_eq!(c.endpoint(&["x"]).as_str(), "http://127.0.0.1:9/x");
    }

    #[test]
    fn secret_headers_are_sensitive_and_errors_name_only_the_variable() {
        let v = secret_header("Bearer", &SecretString::from("tok"), "X_TOKEN").unwrap();
        assert!(v.is_sensitive());
        let err =
            secret_header("Bearer", &SecretString::from("bad\nsecret"), "X_TOKEN").unwrap_err();
        assert!(err.to_string().contains("X_TOKEN"));
        assert!(!err.to_string().contains("secret"));
    }

    #[tokio::test]
    async fn retries_until_success_and_sends_the_shared_headers() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/x"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(2)
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/x"))
            .and(wiremock::matchers::header(
                "user-agent",
                "optout-test/0.0.0",
            ))
            .and(wiremock::matchers::header("accept", "application/json"))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::default());
        let got = post_x(&c).await.unwrap();
        assert_eq!(got, 200);
    }

    #[tokio::test]
    async fn gives_up_with_the_attempt_count_and_scrubs_secrets() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_string("key s3cr3t refused"))
            .expect(3)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::default().max_retries(2));
        let err = post_x(&c).await.unwrap_err();
        assert_eq!(err.attempts(), 3);
        assert!(
            err.to_string().contains("gave up after 3 attempts"),
            "{err}"
        );
        assert!(!format!("{err} {err:?}").contains("s3cr3t"));
    }

    #[tokio::test]
    async fn a_redirect_is_an_error_and_is_not_followed() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(301).insert_header("location", format!("{}/y", server.uri())),
            )
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::none());
        let err = post_x(&c).await.unwrap_err();
        assert_eq!((err.kind(), err.status()), (ErrorKind::Rejected, Some(301)));
        assert!(!err.is_retryable());
    }

    #[test]
    fn secrets_are_scrubbed_raw_and_url_encoded() {
        let forms = with_encoded_forms(vec![SecretString::from("k y+/é")]);
        let forms: Vec<&str> = forms.iter().map(|s| s.expose_secret()).collect();
        assert_eq!(
            forms,
            [
                "k%20y%2B%2F%C3%A9",
                "k%20y%2b%2f%c3%a9",
                "k+y%2B%2F%C3%A9",
                "k y+/é"
            ]
        );
    }

    #[tokio::test]
    async fn connection_refused_is_a_network_error_without_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let c = client(&format!("http://{addr}"), RetryPolicy::none());
        let mut url = c.endpoint(&["x"]);
        url.query_pairs_mut().append_pair("api_key", "s3cr3t");
        let err = c
            .send(Request::new(Method::POST, url), decode_status)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Network);
        assert!(err.is_retryable());
        let all = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
        assert!(!all.contains("s3cr3t"), "{all}");
        assert!(!all.contains("api_key"), "{all}");
    }
}
