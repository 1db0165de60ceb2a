//! Every doc example a user of `optout` reads pastes into a crate that depends on `optout`
//! alone: the examples of the re-exported crates (core and the providers, whose docs
//! `optout::providers::*` inlines) show `optout::` paths, never `optout_core::` or
//! `optout_<provider>::` (those crates are not the user's dependencies). Their hidden lines
//! (`# ...`) may alias the path so that the crate's own doctest compiles.

use std::fs;
use std::path::{Path, PathBuf};

const CRATES: [&str; 7] = [
    "optout-core",
    "optout-migma",
    "optout-novu",
    "optout-pushy",
    "optout-mobivate",
    "optout-hubspot",
    "optout",
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The visible lines of the doc comments' code blocks: `(file:line, text)`.
fn visible_doc_code(path: &Path) -> Vec<(String, String)> {
    let text = fs::read_to_string(path).expect("a source file");
    let mut lines = Vec::new();
    let mut in_code = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let Some(doc) = trimmed
            .strip_prefix("///")
            .or_else(|| trimmed.strip_prefix("//!"))
        else {
            continue;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        if doc.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let hidden = doc.trim_start() == "#" || doc.trim_start().starts_with("# ");
        if in_code && !hidden {
            lines.push((format!("{}:{}", path.display(), n + 1), doc.to_string()));
        }
    }
    lines
}

#[test]
fn doc_examples_of_reexported_items_use_optout_paths() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in CRATES {
        rust_files(&root.join(krate).join("src"), &mut files);
    }
    assert!(files.len() >= 10, "{files:?}");
    let mut offending = Vec::new();
    let mut examples = 0;
    for file in &files {
        for (at, line) in visible_doc_code(file) {
            examples += 1;
            if line.contains("optout_core") || line.contains("optout_") && line.contains("::") {
                offending.push(format!("{at}: {line}"));
            }
        }
    }
    assert!(examples > 50, "only {examples} lines of examples found");
    assert!(
        offending.is_empty(),
        "doc examples a user of `optout` cannot paste:\n{}",
        offending.join("\n")
    );
}
