//! `optout-bench`: the performance benchmark of optout, run as `cargo xtask bench`.
//!
//! One process (this one) serves loopback HTTP: the sandbox (`optout_sandbox::Sandbox`, state
//! and validation on) or a minimal axum server answering a fixed 200 JSON on the HubSpot and
//! Novu paths. Every client runs in a child process of its own, so that its peak memory
//! (`VmHWM`, polled from `/proc/<pid>/status`) is its own:
//!
//! * `floor`: a plain reqwest loop sending the same requests and reading the whole answer,
//!   nothing else (no CSV, no decoding, no retry loop);
//! * `lib`: `optout::bulk::run` over the generated CSV, through the provider's client;
//! * `cli`: the release `optout bulk` binary over the same CSV;
//! * `load`: a raw-TCP keep-alive load generator, to measure the servers' own capacity.
//!
//! Figures are printed as a table and written as JSON (`target/bench/results.json`). This is a
//! benchmark, not a test: nothing here asserts a timing.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The allocator of the `optout` binary, so that the floor, the library and the binary are
/// measured with the same one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "\
usage: optout-bench [options]          (normally: cargo xtask bench [options])

  --rows N            rows per run (default 100000)
  --concurrency LIST  comma-separated (default 1,32)
  --providers LIST    hubspot,novu (default both)
  --servers LIST      minimal,sandbox (default both)
  --clients LIST      floor,lib,cli (default all three)
  --repeat N          runs of each client per cell, interleaved; the median is kept, and the
                      ratio to the floor is the median of the round-by-round ratios (default 3)
  --capacity-secs S   how long each server-capacity probe runs (default 3)
  --million           also: peak memory of `optout bulk` over 1,000,000 rows (minimal server)
  --build-times       also: build time of optout with one provider vs all (fresh target dirs)
  --out FILE          where the JSON goes (default <target>/bench/results.json)
  --cli FILE          the optout binary (default: next to this one)";

