//! `cargo xtask bench [options]`: builds `optout` (the CLI) and `optout-bench` in release and
//! runs `target/release/optout-bench` with the options passed through. The benchmark itself
//! (servers, clients, table, `target/bench/results.json`) lives in `bench/src/`: `scenarios.rs`,
//! `servers.rs`, `report.rs`, `child.rs`.

use std::time::Instant;

use crate::{cargo, project_root, secs};

pub fn run(args: &[String]) -> Result<(), String> {
    let root = project_root();
    let build = [
        "build",
        "--release",
        "-p",
        "optout-cli",
        "-p",
        "optout-bench",
    ];
    println!("==> cargo {}", build.join(" "));
    let start = Instant::now();
    let status = std::process::Command::new(cargo())
        .args(build)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    if !status.success() {
        return Err(format!("the release build failed ({status})"));
    }
    println!("    built in {}", secs(start.elapsed()));
    // CARGO_TARGET_DIR is honoured, like cargo does; the default is <root>/target.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .map(|t| if t.is_relative() { root.join(t) } else { t })
        .unwrap_or_else(|| root.join("target"));
    let bench = target.join("release").join("optout-bench");
    println!("==> {} {}", bench.display(), args.join(" "));
    let status = std::process::Command::new(&bench)
        .args(args)
        .current_dir(&root)
        .env("CARGO", cargo())
        .status()
        .map_err(|e| format!("could not start {}: {e}", bench.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the benchmark failed ({status})"))
    }
}
