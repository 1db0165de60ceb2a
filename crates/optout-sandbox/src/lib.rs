//! A loopback emulator of the Migma, Novu, Pushy, Mobivate and HubSpot unsubscribe APIs, for
//! demos and tests.
//!
//! One server on `127.0.0.1` answers all five APIs on their real paths, with their own bodies,
//! status codes and "already unsubscribed" answers. It is written from the providers' docs,
//! not from optout's clients, so a wire mistake in a client shows up as a failing test.
//!
//! ```
//! use optout_sandbox::{Api, Sandbox};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::start().await?; // 127.0.0.1, a free port
//! let base_url = sandbox.base_url(); // e.g. "http://127.0.0.1:49152": point any client here
//! // ... send `POST {base_url}/communication-preferences/v3/unsubscribe` ...
//! assert!(sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "123"));
//! sandbox.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! * The world is open by default: every topic exists and everyone is subscribed to everything
//!   until unsubscribed. A [`Seed`] closes a provider's world (see [`world`]).
//! * Any non-empty credential in the provider's scheme is accepted unless a key is configured
//!   with [`SandboxBuilder::key`]. Mobivate signatures are checked against
//!   [`SandboxBuilder::mobivate_account_id`] (default [`DEFAULT_MOBIVATE_ACCOUNT_ID`]).
//! * [`Faults`] inject 429s, 503s, latency and malformed bodies, from the start or at runtime.
//! * It only binds loopback addresses.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::{middleware, Router};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod faults;
mod hubspot;
mod migma;
mod mobivate;
mod novu;
mod pushy;
mod rate;
mod server;
mod util;
pub mod world;

pub use faults::Faults;
pub use rate::RateLimit;
pub use world::{ApiSeed, Seed, SeedSubscription};

/// The account id Mobivate's docs use in their signature example.
pub const DEFAULT_MOBIVATE_ACCOUNT_ID: &str = "43e36f54eef111e270639871000000f1";

/// One of the five emulated APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Api {
    /// Migma: `POST /v1/topics/{id}/unsubscribe`.
    Migma,
    /// Novu: `DELETE /v2/topics/{topicKey}/subscriptions`.
    Novu,
    /// Pushy: `POST /topics/unsubscribe?api_key=KEY`.
    Pushy,
    /// Mobivate: `POST /subscriptions/v1/{campaign_id}/unsubscribe`.
    Mobivate,
    /// HubSpot: `POST /communication-preferences/v3/unsubscribe` and v4 `unsubscribe-all`.
    HubSpot,
}

impl Api {
    /// All five, in a fixed order.
    pub const ALL: [Api; 5] = [
        Api::Migma,
        Api::Novu,
        Api::Pushy,
        Api::Mobivate,
        Api::HubSpot,
    ];

