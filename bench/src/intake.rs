//! `--intake`: how many opt-outs `optout serve` takes in per second, each committed before its
//! answer. The release `optout serve --store sqlite:FILE --no-workers` runs as its own process
//! on a free loopback port; this process signs distinct one-click links (the library,
//! `optout_serve::link`) and drives `POST /u/TOKEN` (body `List-Unsubscribe=One-Click`) and
//! `POST /v1/opt-outs` (JSON, bearer token, an `Idempotency-Key` each) from N concurrent
//! keep-alive clients: a warm-up, then a fixed count, timed per request. Afterwards
//! `optout status --json` must count exactly one task per accepted request (every opt-out
//! here has one HubSpot target), so nothing answered 200/202 was lost and nothing was
//! doubled. Each configuration gets a fresh database file. `--max-batch 1,128` runs the server
//! without and with group commit (`optout serve --max-batch`), so both are measured in one
//! session, side by side.

use super::*;
use optout::{Provider, Recipient, Topics};
use optout_serve::link::{LinkKeys, Scope};

/// The link key of the run (bench only).
const LINK_KEYS: &str = "bench:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// The API token of the run (bench only).
const API_TOKEN: &str = "bench-api-token-0123456789abcdef";

/// The scenario's settings.
struct IntakeOpts {
    endpoints: Vec<String>,
    concurrency: Vec<usize>,
    max_batch: Vec<usize>,
    count: u64,
    count_1: u64,
    warmup: u64,
    out: Option<PathBuf>,
    cli: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<IntakeOpts, BoxError> {
    let mut o = IntakeOpts {
        endpoints: vec!["oneclick".into(), "rest".into()],
        concurrency: vec![32, 1],
        max_batch: vec![1, 128],
        count: 20_000,
        count_1: 2_000,
        warmup: 1_000,
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
        let nums = |v: String| -> Result<Vec<usize>, BoxError> {
            v.split(',')
                .map(|s| Ok(s.trim().parse::<usize>()?.max(1)))
                .collect()
        };
        match a.as_str() {
            "--intake" => {}
            "--endpoints" => o.endpoints = val()?.split(',').map(str::to_string).collect(),
            "--concurrency" => o.concurrency = nums(val()?)?,
            "--max-batch" => o.max_batch = nums(val()?)?,
            "--count" => o.count = val()?.parse()?,
            "--count-1" => o.count_1 = val()?.parse()?,
            "--warmup" => o.warmup = val()?.parse()?,
            "--out" => o.out = Some(val()?.into()),
            "--cli" => o.cli = Some(val()?.into()),
            other => {
                return Err(format!("unknown option {other:?} with --intake\n\n{USAGE}").into())
            }
        }
    }
    for e in &o.endpoints {
        if e != "oneclick" && e != "rest" {
            return Err(format!("unknown endpoint {e:?}; expected oneclick or rest").into());
        }
    }
    Ok(o)
}

/// `optout serve` running in the background on a fresh database file.
struct Server {
    child: std::process::Child,
    base: String,
    store: String,
}

impl Server {
    async fn start(cli: &Path, dir: &Path, max_batch: usize) -> Result<Server, BoxError> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        let store = format!("sqlite:{}", dir.join("optout.db").display());
        // A free port: the kernel picks one, we let go of it, the server takes it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(cli)
            .args(["serve", "--store", &store, "--no-workers", "--addr", &addr])
            .args(["--max-batch", &max_batch.to_string()])
            .env("OPTOUT_LINK_KEYS", LINK_KEYS)
            .env("OPTOUT_API_TOKENS", API_TOKEN)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("serve.stderr"))?)
            .spawn()?;
        let server = Server {
            child,
            base: format!("http://{addr}"),
            store,
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let url = format!("{}/readyz", server.base);
            if let Ok(r) = client.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(server);
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err(format!(
                    "optout serve did not become ready on {addr} (see {})",
                    dir.join("serve.stderr").display()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's CPU time so far (user + system), in seconds.
    fn cpu_secs(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let f: Vec<f64> = stat
            .rsplit_once(')')
            .map(|(_, r)| {
                r.split_whitespace()
                    .map(|x| x.parse().unwrap_or(0.0))
                    .collect()
            })
            .unwrap_or_default();
        (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
    }

    /// SIGTERM, then waits for the exit: the server finishes what is in flight.
    fn stop(mut self) -> Result<(), BoxError> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("optout serve exited with {status}").into());
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tasks stored, as `optout status --json` counts them.
fn stored_tasks(cli: &Path, store: &str) -> Result<u64, BoxError> {
    let out = Command::new(cli)
        .args(["status", "--store", store, "--json"])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "optout status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let t = &v["total"];
    Ok(["pending", "in_flight", "done", "needs_attention"]
        .iter()
        .filter_map(|k| t[k].as_u64())
        .sum())
}

/// The request of number `i`: one distinct person each.
fn request(
    client: &reqwest::Client,
    base: &str,
    endpoint: &str,
    tokens: &[String],
    i: u64,
) -> reqwest::RequestBuilder {
    if endpoint == "oneclick" {
        client
            .post(format!("{base}/u/{}", tokens[i as usize]))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
    } else {
        client
            .post(format!("{base}/v1/opt-outs"))
            .bearer_auth(API_TOKEN)
            .header("idempotency-key", format!("bench-{i}"))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"identities":{{"email":"rest{i}@example.com"}},"scope":{{"hubspot":{{"topics":["12345"]}}}},"source":"bench"}}"#
            ))
    }
}

