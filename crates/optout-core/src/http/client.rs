//! [`HttpClient`], a provider's connection to its API: the connection pool, the rate governor,
//! the retry loop, and the secret-safe errors of every attempt.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use reqwest::StatusCode;
use secrecy::SecretString;
use url::Url;

use super::url::{encode_segment, parse_base_url};
use super::{HttpConfig, Request, Response, MAX_BODY};
use crate::rate::{Governor, RateLimit};
use crate::rate_share::{account_key, Shared};
use crate::retry::{wait_from_headers, Decision, RetryPolicy};
use crate::scrub::{with_decoding, Scrubber};
use crate::{Error, ErrorKind, Provider};

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
    /// credentials with [`secret_header`](super::secret_header)), and `secrets` every
    /// credential, which are scrubbed from any text the provider sends back.
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
            error.answered_with(status.as_u16());
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
pub(super) const TLS_BUILT_IN: bool = cfg!(any(feature = "rustls", feature = "native-tls"));

/// Refuses an `https` base URL when the build has no TLS (`tls` is false): every request would
/// fail as a network error that no retry can fix.
pub(super) fn check_tls(provider: Provider, base: &Url, tls: bool) -> Result<(), Error> {
    if tls || base.scheme() != "https" {
        return Ok(());
    }
    Err(Error::config(format!(
        "the base URL for {provider} is https, but this build has no TLS: enable the `rustls` \
         or `native-tls` feature of optout (or of optout-core), or use an http URL"
    )))
}
