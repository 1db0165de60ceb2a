//! What the runs gave and how they are reported: one run's figures, medians, the ratios to
//! the floor (pooled over rounds), formatting and the machine the benchmark ran on.

use super::*;

/// What one child reported, plus what the orchestrator saw.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) server: String,
    pub(crate) provider: Prov,
    pub(crate) client: String,
    pub(crate) concurrency: usize,
    pub(crate) rows: u64,
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    pub(crate) secs: f64,
    pub(crate) p50_us: Option<u64>,
    pub(crate) p99_us: Option<u64>,
    pub(crate) mean_us: f64,
    pub(crate) peak_kib: u64,
    pub(crate) requests: u64,
    pub(crate) connections: u64,
    /// CPU time of the client process (user + system, all threads), and of the bench
    /// process meanwhile: the server, which runs in it, and the bench's own polling.
    pub(crate) cpu_secs: f64,
    pub(crate) server_cpu_secs: f64,
    /// Rows per second of every repetition of this cell, in round order (this run is their
    /// median).
    pub(crate) samples: Vec<f64>,
    /// The client's CPU microseconds per row, of every repetition, in round order.
    pub(crate) cpu_samples: Vec<f64>,
}

impl Run {
    pub(crate) fn per_sec(&self) -> f64 {
        self.rows as f64 / self.secs.max(1e-9)
    }
    /// This client's speed over the floor's: the median of the ratios round by round (each
    /// pair ran back to back, so a slow spell of the machine hits both), or the ratio of
    /// the medians when the runs cannot be paired.
    pub(crate) fn ratio(&self, floor: &Run) -> f64 {
        paired(&self.samples, &floor.samples)
            .unwrap_or_else(|| self.per_sec() / floor.per_sec().max(1e-9))
    }

    /// The client's CPU time per row, in microseconds.
    pub(crate) fn cpu_us_per_row(&self) -> f64 {
        self.cpu_secs * 1e6 / self.rows.max(1) as f64
    }

    /// The floor's CPU per row over this client's, paired round by round like [`ratio`](Self::ratio):
    /// 1.0 when this client costs the machine what the plain loop does. Steadier than the
    /// speed on a shared machine, where another tenant's burst slows a run but does not make
    /// it use more CPU.
    pub(crate) fn cpu_ratio(&self, floor: &Run) -> f64 {
        paired(&floor.cpu_samples, &self.cpu_samples)
            .unwrap_or_else(|| floor.cpu_us_per_row() / self.cpu_us_per_row().max(1e-9))
    }

    pub(crate) fn json(&self, floor: Option<&Run>) -> Value {
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
pub(crate) fn pooled_ratios<'a>(
    runs: &'a [Run],
    floor_of: &impl Fn(&Run) -> Option<&'a Run>,
) -> Vec<Value> {
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
pub(crate) fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a / b.max(1e-9)).collect()
}

/// The median of `a[i] / b[i]` over the rounds; `None` without rounds.
pub(crate) fn paired(a: &[f64], b: &[f64]) -> Option<f64> {
    median_of(ratios(a, b))
}

/// The median; `None` of nothing.
pub(crate) fn median_of(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[n / 2]),
        n => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// The median of one client's runs (by rows per second), carrying every run's figure in
/// round order.
pub(crate) fn median(mut runs: Vec<Run>) -> Option<Run> {
    let samples: Vec<f64> = runs.iter().map(Run::per_sec).collect();
    let cpu_samples: Vec<f64> = runs.iter().map(Run::cpu_us_per_row).collect();
    runs.sort_by(|a, b| a.per_sec().total_cmp(&b.per_sec()));
    let mut middle = runs.swap_remove(runs.len().checked_sub(1)? / 2);
    middle.samples = samples;
    middle.cpu_samples = cpu_samples;
    Some(middle)
}

pub(crate) fn fmt_us(v: Option<u64>) -> String {
    match v {
        Some(us) if us >= 10_000 => format!("{:.1}ms", us as f64 / 1000.0),
        Some(us) => format!("{us}us"),
        None => "-".into(),
    }
}

pub(crate) fn machine() -> Value {
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