    /// The lower-case name: `migma`, `novu`, `pushy`, `mobivate`, `hubspot`.
    pub fn name(self) -> &'static str {
        match self {
            Api::Migma => "migma",
            Api::Novu => "novu",
            Api::Pushy => "pushy",
            Api::Mobivate => "mobivate",
            Api::HubSpot => "hubspot",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Api {
    type Err = Error;

    /// Parses a name case-insensitively (`"hubspot"`, `"HubSpot"`).
    fn from_str(s: &str) -> Result<Self, Error> {
        Api::ALL
            .into_iter()
            .find(|api| api.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownApi(s.to_owned()))
    }
}

/// Why the sandbox could not start, or a seed could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The sandbox only listens on loopback addresses (127.0.0.0/8, ::1).
    NotLoopback(SocketAddr),
    /// Binding or serving failed.
    Io(std::io::Error),
    /// A seed is not valid JSON of the expected shape.
    Seed {
        /// The file it came from, if any.
        path: Option<PathBuf>,
        /// What is wrong, with line and column.
        source: serde_json::Error,
    },
    /// A seed file could not be read.
    SeedFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A provider name that is none of the five.
    UnknownApi(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLoopback(addr) => write!(
                f,
                "the sandbox only listens on loopback addresses (127.0.0.1, ::1), not {addr}"
            ),
            Error::Io(e) => write!(f, "sandbox I/O error: {e}"),
            Error::Seed {
                path: Some(p),
                source,
            } => {
                write!(f, "invalid seed {}: {source}", p.display())
            }
            Error::Seed { path: None, source } => write!(f, "invalid seed: {source}"),
            Error::SeedFile { path, source } => {
                write!(f, "cannot read seed {}: {source}", path.display())
            }
            Error::UnknownApi(name) => write!(
                f,
                "unknown provider {name:?}; expected migma, novu, pushy, mobivate or hubspot"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) | Error::SeedFile { source: e, .. } => Some(e),
            Error::Seed { source, .. } => Some(source),
            Error::NotLoopback(_) | Error::UnknownApi(_) => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// What the sandbox emulates: its world, credentials and faults.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// Closes the worlds of the providers it names; `None`: every world open.
    pub seed: Option<Seed>,
    /// The only credential each listed provider accepts; unlisted: any non-empty one.
    pub keys: BTreeMap<Api, String>,
    /// The account id Mobivate signatures are checked against.
    pub mobivate_account_id: String,
    /// Faults at start.
    pub faults: Faults,
    /// Rate limits enforced per provider (rolling windows), answered with the provider's own
    /// 429 and rate headers.
    pub rate_limits: BTreeMap<Api, RateLimit>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: None,
            keys: BTreeMap::new(),
            mobivate_account_id: DEFAULT_MOBIVATE_ACCOUNT_ID.to_owned(),
            faults: Faults::NONE,
            rate_limits: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are test keys, but they may be copied from real ones: never print them.
        let keys: Vec<_> = self.keys.keys().map(|api| (api, "[REDACTED]")).collect();
        f.debug_struct("Config")
            .field("seed", &self.seed)
            .field("keys", &keys)
            .field("mobivate_account_id", &self.mobivate_account_id)
            .field("faults", &self.faults)
            .field("rate_limits", &self.rate_limits)
            .finish()
    }
}

/// Requests served per provider and TCP connections accepted, since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests routed to Migma's endpoint (faulted ones included).
    pub migma: u64,
    /// Requests routed to Novu's endpoint.
    pub novu: u64,
    /// Requests routed to Pushy's endpoint.
    pub pushy: u64,
    /// Requests routed to Mobivate's endpoint.
    pub mobivate: u64,
    /// Requests routed to HubSpot's endpoints.
    pub hubspot: u64,
    /// Requests for no known endpoint (answered 404/405).
    pub unrouted: u64,
    /// TCP connections accepted: far fewer than requests when clients reuse connections.
    pub connections: u64,
    /// Requests refused with a 429 by a configured rate limit
    /// ([`SandboxBuilder::rate_limit`]), all providers together; they are counted in the
    /// per-provider requests too. Injected 429s ([`Faults`]) are not counted here.
    pub rate_limited: u64,
}

impl Stats {
    /// Requests routed to `api`.
    pub fn requests(&self, api: Api) -> u64 {
        match api {
            Api::Migma => self.migma,
            Api::Novu => self.novu,
            Api::Pushy => self.pushy,
            Api::Mobivate => self.mobivate,
            Api::HubSpot => self.hubspot,
        }
    }

    /// All requests, routed or not.
    pub fn total_requests(&self) -> u64 {
        Api::ALL.iter().map(|a| self.requests(*a)).sum::<u64>() + self.unrouted
    }
}

/// State shared by every handler.
pub(crate) struct Shared {
    pub(crate) world: world::World,
    keys: [Option<String>; 5],
    pub(crate) mobivate_account_id: String,
    faults: RwLock<Faults>,
    pub(crate) faults_active: AtomicBool,
    pub(crate) fault_counter: AtomicU64,
    requests: [AtomicU64; 5],
    unrouted: AtomicU64,
    connections: AtomicU64,
    /// Requests refused by a rate window.
    pub(crate) rate_limited: AtomicU64,
    pub(crate) novu_replays: Mutex<novu::Replays>,
    /// The rate window of each provider that has a limit.
    pub(crate) rate: [Option<rate::Window>; 5],
}