const HUBSPOT_TOPIC: &str = "12345";
const NOVU_TOPIC: &str = "product-updates";
const HUBSPOT_PATH: &str = "/communication-preferences/v3/unsubscribe";
const HUBSPOT_TOKEN: &str = "bench-token";
const NOVU_KEY: &str = "bench-key";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("child") => child::main(&args[1..]),
        Some("serve") => serve(args.get(1).map_or("minimal", String::as_str)),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => orchestrate(&args),
    };
    if let Err(e) = result {
        eprintln!("optout-bench: error: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Shared bits: providers, CSV rows, /proc.
// ---------------------------------------------------------------------------------------------

/// The two providers measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prov {
    HubSpot,
    Novu,
}

impl Prov {
    fn parse(s: &str) -> Result<Prov, BoxError> {
        match s {
            "hubspot" => Ok(Prov::HubSpot),
            "novu" => Ok(Prov::Novu),
            other => Err(format!("unknown provider {other:?}; expected hubspot or novu").into()),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Prov::HubSpot => "hubspot",
            Prov::Novu => "novu",
        }
    }
    fn topic(self) -> &'static str {
        match self {
            Prov::HubSpot => HUBSPOT_TOPIC,
            Prov::Novu => NOVU_TOPIC,
        }
    }
    /// The recipient of row `i` (unique, so the sandbox answers "unsubscribed" every time).
    fn recipient(self, i: u64) -> String {
        match self {
            Prov::HubSpot => format!("user{i}@example.com"),
            Prov::Novu => format!("subscriber-{i}"),
        }
    }
    fn env(self) -> [(&'static str, &'static str); 1] {
        match self {
            Prov::HubSpot => [("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)],
            Prov::Novu => [("NOVU_SECRET_KEY", NOVU_KEY)],
        }
    }
    /// Rows per request: Novu's client sends up to 100 subscribers of one topic in one DELETE
    /// (`unsubscribe_many`), HubSpot's one row per POST.
    fn batch(self) -> u64 {
        match self {
            Prov::HubSpot => 1,
            Prov::Novu => 100,
        }
    }
    /// Method, path, headers and body of request number `n` (rows `n*batch ..` up to `rows`)
    /// as the provider crates send it: the floor and the load generator send exactly this.
    fn request(
        self,
        n: u64,
        rows: u64,
    ) -> (&'static str, String, Vec<(&'static str, String)>, String) {
        let common = |auth: String, agent: &str| {
            vec![
                ("authorization", auth),
                ("user-agent", agent.to_string()),
                ("accept", "application/json".to_string()),
                ("content-type", "application/json".to_string()),
            ]
        };
        match self {
            Prov::HubSpot => (
                "POST",
                HUBSPOT_PATH.to_string(),
                common(format!("Bearer {HUBSPOT_TOKEN}"), "optout-hubspot/0.1.0"),
                format!(
                    r#"{{"emailAddress":"{}","subscriptionId":"{HUBSPOT_TOPIC}"}}"#,
                    self.recipient(n)
                ),
            ),
            Prov::Novu => {
                let first = n * self.batch();
                let last = (first + self.batch()).min(rows.max(first + 1));
                let items: Vec<String> = (first..last)
                    .map(|i| format!(r#"{{"subscriberId":"{}"}}"#, self.recipient(i)))
                    .collect();
                (
                    "DELETE",
                    format!("/v2/topics/{NOVU_TOPIC}/subscriptions"),
                    common(format!("ApiKey {NOVU_KEY}"), "optout-novu/0.1.0"),
                    format!(r#"{{"subscriptions":[{}]}}"#, items.join(",")),
                )
            }
        }
    }
}

/// `VmHWM` (peak resident set) of `pid` in KiB, or None once it is gone.
fn vm_hwm_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time (user + system) of this process, and of its children that were waited for, in
/// seconds, from /proc/self/stat (counted in USER_HZ ticks, 100 per second on Linux).
fn cpu_secs() -> (f64, f64) {
    const USER_HZ: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) and its closing parenthesis:
    // utime, stime, cutime and cstime are the 14th to 17th of the line, the 12th to 15th here.
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default();
    let field = |i: usize| fields.get(i).copied().unwrap_or(0.0) / USER_HZ;
    (field(11) + field(12), field(13) + field(14))
}

fn write_csv(path: &Path, prov: Prov, rows: u64) -> Result<(), BoxError> {
    if std::fs::metadata(path).is_ok() {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    writeln!(out, "recipient")?;
    for i in 0..rows {
        writeln!(out, "{}", prov.recipient(i))?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(tmp, path)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The servers.
// ---------------------------------------------------------------------------------------------

mod minimal {
    //! A fixed-answer server: no state, no validation, nothing but the answer the clients
    //! decode. It counts connections and requests like the sandbox does.
    use super::*;
    use axum::body::Body;
    use axum::http::{header, Response, StatusCode};
    use axum::routing::{delete, post};
    use axum::serve::ListenerExt;
    use axum::Router;

    const HUBSPOT: &str = r#"{"id":"12345","name":"Newsletter","description":"Bench subscription","status":"NOT_SUBSCRIBED","sourceOfStatus":"SUBSCRIPTION_STATUS"}"#;

    /// Novu's answer lists each deleted subscription by subscriber, so this one echoes the
    /// request's subscriber ids (a batch of up to 100) into a fixed template; that is all the
    /// parsing it does.
    fn novu(body: &[u8]) -> String {
        let ids: Vec<String> = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("subscriptions").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| {
                s.get("subscriberId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        let data: Vec<String> = ids
            .iter()
            .map(|id| {
                format!(
                    r#"{{"_id":"64f1c2a9e4b0a1b2c3d4e5f6","identifier":"tk=product-updates:si={id}","topic":{{"_id":"64f1c2a9e4b0a1b2c3d4e5f7","key":"product-updates","name":"product-updates"}},"subscriber":{{"_id":"64f1c2a9e4b0a1b2c3d4e5f8","subscriberId":"{id}"}},"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-01T00:00:00.000Z"}}"#
                )
            })
            .collect();
        format!(
            r#"{{"data":[{}],"meta":{{"totalCount":{n},"successful":{n},"failed":0}},"errors":[]}}"#,
            data.join(","),
            n = ids.len()
        )
    }

    /// A running minimal server.
    pub struct Minimal {
        pub addr: SocketAddr,
        pub connections: Arc<AtomicU64>,
        pub requests: Arc<AtomicU64>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
    }

    impl Drop for Minimal {
        fn drop(&mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
        }
    }

    fn fixed(body: impl Into<Body>, requests: &Arc<AtomicU64>) -> Response<Body> {
        requests.fetch_add(1, Relaxed);
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                "x-hubspot-correlation-id",
                "b3c9a6c2-0000-4000-8000-000000000000",
            )
            .body(body.into())
            .unwrap_or_default()
    }

    pub async fn start() -> Result<Minimal, BoxError> {
        let requests = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let (r1, r2) = (requests.clone(), requests.clone());
        let app = Router::new()
            .route(
                HUBSPOT_PATH,
                post(move || {
                    let r = r1.clone();
                    async move { fixed(HUBSPOT, &r) }
                }),
            )
            .route(
                "/v2/topics/{topic}/subscriptions",
                delete(move |body: axum::body::Bytes| {
                    let r = r2.clone();
                    async move { fixed(novu(&body), &r) }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counter = connections.clone();
        let listener = listener.tap_io(move |tcp| {
            counter.fetch_add(1, Relaxed);
            let _ = tcp.set_nodelay(true);
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Minimal {
            addr,
            connections,
            requests,
            stop: Some(stop),
        })
    }
}

/// Either server, with its counters.
enum Server {
    Minimal(minimal::Minimal),
    Sandbox(optout_sandbox::Sandbox),
}

impl Server {
    async fn start(kind: &str) -> Result<Server, BoxError> {
        Ok(match kind {
            "minimal" => Server::Minimal(minimal::start().await?),
            "sandbox" => Server::Sandbox(optout_sandbox::Sandbox::start().await?),
            other => return Err(format!("unknown server {other:?}").into()),
        })
    }
    fn base_url(&self) -> String {
        match self {
            Server::Minimal(m) => format!("http://{}", m.addr),
            Server::Sandbox(s) => s.base_url(),
        }
    }
    /// (requests served, TCP connections accepted)
    fn counts(&self) -> (u64, u64) {
        match self {
            Server::Minimal(m) => (m.requests.load(Relaxed), m.connections.load(Relaxed)),
            Server::Sandbox(s) => {
                let st = s.stats();
                (st.total_requests(), st.connections)
            }
        }
    }
    async fn stop(self) {
        match self {
            Server::Minimal(m) => drop(m),
            Server::Sandbox(s) => {
                let _ = s.shutdown().await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The orchestrator.
// ---------------------------------------------------------------------------------------------

struct Opts {
    rows: u64,
    concurrency: Vec<usize>,
    providers: Vec<Prov>,
    servers: Vec<String>,
    clients: Vec<String>,
    repeat: usize,
    capacity_secs: f64,
    million: bool,
    build_times: bool,
    out: Option<PathBuf>,
    cli: Option<PathBuf>,
}

fn parse_opts(args: &[String]) -> Result<Opts, BoxError> {
    let mut o = Opts {
        rows: 100_000,
        concurrency: vec![1, 32],
        providers: vec![Prov::HubSpot, Prov::Novu],
        servers: vec!["minimal".into(), "sandbox".into()],
        clients: vec!["floor".into(), "lib".into(), "cli".into()],
        repeat: 3,
        capacity_secs: 3.0,
        million: false,
        build_times: false,
        out: None,
        cli: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| BoxError::from(format!("{a} needs a value\n\n{USAGE}")))
        };
        let list = |v: String| v.split(',').map(str::to_string).collect::<Vec<_>>();
        match a.as_str() {
            "--rows" => o.rows = val()?.parse()?,
            "--concurrency" => {
                o.concurrency = list(val()?)
                    .iter()
                    .map(|s| s.parse())
                    .collect::<Result<_, _>>()?
            }
            "--providers" => {
                o.providers = list(val()?)
                    .iter()
                    .map(|s| Prov::parse(s))
                    .collect::<Result<_, _>>()?
            }
            "--servers" => o.servers = list(val()?),
            "--clients" => o.clients = list(val()?),
            "--repeat" => o.repeat = val()?.parse::<usize>()?.max(1),
            "--capacity-secs" => o.capacity_secs = val()?.parse()?,
            "--million" => o.million = true,
            "--build-times" => o.build_times = true,
            "--out" => o.out = Some(val()?.into()),
            "--cli" => o.cli = Some(val()?.into()),
            other => return Err(format!("unknown option {other:?}\n\n{USAGE}").into()),
        }
    }
    Ok(o)
}

/// What one child reported, plus what the orchestrator saw.
#[derive(Debug, Clone)]
struct Run {
    server: String,
    provider: Prov,
    client: String,
    concurrency: usize,
    rows: u64,
    ok: u64,
    failed: u64,
    secs: f64,
    p50_us: Option<u64>,
    p99_us: Option<u64>,
    mean_us: f64,
    peak_kib: u64,
    requests: u64,
    connections: u64,
    /// CPU time of the client process (user + system, all threads), and of the bench
    /// process meanwhile: the server, which runs in it, and the bench's own polling.
    cpu_secs: f64,
    server_cpu_secs: f64,
    /// Rows per second of every repetition of this cell, in round order (this run is their
    /// median).
    samples: Vec<f64>,
    /// The client's CPU microseconds per row, of every repetition, in round order.
    cpu_samples: Vec<f64>,
}

impl Run {
    fn per_sec(&self) -> f64 {
        self.rows as f64 / self.secs.max(1e-9)
    }
    /// This client's speed over the floor's: the median of the ratios round by round (each
    /// pair ran back to back, so a slow spell of the machine hits both), or the ratio of
    /// the medians when the runs cannot be paired.
    fn ratio(&self, floor: &Run) -> f64 {
        paired(&self.samples, &floor.samples)
            .unwrap_or_else(|| self.per_sec() / floor.per_sec().max(1e-9))
    }

    /// The client's CPU time per row, in microseconds.
    fn cpu_us_per_row(&self) -> f64 {
        self.cpu_secs * 1e6 / self.rows.max(1) as f64
    }

    /// The floor's CPU per row over this client's, paired round by round like [`ratio`](Self::ratio):
    /// 1.0 when this client costs the machine what the plain loop does. Steadier than the
    /// speed on a shared machine, where another tenant's burst slows a run but does not make
    /// it use more CPU.
    fn cpu_ratio(&self, floor: &Run) -> f64 {
        paired(&floor.cpu_samples, &self.cpu_samples)
            .unwrap_or_else(|| floor.cpu_us_per_row() / self.cpu_us_per_row().max(1e-9))
    }

    fn json(&self, floor: Option<&Run>) -> Value {
        json!({
            "server": self.server, "provider": self.provider.name(), "client": self.client,
            "concurrency": self.concurrency, "rows": self.rows, "ok": self.ok, "failed": self.failed,
            "secs": self.secs, "calls_per_sec": self.per_sec(),
            "p50_us": self.p50_us, "p99_us": self.p99_us, "mean_us": self.mean_us,
            "peak_rss_kib": self.peak_kib, "server_requests": self.requests,
            "tcp_connections": self.connections,
            "client_cpu_secs": self.cpu_secs, "client_cpu_us_per_row": self.cpu_us_per_row(),
            "server_cpu_secs": self.server_cpu_secs,
            "cpu_ratio_to_floor": floor.map(|f| self.cpu_ratio(f)),
            "ratio_to_floor": floor.map(|f| self.ratio(f)),
            "ratio_of_medians": floor.map(|f| self.per_sec() / f.per_sec().max(1e-9)),
            "samples_rows_per_sec": self.samples,
            "samples_cpu_us_per_row": self.cpu_samples,
        })
    }
}

/// For each provider, concurrency and client other than the floor: the round-by-round ratios
/// to the floor of every server's cell, pooled, and their median (speed, and CPU as in
/// [`Run::cpu_ratio`]).
fn pooled_ratios<'a>(runs: &'a [Run], floor_of: &impl Fn(&Run) -> Option<&'a Run>) -> Vec<Value> {
    struct Pool<'r> {
        prov: Prov,
        concurrency: usize,
        client: &'r str,
        speed: Vec<f64>,
        cpu: Vec<f64>,
    }
    let mut pools: Vec<Pool> = Vec::new();
    for r in runs.iter().filter(|r| r.client != "floor") {
        let Some(floor) = floor_of(r) else { continue };
        let at = match pools.iter().position(|p| {
            (p.prov, p.concurrency, p.client) == (r.provider, r.concurrency, r.client.as_str())
        }) {
            Some(at) => at,
            None => {
                pools.push(Pool {
                    prov: r.provider,
                    concurrency: r.concurrency,
                    client: &r.client,
                    speed: Vec::new(),
                    cpu: Vec::new(),
                });
                pools.len() - 1
            }
        };
        let pool = &mut pools[at];
        pool.speed.extend(ratios(&r.samples, &floor.samples));
        pool.cpu.extend(ratios(&floor.cpu_samples, &r.cpu_samples));
    }
    pools
        .into_iter()
        .filter(|p| !p.speed.is_empty())
        .map(|p| {
            let min = p.speed.iter().copied().fold(f64::INFINITY, f64::min);
            let max = p.speed.iter().copied().fold(0.0, f64::max);
            json!({
                "provider": p.prov.name(), "concurrency": p.concurrency, "client": p.client,
                "rounds": p.speed.len(), "speed": median_of(p.speed), "cpu": median_of(p.cpu),
                "speed_min": min, "speed_max": max,
            })
        })
        .collect()
}

/// `a[i] / b[i]`, round by round.
fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a / b.max(1e-9)).collect()
}

/// The median of `a[i] / b[i]` over the rounds; `None` without rounds.
fn paired(a: &[f64], b: &[f64]) -> Option<f64> {
    median_of(ratios(a, b))
}

/// The median; `None` of nothing.
fn median_of(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[n / 2]),
        n => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// What a child run gave: its stdout, peak RSS, wall time, its CPU time and this process's.
struct Child {
    out: String,
    peak_kib: u64,
    wall: f64,
    cpu_secs: f64,
    own_cpu_secs: f64,
}

/// Runs `cmd` to the end, polling its VmHWM.
fn run_child(mut cmd: Command, stderr_to: &Path) -> Result<Child, BoxError> {
    let err = std::fs::File::create(stderr_to)?;
    let (own_before, children_before) = cpu_secs();
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()?;
    let pid = child.id().to_string();
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let poller = {
        let (done, peak) = (done.clone(), peak.clone());
        std::thread::spawn(move || {
            while !done.load(Relaxed) {
                if let Some(kib) = vm_hwm_kib(&pid) {
                    peak.fetch_max(kib, Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            out.push_str(&line?);
            out.push('\n');
        }
    }
    let status = child.wait()?;
    let secs = started.elapsed().as_secs_f64();
    let (own_after, children_after) = cpu_secs();
    done.store(true, Relaxed);
    let _ = poller.join();
    if !status.success() && out.trim().is_empty() {
        let msg = std::fs::read_to_string(stderr_to).unwrap_or_default();
        return Err(format!("child {:?} failed ({status}): {msg}", cmd.get_program()).into());
    }
    Ok(Child {
        out,
        peak_kib: peak.load(Relaxed),
        wall: secs,
        cpu_secs: children_after - children_before,
        own_cpu_secs: own_after - own_before,
    })
}

fn last_json(out: &str) -> Result<Value, BoxError> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| BoxError::from(format!("no JSON in the child's output: {out:?}")))?;
    Ok(serde_json::from_str(line)?)
}

struct Ctx {
    me: PathBuf,
    cli: PathBuf,
    dir: PathBuf,
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    ctx: &Ctx,
    server_kind: &str,
    prov: Prov,
    client: &str,
    concurrency: usize,
    rows: u64,
    csv: &Path,
) -> Result<Run, BoxError> {
    let server = Server::start(server_kind).await?;
    let base = server.base_url();
    let c = concurrency.to_string();
    let mut cmd = match client {
        "cli" => {
            let mut cmd = Command::new(&ctx.cli);
            cmd.args(["bulk", prov.name(), "--input"])
                .arg(csv)
                .args(["--topic", prov.topic(), "--concurrency", &c])
                .args(["--base-url", &base, "--json"]);
            cmd
        }
        "lib" | "floor" => {
            let mut cmd = Command::new(&ctx.me);
            cmd.args(["child", client, prov.name(), &base, &c])
                .arg(if client == "lib" {
                    csv.as_os_str().to_owned()
                } else {
                    rows.to_string().into()
                });
            cmd
        }
        other => return Err(format!("unknown client {other:?}").into()),
    };
    for (k, v) in prov.env() {
        cmd.env(k, v);
    }
    cmd.env_remove("RUST_LOG");
    let label = format!("{server_kind}-{}-{client}-c{concurrency}", prov.name());
    let handle = tokio::task::spawn_blocking({
        let err = ctx.dir.join(format!("{label}.stderr"));
        move || run_child(cmd, &err).map_err(|e| e.to_string())
    });
    let Child {
        out,
        peak_kib: peak,
        wall,
        cpu_secs,
        own_cpu_secs,
    } = handle.await??;
    let (requests, connections) = server.counts();
    server.stop().await;
    let v = last_json(&out)?;
    let n = |k: &str| v.get(k).and_then(Value::as_u64);
    let f = |k: &str| v.get(k).and_then(Value::as_f64);
    // What differs between the children and the CLI: the CLI's time is the process's wall
    // time (start-up and CSV included), its mean latency by Little's law (in flight /
    // throughput), and its p50/p99 come from its JSON summary, timed per call by the bulk path
    // as in `lib`; the children report theirs.
    let (ok, secs, p50_us, p99_us, mean_us) = if client == "cli" {
        let latency = |k: &str| {
            v.get("latency")
                .and_then(|l| l.get(k))
                .and_then(Value::as_u64)
        };
        let calls = n("rows").unwrap_or(1).div_ceil(prov.batch()).max(1);
        (
            n("unsubscribed").unwrap_or(0) + n("already").unwrap_or(0),
            wall,
            latency("p50_us"),
            latency("p99_us"),
            wall * 1e6 * concurrency as f64 / calls as f64,
        )
    } else {
        (
            n("ok").unwrap_or(0),
            f("secs").unwrap_or(wall),
            n("p50_us"),
            n("p99_us"),
            f("mean_us").unwrap_or(0.0),
        )
    };
    let run = Run {
        server: server_kind.into(),
        provider: prov,
        client: client.into(),
        concurrency,
        rows: n("rows").unwrap_or(0),
        ok,
        failed: n("failed").unwrap_or(0),
        secs,
        p50_us,
        p99_us,
        mean_us,
        // The CLI reports no `vm_hwm_kib`; the polled peak is its own.
        peak_kib: peak.max(n("vm_hwm_kib").unwrap_or(0)),
        requests,
        connections,
        cpu_secs,
        server_cpu_secs: own_cpu_secs,
        samples: Vec::new(),
        cpu_samples: Vec::new(),
    };
    eprintln!(
        "  {label}: {:.0} calls/s, {} ok, {} failed, {} conns, peak {:.1} MiB",
        run.per_sec(),
        run.ok,
        run.failed,
        run.connections,
        run.peak_kib as f64 / 1024.0
    );
    Ok(run)
}

async fn capacity(ctx: &Ctx, server_kind: &str, prov: Prov, secs: f64) -> Result<Value, BoxError> {
    let server = Server::start(server_kind).await?;
    let mut cmd = Command::new(&ctx.me);
    cmd.args(["child", "load", prov.name(), &server.base_url(), "32"])
        .arg(secs.to_string());
    let err = ctx
        .dir
        .join(format!("capacity-{server_kind}-{}.stderr", prov.name()));
    let load = tokio::task::spawn_blocking(move || run_child(cmd, &err).map_err(|e| e.to_string()))
        .await??;
    let (requests, connections) = server.counts();
    server.stop().await;
    let v = last_json(&load.out)?;
    let per_sec = v.get("per_sec").and_then(Value::as_f64).unwrap_or(0.0);
    eprintln!(
        "  capacity {server_kind}/{}: {per_sec:.0} req/s ({requests} served, {connections} conns)",
        prov.name()
    );
    Ok(json!({
        "server": server_kind, "provider": prov.name(), "concurrency": 32,
        "requests_per_sec": per_sec, "errors": v.get("errors"), "server_requests": requests,
        "tcp_connections": connections, "server_cpu_secs": load.own_cpu_secs,
        "load_cpu_secs": load.cpu_secs,
    }))
}

fn build_times(root: &Path, target: &Path) -> Result<Value, BoxError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut out = serde_json::Map::new();
    for (name, features, dir) in [
        ("one_provider", "pushy,rustls", "bench-build-one"),
        ("all_providers", "full", "bench-build-full"),
    ] {
        let dir = target.join(dir);
        let _ = std::fs::remove_dir_all(&dir);
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(root)
            .args(["build", "--quiet", "-p", "optout"]);
        if name == "one_provider" {
            cmd.arg("--no-default-features");
        }
        cmd.args(["--features", features, "--target-dir"]).arg(&dir);
        eprintln!(
            "  building optout --features {features} in {} ...",
            dir.display()
        );
        let started = Instant::now();
        let status = cmd.status()?;
        let secs = started.elapsed().as_secs_f64();
        if !status.success() {
            return Err(format!("cargo build --features {features} failed: {status}").into());
        }
        eprintln!("  ... {secs:.1}s");
        out.insert(name.into(), json!({ "features": features, "secs": secs }));
    }
    Ok(Value::Object(out))
}

/// The median of one client's runs (by rows per second), carrying every run's figure in
/// round order.
fn median(mut runs: Vec<Run>) -> Option<Run> {
    let samples: Vec<f64> = runs.iter().map(Run::per_sec).collect();
    let cpu_samples: Vec<f64> = runs.iter().map(Run::cpu_us_per_row).collect();
    runs.sort_by(|a, b| a.per_sec().total_cmp(&b.per_sec()));
    let mut middle = runs.swap_remove(runs.len().checked_sub(1)? / 2);
    middle.samples = samples;
    middle.cpu_samples = cpu_samples;
    Some(middle)
}

fn fmt_us(v: Option<u64>) -> String {
    match v {
        Some(us) if us >= 10_000 => format!("{:.1}ms", us as f64 / 1000.0),
        Some(us) => format!("{us}us"),
        None => "-".into(),
    }
}

fn orchestrate(args: &[String]) -> Result<(), BoxError> {
    let opts = parse_opts(args)?;
    let me = std::env::current_exe()?;
    let exe_dir = me.parent().ok_or("no exe dir")?.to_path_buf();
    let target = exe_dir.parent().ok_or("no target dir")?.to_path_buf();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .ok_or("no workspace root")?;
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir)?;
    let cli = opts.cli.clone().unwrap_or_else(|| exe_dir.join("optout"));
    if opts.clients.iter().any(|c| c == "cli") && !cli.exists() {
        return Err(format!(
            "{} not found: build it first (cargo build --release -p optout-cli) or pass --cli",
            cli.display()
        )
        .into());
    }
    let ctx = Ctx { me, cli, dir };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let machine = machine();
        eprintln!("optout-bench: {} rows per run, {}", opts.rows, machine["summary"]);

        eprintln!("server capacity (raw keep-alive HTTP/1.1 load, 32 connections):");
        let mut capacities = Vec::new();
        for s in &opts.servers {
            for p in &opts.providers {
                capacities.push(capacity(&ctx, s, *p, opts.capacity_secs).await?);
            }
        }

        // Each cell's clients run in turn, `repeat` times over (floor, lib, cli, floor, ...),
        // so that a slow spell of the machine hits them alike; the median run is kept.
        let mut runs: Vec<Run> = Vec::new();
        for p in &opts.providers {
            let csv = ctx.dir.join(format!("{}-{}.csv", p.name(), opts.rows));
            write_csv(&csv, *p, opts.rows)?;
            for s in &opts.servers {
                for &c in &opts.concurrency {
                    let mut cell: Vec<Vec<Run>> = vec![Vec::new(); opts.clients.len()];
                    for round in 0..opts.repeat {
                        if opts.repeat > 1 {
                            eprintln!("  round {} of {}", round + 1, opts.repeat);
                        }
                        for (client, samples) in opts.clients.iter().zip(&mut cell) {
                            samples.push(measure(&ctx, s, *p, client, c, opts.rows, &csv).await?);
                        }
                    }
                    runs.extend(cell.into_iter().filter_map(median));
                }
            }
        }

        let mut million = Value::Null;
        if opts.million {
            eprintln!("1,000,000 rows through `optout bulk` (minimal server, concurrency 32):");
            let rows = 1_000_000;
            let csv = ctx.dir.join(format!("hubspot-{rows}.csv"));
            write_csv(&csv, Prov::HubSpot, rows)?;
            let big = measure(&ctx, "minimal", Prov::HubSpot, "cli", 32, rows, &csv).await?;
            let small = runs
                .iter()
                .find(|r| {
                    r.client == "cli"
                        && r.server == "minimal"
                        && r.provider == Prov::HubSpot
                        && r.concurrency == 32
                })
                .map(|r| r.peak_kib);
            million = json!({
                "run": big.json(None), "peak_rss_kib": big.peak_kib,
                "peak_rss_kib_at_bench_rows": small, "bench_rows": opts.rows,
                "under_64_mib": big.peak_kib < 64 * 1024,
            });
            runs.push(big);
        }

        let builds = if opts.build_times {
            eprintln!("build times (cargo build -p optout, debug, fresh target dirs):");
            build_times(&root, &target)?
        } else {
            Value::Null
        };

        // The table.
        let floor_of = |r: &Run| {
            runs.iter()
                .find(|f| {
                    f.client == "floor"
                        && f.server == r.server
                        && f.provider == r.provider
                        && f.concurrency == r.concurrency
                        && f.rows == r.rows
                })
        };
        let mut table = String::new();
        let _ = writeln!(table, "\nserver capacity (32 connections):");
        for c in &capacities {
            let _ = writeln!(
                table,
                "  {:<8} {:<8} {:>9.0} req/s",
                c["server"].as_str().unwrap_or(""),
                c["provider"].as_str().unwrap_or(""),
                c["requests_per_sec"].as_f64().unwrap_or(0.0)
            );
        }
        let _ = writeln!(
            table,
            "\n{:<8} {:<8} {:<6} {:>4} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6} {:>7} {:>6} {:>6}",
            "server", "provider", "client", "conc", "rows", "calls/s", "p50", "p99", "mean", "peakMiB", "requests", "conns", "cpu/row", "floor%", "cpu%"
        );
        for r in &runs {
            let (ratio, cpu_ratio) = floor_of(r)
                .map(|f| {
                    (
                        format!("{:.0}%", 100.0 * r.ratio(f)),
                        format!("{:.0}%", 100.0 * r.cpu_ratio(f)),
                    )
                })
                .unwrap_or_else(|| ("-".into(), "-".into()));
            let _ = writeln!(
                table,
                "{:<8} {:<8} {:<6} {:>4} {:>8} {:>9.0} {:>8} {:>8} {:>8} {:>8.1} {:>9} {:>6} {:>7} {:>6} {:>6}{}",
                r.server,
                r.provider.name(),
                r.client,
                r.concurrency,
                r.rows,
                r.per_sec(),
                fmt_us(r.p50_us),
                fmt_us(r.p99_us),
                fmt_us(Some(r.mean_us as u64)),
                r.peak_kib as f64 / 1024.0,
                r.requests,
                r.connections,
                format!("{:.1}us", r.cpu_us_per_row()),
                ratio,
                cpu_ratio,
                if r.failed > 0 { format!("  ({} FAILED)", r.failed) } else { String::new() },
            );
        }
        // One cell's ratio moves by a tenth from one benchmark to the next on a shared
        // machine; the rounds of every server pooled give a steadier figure per client.
        let pooled = pooled_ratios(&runs, &floor_of);
        if !pooled.is_empty() {
            let _ = writeln!(table, "\npooled over the servers (median of every round's ratio):");
            for p in &pooled {
                let _ = writeln!(
                    table,
                    "  {:<8} {:<6} c{:<3} speed {:>4.0}%  cpu {:>4.0}%  ({} rounds, speed {:.0}%-{:.0}%)",
                    p["provider"].as_str().unwrap_or(""),
                    p["client"].as_str().unwrap_or(""),
                    p["concurrency"],
                    100.0 * p["speed"].as_f64().unwrap_or(0.0),
                    100.0 * p["cpu"].as_f64().unwrap_or(0.0),
                    p["rounds"],
                    100.0 * p["speed_min"].as_f64().unwrap_or(0.0),
                    100.0 * p["speed_max"].as_f64().unwrap_or(0.0),
                );
            }
        }
        let _ = writeln!(table, "(each row: the median of {} interleaved runs, all in the JSON; floor%: speed over the floor's, the median of the round-by-round ratios; cpu/row: the client process's CPU time (user + system, all threads) per row; cpu%: the floor's CPU per row over this client's, paired the same way (100% = costs what the plain loop costs); p50/p99: per call, timed by the client itself; mean: by Little's law; cli: time is the process's wall time)", opts.repeat);
        if !million.is_null() {
            let _ = writeln!(
                table,
                "\n1,000,000 rows via `optout bulk`: peak {:.1} MiB (at {} rows: {})",
                million["peak_rss_kib"].as_u64().unwrap_or(0) as f64 / 1024.0,
                opts.rows,
                million["peak_rss_kib_at_bench_rows"]
                    .as_u64()
                    .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
                    .unwrap_or_else(|| "not measured".into())
            );
        }
        if let Value::Object(b) = &builds {
            let _ = writeln!(table, "\nbuild of optout (debug, fresh target dir):");
            for (k, v) in b {
                let _ = writeln!(
                    table,
                    "  {k:<14} --features {:<14} {:>7.1}s",
                    v["features"].as_str().unwrap_or(""),
                    v["secs"].as_f64().unwrap_or(0.0)
                );
            }
        }
        println!("{table}");

        let results = json!({
            "version": 1,
            "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            "machine": machine,
            "rows": opts.rows,
            "capacity": capacities,
            "runs": runs.iter().map(|r| r.json(floor_of(r))).collect::<Vec<_>>(),
            "pooled": pooled,
            "million": million,
            "build_times": builds,
        });
        let out = opts.out.clone().unwrap_or_else(|| ctx.dir.join("results.json"));
        std::fs::write(&out, serde_json::to_string_pretty(&results)? + "\n")?;
        println!("results written to {}", out.display());
        Ok::<(), BoxError>(())
    })
}

/// `optout-bench serve minimal|sandbox`: one server in the foreground, for profiling a
/// client by hand; prints its base URL and the counts every 10 s.
fn serve(kind: &str) -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = Server::start(kind).await?;
        println!("{}", server.base_url());
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let (requests, connections) = server.counts();
            eprintln!("{requests} requests, {connections} connections");
        }
    })
}

fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    json!({
        "cpus": cpus, "cpu_model": model, "loadavg_at_start": load,
        "summary": format!("{cpus} CPUs ({model}), load average {load}"),
    })
}

// ---------------------------------------------------------------------------------------------
// The children: each prints one JSON line.
// ---------------------------------------------------------------------------------------------

mod child {
    use super::*;
    use optout::bulk::Histogram;

    pub fn main(args: &[String]) -> Result<(), BoxError> {
        let arg = |i: usize| {
            args.get(i)
                .cloned()
                .ok_or_else(|| BoxError::from("child: missing argument"))
        };
        let (kind, prov, base, conc) = (arg(0)?, Prov::parse(&arg(1)?)?, arg(2)?, arg(3)?);
        let concurrency: usize = conc.parse()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let v = rt.block_on(async {
            match kind.as_str() {
                "lib" => lib(prov, &base, concurrency, &arg(4)?).await,
                "floor" => floor(prov, &base, concurrency, arg(4)?.parse()?).await,
                "load" => load(prov, &base, concurrency, arg(4)?.parse()?).await,
                other => Err(format!("unknown child {other:?}").into()),
            }
        })?;
        println!("{v}");
        Ok(())
    }

    fn with_stats(
        mut v: Value,
        latency: &optout::bulk::Latency,
        started: Instant,
        requests: u64,
        concurrency: usize,
    ) -> Value {
        let secs = started.elapsed().as_secs_f64();
        if let Value::Object(m) = &mut v {
            m.insert("secs".into(), json!(secs));
            m.insert("p50_us".into(), json!(latency.p50_us));
            m.insert("p99_us".into(), json!(latency.p99_us));
            m.insert(
                "mean_us".into(),
                json!(secs * 1e6 * concurrency as f64 / requests.max(1) as f64),
            );
            m.insert("vm_hwm_kib".into(), json!(vm_hwm_kib("self")));
        }
        v
    }

    async fn lib(prov: Prov, base: &str, concurrency: usize, csv: &str) -> Result<Value, BoxError> {
        // The bulk path times every call to the provider: one POST per row for HubSpot, one
        // DELETE per batch of up to 100 rows for Novu, so its p50/p99 compare with the floor's.
        let client: Arc<dyn optout::Unsubscriber> = match prov {
            Prov::HubSpot => Arc::new(
                optout::providers::hubspot::HubSpot::builder()
                    .access_token(HUBSPOT_TOKEN)
                    .base_url(base)
                    .build()?,
            ),
            Prov::Novu => Arc::new(
                optout::providers::novu::Novu::builder()
                    .secret_key(NOVU_KEY)
                    .base_url(base)
                    .build()?,
            ),
        };
        let input = BufReader::with_capacity(1 << 16, std::fs::File::open(csv)?);
        let job = optout::bulk::BulkJob::new()
            .topic(prov.topic())
            .concurrency(concurrency);
        let mut first_error = None;
        let started = Instant::now();
        let summary = optout::bulk::run(client, input, &job, |row| {
            if let optout::bulk::RowResult::Failed(e) = &row.result {
                if first_error.is_none() {
                    first_error = Some(format!("line {}: {e}", row.line));
                }
            }
        })
        .await?;
        if let Some(e) = &first_error {
            eprintln!("first failure: {e}");
        }
        let v = json!({
            "rows": summary.rows, "ok": summary.unsubscribed + summary.already,
            "failed": summary.failed, "first_error": first_error,
        });
        let requests = summary.rows.div_ceil(prov.batch());
        Ok(with_stats(
            v,
            &summary.latency,
            started,
            requests,
            concurrency,
        ))
    }

    /// The floor: reqwest, the same requests (method, path, headers, body), the whole answer
    /// read, and nothing else.
    async fn floor(
        prov: Prov,
        base: &str,
        concurrency: usize,
        rows: u64,
    ) -> Result<Value, BoxError> {
        let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
        let next = Arc::new(AtomicU64::new(0));
        let ok = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, next, ok) = (client.clone(), next.clone(), ok.clone());
            let base = base.to_string();
            tasks.push(tokio::spawn(async move {
                let mut latency = Histogram::new();
                let requests = rows.div_ceil(prov.batch());
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= requests {
                        break;
                    }
                    let (method, path, headers, body) = prov.request(i, rows);
                    let method = if method == "POST" {
                        reqwest::Method::POST
                    } else {
                        reqwest::Method::DELETE
                    };
                    let t = Instant::now();
                    let mut req = client.request(method, format!("{base}{path}"));
                    for (k, v) in headers {
                        req = req.header(k, v);
                    }
                    if let Ok(res) = req.body(body).send().await {
                        let good = res.status().is_success();
                        if res.bytes().await.is_ok() && good {
                            let first = i * prov.batch();
                            ok.fetch_add((first + prov.batch()).min(rows) - first, Relaxed);
                        }
                    }
                    latency.record(t.elapsed());
                }
                latency
            }));
        }
        let mut latency = Histogram::new();
        for t in tasks {
            latency.merge(&t.await?);
        }
        let ok = ok.load(Relaxed);
        let v = json!({ "rows": rows, "ok": ok, "failed": rows - ok });
        Ok(with_stats(
            v,
            &latency.latency(),
            started,
            rows.div_ceil(prov.batch()),
            concurrency,
        ))
    }

    /// Raw keep-alive HTTP/1.1 over `concurrency` connections for `secs`: the server's
    /// capacity, with as little client cost as possible.
    async fn load(
        prov: Prov,
        base: &str,
        concurrency: usize,
        secs: f64,
    ) -> Result<Value, BoxError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr: SocketAddr = base.trim_start_matches("http://").parse()?;
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let next = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (next, done, errors) = (next.clone(), done.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                let Ok(mut tcp) = tokio::net::TcpStream::connect(addr).await else {
                    errors.fetch_add(1, Relaxed);
                    return;
                };
                let _ = tcp.set_nodelay(true);
                let mut buf = vec![0u8; 16 * 1024];
                let mut req = String::new();
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Relaxed);
                    let (method, path, headers, body) = prov.request(i, u64::MAX);
                    req.clear();
                    let _ = write!(req, "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n");
                    for (k, v) in headers {
                        let _ = write!(req, "{k}: {v}\r\n");
                    }
                    let _ = write!(req, "content-length: {}\r\n\r\n{body}", body.len());
                    if tcp.write_all(req.as_bytes()).await.is_err() {
                        errors.fetch_add(1, Relaxed);
                        return;
                    }
                    // Read the head, then Content-Length bytes of body.
                    let mut have = 0;
                    let complete = loop {
                        match tcp.read(&mut buf[have..]).await {
                            Ok(0) | Err(_) => break false,
                            Ok(n) => have += n,
                        }
                        if let Some(end) = find(&buf[..have], b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                            let len: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                            if buf.len() < end + 4 + len {
                                buf.resize(end + 4 + len, 0);
                            }
                            while have < end + 4 + len {
                                match tcp.read(&mut buf[have..]).await {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => have += n,
                                }
                            }
                            break have >= end + 4 + len;
                        }
                        if have == buf.len() {
                            break false;
                        }
                    };
                    if !complete {
                        errors.fetch_add(1, Relaxed);
                        return;
                    }
                    done.fetch_add(1, Relaxed);
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        let secs = started.elapsed().as_secs_f64();
        let n = done.load(Relaxed);
        Ok(
            json!({ "requests": n, "secs": secs, "per_sec": n as f64 / secs, "errors": errors.load(Relaxed) }),
        )
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }
}
