//! Project chores, run as `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//! Only std and serde_json (already in the workspace), in the spirit of rust-analyzer's xtask.

mod bench;
mod changelog;
mod ci;
mod manifest;
mod release;
mod semver;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                          cargo fmt --check, clippy -D warnings, test, doc -D warnings;
                              stops at the first failing step
  release [--dry-run] <ver>   release every publishable crate at <ver> (MAJOR.MINOR.PATCH[-PRE]):
                              needs a clean git tree and one shared workspace version; bumps
                              [workspace.package] and internal dependency versions, moves
                              CHANGELOG.md's `## Unreleased` under `## <ver> - <date>`,
                              refreshes Cargo.lock, packages the crates in dependency order,
                              publishes them in that order and prints the tag to push.
                              --dry-run (-n): check and package only; changes nothing on disk
  bench [options]             build optout and optout-bench (release) and run the performance
                              benchmark: loopback servers' capacity, then `optout bulk`, the
                              library's bulk path and a plain reqwest floor, for HubSpot and
                              Novu at concurrency 1 and 32; prints a table and writes
                              target/bench/results.json. --million: peak memory over 1,000,000
                              rows; --build-times: build time, one provider vs all; --help:
                              every option
  help                        this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some("ci") if args.len() == 1 => ci::run(),
        Some("ci") => Err(format!("ci takes no arguments\n\n{USAGE}")),
        Some("release") if args[1..].iter().any(|a| a == "-h" || a == "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some("release") => release::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The cargo that runs us (`$CARGO`), so every step uses the same toolchain.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// The workspace root: xtask lives in `<root>/xtask`.
fn project_root() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.parent().map(PathBuf::from).unwrap_or(dir)
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
