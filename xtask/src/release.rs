//! `cargo xtask release [--dry-run] <version>`.
//!
//! Packaging: `cargo package -p X` alone cannot package a crate whose internal dependencies
//! are not on crates.io yet (it resolves them from the index: "no matching package named
//! `optout-core` found"). Given all of them at once (`-p a -p b ...`), cargo (>= 1.90)
//! packages them in dependency order into a local registry overlay, so each one resolves
//! and verifies against the others' `.crate` files. That is what we run.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::changelog;
use crate::manifest::{inherits_version, set_versions, workspace_version};
use crate::semver::Version;
use crate::workspace::{Package, Workspace};
use crate::{cargo, project_root};

#[derive(Debug)]
struct Args {
    version: String,
    dry_run: bool,
    allow_dirty: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut version = None;
    let (mut dry_run, mut allow_dirty) = (false, false);
    for a in args {
        match a.as_str() {
            "--dry-run" | "-n" => dry_run = true,
            // Hidden: lets a developer try the dry run while editing. Never for a release.
            "--allow-dirty" => allow_dirty = true,
            flag if flag.starts_with('-') => {
                return Err(format!("unknown flag `{flag}`\n\n{}", crate::USAGE))
            }
            v if version.is_none() => version = Some(v.to_owned()),
            extra => return Err(format!("unexpected argument `{extra}`\n\n{}", crate::USAGE)),
        }
    }
    let version = version.ok_or_else(|| format!("release needs a version\n\n{}", crate::USAGE))?;
    if allow_dirty && !dry_run {
        return Err(
            "--allow-dirty is only for local checks of --dry-run; a release needs a clean tree"
                .into(),
        );
    }
    Ok(Args {
        version,
        dry_run,
        allow_dirty,
    })
}

pub fn run(args: &[String]) -> Result<(), String> {
    let args = parse(args)?;
    let new = Version::parse(&args.version)?;
    let root = project_root();

    check_clean(&root, args.allow_dirty)?;

    let ws = Workspace::load()?;
    let order = ws.publish_order()?;
    if order.is_empty() {
        return Err("no publishable crate in the workspace".into());
    }
    let root_manifest = root.join("Cargo.toml");
    let root_text = read(&root_manifest)?;
    let current = workspace_version(&root_text)
        .ok_or("Cargo.toml has no `version = \"...\"` under [workspace.package]")?;
    check_same_version(&order, &current)?;
    if new < Version::parse(&current)? {
        return Err(format!(
            "{} is lower than the current version {current}",
            args.version
        ));
    }

    let names: Vec<&str> = order.iter().map(|p| p.name.as_str()).collect();
    println!(
        "release {current} -> {}: {} crates, in order: {}",
        args.version,
        order.len(),
        names.join(", ")
    );

    // Every edit is computed in memory first; a dry run only prints them.
    let (edits, changelog_note) = plan_edits(&root, &root_text, &ws, &args.version, args.dry_run)?;
    let verb = if args.dry_run {
        "would write"
    } else {
        "writing"
    };
    for (path, old, new_text) in edits.iter().filter(|(p, ..)| !is_changelog(p)) {
        // Manifest edits never add or remove lines: show the changed ones.
        println!("{verb} {}:", rel(&root, path));
        for (n, (a, b)) in old.lines().zip(new_text.lines()).enumerate() {
            if a != b {
                println!("  {:>4} | {}", n + 1, b.trim_end());
            }
        }
    }
    if edits.iter().all(|(p, ..)| is_changelog(p)) {
        println!("no manifest changes: the version stays {current}");
    }
    println!("{changelog_note}");

    if args.dry_run {
        println!("dry run: nothing written; `cargo update --workspace` skipped; packaging the tree as it is ({current})");
        package(&ws, &order, &current, args.allow_dirty)?;
        println!(
            "dry run ok: {} crates packaged into {}",
            order.len(),
            rel(&root, &ws.target_dir.join("package"))
        );
        return Ok(());
    }

    let written: Vec<PathBuf> = edits.iter().map(|(p, ..)| p.clone()).collect();
    let new_changelog = !root.join("CHANGELOG.md").exists();
    let undo = |e: String| {
        let mut files = vec!["Cargo.lock".to_owned()];
        files.extend(
            written
                .iter()
                .map(|p| rel(&root, p))
                .filter(|f| !(new_changelog && f == "CHANGELOG.md")),
        );
        let rm = if new_changelog {
            " && rm CHANGELOG.md"
        } else {
            ""
        };
        format!(
            "{e}\nnothing was published; the release edits are on disk. To undo them:\n  git checkout -- {}{rm}",
            files.join(" ")
        )
    };
    for (path, _, text) in &edits {
        fs::write(path, text)
            .map_err(|e| undo(format!("could not write {}: {e}", path.display())))?;
    }
    run_cargo(&root, &["update", "--workspace"]).map_err(undo)?;
    let ws = Workspace::load().map_err(undo)?;
    let order = ws.publish_order().map_err(undo)?;
    check_same_version(&order, &args.version).map_err(undo)?;
    package(&ws, &order, &args.version, true).map_err(undo)?;

    let v = &args.version;
    let files: Vec<String> = written.iter().map(|p| rel(&root, p)).collect();
    let then = format!(
        "  git add Cargo.lock {}\n  git commit -m \"release {v}\"\n  git tag v{v}\n  git push origin HEAD v{v}",
        files.join(" ")
    );
    for (i, p) in order.iter().enumerate() {
        println!("publishing {} {v} ...", p.name);
        // `--no-verify`: `cargo package` just built these very files.
        let publish = [
            "publish",
            "--locked",
            "--allow-dirty",
            "--no-verify",
            "-p",
            &p.name,
        ];
        if let Err(e) = run_cargo(&root, &publish) {
            if i == 0 {
                return Err(undo(e));
            }
            let done: Vec<&str> = order[..i].iter().map(|p| p.name.as_str()).collect();
            let rest: Vec<String> = order[i..]
                .iter()
                .map(|p| format!("  cargo publish --locked --allow-dirty -p {}", p.name))
                .collect();
            return Err(format!(
                "{e}\npublished already: {}\nkeep the release edits; to finish, in this order:\n{}\n{then}",
                done.join(", "),
                rest.join("\n")
            ));
        }
    }
    println!(
        "published {} crates at {v}. Now commit and tag:\n{then}",
        order.len()
    );
    Ok(())
}

