//! `cargo xtask ci`: what CI runs, in order, stopping at the first failure.

use std::time::Instant;

use crate::{cargo, project_root, secs};

struct Step {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    // The README's test command: keep the two in sync.
    Step {
        name: "test",
        args: &["test", "--workspace", "--all-features"],
        env: &[],
    },
    Step {
        name: "doc",
        args: &["doc", "--workspace", "--no-deps", "--all-features"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
];

pub fn run() -> Result<(), String> {
    let all = Instant::now();
    let root = project_root();
    for (i, step) in STEPS.iter().enumerate() {
        let shown = shown(step);
        println!("==> [{}/{}] {}: {shown}", i + 1, STEPS.len(), step.name);
        let start = Instant::now();
        let status = std::process::Command::new(cargo())
            .args(step.args)
            .envs(step.env.iter().copied())
            .current_dir(&root)
            .status()
            .map_err(|e| format!("step `{}` could not start `{shown}`: {e}", step.name))?;
        let took = secs(start.elapsed());
        if !status.success() {
            return Err(format!(
                "step `{}` failed ({status}) after {took}: {shown}",
                step.name
            ));
        }
        println!("<== {} ok in {took}", step.name);
    }
    println!(
        "ci: all {} steps passed in {}",
        STEPS.len(),
        secs(all.elapsed())
    );
    Ok(())
}

fn shown(step: &Step) -> String {
    let env: String = step
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v:?} "))
        .collect();
    format!("{env}cargo {}", step.args.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_the_documented_commands_in_order() {
        let shown: Vec<String> = STEPS.iter().map(shown).collect();
        assert_eq!(
            shown,
            [
                "cargo fmt --all --check",
                "cargo clippy --workspace --all-targets --all-features -- -D warnings",
                "cargo test --workspace --all-features",
                "RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps --all-features",
            ]
        );
    }
}