/// Sends requests `from..to` from `concurrency` clients; answers the latencies (µs) of
/// those that got `ok`, and how many did not.
async fn drive(
    base: &str,
    endpoint: &str,
    tokens: Arc<Vec<String>>,
    from: u64,
    to: u64,
    concurrency: usize,
) -> Result<(Vec<u32>, u64), BoxError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let ok = if endpoint == "oneclick" { 200 } else { 202 };
    let next = Arc::new(AtomicU64::new(from));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, tokens) = (client.clone(), next.clone(), tokens.clone());
        let (base, endpoint) = (base.to_string(), endpoint.to_string());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut bad = 0u64;
            loop {
                let i = next.fetch_add(1, Relaxed);
                if i >= to {
                    break;
                }
                let t = Instant::now();
                let good = match request(&client, &base, &endpoint, &tokens, i).send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s == ok
                    }
                    Err(_) => false,
                };
                if good {
                    lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    bad += 1;
                }
            }
            (lat, bad)
        }));
    }
    let mut lat = Vec::new();
    let mut bad = 0;
    for t in tasks {
        let (l, b) = t.await?;
        lat.extend(l);
        bad += b;
    }
    Ok((lat, bad))
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

/// Runs the scenario (`optout-bench --intake ...`).
pub(crate) fn main(args: &[String]) -> Result<(), BoxError> {
    let o = parse(args)?;
    let (dir, cli) = bench_dir_and_cli(o.cli.as_deref())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(&o, &cli, &dir))
}

