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

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::{middleware, Router};

mod api;
mod config;
mod error;
mod faults;
mod hubspot;
mod migma;
mod mobivate;
mod novu;
mod pushy;
mod rate;
mod sandbox;
mod server;
mod util;
pub mod world;

pub use api::Api;
pub use config::{Config, Stats};
pub use error::Error;
pub use faults::Faults;
pub use rate::RateLimit;
pub use sandbox::{
    serve, Sandbox, SandboxBuilder, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT,
    SHUTDOWN_GRACE,
};
pub use world::{ApiSeed, Seed, SeedSubscription};

/// The account id Mobivate's docs use in their signature example.
pub const DEFAULT_MOBIVATE_ACCOUNT_ID: &str = "43e36f54eef111e270639871000000f1";

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
