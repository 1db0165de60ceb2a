//! The scenarios: options, the matrix of servers, providers, concurrencies and clients run
//! as child processes in interleaved rounds, the capacity and build-time measurements.

use super::*;

pub(crate) struct Opts {
    pub(crate) rows: u64,
    pub(crate) concurrency: Vec<usize>,
    pub(crate) providers: Vec<Prov>,
    pub(crate) servers: Vec<String>,
    pub(crate) clients: Vec<String>,
    pub(crate) repeat: usize,
    pub(crate) capacity_secs: f64,
    pub(crate) million: bool,
    pub(crate) build_times: bool,
    pub(crate) out: Option<PathBuf>,
    pub(crate) cli: Option<PathBuf>,
    /// Run the provider-limited scenario (only it).
    pub(crate) provider_limited: bool,
    pub(crate) limited: limited::LimitedOpts,
}

pub(crate) fn parse_opts(args: &[String]) -> Result<Opts, BoxError> {
    let mut o = Opts {
        rows: 100_000,
        concurrency: vec![1, 32],
        providers: vec![Prov::HubSpot, Prov::Novu],
        servers: vec!["minimal".into(), "sandbox".into()],
        clients: vec![
            "floor".into(),
            "floor-read".into(),
            "floor-1row".into(),
            "lib".into(),
            "cli".into(),
        ],
        repeat: 3,
        capacity_secs: 3.0,
        million: false,
        build_times: false,
        out: None,
        cli: None,
        provider_limited: false,
        limited: limited::LimitedOpts::default(),
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
            "--provider-limited" => o.provider_limited = true,
            "--limited-providers" => o.limited.providers = list(val()?),
            "--hubspot-limit" => o.limited.hubspot_limit = val()?,
            "--pushy-limit" => o.limited.pushy_limit = val()?,
            "--client-rate" => o.limited.client_rate = val()?,
            "--limited-concurrency" => o.limited.concurrency = val()?.parse::<usize>()?.max(1),
            other => return Err(format!("unknown option {other:?}\n\n{USAGE}").into()),
        }
    }
    Ok(o)
}

/// What a child run gave: its stdout, peak RSS, wall time, its CPU time and this process's.
pub(crate) struct Child {
    pub(crate) out: String,
    pub(crate) peak_kib: u64,
    pub(crate) wall: f64,
    pub(crate) cpu_secs: f64,
    pub(crate) own_cpu_secs: f64,
}

/// Runs `cmd` to the end, polling its VmHWM.
pub(crate) fn run_child(mut cmd: Command, stderr_to: &Path) -> Result<Child, BoxError> {
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

pub(crate) fn last_json(out: &str) -> Result<Value, BoxError> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| BoxError::from(format!("no JSON in the child's output: {out:?}")))?;
    Ok(serde_json::from_str(line)?)
}

pub(crate) struct Ctx {
    pub(crate) me: PathBuf,
    pub(crate) cli: PathBuf,
    pub(crate) dir: PathBuf,
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn measure(
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
        "lib" | "floor" | "floor-read" | "floor-1row" => {
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

pub(crate) fn build_times(root: &Path, target: &Path) -> Result<Value, BoxError> {
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

pub(crate) fn orchestrate(args: &[String]) -> Result<(), BoxError> {
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
    if opts.provider_limited {
        return rt.block_on(async {
            let machine = machine();
            eprintln!("optout-bench --provider-limited: {} rows per provider, {}", opts.rows, machine["summary"]);
            let mut table = String::new();
            let v = limited::run(&ctx, opts.rows, &opts.limited, &mut table).await?;
            println!("{table}");
            let results = json!({
                "version": 1,
                "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
                "machine": machine,
                "provider_limited": v,
            });
            let out = opts.out.clone().unwrap_or_else(|| ctx.dir.join("limited.json"));
            std::fs::write(&out, serde_json::to_string_pretty(&results)? + "\n")?;
            println!("results written to {}", out.display());
            Ok(())
        });
    }
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
                            // The one-row floor is HubSpot's v3 call.
                            if client == "floor-1row" && *p != Prov::HubSpot {
                                continue;
                            }
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
        // The floor that decodes Novu's answer and confirms each row from it.
        let read_floor_of = |r: &Run| {
            runs.iter().find(|f| {
                f.client == "floor-read"
                    && f.server == r.server
                    && f.provider == r.provider
                    && f.concurrency == r.concurrency
                    && f.rows == r.rows
            })
        };
        // HubSpot's one-row v3 floor, for reference: what the floor was before batch writes.
        let one_row_floor_of = |r: &Run| {
            runs.iter().find(|f| {
                f.client == "floor-1row"
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
            "\n{:<8} {:<8} {:<10} {:>4} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6} {:>7} {:>6} {:>6}",
            "server", "provider", "client", "conc", "rows", "calls/s", "p50", "p99", "mean", "peakMiB", "requests", "conns", "cpu/row", "floor%", "cpu%"
        );
        let _ = table.pop();
        let _ = writeln!(table, " {:>6} {:>6}", "read%", "1row%");
        for r in &runs {
            let (ratio, cpu_ratio) = floor_of(r)
                .map(|f| {
                    (
                        format!("{:.0}%", 100.0 * r.ratio(f)),
                        format!("{:.0}%", 100.0 * r.cpu_ratio(f)),
                    )
                })
                .unwrap_or_else(|| ("-".into(), "-".into()));
            let read_ratio = read_floor_of(r)
                .filter(|f| f.client != r.client)
                .map_or_else(|| "-".into(), |f| format!("{:.0}%", 100.0 * r.ratio(f)));
            let one_row_ratio = one_row_floor_of(r)
                .filter(|f| f.client != r.client)
                .map_or_else(|| "-".into(), |f| format!("{:.0}%", 100.0 * r.ratio(f)));
            let _ = writeln!(
                table,
                "{:<8} {:<8} {:<10} {:>4} {:>8} {:>9.0} {:>8} {:>8} {:>8} {:>8.1} {:>9} {:>6} {:>7} {:>6} {:>6} {:>6} {:>6}{}",
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
                read_ratio,
                one_row_ratio,
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
        let _ = writeln!(table, "(each row: the median of {} interleaved runs, all in the JSON; floor%: speed over the floor's, the median of the round-by-round ratios; cpu/row: the client process's CPU time (user + system, all threads) per row; cpu%: the floor's CPU per row over this client's, paired the same way (100% = costs what the plain loop costs); floor: the plain loop sending the library's own requests (HubSpot: v4 batch writes of 100 rows; Novu: DELETEs of 100) and reading each answer whole; read%: speed over the floor-read's (the plain loop that also decodes each answer (Novu: each item's id, topic and subscriber and the errors; HubSpot: each result's address, subscription and status, and the errors) and confirms each row from it), paired the same way; 1row%: HubSpot only, for reference: speed over the floor-1row's, one v3 call per row as before batch writes; p50/p99: per call, timed by the client itself; mean: by Little's law; cli: time is the process's wall time)", opts.repeat);
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
            "runs": runs.iter().map(|r| {
                let mut v = r.json(floor_of(r));
                if let (Value::Object(m), Some(f)) = (&mut v, read_floor_of(r).filter(|f| f.client != r.client)) {
                    m.insert("ratio_to_read_floor".into(), json!(r.ratio(f)));
                }
                if let (Value::Object(m), Some(f)) = (&mut v, one_row_floor_of(r).filter(|f| f.client != r.client)) {
                    m.insert("ratio_to_one_row_floor".into(), json!(r.ratio(f)));
                }
                v
            }).collect::<Vec<_>>(),
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
