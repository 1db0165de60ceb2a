//! `--outbox`: the durable outbox (`optout enqueue`, `optout worker`) against the release
//! `optout sandbox`, beside `optout bulk` over the same rows (issue 15's Performance part):
//!
//! * accept: `Outbox::accept` one opt-out at a time on a fresh SQLite file (one commit each,
//!   WAL + `synchronous=FULL`), and `optout enqueue --input` of `--rows` rows (one
//!   transaction per chunk of 1,000): opt-outs per second;
//! * drain: `--rows` HubSpot tasks enqueued, then `optout worker --until-idle` processes
//!   timed from their start to the last one's exit, on SQLite with 1 worker and on a
//!   throwaway PostgreSQL cluster (fsync on) with 1 and with 4; beside each, `optout bulk
//!   hubspot` over the same CSV against a fresh sandbox; rows/s and the ratio drain/bulk
//!   (issue 15 asks at least 0.5). Afterwards `optout status` must show every task done and
//!   none pending, and the sandbox must agree: `optout bulk` over the same rows again answers
//!   "already unsubscribed" for every row;
//! * the durable floor beside each drain: `optout-bench durable-floor` (durable_floor.rs), a
//!   hand-written outbox doing only what durability needs (claim under a lease, the same
//!   batch writes, one transaction per batch closing its tasks with hash-chained receipts) on
//!   a fresh store of the same kind, as many processes as workers: the worker's speed as a
//!   share of it, and the floor's own share of `optout bulk`;
//! * memory: the peak resident set (VmHWM) of one worker draining a 10,000-task SQLite queue,
//!   and with `--outbox-million` a 1,000,000-task one.
//!
//! Table on stdout, JSON in `<target>/bench/outbox.json`. Nothing here asserts a timing.

use super::*;
use crate::outbox_procs::{run_group, Group, SandboxProc};
use optout::outbox::{OptOut, Outbox};
use optout::{Provider, Topics};
use optout_testkit::pg::{bin_dir, PgCluster};