async fn run(o: &IntakeOpts, cli: &Path, dir: &Path) -> Result<(), BoxError> {
    let machine = machine();
    eprintln!("optout-bench --intake: {}", machine["summary"]);
    let most = o.warmup + o.count.max(o.count_1);
    let keys = LinkKeys::parse(LINK_KEYS)?;
    let tokens: Vec<String> = (0..most)
        .map(|i| {
            let r = Recipient::for_provider(Provider::HubSpot, &format!("u{i}@example.com"), None)?;
            keys.sign(&Scope::new(Provider::HubSpot, r, Topics::one("12345"))?)
        })
        .collect::<Result<_, _>>()?;
    let tokens = Arc::new(tokens);
    let mut table = String::new();
    let _ = writeln!(
        table,
        "\nintake: `optout serve --store sqlite:FILE --no-workers` (SQLite WAL, synchronous=FULL), each answer after its commit; a fresh file per row"
    );
    let _ = writeln!(
        table,
        "{:<18} {:>5} {:>9} {:>7} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>9}",
        "scenario",
        "conc",
        "max-batch",
        "count",
        "accepted/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "non-2xx",
        "stored",
        "cpu µs/op"
    );
    let mut results = Vec::new();
    for endpoint in &o.endpoints {
        for &c in &o.concurrency {
            for &mb in &o.max_batch {
                let count = if c == 1 { o.count_1 } else { o.count };
                let run_dir = dir.join(format!("intake-{endpoint}-c{c}-b{mb}"));
                let server = Server::start(cli, &run_dir, mb).await?;
                eprintln!(
                    "  {endpoint}, concurrency {c}, --max-batch {mb}: {} warm-up, {count} timed",
                    o.warmup
                );
                let (_, warm_bad) =
                    drive(&server.base, endpoint, tokens.clone(), 0, o.warmup, c).await?;
                let cpu_before = server.cpu_secs();
                let started = Instant::now();
                let (mut lat, bad) = drive(
                    &server.base,
                    endpoint,
                    tokens.clone(),
                    o.warmup,
                    o.warmup + count,
                    c,
                )
                .await?;
                let secs = started.elapsed().as_secs_f64();
                let cpu = server.cpu_secs() - cpu_before;
                let store = server.store.clone();
                server.stop()?;
                let stored = stored_tasks(cli, &store)?;
                let answered_ok = o.warmup - warm_bad + lat.len() as u64;
                if stored != answered_ok {
                    eprintln!("  MISMATCH: {answered_ok} answered accepted, {stored} stored");
                }
                lat.sort_unstable();
                let rate = lat.len() as f64 / secs;
                let name = if endpoint == "oneclick" {
                    "POST /u/TOKEN"
                } else {
                    "POST /v1/opt-outs"
                };
                let _ = writeln!(
                    table,
                    "{:<18} {:>5} {:>9} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>7} {:>9.0}",
                    name,
                    c,
                    mb,
                    count,
                    rate,
                    pct(&lat, 0.50),
                    pct(&lat, 0.90),
                    pct(&lat, 0.99),
                    pct(&lat, 1.0),
                    bad + warm_bad,
                    if stored == answered_ok { format!("{stored}") } else { format!("{stored}!") },
                    cpu * 1e6 / count as f64,
                );
                results.push(json!({
                    "endpoint": endpoint, "path": name, "concurrency": c, "max_batch": mb,
                    "warmup": o.warmup, "count": count, "secs": secs, "accepted_per_sec": rate,
                    "p50_ms": pct(&lat, 0.50), "p90_ms": pct(&lat, 0.90),
                    "p99_ms": pct(&lat, 0.99), "max_ms": pct(&lat, 1.0),
                    "non_2xx": bad, "warmup_non_2xx": warm_bad,
                    "answered_accepted": answered_ok, "stored_tasks": stored,
                    "stored_matches": stored == answered_ok,
                    "server_cpu_secs": cpu,
                }));
            }
        }
    }
    let _ = writeln!(
        table,
        "(accepted/s: timed 2xx answers over the timed wall time; latency: request sent to whole answer read, 2xx only; non-2xx: warm-up included; stored: tasks `optout status` counts after the server stopped, warm-up included, `!` if it differs from the answers that said accepted; cpu: the server's CPU time per timed request; max-batch 1: no group commit)"
    );
    println!("{table}");
    let results = json!({
        "version": 1,
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "machine": machine,
        "intake": results,
    });
    let out = o.out.clone().unwrap_or_else(|| dir.join("intake.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&results)? + "\n")?;
    println!("results written to {}", out.display());
    Ok(())
}
