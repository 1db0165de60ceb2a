//! Shared helpers for the end-to-end tests (see the files beside this folder).

/// The workspace root (the folder holding the root `Cargo.toml`).
pub fn workspace_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The `optout` binary, built once per test process with `cargo build -p optout-cli`.
///
/// Panics (failing the test) if the build fails: there is nothing to test then.
pub fn optout_binary() -> std::path::PathBuf {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BINARY
        .get_or_init(|| {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "-p", "optout-cli", "--quiet"])
                .current_dir(workspace_dir())
                .stdin(std::process::Stdio::null())
                .status()
                .expect("cargo build -p optout-cli could not start");
            assert!(
                status.success(),
                "cargo build -p optout-cli failed: {status}"
            );
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| workspace_dir().join("target"));
            let target = if target.is_relative() {
                workspace_dir().join(target)
            } else {
                target
            };
            let binary = target
                .join("debug")
                .join(format!("optout{}", std::env::consts::EXE_SUFFIX));
            assert!(binary.is_file(), "no binary at {}", binary.display());
            binary
        })
        .clone()
}

/// What a finished process said.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    /// The exit code (`None` if killed by a signal or by the time limit).
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
    /// Whether it was killed because it ran past the time limit.
    pub timed_out: bool,
}

impl ProcessOutput {
    /// Stdout and stderr together, for "never appears anywhere" checks.
    pub fn all_text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `program` with `args` and ONLY the environment `env` (plus nothing inherited), stdin
/// null, killing it after `limit`.
pub fn run_with_env(
    program: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: std::time::Duration,
) -> ProcessOutput {
    let mut command = std::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut buf);
        buf
    });
    let started = std::time::Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait().expect("waiting for the child") {
            Some(status) => break status,
            None if started.elapsed() > limit => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().expect("waiting for the killed child");
            }
            None => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    ProcessOutput {
        code: if timed_out { None } else { status.code() },
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        timed_out,
    }
}

/// Runs the `optout` binary (see [`optout_binary`]) with a cleared environment plus `env`,
/// stdin null and a 60-second limit.
pub fn run_optout(args: &[&str], env: &[(&str, &str)]) -> ProcessOutput {
    run_with_env(
        &optout_binary(),
        args,
        env,
        std::time::Duration::from_secs(60),
    )
}

/// A loopback address where nothing listens (a port bound then released).
pub fn dead_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let addr = listener.local_addr().expect("its address");
    drop(listener);
    format!("http://{addr}")
}
