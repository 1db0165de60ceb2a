//! What every published crate carries: both license texts, identical to the root's (the
//! crates say `MIT OR Apache-2.0`; `cargo package` ships only files inside the crate's folder).

use std::fs;
use std::path::PathBuf;

use optout_tests::workspace_dir;

/// The folders under `crates/` whose manifest does not say `publish = false`.
fn published_crates() -> Vec<PathBuf> {
    let mut crates: Vec<PathBuf> = fs::read_dir(workspace_dir().join("crates"))
        .expect("crates/")
        .map(|entry| entry.expect("an entry of crates/").path())
        .filter(|dir| {
            fs::read_to_string(dir.join("Cargo.toml"))
                .map(|manifest| !manifest.contains("publish = false"))
                .unwrap_or(false)
        })
        .collect();
    crates.sort();
    crates
}

#[test]
fn the_root_and_every_published_crate_carry_both_licenses() {
    let crates = published_crates();
    assert!(crates.len() >= 8, "published crates found: {crates:?}");
    for name in ["LICENSE-MIT", "LICENSE-APACHE"] {
        let root = fs::read_to_string(workspace_dir().join(name))
            .unwrap_or_else(|e| panic!("{name} at the workspace root: {e}"));
        assert!(root.len() > 500, "{name} looks empty");
        for dir in &crates {
            let copy = fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("{name} in {}: {e}", dir.display()));
            assert_eq!(
                copy,
                root,
                "{name} in {} differs from the root's",
                dir.display()
            );
        }
    }
}