fn check_clean(root: &Path, allow_dirty: bool) -> Result<(), String> {
    let out = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("could not run git status: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git status failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let dirty = String::from_utf8_lossy(&out.stdout).into_owned();
    if dirty.trim().is_empty() {
        return Ok(());
    }
    if allow_dirty {
        let n = dirty.lines().count();
        println!("warning: --allow-dirty: ignoring {n} uncommitted change(s) (local check only)");
        return Ok(());
    }
    Err(format!(
        "the git tree is not clean (commit or stash first):\n{}",
        dirty.trim_end()
    ))
}

fn check_same_version(order: &[&Package], version: &str) -> Result<(), String> {
    let mut wrong = Vec::new();
    for p in order {
        let text = read(&p.manifest)?;
        if p.version != version {
            wrong.push(format!("  {} is at {}", p.name, p.version));
        } else if !inherits_version(&text) {
            wrong.push(format!("  {} sets its own version", p.name));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "every publishable crate must use the workspace version {version} (`version.workspace = true`):\n{}",
            wrong.join("\n")
        ))
    }
}

/// A file the release changes: (path, old text, new text).
type Edit = (PathBuf, String, String);

/// Every file the release changes, and a line about the changelog.
fn plan_edits(
    root: &Path,
    root_text: &str,
    ws: &Workspace,
    new: &str,
    dry_run: bool,
) -> Result<(Vec<Edit>, String), String> {
    let internal: BTreeSet<String> = ws.names();
    let mut edits = Vec::new();
    let mut seen = BTreeSet::new();
    let root_manifest = root.join("Cargo.toml");
    seen.insert(root_manifest.clone());
    let edited = set_versions(root_text, &internal, new);
    if edited != root_text {
        edits.push((root_manifest, root_text.to_owned(), edited));
    }
    for p in &ws.packages {
        if !seen.insert(p.manifest.clone()) {
            continue;
        }
        let text = read(&p.manifest)?;
        let edited = set_versions(&text, &internal, new);
        if edited != text {
            edits.push((p.manifest.clone(), text, edited));
        }
    }
    let path = root.join("CHANGELOG.md");
    let old = match fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("could not read {}: {e}", path.display())),
    };
    let date = changelog::today();
    let log = changelog::release(old.as_deref(), new, &date)?;
    let section = format!("`## {new} - {date}`");
    let verb = if dry_run { "would write" } else { "writing" };
    let note = match (&old, log.moved) {
        (None, _) => {
            format!("{verb} CHANGELOG.md: new, with an empty `## Unreleased` and {section}")
        }
        (Some(_), 0) => format!(
            "{verb} CHANGELOG.md: warning: nothing under `## Unreleased`, so {section} is empty"
        ),
        (Some(_), n) => {
            format!("{verb} CHANGELOG.md: {n} line(s) move from `## Unreleased` to {section}")
        }
    };
    edits.push((path, old.unwrap_or_default(), log.text));
    Ok((edits, note))
}