/// The scenario's settings.
struct Opts {
    rows: u64,
    accept_one: u64,
    small: u64,
    million: bool,
    stores: Vec<String>,
    pg_workers: Vec<usize>,
    concurrency: Option<u32>,
    out: Option<PathBuf>,
    cli: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Opts, BoxError> {
    let mut o = Opts {
        rows: 100_000,
        accept_one: 5_000,
        small: 10_000,
        million: false,
        stores: vec!["sqlite".into(), "postgres".into()],
        pg_workers: vec![1, 4],
        concurrency: None,
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
        match a.as_str() {
            "--outbox" => {}
            "--rows" => o.rows = val()?.parse()?,
            "--outbox-accept-one" => o.accept_one = val()?.parse()?,
            "--outbox-small" => o.small = val()?.parse()?,
            "--outbox-million" => o.million = true,
            "--outbox-stores" => o.stores = val()?.split(',').map(str::to_string).collect(),
            "--outbox-pg-workers" => {
                o.pg_workers = val()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--outbox-concurrency" => o.concurrency = Some(val()?.parse()?),
            "--out" => o.out = Some(val()?.into()),
            "--cli" => o.cli = Some(val()?.into()),
            other => return Err(format!("unknown --outbox option {other:?}\n\n{USAGE}").into()),
        }
    }
    Ok(o)
}

/// Everything a run needs to find.
struct Env {
    cli: PathBuf,
    dir: PathBuf,
    concurrency: Option<u32>,
}

impl Env {
    fn optout(&self) -> Command {
        let mut cmd = Command::new(&self.cli);
        cmd.env_remove("RUST_LOG")
            .env_remove("OPTOUT_STORE")
            .env("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN);
        for p in ["NOVU_SECRET_KEY", "PUSHY_SECRET_API_KEY", "MIGMA_API_KEY"] {
            cmd.env_remove(p);
        }
        cmd
    }

    /// A fresh SQLite store URL (the file and its WAL removed).
    fn sqlite(&self, name: &str) -> String {
        let path = self.dir.join(format!("{name}.db"));
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
        format!("sqlite:{}", path.display())
    }

    /// The HubSpot CSV of `rows` rows (recipients `user{i}@example.com`).
    fn csv(&self, rows: u64) -> Result<PathBuf, BoxError> {
        let csv = self.dir.join(format!("hubspot-{rows}.csv"));
        write_csv(&csv, Prov::HubSpot, rows)?;
        Ok(csv)
    }

    /// `optout enqueue hubspot --input CSV` into `store`: opt-outs/s.
    fn enqueue(&self, store: &str, rows: u64) -> Result<f64, BoxError> {
        let mut cmd = self.optout();
        cmd.args(["enqueue", "hubspot", "--input"])
            .arg(self.csv(rows)?)
            .args(["--topic", HUBSPOT_TOPIC, "--store", store]);
        let child = run_child(cmd, &self.dir.join("outbox-enqueue.stderr"))?;
        let ids = child.out.lines().count() as u64;
        if ids != rows {
            return Err(format!("enqueue printed {ids} ids for {rows} rows").into());
        }
        Ok(rows as f64 / child.wall)
    }

    /// `optout bulk hubspot` over the CSV against `base`: its JSON summary and wall time.
    fn bulk(&self, base: &str, rows: u64, name: &str) -> Result<(Value, f64), BoxError> {
        let mut cmd = self.optout();
        cmd.args(["bulk", "hubspot", "--input"])
            .arg(self.csv(rows)?)
            .args(["--topic", HUBSPOT_TOPIC, "--base-url", base, "--json"]);
        let child = run_child(cmd, &self.dir.join(format!("outbox-{name}.stderr")))?;
        Ok((last_json(&child.out)?, child.wall))
    }

    /// `workers` processes of `optout worker --until-idle` on `store` against `base`.
    fn drain(
        &self,
        store: &str,
        base: &str,
        workers: usize,
        name: &str,
    ) -> Result<Group, BoxError> {
        let cmds = (0..workers)
            .map(|_| {
                let mut cmd = self.optout();
                cmd.args([
                    "worker",
                    "--until-idle",
                    "--store",
                    store,
                    "--base-url",
                    base,
                ]);
                if let Some(c) = self.concurrency {
                    cmd.args(["--concurrency", &c.to_string()]);
                }
                cmd
            })
            .collect();
        self.group(cmds, name)
    }

    /// Runs `cmds` together; every one must exit 0.
    fn group(&self, cmds: Vec<Command>, name: &str) -> Result<Group, BoxError> {
        let group = run_group(cmds, &self.dir.join(format!("outbox-{name}")))?;
        if group.codes.iter().any(|c| *c != Some(0)) {
            return Err(format!(
                "{name}: a process failed ({:?}); see {}",
                group.codes,
                self.dir.join(format!("outbox-{name}.0.stderr")).display()
            )
            .into());
        }
        Ok(group)
    }

    /// `optout-bench durable-floor` (bench/src/durable_floor.rs) over `rows` tasks of a fresh
    /// `store`: `processes` drain it against `base` with the worker's concurrency each; every
    /// task must end closed with one receipt.
    fn floor(
        &self,
        store: &str,
        base: &str,
        processes: usize,
        rows: u64,
        name: &str,
    ) -> Result<Group, BoxError> {
        let bench = std::env::current_exe()?;
        let step = |args: &[&str]| -> Result<Value, BoxError> {
            let mut cmd = Command::new(&bench);
            cmd.arg("durable-floor").args(args);
            let child = run_child(cmd, &self.dir.join(format!("outbox-{name}.stderr")))?;
            last_json(&child.out)
        };
        step(&["setup", store, &rows.to_string()])?;
        let concurrency = self.concurrency.unwrap_or(4).to_string();
        let cmds = (0..processes)
            .map(|_| {
                let mut cmd = Command::new(&bench);
                cmd.args(["durable-floor", "drain", store, base, &concurrency]);
                cmd
            })
            .collect();
        let group = self.group(cmds, name)?;
        let counts = step(&["counts", store])?;
        if counts["closed"].as_u64() != Some(rows) || counts["receipts"].as_u64() != Some(rows) {
            return Err(format!("{name}: the floor closed {counts} of {rows} tasks").into());
        }
        Ok(group)
    }

    /// `optout status --json` of `store`: (done, pending + in flight + needs attention).
    fn status(&self, store: &str) -> Result<(u64, u64), BoxError> {
        let out = self
            .optout()
            .args(["status", "--json", "--store", store])
            .output()?;
        let v = last_json(&String::from_utf8_lossy(&out.stdout))?;
        let n = |k: &str| v["total"][k].as_u64().unwrap_or(0);
        Ok((
            n("done"),
            n("pending") + n("in_flight") + n("needs_attention"),
        ))
    }
}

/// One drain case's figures.
struct Drain {
    store: &'static str,
    workers: usize,
    rows: u64,
    enqueue_per_sec: f64,
    drain: Group,
    floor: Group,
    bulk_per_sec: f64,
    bulk_wall: f64,
    done: u64,
    left: u64,
    sandbox_already: u64,
    sandbox_requests: u64,
}

impl Drain {
    fn per_sec(&self) -> f64 {
        self.rows as f64 / self.drain.wall
    }
    fn floor_per_sec(&self) -> f64 {
        self.rows as f64 / self.floor.wall
    }
    fn json(&self) -> Value {
        json!({
            "store": self.store, "workers": self.workers, "rows": self.rows,
            "enqueue_per_sec": self.enqueue_per_sec, "drain_secs": self.drain.wall,
            "drain_per_sec": self.per_sec(), "drain_cpu_secs": self.drain.cpu_secs,
            "worker_peak_kib": self.drain.peaks_kib, "bulk_secs": self.bulk_wall,
            "bulk_per_sec": self.bulk_per_sec, "ratio": self.per_sec() / self.bulk_per_sec,
            "floor_secs": self.floor.wall, "floor_per_sec": self.floor_per_sec(),
            "floor_cpu_secs": self.floor.cpu_secs,
            "of_floor": self.per_sec() / self.floor_per_sec(),
            "floor_of_bulk": self.floor_per_sec() / self.bulk_per_sec,
            "status_done": self.done, "status_not_done": self.left,
            "sandbox_already_after": self.sandbox_already,
            "sandbox_requests_during_drain": self.sandbox_requests,
        })
    }
}

/// Enqueues `rows` into `store`, drains it with `workers` processes against a fresh sandbox,
/// checks the store and the sandbox, and measures `optout bulk` beside it.
fn drain_case(
    env: &Env,
    store_name: &'static str,
    store: &str,
    floor_store: &str,
    workers: usize,
    rows: u64,
) -> Result<Drain, BoxError> {
    let name = format!("{store_name}-{workers}w-{rows}");
    // `optout bulk` first, on a sandbox of its own (every row fresh there too).
    let sandbox = SandboxProc::start(&env.cli)?;
    let (bulk, bulk_wall) = env.bulk(&sandbox.base_url, rows, &format!("bulk-{name}"))?;
    sandbox.stop()?;
    let ok = bulk["unsubscribed"].as_u64().unwrap_or(0) + bulk["already"].as_u64().unwrap_or(0);
    if ok != rows {
        return Err(format!("{name}: optout bulk confirmed {ok} of {rows} rows: {bulk}").into());
    }
    eprintln!("  {name}: enqueue ...");
    let enqueue_per_sec = env.enqueue(store, rows)?;
    let sandbox = SandboxProc::start(&env.cli)?;
    eprintln!("  {name}: drain ...");
    let drain = env.drain(store, &sandbox.base_url, workers, &format!("drain-{name}"))?;
    let (done, left) = env.status(store)?;
    // The sandbox's view: the same rows again are all "already unsubscribed".
    let (again, _) = env.bulk(&sandbox.base_url, rows, &format!("verify-{name}"))?;
    let sandbox_requests = sandbox.stop()?;
    let sandbox_already = again["already"].as_u64().unwrap_or(0);
    // The durable floor: as many processes, a fresh store of the same kind, a fresh sandbox.
    eprintln!("  {name}: durable floor ...");
    let sandbox = SandboxProc::start(&env.cli)?;
    let floor = env.floor(
        floor_store,
        &sandbox.base_url,
        workers,
        rows,
        &format!("floor-{name}"),
    )?;
    sandbox.stop()?;
    let d = Drain {
        store: store_name,
        workers,
        rows,
        enqueue_per_sec,
        bulk_per_sec: rows as f64 / bulk_wall,
        bulk_wall,
        drain,
        floor,
        done,
        left,
        sandbox_already,
        sandbox_requests,
    };
    eprintln!(
        "  {name}: drained {:.0}/s, durable floor {:.0}/s, bulk {:.0}/s, ratio {:.2}; status {} done {} left; sandbox: {} already",
        d.per_sec(),
        d.floor_per_sec(),
        d.bulk_per_sec,
        d.per_sec() / d.bulk_per_sec,
        done,
        left,
        sandbox_already
    );
    Ok(d)
}

/// `Outbox::accept` `n` times, one commit each, on a fresh SQLite file: opt-outs/s.
async fn accept_one_at_a_time(env: &Env, n: u64) -> Result<f64, BoxError> {
    let outbox = Outbox::open(&env.sqlite("outbox-accept-one")).await?;
    let started = Instant::now();
    for i in 0..n {
        outbox
            .accept(
                &OptOut::default()
                    .email(format!("one{i}@example.com"))
                    .topics(Provider::HubSpot, Topics::one(HUBSPOT_TOPIC)),
            )
            .await?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Runs the scenario.
pub(crate) fn main(args: &[String]) -> Result<(), BoxError> {
    let opts = parse(args)?;
    let (dir, cli) = bench_dir_and_cli(opts.cli.as_deref())?;
    let env = Env {
        cli,
        dir,
        concurrency: opts.concurrency,
    };
    let machine = machine();
    eprintln!(
        "optout-bench --outbox: {} rows, {}",
        opts.rows, machine["summary"]
    );

    eprintln!(
        "accept: {} one at a time (library, SQLite) ...",
        opts.accept_one
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let one = rt.block_on(accept_one_at_a_time(&env, opts.accept_one))?;
    drop(rt);
    eprintln!(
        "accept: optout enqueue --input of {} rows (SQLite) ...",
        opts.rows
    );
    let chunked = env.enqueue(&env.sqlite("outbox-enqueue"), opts.rows)?;

    let mut drains = Vec::new();
    if opts.stores.iter().any(|s| s == "sqlite") {
        let store = env.sqlite("outbox-drain");
        let floor = env.sqlite("outbox-floor");
        drains.push(drain_case(&env, "sqlite", &store, &floor, 1, opts.rows)?);
    }
    if opts.stores.iter().any(|s| s == "postgres") {
        eprintln!("starting a throwaway PostgreSQL cluster (fsync on) ...");
        if bin_dir().is_none() {
            return Err(
                "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin or \
                        OPTOUT_PG_BIN); install Debian's `postgresql` or leave postgres out of \
                        --outbox-stores"
                    .into(),
            );
        }
        let pg = PgCluster::start_durable();
        for &w in &opts.pg_workers {
            let store = pg.create_database(&format!("drain_{w}w"));
            let floor = pg.create_database(&format!("floor_{w}w"));
            drains.push(drain_case(&env, "postgres", &store, &floor, w, opts.rows)?);
        }
    }

    // Memory: one worker, a small queue and (with --outbox-million) a 1,000,000-task one.
    let mut memory = Vec::new();
    let mut sizes = vec![opts.small];
    if opts.million {
        sizes.push(1_000_000);
    }
    for rows in sizes {
        eprintln!("memory: one worker draining {rows} SQLite tasks ...");
        let store = env.sqlite(&format!("outbox-memory-{rows}"));
        env.enqueue(&store, rows)?;
        let sandbox = SandboxProc::start(&env.cli)?;
        let g = env.drain(&store, &sandbox.base_url, 1, &format!("memory-{rows}"))?;
        sandbox.stop()?;
        let (done, left) = env.status(&store)?;
        memory.push(json!({
            "rows": rows, "peak_kib": g.peaks_kib[0], "secs": g.wall,
            "per_sec": rows as f64 / g.wall, "status_done": done, "status_not_done": left,
        }));
        let _ = std::fs::remove_file(store.trim_start_matches("sqlite:"));
    }

    let mut t = String::new();
    let _ = writeln!(t, "\noutbox: accept (SQLite, WAL + synchronous=FULL)");
    let _ = writeln!(
        t,
        "  one at a time (Outbox::accept, {} opt-outs, a commit each): {:>8.0} opt-outs/s  (target >= 1,000)",
        opts.accept_one, one
    );
    let _ = writeln!(
        t,
        "  optout enqueue --input ({} rows, a commit per 1,000):      {:>8.0} opt-outs/s  (target >= 5,000)",
        opts.rows, chunked
    );
    let _ = writeln!(
        t,
        "\noutbox: drain {} HubSpot tasks against `optout sandbox` (batches of 100), beside `optout bulk hubspot` over the same rows",
        opts.rows
    );
    let _ = writeln!(
        t,
        "{:<9} {:>7} {:>10} {:>10} {:>10} {:>9} {:>10} {:>7} {:>11} {:>9} {:>9} {:>10} {:>8}",
        "store",
        "workers",
        "enqueue/s",
        "drain/s",
        "floor/s",
        "of floor",
        "bulk/s",
        "ratio",
        "floor/bulk",
        "drain s",
        "peak MiB",
        "done/left",
        "already"
    );
    for d in &drains {
        let _ = writeln!(
            t,
            "{:<9} {:>7} {:>10.0} {:>10.0} {:>10.0} {:>9.2} {:>10.0} {:>7.2} {:>11.2} {:>9.1} {:>9.1} {:>10} {:>8}",
            d.store,
            d.workers,
            d.enqueue_per_sec,
            d.per_sec(),
            d.floor_per_sec(),
            d.per_sec() / d.floor_per_sec(),
            d.bulk_per_sec,
            d.per_sec() / d.bulk_per_sec,
            d.floor_per_sec() / d.bulk_per_sec,
            d.drain.wall,
            d.drain.peaks_kib.iter().copied().max().unwrap_or(0) as f64 / 1024.0,
            format!("{}/{}", d.done, d.left),
            d.sandbox_already
        );
    }
    let _ = writeln!(
        t,
        "(drain/s: tasks over the wall time from the workers' start to the last one's exit, start-up included; floor/s: `optout-bench durable-floor`, the least a durable outbox does per task (bench/src/durable_floor.rs), same processes and concurrency; of floor: drain/s over floor/s; ratio: drain/s over bulk/s, issue 15's target >= 0.5; floor/bulk: what that target would give the floor itself; done/left: `optout status` afterwards; already: rows the sandbox answered \"already unsubscribed\" when sent again)"
    );
    let _ = writeln!(
        t,
        "\noutbox: peak memory of one worker (SQLite) by queue length"
    );
    for m in &memory {
        let _ = writeln!(
            t,
            "  {:>9} tasks: {:>7.1} MiB VmHWM, {:>7.1} s, {:>7.0} tasks/s, done/left {}/{}",
            m["rows"],
            m["peak_kib"].as_f64().unwrap_or(0.0) / 1024.0,
            m["secs"].as_f64().unwrap_or(0.0),
            m["per_sec"].as_f64().unwrap_or(0.0),
            m["status_done"],
            m["status_not_done"]
        );
    }
    println!("{t}");
    let results = json!({
        "version": 1,
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "machine": machine,
        "accept": {
            "one_at_a_time": { "n": opts.accept_one, "per_sec": one },
            "enqueue_input": { "rows": opts.rows, "chunk": 1000, "per_sec": chunked },
        },
        "drain": drains.iter().map(Drain::json).collect::<Vec<_>>(),
        "memory": memory,
    });
    let out = opts.out.unwrap_or_else(|| env.dir.join("outbox.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&results)? + "\n")?;
    println!("results written to {}", out.display());
    Ok(())
}
