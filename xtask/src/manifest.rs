//! Pure text edits of Cargo manifests: text in, text out, everything we do not touch kept
//! byte for byte.
//!
//! This is a line scanner for the shapes our manifests use, not a TOML parser. It knows:
//! table headers (`[workspace.package]`, `[dependencies]`, `[target.'cfg(x)'.dependencies]`,
//! `[dependencies.NAME]`), one-line `key = value` entries, inline tables
//! (`name = { path = "..", version = "0.1.0" }`) and multi-line strings (skipped). That is
//! the whole of TOML that can hold a version we must bump.

use std::collections::BTreeSet;
use std::ops::Range;

/// Sets `version` in `[workspace.package]` and in every dependency on an internal crate
/// (a name in `internal`, or `package = "<internal>"` for a renamed one) that has a `path`
/// and a `version`, in any dependency table. A requirement operator is kept
/// (`"=0.1.0"` becomes `"=0.2.0"`). Every other byte is left as it was.
pub fn set_versions(manifest: &str, internal: &BTreeSet<String>, new: &str) -> String {
    let mut out = String::with_capacity(manifest.len() + 16);
    let mut table = Table::Other;
    // For `[dependencies.NAME]` tables we need the whole table (is there a `path`?) before
    // editing its `version` line, so such a table's lines are buffered.
    let mut buffered: Vec<&str> = Vec::new();
    let mut in_multiline: Option<&str> = None;

    for line in manifest.split_inclusive('\n') {
        if let Some(delim) = in_multiline {
            if line.matches(delim).count() % 2 == 1 {
                in_multiline = None;
            }
            push(&mut out, &mut buffered, &table, line);
            continue;
        }
        if let Some(delim) = opens_multiline(line) {
            in_multiline = Some(delim);
            push(&mut out, &mut buffered, &table, line);
            continue;
        }
        if let Some(header) = header_of(line) {
            flush(&mut out, &mut buffered, &table, internal, new);
            table = classify(&header);
            out.push_str(line);
            continue;
        }
        match &table {
            Table::WorkspacePackage => {
                out.push_str(&edit_entry(line, new, |key, _| key == "version"));
            }
            Table::Deps => {
                out.push_str(&edit_inline_dep(line, internal, new));
            }
            Table::Dep(_) => buffered.push(line),
            Table::Other => out.push_str(line),
        }
    }
    flush(&mut out, &mut buffered, &table, internal, new);
    out
}

/// The `version` of `[workspace.package]`, if it is a plain string.
pub fn workspace_version(manifest: &str) -> Option<String> {
    let mut table = Table::Other;
    for line in manifest.lines() {
        if let Some(header) = header_of(line) {
            table = classify(&header);
        } else if table == Table::WorkspacePackage {
            if let Some((key, value)) = split_entry(line) {
                if key == "version" {
                    return string_value(&line[value]).map(str::to_owned);
                }
            }
        }
    }
    None
}

/// Whether `[package]` inherits its version from the workspace
/// (`version.workspace = true` or `version = { workspace = true }`).
pub fn inherits_version(manifest: &str) -> bool {
    let mut in_package = false;
    for line in manifest.lines() {
        if let Some(header) = header_of(line) {
            in_package = header == ["package"];
        } else if in_package {
            if let Some((key, value)) = split_entry(line) {
                let value = line[value].trim();
                if key == "version.workspace" && value == "true" {
                    return true;
                }
                if key == "version" {
                    return inline_entries(value).is_some_and(|e| {
                        e.iter()
                            .any(|(k, r)| k == "workspace" && &value[r.clone()] == "true")
                    });
                }
            }
        }
    }
    false
}

#[derive(Debug, PartialEq)]
enum Table {
    WorkspacePackage,
    /// A table of dependencies, one per line.
    Deps,
    /// `[dependencies.NAME]`: one dependency, one key per line.
    Dep(String),
    Other,
}

fn push<'a>(out: &mut String, buffered: &mut Vec<&'a str>, table: &Table, line: &'a str) {
    if matches!(table, Table::Dep(_)) {
        buffered.push(line);
    } else {
        out.push_str(line);
    }
}

