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
  --clients LIST      floor,floor-read,floor-1row,lib,cli (default all five): floor sends the
                      library's requests (HubSpot: v4 batch writes of 100) and reads the answer;
                      floor-read also decodes it and confirms each row; floor-1row (HubSpot only,
                      for reference) sends one v3 call per row
  --repeat N          runs of each client per cell, interleaved; the median is kept, and the
                      ratio to the floor is the median of the round-by-round ratios (default 3)
  --capacity-secs S   how long each server-capacity probe runs (default 3)
  --million           also: peak memory of `optout bulk` over 1,000,000 rows (minimal server)
  --build-times       also: build time of optout with one provider vs all (fresh target dirs)
  --out FILE          where the JSON goes (default <target>/bench/results.json)
  --cli FILE          the optout binary (default: next to this one)

  --provider-limited  run only the provider-limited scenario instead: `optout bulk` over --rows
                      rows (default 100000) of HubSpot (v4 batch writes, 100 rows per call) and
                      Pushy (one call per row) against the sandbox enforcing a limit; prints
                      rows/s against the limit's ceiling, 429s drawn, calls, failed rows and a
                      1,000,000-row projection at HubSpot's Professional limit
                      (<target>/bench/limited.json)
  --limited-providers LIST  hubspot,pushy (default both)
  --hubspot-limit N/PERIOD  the sandbox's HubSpot limit (default 190/10s, HubSpot's own)
  --pushy-limit N/PERIOD    the sandbox's Pushy limit (default 800/480ms: 800/min scaled 125x)
  --client-rate R     what `optout bulk --rate` is given: limit (the sandbox's, the default),
                      none, or an N/PERIOD
  --limited-concurrency N   `optout bulk --concurrency` (default 8, the CLI's default)

  --outbox            run only the outbox scenario instead (bench/src/outbox.rs): accept one at
                      a time and `optout enqueue --input` of --rows; drain --rows HubSpot tasks
                      with `optout worker` (SQLite 1 worker, PostgreSQL 1 and 4) against
                      `optout sandbox`, beside `optout bulk` and beside the durable floor
                      (`optout-bench durable-floor`: the least a durable outbox does per task,
                      hand-written, bench/src/durable_floor.rs); worker peak memory by queue length
                      (<target>/bench/outbox.json)
  --outbox-million    also: one worker draining a 1,000,000-task queue (peak memory)
  --outbox-stores LIST      sqlite,postgres (default both)
  --outbox-pg-workers LIST  worker processes on PostgreSQL (default 1,4)
  --outbox-accept-one N     opt-outs accepted one at a time (default 5000)
  --outbox-small N          the small queue of the memory comparison (default 10000)
  --outbox-concurrency N    `optout worker --concurrency` (default: the worker's), and the
                            durable floor's batches in flight per process (default 4)


  --intake            run only the intake scenario instead: the release `optout serve --store
                      sqlite:FILE --no-workers` taking distinct opt-outs from concurrent keep-alive
                      clients, each answered after its commit; accepted/s, p50/p90/p99/max, non-2xx
                      and the stored count checked (<target>/bench/intake.json). With it:
    --endpoints LIST    oneclick,rest (default both: POST /u/TOKEN, POST /v1/opt-outs)
    --concurrency LIST  clients (default 32,1)
    --max-batch LIST    `optout serve --max-batch` (default 1,128: without and with group commit)
    --count N           timed requests per row (default 20000); --count-1 N at concurrency 1
                        (default 2000); --warmup N untimed first (default 1000)";

const HUBSPOT_TOPIC: &str = "12345";
const NOVU_TOPIC: &str = "product-updates";
const HUBSPOT_PATH: &str = "/communication-preferences/v3/unsubscribe";
const HUBSPOT_BATCH_PATH: &str = "/communication-preferences/v4/statuses/batch/write";
const HUBSPOT_TOKEN: &str = "bench-token";
const NOVU_KEY: &str = "bench-key";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("child") => child::main(&args[1..]),
        Some("durable-floor") => durable_floor::main(&args[1..]),
        Some("serve") => serve(args.get(1).map_or("minimal", String::as_str)),
        _ if args.iter().any(|a| a == "--outbox") => outbox::main(&args),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ if args.iter().any(|a| a == "--intake") => intake::main(&args),
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
    /// Rows per request, as the library sends them (`unsubscribe_many`): HubSpot's client up
    /// to 100 statuses in one v4 batch write, Novu's up to 100 subscribers of one topic in one
    /// DELETE. (HubSpot's one-row v3 call is the `floor-1row` client's, for reference.)
    fn batch(self) -> u64 {
        100
    }
    /// The rows of request number `n`, `first..last`.
    fn rows(self, n: u64, rows: u64) -> (u64, u64) {
        let first = n * self.batch();
        (first, (first + self.batch()).min(rows.max(first + 1)))
    }
    /// The headers the provider crate sends with each request (the floors send the same).
    fn headers(self) -> Vec<(&'static str, String)> {
        let (auth, agent) = match self {
            Prov::HubSpot => (format!("Bearer {HUBSPOT_TOKEN}"), "optout-hubspot/0.1.0"),
            Prov::Novu => (format!("ApiKey {NOVU_KEY}"), "optout-novu/0.1.0"),
        };
        vec![
            ("authorization", auth),
            ("user-agent", agent.to_string()),
            ("accept", "application/json".to_string()),
            ("content-type", "application/json".to_string()),
        ]
    }
    /// Method, path, headers and body of request number `n` (rows `n*batch ..` up to `rows`)
    /// as the provider crates send it: the floor and the load generator send exactly this.
    fn request(
        self,
        n: u64,
        rows: u64,
    ) -> (&'static str, String, Vec<(&'static str, String)>, String) {
        match self {
            Prov::HubSpot => (
                "POST",
                HUBSPOT_BATCH_PATH.to_string(),
                self.headers(),
                child::hubspot_batch(self.rows(n, rows)),
            ),
            Prov::Novu => {
                let (first, last) = self.rows(n, rows);
                let items: Vec<String> = (first..last)
                    .map(|i| format!(r#"{{"subscriberId":"{}"}}"#, self.recipient(i)))
                    .collect();
                (
                    "DELETE",
                    format!("/v2/topics/{NOVU_TOPIC}/subscriptions"),
                    self.headers(),
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

/// Where a scenario writes (`<target>/bench`, created) and the `optout` binary it runs:
/// `cli` if given, else the one built beside this binary, which must exist.
fn bench_dir_and_cli(cli: Option<&Path>) -> Result<(PathBuf, PathBuf), BoxError> {
    let me = std::env::current_exe()?;
    let exe_dir = me.parent().ok_or("no exe dir")?;
    let dir = exe_dir.parent().ok_or("no target dir")?.join("bench");
    std::fs::create_dir_all(&dir)?;
    let cli = cli.map_or_else(|| exe_dir.join("optout"), Path::to_path_buf);
    if !cli.exists() {
        return Err(format!(
            "{} not found: build it first (cargo build --release -p optout-cli) or pass --cli",
            cli.display()
        )
        .into());
    }
    Ok((dir, cli))
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

mod child;
mod durable_floor;
mod intake;
mod limited;
mod outbox;
mod outbox_procs;
mod report;
mod scenarios;
mod servers;

use report::*;
use scenarios::*;
use servers::*;
