//! The processes the `--outbox` scenario runs: the release `optout sandbox`, a throwaway
//! PostgreSQL cluster (initdb and pg_ctl as `optout-testkit` does, but with PostgreSQL's own
//! durability left on: `fsync` and `synchronous_commit` as shipped), and groups of `optout
//! worker` processes timed together while their peak memory is polled.

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

/// A PostgreSQL cluster in a temporary folder, stopped and removed on drop.
pub(crate) struct PgProc {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PgProc {
    /// initdb and pg_ctl start on a free port, as the `postgres` user when run as root.
    pub(crate) fn start() -> Result<PgProc, BoxError> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("PostgreSQL server binaries not found (/usr/lib/postgresql: {e}); install Debian's `postgresql` or leave postgres out of --outbox-stores"))?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()
            .ok_or("PostgreSQL server binaries not found under /usr/lib/postgresql")?;
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")?;
        let dir = std::env::temp_dir().join(format!("optout-bench-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        if as_postgres {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let pg = PgProc {
            bin,
            dir,
            port,
            as_postgres,
        };
        pg.run(
            pg.cmd("initdb")
                .arg("-D")
                .arg(pg.dir.join("data"))
                .args(["-U", "postgres", "-A", "trust", "-E", "UTF8"]),
        )?;
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=100",
            pg.port,
            pg.dir.display()
        );
        pg.run(
            pg.cmd("pg_ctl")
                .arg("-D")
                .arg(pg.dir.join("data"))
                .arg("-o")
                .arg(opts)
                .arg("-l")
                .arg(pg.dir.join("log"))
                .args(["-w", "-t", "60", "start"]),
        )?;
        Ok(pg)
    }

    fn cmd(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, cmd: &mut Command) -> Result<(), BoxError> {
        let out = cmd.stdin(Stdio::null()).output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into())
        }
    }

    /// Creates database `name` and answers its URL.
    pub(crate) fn database(&self, name: &str) -> Result<String, BoxError> {
        self.run(
            self.cmd("createdb")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
                .arg(self.port.to_string())
                .arg(name),
        )?;
        Ok(format!(
            "postgres://postgres@127.0.0.1:{}/{name}",
            self.port
        ))
    }
}

impl Drop for PgProc {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
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