impl Shared {
    fn new(config: Config) -> Self {
        let keys = Api::ALL.map(|api| config.keys.get(&api).cloned());
        let rate = Api::ALL.map(|api| config.rate_limits.get(&api).map(|l| rate::Window::new(*l)));
        Self {
            world: world::World::new(config.seed.as_ref()),
            keys,
            mobivate_account_id: config.mobivate_account_id,
            faults_active: AtomicBool::new(config.faults.is_active()),
            faults: RwLock::new(config.faults),
            fault_counter: AtomicU64::new(0),
            requests: Default::default(),
            unrouted: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            novu_replays: Mutex::default(),
            rate,
        }
    }

    /// The configured key of `api`, if any.
    pub(crate) fn key(&self, api: Api) -> Option<&str> {
        self.keys.get(api.index()).and_then(|k| k.as_deref())
    }

    pub(crate) fn faults(&self) -> Faults {
        *self.faults.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_faults(&self, faults: Faults) {
        let mut slot = self.faults.write().unwrap_or_else(PoisonError::into_inner);
        *slot = faults;
        self.fault_counter.store(0, Relaxed);
        self.faults_active.store(faults.is_active(), Relaxed);
    }

    pub(crate) fn count_request(&self, api: Api) {
        if let Some(counter) = self.requests.get(api.index()) {
            counter.fetch_add(1, Relaxed);
        }
    }

    fn stats(&self) -> Stats {
        let n = |api: Api| {
            self.requests
                .get(api.index())
                .map_or(0, |c| c.load(Relaxed))
        };
        Stats {
            migma: n(Api::Migma),
            novu: n(Api::Novu),
            pushy: n(Api::Pushy),
            mobivate: n(Api::Mobivate),
            hubspot: n(Api::HubSpot),
            unrouted: self.unrouted.load(Relaxed),
            connections: self.connections.load(Relaxed),
            rate_limited: self.rate_limited.load(Relaxed),
        }
    }
}

fn router(shared: &Arc<Shared>) -> Router {
    let mut app = Router::new();
    for api in Api::ALL {
        let routes = match api {
            Api::Migma => migma::routes(),
            Api::Novu => novu::routes(),
            Api::Pushy => pushy::routes(),
            Api::Mobivate => mobivate::routes(),
            Api::HubSpot => hubspot::routes(),
        };
        let guard = faults::Guard {
            shared: Arc::clone(shared),
            api,
        };
        app = app.merge(routes.route_layer(middleware::from_fn_with_state(guard, faults::guard)));
    }
    let unrouted = |status: StatusCode| {
        let shared = Arc::clone(shared);
        move |req: Request| async move {
            shared.unrouted.fetch_add(1, Relaxed);
            let body = serde_json::json!({
                "error": format!("optout-sandbox has no endpoint {} {}", req.method(), req.uri().path()),
            });
            util::json(status, &body)
        }
    };
    app.fallback(unrouted(StatusCode::NOT_FOUND))
        .method_not_allowed_fallback(unrouted(StatusCode::METHOD_NOT_ALLOWED))
        .with_state(Arc::clone(shared))
}

/// How long a client has to send a request's headers, from the first byte of the request (or
/// from when a kept-alive connection falls idle), before its connection is closed; see
/// [`SandboxBuilder::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client has to send a request's whole body, from when the sandbox starts to read
/// it, before the request fails and its connection is closed; see
/// [`SandboxBuilder::body_read_timeout`].
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures and starts a [`Sandbox`]; from [`Sandbox::builder`].
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    addr: SocketAddr,
    config: Config,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            config: Config::default(),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        }
    }
}

impl SandboxBuilder {
    /// Where to listen (default `127.0.0.1:0`, a free port). Must be a loopback address.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Closes the worlds of the providers the seed names.
    pub fn seed(mut self, seed: Seed) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Accepts only `key` for `api` (Mobivate has no key: see
    /// [`mobivate_account_id`](Self::mobivate_account_id)).
    pub fn key(mut self, api: Api, key: impl Into<String>) -> Self {
        self.config.keys.insert(api, key.into());
        self
    }

    /// The account id Mobivate signatures are checked against.
    pub fn mobivate_account_id(mut self, account_id: impl Into<String>) -> Self {
        self.config.mobivate_account_id = account_id.into();
        self
    }

    /// Faults from the start.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.config.faults = faults;
        self
    }

