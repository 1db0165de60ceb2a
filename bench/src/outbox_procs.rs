//! The processes the `--outbox` scenario runs: the release `optout sandbox` and groups of
//! `optout worker` processes timed together while their peak memory is polled. (Its
//! PostgreSQL is `optout-testkit`'s throwaway cluster, started durable: `fsync` and
//! `synchronous_commit` as shipped.)

use super::*;

/// `optout sandbox` running as a child process on a free loopback port.
pub(crate) struct SandboxProc {
    child: std::process::Child,
    pub(crate) base_url: String,
    stdout: BufReader<std::process::ChildStdout>,
}

impl SandboxProc {
    /// Starts the release sandbox and waits for its "listening on URL" line.
    pub(crate) fn start(cli: &Path) -> Result<SandboxProc, BoxError> {
        let mut child = Command::new(cli)
            .args(["sandbox", "--addr", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no sandbox stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let base_url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .ok_or_else(|| format!("the sandbox said {line:?}, not where it listens"))?
            .to_string();
        Ok(SandboxProc {
            child,
            base_url,
            stdout,
        })
    }

    /// Stops it with SIGINT (as Ctrl-C) and answers the requests it says it served.
    pub(crate) fn stop(mut self) -> Result<u64, BoxError> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest)?;
        self.child.wait()?;
        Ok(rest
            .lines()
            .find_map(|l| l.strip_prefix("served "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }
}

/// What a group of processes run together did.
pub(crate) struct Group {
    /// From the first spawn to the last exit.
    pub(crate) wall: f64,
    /// Each process's peak resident set (VmHWM), KiB.
    pub(crate) peaks_kib: Vec<u64>,
    /// User + system CPU of the whole group.
    pub(crate) cpu_secs: f64,
    /// Exit codes.
    pub(crate) codes: Vec<Option<i32>>,
}

/// Starts every command at once, polls their VmHWM every 5 ms and waits for all of them.
pub(crate) fn run_group(cmds: Vec<Command>, stderr_to: &Path) -> Result<Group, BoxError> {
    let (_, children_before) = cpu_secs();
    let started = Instant::now();
    let mut children = Vec::new();
    for (i, mut cmd) in cmds.into_iter().enumerate() {
        let err = std::fs::File::create(stderr_to.with_extension(format!("{i}.stderr")))?;
        children.push(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()?,
        );
    }
    let mut peaks = vec![0u64; children.len()];
    let mut codes: Vec<Option<Option<i32>>> = vec![None; children.len()];
    while codes.iter().any(Option::is_none) {
        for (i, c) in children.iter_mut().enumerate() {
            if codes[i].is_some() {
                continue;
            }
            if let Some(kib) = vm_hwm_kib(&c.id().to_string()) {
                peaks[i] = peaks[i].max(kib);
            }
            if let Some(status) = c.try_wait()? {
                codes[i] = Some(status.code());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let wall = started.elapsed().as_secs_f64();
    let (_, children_after) = cpu_secs();
    Ok(Group {
        wall,
        peaks_kib: peaks,
        cpu_secs: children_after - children_before,
        codes: codes.into_iter().map(Option::unwrap_or_default).collect(),
    })
}
