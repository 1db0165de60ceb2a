//! `--provider-limited`: `optout bulk` (the release binary) against the sandbox enforcing a
//! provider's rate limit, the way a real run is limited. For each provider: rows per second
//! against the limit's own ceiling (requests it allows per second times rows per request),
//! the 429s the sandbox answered, the calls made, the rows failed, and what 1,000,000 rows
//! would take at HubSpot's Professional limit.

use super::*;
use optout_sandbox::{Api, RateLimit};

/// HubSpot's Professional and Enterprise limit per app: 190 requests per rolling 10 s.
const HUBSPOT_PRO: (f64, f64) = (190.0, 10.0);

/// One provider of the scenario.
struct Case {
    name: &'static str,
    api: Api,
    topic: &'static str,
    env: (&'static str, &'static str),
    /// Rows per request at most: HubSpot's v4 batch write carries 100, Pushy one device.
    rows_per_call: u64,
    recipient: fn(u64) -> String,
}

const CASES: [Case; 2] = [
    Case {
        name: "hubspot",
        api: Api::HubSpot,
        topic: HUBSPOT_TOPIC,
        env: ("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN),
        rows_per_call: 100,
        recipient: |i| format!("user{i}@example.com"),
    },
    Case {
        name: "pushy",
        api: Api::Pushy,
        topic: "news",
        env: ("PUSHY_SECRET_API_KEY", "bench-key"),
        rows_per_call: 1,
        recipient: |i| format!("{i:022x}"),
    },
];

/// The scenario's settings (`--limited-*` options).
pub(crate) struct LimitedOpts {
    /// Providers to run: hubspot, pushy.
    pub(crate) providers: Vec<String>,
    /// The limit the sandbox enforces on HubSpot (default its real Professional limit,
    /// 190/10s: with 100 rows per call, 100,000 rows take about 53 s).
    pub(crate) hubspot_limit: String,
    /// The limit the sandbox enforces on Pushy: its published 800/min scaled 125 times
    /// (800/480ms, 1,667 calls/s), so that 100,000 rows of one call each take about 60 s.
    pub(crate) pushy_limit: String,
    /// What `optout bulk` is told: `limit` (the same limit as `--rate`, as a user sets their
    /// plan's), `none` (nothing: it learns only from the answers) or an `N/PERIOD`.
    pub(crate) client_rate: String,
    /// `optout bulk --concurrency`.
    pub(crate) concurrency: usize,
}

impl Default for LimitedOpts {
    fn default() -> Self {
        LimitedOpts {
            providers: vec!["hubspot".into(), "pushy".into()],
            hubspot_limit: "190/10s".into(),
            pushy_limit: "800/480ms".into(),
            client_rate: "limit".into(),
            concurrency: 8,
        }
    }
}

fn write_rows(path: &Path, case: &Case, rows: u64) -> Result<(), BoxError> {
    if std::fs::metadata(path).is_ok() {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    writeln!(out, "recipient")?;
    for i in 0..rows {
        writeln!(out, "{}", (case.recipient)(i))?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(tmp, path)?;
    Ok(())
}

fn human(secs: f64) -> String {
    if secs >= 3600.0 {
        format!("{:.1} h", secs / 3600.0)
    } else if secs >= 60.0 {
        format!("{:.1} min", secs / 60.0)
    } else {
        format!("{secs:.1} s")
    }
}

/// Runs the scenario and returns its JSON; prints a line per provider and the projections.
pub(crate) async fn run(
    ctx: &Ctx,
    rows: u64,
    opts: &LimitedOpts,
    table: &mut String,
) -> Result<Value, BoxError> {
    let mut results = Vec::new();
    let _ = writeln!(
        table,
        "\nprovider-limited: `optout bulk` over {rows} rows, concurrency {}, against the sandbox enforcing the limit (client --rate: {})",
        opts.concurrency, opts.client_rate
    );
    let _ = writeln!(
        table,
        "{:<8} {:>11} {:>9} {:>10} {:>12} {:>7} {:>7} {:>7} {:>6} {:>8} {:>8}",
        "provider",
        "limit",
        "rows/call",
        "rows/s",
        "ceiling/s",
        "ratio",
        "calls",
        "429s",
        "429%",
        "failed",
        "secs"
    );
    for case in CASES
        .iter()
        .filter(|c| opts.providers.iter().any(|p| p == c.name))
    {
        let limit_text = match case.api {
            Api::Pushy => &opts.pushy_limit,
            _ => &opts.hubspot_limit,
        };
        let limit: RateLimit = limit_text.parse().map_err(|e: String| BoxError::from(e))?;
        let csv = ctx.dir.join(format!("limited-{}-{rows}.csv", case.name));
        write_rows(&csv, case, rows)?;
        let sandbox = optout_sandbox::Sandbox::builder()
            .rate_limit(case.api, limit)
            .start()
            .await?;
        let mut cmd = Command::new(&ctx.cli);
        cmd.args(["bulk", case.name, "--input"])
            .arg(&csv)
            .args(["--topic", case.topic, "--concurrency"])
            .arg(opts.concurrency.to_string())
            .args(["--base-url", &sandbox.base_url(), "--json"]);
        match opts.client_rate.as_str() {
            "none" => {}
            "limit" => {
                cmd.args(["--rate", limit_text]);
            }
            other => {
                cmd.args(["--rate", other]);
            }
        }
        cmd.env(case.env.0, case.env.1).env_remove("RUST_LOG");
        eprintln!("  {} against {limit_text}: {cmd:?}", case.name);
        let err = ctx.dir.join(format!("limited-{}.stderr", case.name));
        let child =
            tokio::task::spawn_blocking(move || run_child(cmd, &err).map_err(|e| e.to_string()))
                .await??;
        let stats = sandbox.stats();
        let _ = sandbox.shutdown().await;
        let v = last_json(&child.out)?;
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let ok = n("unsubscribed") + n("already");
        let failed = n("failed");
        let calls = v
            .get("latency")
            .and_then(|l| l.get("calls"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let requests = stats.requests(case.api);
        let limited = stats.rate_limited;
        let per_sec_allowed = f64::from(limit.requests) / limit.period.as_secs_f64();
        let ceiling = per_sec_allowed * case.rows_per_call as f64;
        let rows_per_sec = ok as f64 / child.wall;
        let ratio = rows_per_sec / ceiling;
        let share_429 = limited as f64 / requests.max(1) as f64;
        let fill = ok as f64 / calls.max(1) as f64;
        let _ = writeln!(
            table,
            "{:<8} {:>11} {:>9.1} {:>10.0} {:>12.0} {:>6.1}% {:>7} {:>7} {:>5.2}% {:>8} {:>8.1}",
            case.name,
            limit_text,
            fill,
            rows_per_sec,
            ceiling,
            100.0 * ratio,
            calls,
            limited,
            100.0 * share_429,
            failed,
            child.wall
        );
        results.push(json!({
            "provider": case.name, "limit": limit_text, "client_rate": opts.client_rate,
            "concurrency": opts.concurrency, "rows": n("rows"), "ok": ok, "failed": failed,
            "secs": child.wall, "rows_per_sec": rows_per_sec,
            "requests_allowed_per_sec": per_sec_allowed, "rows_per_call_max": case.rows_per_call,
            "rows_per_call": fill, "ceiling_rows_per_sec": ceiling, "ratio_to_ceiling": ratio,
            "client_calls": calls, "server_requests": requests, "answered_429": limited,
            "share_429": share_429, "cpu_secs": child.cpu_secs, "peak_kib": child.peak_kib,
            "latency": v.get("latency"),
        }));
    }
    // 1,000,000 rows at HubSpot's Professional limit, batched and one call per row, at the
    // ceiling and at the ratio HubSpot achieved here.
    let per_sec = HUBSPOT_PRO.0 / HUBSPOT_PRO.1;
    let batched = 1_000_000.0 / 100.0 / per_sec;
    let single = 1_000_000.0 / per_sec;
    let hubspot_ratio = results
        .iter()
        .find(|r| r["provider"] == "hubspot")
        .and_then(|r| r["ratio_to_ceiling"].as_f64());
    let _ = writeln!(
        table,
        "1,000,000 rows at HubSpot's Professional limit (190/10s): {} at 100 rows per call{}, {} at one call per row",
        human(batched),
        hubspot_ratio
            .map(|r| format!(" ({} at the {:.1}% of the ceiling measured here)", human(batched / r), 100.0 * r))
            .unwrap_or_default(),
        human(single)
    );
    let _ = writeln!(
        table,
        "(rows/s: rows done over `optout bulk`'s wall time, start-up included; ceiling: requests the limit allows per second x rows per request; rows/call: rows done over calls made; 429s: requests the sandbox refused, counted by it; 429%: of all requests it received)"
    );
    Ok(json!({
        "runs": results,
        "million_rows_at_hubspot_professional": {
            "limit": "190/10s", "batched_100_secs": batched, "one_per_row_secs": single,
            "batched_at_measured_ratio_secs": hubspot_ratio.map(|r| batched / r),
        },
    }))
}