    /// Enforces `limit` on `api`'s requests (a rolling window), answering the ones over it
    /// with the provider's own 429 and rate headers.
    pub fn rate_limit(mut self, api: Api, limit: RateLimit) -> Self {
        self.config.rate_limits.insert(api, limit);
        self
    }

    /// How long a client may take to send a request's headers (default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`]): a connection that sends half a request line, or never
    /// ends its headers, is closed after this long, and so is a kept-alive connection that
    /// stays idle this long. Zero is taken as a millisecond.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a client may take to send a request's whole body, counted from when the
    /// sandbox starts to read it (default [`DEFAULT_BODY_READ_TIMEOUT`]): a total deadline,
    /// not a per-read one, so a client that dribbles its body is cut too. A body still
    /// incomplete then is answered 400 and its connection closed.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Binds and starts serving in the background (on the current Tokio runtime).
    pub async fn start(self) -> Result<Sandbox, Error> {
        if !self.addr.ip().is_loopback() {
            return Err(Error::NotLoopback(self.addr));
        }
        let listener = TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(self.config));
        let app = router(&shared).layer(middleware::from_fn_with_state(
            self.body_read_timeout,
            server::body_deadline,
        ));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(
            listener,
            app,
            Arc::clone(&shared),
            self.header_read_timeout,
            stopped,
        ));
        Ok(Sandbox {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// How long [`Sandbox::shutdown`] lets requests in flight finish before it closes their
/// connections (Ctrl-C must stop `optout sandbox` even while a client holds a request).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A running sandbox. Dropping it stops the server (in-flight requests finish, within the
/// read timeouts of [`SandboxBuilder`]).
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts an open-world sandbox with no faults on `127.0.0.1` and a free port.
    pub async fn start() -> Result<Sandbox, Error> {
        Self::builder().start().await
    }

    /// A builder for anything else.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash): the base URL for every provider.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests served per provider and connections accepted so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The faults now in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Changes the faults for the next requests (and restarts the every-n-th count).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// (Re)subscribes `recipient` to `topic` at `api`, e.g. to set up a demo. In a closed world
    /// the topic and the recipient now exist.
    pub fn subscribe(&self, api: Api, recipient: &str, topic: &str) {
        self.shared.world.api(api).subscribe(recipient, topic);
    }

    /// Whether `recipient` is subscribed to `topic` at `api` (false if the topic does not
    /// exist). HubSpot email addresses compare case-insensitively.
    pub fn is_subscribed(&self, api: Api, recipient: &str, topic: &str) -> bool {
        self.shared.world.api(api).is_subscribed(recipient, topic)
    }

    /// Stops accepting, lets in-flight requests finish and waits for the server to end.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            // Requests in flight get SHUTDOWN_GRACE to finish; a client that holds a request
            // half sent (or a connection open) does not keep the server up past it.
            Some(mut task) => match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(Ok(result)) => result.map_err(Error::Io),
                Ok(Err(e)) => Err(Error::Io(std::io::Error::other(e))),
                Err(_) => {
                    task.abort();
                    Ok(())
                }
            },
            None => Ok(()),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves in the foreground until `shutdown` completes, then stops gracefully; for
/// `optout sandbox --addr 127.0.0.1:8025`.
///
/// ```no_run
/// # async fn run() -> Result<(), optout_sandbox::Error> {
/// let addr = "127.0.0.1:8025".parse().expect("an address");
/// let forever = std::future::pending::<()>(); // e.g. `tokio::signal::ctrl_c()` instead
/// optout_sandbox::serve(addr, optout_sandbox::Config::default(), forever).await
/// # }
/// ```
pub async fn serve(
    addr: SocketAddr,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let sandbox = Sandbox::builder().addr(addr).config(config).start().await?;
    shutdown.await;
    sandbox.shutdown().await
}
