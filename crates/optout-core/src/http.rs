//! The HTTP plumbing every provider client shares: one connection pool per client, base-URL
//! checks, timeouts, the `User-Agent`, secret-safe errors, and the retry loop.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::rate::{Governor, RateLimit};
use crate::rate_share::{account_key, Shared};
use crate::retry::{wait_from_headers, Decision, RetryPolicy};
pub use crate::scrub::earlier_attempt_may_have_applied;
use crate::scrub::{bound, with_decoding, Scrubber, REDACTED};
use crate::{Error, ErrorKind, Outcome, Provider};

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
    /// The account's rate limit, shared by every request of the client and its clones. `None`:
    /// the provider's published limit ([`RateLimit::published`]) against its production URL
    /// when `default_rate_limit` is set, otherwise only what the provider's answers say.
    pub rate_limit: Option<RateLimit>,
    /// Whether `rate_limit: None` means the provider's published limit (the default) rather
    /// than no configured limit.
    pub default_rate_limit: bool,
    /// Where the rate limit is shared with other processes sending with the same account
    /// (the PostgreSQL outbox store): every request also takes its slot there. `None`: this
    /// client (and its clones) keeps to the limit on its own.
    pub rate_share: Option<Arc<dyn crate::RateShare>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            client: None,
            rate_limit: None,
            default_rate_limit: true,
            rate_share: None,
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
/// `max_retries`, `http_client`, `rate_limit`, `rate_share`, `no_rate_limit`, `http_config`) to a provider's builder, which must have a field
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

        /// Spends at most `limit` (e.g. `RateLimit::per(190, Duration::from_secs(10))`, or
        /// `"190/10s".parse()?`) across every request of this client and its clones: request
        /// starts are spaced evenly, and a 429 pauses them all until the provider's
        /// `Retry-After` or window has passed. By default the provider's published limit
        /// applies against its production API ([`RateLimit::published`]).
        pub fn rate_limit(mut self, limit: $crate::RateLimit) -> Self {
            self.http.rate_limit = Some(limit);
            self
        }

        /// Shares the rate limit with every other process sending with the same account
        /// through `share` (e.g. the PostgreSQL outbox store's): each request takes its slot
        /// there too, keyed by the provider and a fingerprint of the account, never a secret.
        /// If `share` cannot be reached, the client keeps to the limit on its own after one
        /// warning.
        pub fn rate_share(mut self, share: ::std::sync::Arc<dyn $crate::RateShare>) -> Self {
            self.http.rate_share = Some(share);
            self
        }

        /// No configured rate limit, not even the provider's published one: requests go as
        /// fast as they are sent, and only the provider's 429s and rate headers slow them.
        pub fn no_rate_limit(mut self) -> Self {
            self.http.rate_limit = None;
            self.http.default_rate_limit = false;
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
    /// The credentials' forms, scrubbed from every error that leaves the client.
    scrubber: Arc<Scrubber>,
    /// The limit in force when built (the provider's answers may lower it).
    rate_limit: Option<RateLimit>,
    /// The rate governor, shared by the clones.
    governor: Arc<Governor>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("base_url", &self.base.as_str())
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
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
        // Published limits are the production API's: a sandbox or a proxy has its own.
        let production = config.base_url.is_none()
            || parse_base_url(provider, default_base).is_ok_and(|d| d == base);
        let rate_limit = match config.rate_limit {
            Some(limit) => Some(limit),
            None if config.default_rate_limit && production => RateLimit::published(provider),
            None => None,
        };
        if config.client.is_none() {
            check_tls(provider, &base, TLS_BUILT_IN)?;
        }
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
        let shared = config
            .rate_share
            .map(|share| Shared::new(share, account_key(provider, &base, &secrets)));
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
            scrubber: Arc::new(Scrubber::new(&secrets)),
            rate_limit,
            governor: Arc::new(
                Governor::new(provider, rate_limit, config.retry.retry_after_cap()).shared(shared),
            ),
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

    /// The rate limit configured when the client was built (`None`: none; the provider's
    /// answers may still slow the client down).
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// The base URL with `segments` appended, each percent-encoded as exactly one segment as
    /// RFC 3986 requires: every byte but the unreserved `A-Za-z0-9-._~` is escaped (so an id
    /// like `a b/c?d` stays one segment, `a%20b%2Fc%3Fd`, and `| ^ [ ]` go out as `%7C %5E
    /// %5B %5D`, which some servers refuse raw).
    pub fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        let base = self.base.path().trim_end_matches('/');
        let mut path =
            String::with_capacity(base.len() + segments.iter().map(|s| s.len() + 1).sum::<usize>());
        path.push_str(base);
        for segment in segments {
            path.push('/');
            encode_segment(segment, &mut path);
        }
        // Only unreserved characters and `%XX` escapes: `set_path` keeps them as they are.
        url.set_path(&path);
        url
    }

    /// Sends `request`, retrying as the policy says, and hands each answer to `decode`.
    ///
    /// `decode` turns a response into the result or an [`Error`] (usually
    /// [`Error::api`] with the provider's code and message). `Retry-After` and
    /// `RateLimit-Reset` are read here. The final error records how many attempts were made.
    ///
    /// Credentials never leave in an error, whatever path made it: every [`Error`] built while
    /// `decode` runs (per-item errors inside a result too) is scrubbed where its text is set,
    /// before any cut, and every error `send` returns is scrubbed again on its way out.
    ///
    /// Each [`Response`] says whether an earlier attempt may have applied the change
    /// ([`Response::earlier_attempt_may_have_applied`]).
    pub async fn send<T>(
        &self,
        request: Request,
        decode: impl Fn(Response<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        // A dry run: the request this call would send, recorded instead of sent.
        if let Some(not_sent) =
            crate::plan::intercept(self.provider, || self.outgoing(&request), &self.scrubber)
        {
            return Err(not_sent);
        }
        let started = Instant::now();
        let mut attempt = 0;
        let mut may_have_applied = false;
        loop {
            attempt += 1;
            let mut error = match self.attempt(&request, &decode, may_have_applied).await {
                Ok(value) => return Ok(value),
                Err((error, applied)) => {
                    may_have_applied |= applied;
                    error
                }
            };
            error.scrub(&self.scrubber);
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

    /// What goes on the wire for `request`: the one place a request is built, for a real
    /// send and for a dry run's plan alike.
    fn outgoing(&self, request: &Request) -> reqwest::Request {
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
        outgoing
    }

    /// One attempt. A failure comes with whether this attempt may have applied the change.
    async fn attempt<T>(
        &self,
        request: &Request,
        decode: &impl Fn(Response<'_>) -> Result<T, Error>,
        earlier_attempt_may_have_applied: bool,
    ) -> Result<T, (Error, bool)> {
        self.governor.acquire().await;
        let outgoing = self.outgoing(request);
        // A connection that never opened carried nothing; any other failure may have come
        // after the request reached the provider.
        let network = |e: reqwest::Error| {
            let sent = !e.is_connect();
            (Error::network(self.provider, e), sent)
        };
        let mut response = self.client.execute(outgoing).await.map_err(network)?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        // A body that arrives in one chunk (most answers) is read where it arrived; one in
        // several chunks is copied into one buffer.
        let expected = response.content_length();
        let mut first: Option<Bytes> = None;
        let mut joined = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            let so_far = first.as_deref().unwrap_or(&joined);
            if so_far.len() + chunk.len() > MAX_BODY {
                let error = with_decoding(&self.scrubber, earlier_attempt_may_have_applied, || {
                    Error::decode(
                        self.provider,
                        status.as_u16(),
                        format!("the body is larger than {MAX_BODY} bytes"),
                        so_far,
                    )
                });
                return Err((error, status.is_success() || status.is_server_error()));
            }
            if first.is_none() && joined.is_empty() {
                first = Some(chunk);
                continue;
            }
            if let Some(first) = first.take() {
                joined.reserve(expected.map_or(first.len() + chunk.len(), |n| {
                    n.min(MAX_BODY as u64) as usize
                }));
                joined.extend_from_slice(&first);
            }
            joined.extend_from_slice(&chunk);
        }
        let body: &[u8] = first.as_deref().unwrap_or(&joined);
        tracing::trace!(provider = %self.provider, path = request.url.path(), status = status.as_u16(), "answer");
        let decoded = with_decoding(&self.scrubber, earlier_attempt_may_have_applied, || {
            decode(Response {
                status,
                headers: &headers,
                body,
                earlier_attempt_may_have_applied,
            })
        });
        let decoded = decoded.map_err(|mut error| {
            if error.is_retryable() && error.retry_after().is_none() {
                if let Some(wait) = wait_from_headers(&headers, SystemTime::now()) {
                    error = error.with_retry_after(wait);
                }
            }
            error
        });
        self.governor
            .observe(status, &headers, decoded.as_ref().err());
        decoded.map_err(|error| {
            // A 5xx or an answer that could not be read may follow a change that was made;
            // a refusal (4xx, 429) did not make one.
            let applied = matches!(
                error.kind(),
                ErrorKind::Server | ErrorKind::Decode | ErrorKind::Timeout | ErrorKind::Network
            ) && status != StatusCode::REQUEST_TIMEOUT;
            (error, applied)
        })
    }
}

/// Whether this build can speak TLS (the `rustls` or `native-tls` feature).
const TLS_BUILT_IN: bool = cfg!(any(feature = "rustls", feature = "native-tls"));

/// Refuses an `https` base URL when the build has no TLS (`tls` is false): every request would
/// fail as a network error that no retry can fix.
fn check_tls(provider: Provider, base: &Url, tls: bool) -> Result<(), Error> {
    if tls || base.scheme() != "https" {
        return Ok(());
    }
    Err(Error::config(format!(
        "the base URL for {provider} is https, but this build has no TLS: enable the `rustls` \
         or `native-tls` feature of optout (or of optout-core), or use an http URL"
    )))
}

/// RFC 3986's path segment encoding: every byte but the unreserved `A-Za-z0-9-._~` as `%XX`.
fn encode_segment(segment: &str, out: &mut String) {
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
fn shown_url(text: &str) -> String {
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
    use crate::{snippet, ErrorKind};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// The test client's key: 24 characters, as long as a real one.
    const SECRET: &str = "s3cr3t-0123456789abcdefg";

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
            vec![SecretString::from(SECRET)],
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
            earlier_attempt_may_have_applied: false,
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
            .respond_with(
                ResponseTemplate::new(500).set_body_string(format!("key {SECRET} refused")),
            )
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
        assert!(!format!("{err} {err:?}").contains(SECRET));
    }

    /// `POST {base}/x` through `c`, decoded as JSON with a required `ok` field.
    async fn post_x_json(c: &HttpClient) -> Result<bool, Error> {
        #[derive(Deserialize)]
        struct Answer {
            ok: bool,
        }
        c.send(Request::new(Method::POST, c.endpoint(&["x"])), |r| {
            r.json::<Answer>(Provider::Pushy).map(|a| a.ok)
        })
        .await
    }

    #[tokio::test]
    async fn a_garbled_200_is_retried_within_the_run() {
        // Was sent once and reported "not retryable", though every such row succeeded on a
        // rerun: the request went out, its effect is unknown, and repeating it is harmless.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string("<html>oops"))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"other":1}"#))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"ok":true}"#))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::default().max_retries(3));
        assert!(post_x_json(&c).await.unwrap());
    }

    #[tokio::test]
    async fn a_garbled_200_that_stays_garbled_gives_up_retryable() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"other":1}"#))
            .expect(3)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::default().max_retries(2));
        let err = post_x_json(&c).await.unwrap_err();
        assert_eq!((err.kind(), err.status()), (ErrorKind::Decode, Some(200)));
        assert!(err.is_retryable() && err.was_sent(), "{err}");
        assert_eq!(err.attempts(), 3);
        assert!(err.to_string().contains("missing field `ok`"), "{err}");
    }

    #[tokio::test]
    async fn a_garbled_4xx_error_body_is_not_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_string("<html>"))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::default().max_retries(3));
        let err = post_x_json(&c).await.unwrap_err();
        assert_eq!((err.kind(), err.status()), (ErrorKind::Decode, Some(400)));
        assert!(!err.is_retryable(), "{err}");
        assert_eq!(err.attempts(), 1);
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

    #[tokio::test]
    async fn connection_refused_is_a_network_error_without_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let c = client(&format!("http://{addr}"), RetryPolicy::none());
        let mut url = c.endpoint(&["x"]);
        url.query_pairs_mut().append_pair("api_key", SECRET);
        let err = c
            .send(Request::new(Method::POST, url), decode_status)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Network);
        assert!(err.is_retryable());
        let all = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
        assert!(!all.contains(SECRET), "{all}");
        assert!(!all.contains("api_key"), "{all}");
    }

    /// What every error text of `err` shows: `Display`, `Debug` and JSON.
    fn all_text(err: &Error) -> String {
        format!("{err} {err:?} {}", serde_json::to_string(err).unwrap())
    }

    #[tokio::test]
    async fn an_oversized_answer_is_scrubbed_before_it_is_quoted() {
        let server = MockServer::start().await;
        let body = format!("api_key={SECRET}&{}", "x".repeat(MAX_BODY));
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::none());
        let err = post_x(&c).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        let text = all_text(&err);
        assert!(!text.contains(&SECRET[..8]), "{text}");
        assert!(text.contains("api_key=[REDACTED]"), "{text}");
    }

    #[tokio::test]
    async fn a_key_straddling_the_snippet_cut_is_scrubbed_whole() {
        let server = MockServer::start().await;
        // The 160-character snippet ends 10 characters into the key.
        let body = format!("<html>{} {SECRET}</html>", "x".repeat(143));
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(502).set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::none());
        let decode = |r: Response<'_>| {
            Err::<(), _>(
                Error::api(Provider::Pushy, r.status.as_u16()).with_message(snippet(r.body)),
            )
        };
        let err = c
            .send(Request::new(Method::POST, c.endpoint(&["x"])), decode)
            .await
            .unwrap_err();
        let text = all_text(&err);
        assert!(!text.contains(&SECRET[..8]), "{text}");
        assert!(text.contains("[REDACTED]"), "{text}");
    }

    #[tokio::test]
    async fn errors_inside_a_decoded_result_are_scrubbed() {
        // Like Novu's per-item errors: built by the decoder, returned inside `Ok`.
        let server = MockServer::start().await;
        let body = format!(r#"{{"errors":[{{"message":"ApiKey {SECRET} is not valid"}}]}}"#);
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::none());
        let decode = |r: Response<'_>| {
            let v: serde_json::Value = r.json(Provider::Novu)?;
            let message = v["errors"][0]["message"].as_str().unwrap_or_default();
            Ok(vec![Err::<(), _>(
                Error::api(Provider::Novu, 404).with_message(message),
            )])
        };
        let items = c
            .send(Request::new(Method::POST, c.endpoint(&["x"])), decode)
            .await
            .unwrap();
        let err = items[0].as_ref().unwrap_err();
        let text = all_text(err);
        assert!(!text.contains(&SECRET[..8]), "{text}");
        assert_eq!(err.message(), Some("ApiKey [REDACTED] is not valid"));
    }

    #[tokio::test]
    async fn a_short_credential_does_not_mangle_messages() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(401).set_body_string("Authentication failed"))
            .expect(1)
            .mount(&server)
            .await;
        let config = HttpConfig {
            base_url: Some(server.uri()),
            retry: RetryPolicy::none(),
            ..HttpConfig::default()
        };
        let c = HttpClient::new(
            Provider::Pushy,
            config,
            "https://api.pushy.me",
            "optout-test/0.0.0",
            HeaderMap::new(),
            vec![SecretString::from("t"), SecretString::from("x")],
        )
        .unwrap();
        let err = post_x(&c).await.unwrap_err();
        assert_eq!(err.message(), Some("Authentication failed"));
    }

    #[tokio::test]
    async fn provider_text_cannot_forge_lines_or_grow_without_bound() {
        let server = MockServer::start().await;
        let body = format!(
            "bad\n20000 unsubscribed, 0 already, 0 failed\x1b[2K\r{}",
            "y".repeat(900_000)
        );
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::none());
        let err = post_x(&c).await.unwrap_err();
        let line = err.to_string();
        assert!(!line.contains(['\n', '\r', '\x1b']), "{line:?}");
        assert!(line.contains("bad\\n20000 unsubscribed"), "{line}");
        let message = err.message().unwrap();
        // 500 characters of the provider's text, a few of them escaped, and the ellipsis.
        assert!(message.chars().count() < crate::scrub::MAX_TEXT_CHARS + 20);
        assert!(message.ends_with('…'));
        assert!(serde_json::to_string(&err).unwrap().len() < 2_000);
    }

    #[test]
    fn a_base_url_is_shown_without_credentials_or_query() {
        for (bad, secret) in [
            ("http://user:hunter2-password@[::1", "hunter2"),
            ("ftp://user:hunter2-password@h/", "hunter2"),
            ("http://h/?api_key=0123456789abcdef", "0123456789"),
            ("http://h/p#api_key=0123456789abcdef", "0123456789"),
            ("http://u:hunter2-password@h/?q=1", "hunter2"),
        ] {
            let err = parse_base_url(Provider::Pushy, bad).unwrap_err();
            let text = all_text(&err);
            assert!(!text.contains(secret), "{text}");
            assert!(text.contains("[REDACTED]"), "{text}");
            assert!(text.contains("PUSHY_BASE_URL"), "{text}");
        }
        assert_eq!(
            shown_url("http://u:p@h:1/a?b#c"),
            "http://[REDACTED]@h:1/a?[REDACTED]"
        );
        assert_eq!(shown_url("not a url"), "not a url");
    }

    #[tokio::test]
    async fn path_segments_are_encoded_as_rfc_3986_requires() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&format!("{}/base/", server.uri()), RetryPolicy::none());
        let url = c.endpoint(&["v1", "a|b^c[d]e f/g?h#i%j~k-l.m_n", "é"]);
        c.send(Request::new(Method::POST, url), decode_status)
            .await
            .unwrap();
        let received = server.received_requests().await.unwrap();
        assert_eq!(
            received[0].url.path(),
            "/base/v1/a%7Cb%5Ec%5Bd%5De%20f%2Fg%3Fh%23i%25j~k-l.m_n/%C3%A9"
        );
        assert_eq!(received[0].url.query(), None);
    }

    #[test]
    fn an_https_base_url_needs_a_tls_feature() {
        let https = Url::parse("https://api.pushy.me").unwrap();
        let http = Url::parse("http://127.0.0.1:8025").unwrap();
        let err = check_tls(Provider::Pushy, &https, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let text = err.to_string();
        assert!(
            text.contains("`rustls`") && text.contains("`native-tls`"),
            "{text}"
        );
        assert!(check_tls(Provider::Pushy, &https, true).is_ok());
        assert!(check_tls(Provider::Pushy, &http, false).is_ok());
    }

    #[cfg(not(any(feature = "rustls", feature = "native-tls")))]
    #[test]
    fn without_tls_an_https_client_is_refused_when_built() {
        let err = HttpClient::new(
            Provider::Pushy,
            HttpConfig::default(),
            "https://api.pushy.me",
            "optout-test/0.0.0",
            HeaderMap::new(),
            vec![],
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("rustls"), "{err}");
    }

    /// A loopback server that reads the first request and closes the connection without an
    /// answer (the answer is lost after the request went out), then answers every later
    /// request with `status` and `body`.
    async fn drops_the_first_answer(status: u16, body: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut first = true;
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                if std::mem::take(&mut first) {
                    drop(socket);
                    continue;
                }
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        format!("http://{addr}")
    }

    fn already_on_400(r: Response<'_>) -> Result<Outcome, Error> {
        match r.status.as_u16() {
            200 => Ok(Outcome::Unsubscribed),
            400 => Ok(r.already_unsubscribed()),
            status => Err(Error::api(Provider::HubSpot, status)),
        }
    }

    #[tokio::test]
    async fn already_after_a_lost_answer_is_reported_as_unsubscribed() {
        let base = drops_the_first_answer(400, "already unsubscribed").await;
        let c = client(&base, RetryPolicy::default());
        let outcome = c
            .send(
                Request::new(Method::POST, c.endpoint(&["x"])),
                already_on_400,
            )
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Unsubscribed);
    }

    #[tokio::test]
    async fn already_is_already_when_no_earlier_attempt_may_have_applied() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::default());
        let outcome = c
            .send(
                Request::new(Method::POST, c.endpoint(&["x"])),
                already_on_400,
            )
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Outcome::AlreadyUnsubscribed,
            "a 429 changed nothing"
        );
    }

    #[tokio::test]
    async fn already_after_a_5xx_is_reported_as_unsubscribed() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(502))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server.uri(), RetryPolicy::default());
        let outcome = c
            .send(
                Request::new(Method::POST, c.endpoint(&["x"])),
                already_on_400,
            )
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Unsubscribed);
    }

    #[tokio::test]
    async fn a_429_pauses_every_clone_of_the_client() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // 429 with `Retry-After: 1` to every request in the first 900 ms, 200 after.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut first: Option<std::time::Instant> = None;
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let since = first.get_or_insert_with(std::time::Instant::now).elapsed();
                let answer = if since < Duration::from_millis(900) {
                    "HTTP/1.1 429 X\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                };
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        let a = client(&format!("http://{addr}"), RetryPolicy::none());
        let b = a.clone();
        let err = post_x(&a).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        // Sent at once by another holder of the client: held until the provider's window
        // has passed, then answered, with no retry of its own.
        assert_eq!(post_x(&b).await.unwrap(), 200);
    }

    #[cfg(any(feature = "rustls", feature = "native-tls"))]
    #[test]
    fn published_limits_apply_to_the_production_api_only() {
        let build = |base: Option<&str>, limit: Option<RateLimit>, default: bool| {
            let config = HttpConfig {
                base_url: base.map(str::to_owned),
                rate_limit: limit,
                default_rate_limit: default,
                ..HttpConfig::default()
            };
            HttpClient::new(
                Provider::HubSpot,
                config,
                "https://api.hubapi.com",
                "optout-test/0.0.0",
                HeaderMap::new(),
                vec![],
            )
            .unwrap()
            .rate_limit()
        };
        let published = RateLimit::published(Provider::HubSpot);
        assert_eq!(build(None, None, true), published);
        assert_eq!(
            build(Some("https://api.hubapi.com/"), None, true),
            published
        );
        assert_eq!(build(Some("http://127.0.0.1:8025"), None, true), None);
        assert_eq!(build(None, None, false), None);
        let starter = RateLimit::per(100, Duration::from_secs(10));
        assert_eq!(
            build(Some("http://127.0.0.1:8025"), Some(starter), true),
            Some(starter)
        );
    }
}