fn flush(
    out: &mut String,
    buffered: &mut Vec<&str>,
    table: &Table,
    internal: &BTreeSet<String>,
    new: &str,
) {
    let Table::Dep(key) = table else { return };
    let entries: Vec<(String, String)> = buffered
        .iter()
        .filter_map(|l| split_entry(l).map(|(k, v)| (k, l[v].trim().to_owned())))
        .collect();
    let package = entries
        .iter()
        .find(|(k, _)| k == "package")
        .and_then(|(_, v)| string_value(v))
        .unwrap_or(key);
    let has_path = entries.iter().any(|(k, _)| k == "path");
    for line in buffered.drain(..) {
        if has_path && internal.contains(package) {
            out.push_str(&edit_entry(line, new, |k, _| k == "version"));
        } else {
            out.push_str(line);
        }
    }
}

fn classify(header: &[String]) -> Table {
    const DEPS: [&str; 5] = [
        "dependencies",
        "dev-dependencies",
        "build-dependencies",
        "dev_dependencies",
        "build_dependencies",
    ];
    match header {
        [a, b] if a == "workspace" && b == "package" => Table::WorkspacePackage,
        [.., last] if DEPS.contains(&last.as_str()) => Table::Deps,
        [.., deps, name] if DEPS.contains(&deps.as_str()) => Table::Dep(name.clone()),
        _ => Table::Other,
    }
}

/// `[a.'b c'."d"]` -> `["a", "b c", "d"]`; also `[[x]]`. None if the line is no header.
fn header_of(line: &str) -> Option<Vec<String>> {
    let t = line.trim();
    let t = t.strip_prefix('[')?;
    let t = t.strip_prefix('[').unwrap_or(t);
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in t.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, '.') => parts.push(std::mem::take(&mut cur)),
            (None, ']') => {
                parts.push(cur);
                return Some(parts);
            }
            (None, c) if c.is_whitespace() => {}
            (None, c) => cur.push(c),
        }
    }
    None
}

/// A line that opens a `"""` or `'''` string without closing it.
fn opens_multiline(line: &str) -> Option<&'static str> {
    let (_, value) = split_entry(line)?;
    let value = &line[value];
    ["\"\"\"", "'''"]
        .into_iter()
        .find(|d| value.trim_start().starts_with(d) && value.matches(d).count() % 2 == 1)
}

/// `key = value # comment` -> (key without quotes or spaces, byte range of the rest after `=`).
fn split_entry(line: &str) -> Option<(String, Range<usize>)> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') || t.starts_with('[') {
        return None;
    }
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '=') => {
                let key: String = line[..i]
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
                    .collect();
                let end = line.trim_end_matches(['\n', '\r']).len();
                return Some((key, i + 1..end));
            }
            _ => {}
        }
    }
    None
}

/// The contents of a one-line `"..."` or `'...'` string at the start of `value`.
fn string_value(value: &str) -> Option<&str> {
    let v = value.trim_start();
    let q = v.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &v[1..];
    rest.find(q).map(|end| &rest[..end])
}

/// Rewrites the string value of a `key = "..."` line if `pick(key, value)` says so.
fn edit_entry(line: &str, new: &str, pick: impl Fn(&str, &str) -> bool) -> String {
    let Some((key, value)) = split_entry(line) else {
        return line.to_owned();
    };
    if !pick(&key, &line[value.clone()]) {
        return line.to_owned();
    }
    let offset = value.start + (line[value.clone()].len() - line[value.clone()].trim_start().len());
    replace_string_at(line, offset, new)
}

/// `line[at..]` starts with a quoted requirement: replace its version, keep its operator.
fn replace_string_at(line: &str, at: usize, new: &str) -> String {
    let Some(old) = string_value(&line[at..]) else {
        return line.to_owned();
    };
    let start = at + 1;
    let op_len = old.len() - old.trim_start_matches(['=', '^', '~', '>', '<', ' ']).len();
    let mut out = String::with_capacity(line.len() + new.len());
    out.push_str(&line[..start + op_len]);
    out.push_str(new);
    out.push_str(&line[start + old.len()..]);
    out
}