fn package(
    ws: &Workspace,
    order: &[&Package],
    version: &str,
    allow_dirty: bool,
) -> Result<(), String> {
    for p in order {
        println!(
            "packaging {} {version} ({})",
            p.name,
            rel(&ws.root, p.manifest.parent().unwrap_or(&ws.root))
        );
    }
    forget_stale_overlay_sources(order, version);
    forget_overlay_builds(&ws.target_dir, order);
    let mut args = vec!["package", "--locked"];
    if allow_dirty {
        args.push("--allow-dirty");
    }
    for p in order {
        args.extend(["-p", p.name.as_str()]);
    }
    run_cargo(&ws.root, &args)?;
    for p in order {
        let file = ws
            .target_dir
            .join("package")
            .join(format!("{}-{version}.crate", p.name));
        let size = fs::metadata(&file)
            .map_err(|e| format!("cargo package did not produce {}: {e}", file.display()))?
            .len();
        println!(
            "  ok {} ({:.1} KiB)",
            rel(&ws.root, &file),
            size as f64 / 1024.0
        );
    }
    Ok(())
}

/// Cargo extracts the overlay registry's `.crate` files into `$CARGO_HOME/registry/src/-<hash>/`,
/// the hash naming the overlay's path (`target/package/tmp-registry`), and reuses an extracted
/// `<name>-<version>` if it is there. A second packaging of the same version from the same
/// path (a CI machine that keeps `~/.cargo`) then verified each crate against the sources of
/// the first one. Deleting our own crates' extracted copies from the overlay registries
/// (crates.io's is named `index.crates.io-...`; local ones start with `-`) makes the
/// verification build what was just packaged.
fn forget_stale_overlay_sources(order: &[&Package], version: &str) {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(home) = home else { return };
    for kind in ["src", "cache"] {
        let Ok(registries) = fs::read_dir(home.join("registry").join(kind)) else {
            continue;
        };
        for registry in registries.flatten() {
            if !registry.file_name().to_string_lossy().starts_with('-') {
                continue;
            }
            for p in order {
                let stem = format!("{}-{version}", p.name);
                let _ = fs::remove_dir_all(registry.path().join(&stem));
                let _ = fs::remove_file(registry.path().join(format!("{stem}.crate")));
            }
        }
    }
}

/// The same for what was compiled: cargo takes a registry crate of a given version to be the
/// same whatever its source says, so a build directory that verified `optout-core 0.1.0` once
/// reuses that build for every later verification of 0.1.0 (a dry run failed on a trait
/// method added since: "`pause` is not a member of trait `RateShare`"). Deleting our crates'
/// fingerprints (`<name>-<16 hex digits>`) makes cargo build them again, from the overlay and
/// from the workspace alike.
fn forget_overlay_builds(target: &Path, order: &[&Package]) {
    let Ok(entries) = fs::read_dir(target.join("debug").join(".fingerprint")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = order.iter().any(|p| {
            name.strip_prefix(p.name.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        });
        if ours {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn run_cargo(root: &Path, args: &[&str]) -> Result<(), String> {
    let shown = format!("cargo {}", args.join(" "));
    println!("$ {shown}");
    let status = Command::new(cargo())
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

fn is_changelog(path: &Path) -> bool {
    path.file_name().is_some_and(|f| f == "CHANGELOG.md")
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("could not read {}: {e}", path.display()))
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Args, String> {
        parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_flags_in_any_position() {
        let a = args(&["0.2.0", "--dry-run"]).unwrap();
        assert_eq!(
            (a.version.as_str(), a.dry_run, a.allow_dirty),
            ("0.2.0", true, false)
        );
        let a = args(&["--allow-dirty", "-n", "0.2.0"]).unwrap();
        assert!(a.dry_run && a.allow_dirty);
    }

    #[test]
    fn rejects_bad_invocations() {
        assert!(args(&[])
            .unwrap_err()
            .starts_with("release needs a version"));
        assert!(args(&["0.2.0", "0.3.0"])
            .unwrap_err()
            .starts_with("unexpected argument `0.3.0`"));
        assert!(args(&["--force", "0.2.0"])
            .unwrap_err()
            .starts_with("unknown flag `--force`"));
        assert!(args(&["--allow-dirty", "0.2.0"])
            .unwrap_err()
            .contains("only for local checks"));
    }
}
