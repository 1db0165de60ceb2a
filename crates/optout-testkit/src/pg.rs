//! A throwaway PostgreSQL cluster for tests, without Docker: `initdb` and `pg_ctl` from the
//! Debian packages (`/usr/lib/postgresql/*/bin`, or `OPTOUT_PG_BIN`) in a temporary folder, on
//! a free loopback port, with `fsync=off` (or, for benchmarks, [`PgCluster::start_durable`]:
//! PostgreSQL's durability as shipped). As root (initdb refuses root) every command runs as
//! `postgres` through `runuser -u postgres --`.
//!
//! [`PgCluster::start`] gives an owned cluster, stopped and removed on drop. [`shared`] gives
//! one cluster per test process (each test makes its own database with
//! [`PgCluster::create_database`]); a watcher process stops and removes it when the test
//! process exits, however it exits.
//!
//! Where the binaries are missing, [`shared`] prints a loud line and answers `None` (the test
//! then skips), except with `CI=true`, where it panics: CI must run the PostgreSQL tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};

/// A running PostgreSQL cluster in a temporary folder.
#[derive(Debug)]
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    /// `fsync`, `synchronous_commit` and `full_page_writes` as shipped (on), not off.
    durable: bool,
}

/// The folder holding `initdb`, `pg_ctl` and `postgres`, if any.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OPTOUT_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The shared cluster of this test process, started on first use; `None` (after a loud
/// message) when PostgreSQL is not installed and `CI` is not `true`.
pub fn shared() -> Option<Arc<PgCluster>> {
    static CLUSTER: OnceLock<Option<Arc<PgCluster>>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            let Some(bin) = bin_dir() else {
                let msg = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin or \
                           OPTOUT_PG_BIN): PostgreSQL tests SKIPPED; install Debian's \
                           `postgresql` package";
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("{msg} (CI=true: failing instead of skipping)");
                }
                eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
                return None;
            };
            let cluster = PgCluster::start_with(&bin, false);
            cluster.reap_on_exit();
            Some(Arc::new(cluster))
        })
        .clone()
}

impl PgCluster {
    /// Starts a cluster of its own (stopped and removed on drop). Panics when PostgreSQL is
    /// missing or does not start, with its log.
    pub fn start() -> PgCluster {
        PgCluster::start_with(
            &bin_dir().expect("PostgreSQL server binaries not found"),
            false,
        )
    }

    /// [`start`](Self::start), but with PostgreSQL's durability left as shipped (`fsync`,
    /// `synchronous_commit`, `full_page_writes` on): for measuring, where commits must cost
    /// what they cost in production.
    pub fn start_durable() -> PgCluster {
        PgCluster::start_with(
            &bin_dir().expect("PostgreSQL server binaries not found"),
            true,
        )
    }

    fn start_with(bin: &Path, durable: bool) -> PgCluster {
        let dir = std::env::temp_dir().join(format!(
            "optout-pg-{}-{:08x}",
            std::process::id(),
            fastrand_u32()
        ));
        std::fs::create_dir_all(&dir).expect("create the cluster folder");
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&dir));
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = PgCluster {
            bin: bin.to_path_buf(),
            dir,
            port,
            as_postgres,
            durable,
        };
        let data = cluster.dir.join("data");
        run(cluster.cmd("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]));
        cluster.start_server();
        cluster
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

    /// Starts the server again after [`stop_server`](Self::stop_server), on the same port.
    pub fn start_server(&self) {
        let fast = if self.durable {
            ""
        } else {
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        };
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1{fast} -c max_connections=300",
            self.port,
            self.dir.display()
        );
        let status = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-o")
            .arg(opts)
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl");
        if !status.success() {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            panic!("PostgreSQL did not start:\n{log}");
        }
    }

    /// Stops the server (fast shutdown), keeping its data.
    pub fn stop_server(&self) {
        let _ = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` (user `postgres`, trust authentication).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a fresh database with a unique name starting with `prefix`; answers its URL.
    pub fn create_database(&self, prefix: &str) -> String {
        let name: String = format!("{prefix}_{:08x}", fastrand_u32())
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        run(self
            .cmd("createdb")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(&name));
        self.url(&name)
    }

    /// A watcher that stops the server and removes the folder once this process is gone.
    fn reap_on_exit(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let runas = if self.as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             {runas}{pg_ctl} -D {dir}/data -m immediate -w stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            dir = self.dir.display(),
        );
        let _ = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fastrand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}