/// `name = { path = "..", version = "0.1.0", ... }` on one line: bump `version` if `name`
/// (or its `package`) is internal and it has a `path`.
fn edit_inline_dep(line: &str, internal: &BTreeSet<String>, new: &str) -> String {
    let Some((key, value)) = split_entry(line) else {
        return line.to_owned();
    };
    let text = &line[value.clone()];
    let Some(entries) = inline_entries(text) else {
        return line.to_owned();
    };
    let get = |k: &str| entries.iter().find(|(e, _)| e == k).map(|(_, r)| r.clone());
    let package = get("package")
        .and_then(|r| string_value(&text[r]))
        .unwrap_or(&key);
    if !internal.contains(package) || get("path").is_none() {
        return line.to_owned();
    }
    match get("version") {
        Some(r) => replace_string_at(line, value.start + r.start, new),
        None => line.to_owned(),
    }
}

/// The top-level entries of an inline table `{ a = "x", b = [1, 2], c = { d = 1 } }` that
/// starts `text` (after spaces): each key with the byte range (in `text`) of its value.
fn inline_entries(text: &str) -> Option<Vec<(String, Range<usize>)>> {
    let bytes = text.as_bytes();
    let mut i = text.len() - text.trim_start().len();
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut entries = Vec::new();
    loop {
        while bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b',')
        {
            i += 1;
        }
        if *bytes.get(i)? == b'}' {
            return Some(entries);
        }
        let key_start = i;
        let mut quote = None;
        while let Some(&b) = bytes.get(i) {
            match (quote, b) {
                (Some(q), b) if b == q => quote = None,
                (None, b'"' | b'\'') => quote = Some(b),
                (None, b'=') => break,
                _ => {}
            }
            i += 1;
        }
        let key: String = text
            .get(key_start..i)?
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
            .collect();
        i += 1; // '='
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let value_start = i;
        let mut depth = 0usize;
        let mut quote = None;
        while let Some(&b) = bytes.get(i) {
            match (quote, b) {
                (Some(q), b) if b == q => quote = None,
                (Some(b'"'), b'\\') => i += 1,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(b),
                (None, b'[' | b'{') => depth += 1,
                (None, b']') => depth = depth.saturating_sub(1),
                (None, b'}') if depth == 0 => break,
                (None, b'}') => depth -= 1,
                (None, b',') if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        let value_end = value_start + text.get(value_start..i)?.trim_end().len();
        entries.push((key, value_start..value_end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal() -> BTreeSet<String> {
        ["optout-core", "optout", "optout-sandbox"]
            .map(String::from)
            .into()
    }

    const ROOT: &str = r#"[workspace]
resolver = "2"
members = [
    "crates/optout-core",
    "xtask",
]

[workspace.package]
version = "0.1.0" # the one version
edition = "2021"

[workspace.dependencies]
# Our own crates.
optout-core = { path = "crates/optout-core", version = "0.1.0", default-features = false }
optout = { path = "crates/optout", version = "=0.1.0", features = ["a", "b"] }
"optout-sandbox" = {version="0.1.0",path="crates/optout-sandbox"}
serde = { version = "1", features = ["derive"] }
reqwest = { version = "0.12.28", default-features = false }
not-ours = { path = "vendor/not-ours", version = "0.1.0" }

[workspace.lints.rust]
missing_docs = "warn"
"#;

    #[test]
    fn root_manifest_bumps_exactly_the_version_fields() {
        let got = set_versions(ROOT, &internal(), "0.2.0-rc.1");
        let want = ROOT
            .replace(
                r#"version = "0.1.0" # the one"#,
                r#"version = "0.2.0-rc.1" # the one"#,
            )
            .replace(
                r#"optout-core", version = "0.1.0""#,
                r#"optout-core", version = "0.2.0-rc.1""#,
            )
            .replace(r#"version = "=0.1.0""#, r#"version = "=0.2.0-rc.1""#)
            .replace(
                r#"{version="0.1.0",path="crates/optout-sandbox"}"#,
                r#"{version="0.2.0-rc.1",path="crates/optout-sandbox"}"#,
            );
        assert_eq!(got, want);
        // Registry deps and path deps that are not workspace members are untouched.
        assert!(got.contains(r#"serde = { version = "1", features"#));
        assert!(got.contains(r#"not-ours = { path = "vendor/not-ours", version = "0.1.0" }"#));
    }

    #[test]
    fn same_version_is_a_no_op_and_crlf_survives() {
        assert_eq!(set_versions(ROOT, &internal(), "0.1.0"), ROOT);
        let crlf = ROOT.replace('\n', "\r\n");
        let got = set_versions(&crlf, &internal(), "1.0.0");
        assert_eq!(
            got,
            set_versions(ROOT, &internal(), "1.0.0").replace('\n', "\r\n")
        );
    }

    #[test]
    fn member_manifest_pins_and_dotted_tables() {
        let member = r#"[package]
name = "optout-cli"
version.workspace = true
description = """
[dependencies]
optout-core = { path = "x", version = "0.1.0" }
"""

[dependencies]
optout = { workspace = true, features = ["full"] }
optout-sandbox = { path = "../optout-sandbox", version = "0.1.0" }
renamed = { package = "optout-core", path = "../optout-core", version = "~0.1.0" }
clap = { version = "4.5", features = ["derive"] }

[target.'cfg(unix)'.dev-dependencies]
optout-core = { path = "../optout-core", version = "0.1.0" }

[dependencies.optout]
version = "0.1.0"
path = "../optout"

[dependencies.optout-core]
version = "0.1.0"
"#;
        let got = set_versions(member, &internal(), "0.3.1");
        let want = member
            .replace(
                r#"optout-sandbox = { path = "../optout-sandbox", version = "0.1.0" }"#,
                r#"optout-sandbox = { path = "../optout-sandbox", version = "0.3.1" }"#,
            )
            .replace(r#"version = "~0.1.0""#, r#"version = "~0.3.1""#)
            .replace(
                r#"optout-core = { path = "../optout-core", version = "0.1.0" }"#,
                r#"optout-core = { path = "../optout-core", version = "0.3.1" }"#,
            )
            .replace(
                "version = \"0.1.0\"\npath = \"../optout\"",
                "version = \"0.3.1\"\npath = \"../optout\"",
            );
        assert_eq!(got, want);
        // Inside the multi-line description nothing changed; `[dependencies.optout-core]`
        // has no path, so it is a registry dependency and stays.
        assert!(got.contains("optout-core = { path = \"x\", version = \"0.1.0\" }\n\"\"\""));
        assert!(got.ends_with("[dependencies.optout-core]\nversion = \"0.1.0\"\n"));
    }

    #[test]
    fn reads_the_workspace_version() {
        assert_eq!(workspace_version(ROOT).as_deref(), Some("0.1.0"));
        assert_eq!(workspace_version("[package]\nversion = \"1.0.0\"\n"), None);
    }

    #[test]
    fn knows_whether_a_crate_inherits_its_version() {
        assert!(inherits_version(
            "[package]\nname = \"a\"\nversion.workspace = true\n"
        ));
        assert!(inherits_version(
            "[package]\nversion = { workspace = true }\n"
        ));
        assert!(!inherits_version("[package]\nversion = \"0.1.0\"\n"));
        assert!(!inherits_version(
            "[package]\nname = \"a\"\n[dependencies]\nversion.workspace = true\n"
        ));
    }

    #[test]
    fn inline_entries_handle_nesting_and_quotes() {
        let text = r#"{ a = "x,}", b = [1, { c = 2 }], 'd' = { e = "}" } }"#;
        let e = inline_entries(text).unwrap();
        let pairs: Vec<(&str, &str)> = e
            .iter()
            .map(|(k, r)| (k.as_str(), &text[r.clone()]))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a", r#""x,}""#),
                ("b", "[1, { c = 2 }]"),
                ("d", r#"{ e = "}" }"#)
            ]
        );
        assert_eq!(inline_entries(r#""1.0""#), None);
    }
}
