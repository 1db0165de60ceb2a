//! Starting and stopping a sandbox: [`SandboxBuilder`], the running [`Sandbox`], and
//! [`serve`](crate::serve) for a binary.

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::middleware;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{router, server, Api, Config, Error, Faults, RateLimit, Seed, Shared, Stats};

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
