//! The workspace as `cargo metadata` sees it, and the order to publish it in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// One workspace member.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// `publish` unset (null). `publish = false` (`[]`) or a list of other registries is not.
    pub publishable: bool,
    pub manifest: PathBuf,
    /// Workspace members this one needs to build (normal and build dependencies with a
    /// path). Dev-dependencies do not order publishing: cargo strips path-only ones.
    pub deps: Vec<String>,
}

/// The workspace root and its members.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    /// Where `cargo package` puts its `.crate` files (under `package/`).
    pub target_dir: PathBuf,
    pub packages: Vec<Package>,
}

impl Workspace {
    /// Runs `cargo metadata --format-version 1 --no-deps`.
    pub fn load() -> Result<Self, String> {
        let out = Command::new(crate::cargo())
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(crate::project_root())
            .output()
            .map_err(|e| format!("could not run cargo metadata: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo metadata failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let json: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("cargo metadata printed bad JSON: {e}"))?;
        Self::from_metadata(&json)
    }

    fn from_metadata(json: &Value) -> Result<Self, String> {
        let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let root = str_of(json, "workspace_root").ok_or("cargo metadata: no workspace_root")?;
        let target_dir =
            str_of(json, "target_directory").ok_or("cargo metadata: no target_directory")?;
        let members: BTreeSet<&str> = json
            .get("workspace_members")
            .and_then(Value::as_array)
            .ok_or("cargo metadata: no workspace_members")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let raw: Vec<&Value> = json
            .get("packages")
            .and_then(Value::as_array)
            .ok_or("cargo metadata: no packages")?
            .iter()
            .filter(|p| {
                p.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| members.contains(id))
            })
            .collect();
        let names: BTreeSet<String> = raw.iter().filter_map(|p| str_of(p, "name")).collect();

        let mut packages = Vec::new();
        for p in raw {
            let name = str_of(p, "name").ok_or("cargo metadata: package without a name")?;
            let deps = p
                .get("dependencies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|d| {
                    d.get("kind").and_then(Value::as_str) != Some("dev") && d.get("path").is_some()
                })
                .filter_map(|d| str_of(d, "name"))
                .filter(|n| names.contains(n))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            packages.push(Package {
                version: str_of(p, "version")
                    .ok_or_else(|| format!("cargo metadata: {name} has no version"))?,
                publishable: p.get("publish").is_some_and(Value::is_null),
                manifest: str_of(p, "manifest_path")
                    .ok_or_else(|| format!("cargo metadata: {name} has no manifest_path"))?
                    .into(),
                deps,
                name,
            });
        }
        Ok(Workspace {
            root: root.into(),
            target_dir: target_dir.into(),
            packages,
        })
    }

    /// Names of all members.
    pub fn names(&self) -> BTreeSet<String> {
        self.packages.iter().map(|p| p.name.clone()).collect()
    }

    /// The publishable members, every one after the members it depends on. Errors if one
    /// depends on a member that is not publishable, or on a cycle.
    pub fn publish_order(&self) -> Result<Vec<&Package>, String> {
        let by_name: BTreeMap<&str, &Package> =
            self.packages.iter().map(|p| (p.name.as_str(), p)).collect();
        let publishable: Vec<&Package> = self.packages.iter().filter(|p| p.publishable).collect();
        for p in &publishable {
            for d in &p.deps {
                if by_name.get(d.as_str()).is_some_and(|d| !d.publishable) {
                    return Err(format!(
                        "{} is publishable but depends on {d}, which is not (publish = false): \
                         crates.io could never resolve it",
                        p.name
                    ));
                }
            }
        }
        let graph: Vec<(&str, Vec<&str>)> = publishable
            .iter()
            .map(|p| (p.name.as_str(), p.deps.iter().map(String::as_str).collect()))
            .collect();
        Ok(topo_sort(&graph)?
            .into_iter()
            .filter_map(|n| by_name.get(n).copied())
            .collect())
    }
}

/// Kahn's algorithm; among crates that are ready, the alphabetically first goes first, so
/// the order is stable. Dependencies outside `graph` are ignored.
pub fn topo_sort<'a>(graph: &[(&'a str, Vec<&'a str>)]) -> Result<Vec<&'a str>, String> {
    let known: BTreeSet<&str> = graph.iter().map(|(n, _)| *n).collect();
    let mut waiting: BTreeMap<&str, BTreeSet<&str>> = graph
        .iter()
        .map(|(n, deps)| {
            (
                *n,
                deps.iter()
                    .copied()
                    .filter(|d| known.contains(d) && d != n)
                    .collect(),
            )
        })
        .collect();
    let mut order = Vec::with_capacity(graph.len());
    while let Some(next) = waiting
        .iter()
        .find(|(_, deps)| deps.is_empty())
        .map(|(n, _)| *n)
    {
        waiting.remove(next);
        waiting.values_mut().for_each(|deps| {
            deps.remove(next);
        });
        order.push(next);
    }
    if waiting.is_empty() {
        Ok(order)
    } else {
        let stuck: Vec<&str> = waiting.keys().copied().collect();
        Err(format!("dependency cycle among {}", stuck.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_come_first() {
        let graph = vec![
            ("optout-cli", vec!["optout", "optout-sandbox"]),
            ("optout", vec!["optout-core", "optout-pushy", "optout-novu"]),
            ("optout-pushy", vec!["optout-core", "serde"]),
            ("optout-novu", vec!["optout-core"]),
            ("optout-sandbox", vec![]),
            ("optout-core", vec![]),
        ];
        assert_eq!(
            topo_sort(&graph).unwrap(),
            [
                "optout-core",
                "optout-novu",
                "optout-pushy",
                "optout",
                "optout-sandbox",
                "optout-cli"
            ]
        );
    }

    #[test]
    fn cycles_are_named() {
        let graph = vec![
            ("a", vec!["b"]),
            ("b", vec!["c"]),
            ("c", vec!["b"]),
            ("d", vec![]),
        ];
        assert_eq!(
            topo_sort(&graph).unwrap_err(),
            "dependency cycle among a, b, c"
        );
    }

    fn metadata() -> Value {
        serde_json::json!({
            "workspace_root": "/w",
            "target_directory": "/w/target",
            "workspace_members": ["path+file:///w/core#0.1.0", "path+file:///w/p#0.1.0", "path+file:///w/x#0.1.0"],
            "packages": [
                { "id": "path+file:///w/p#0.1.0", "name": "p", "version": "0.1.0", "publish": null,
                  "manifest_path": "/w/p/Cargo.toml",
                  "dependencies": [
                    { "name": "core", "path": "/w/core", "kind": null },
                    { "name": "x", "path": "/w/x", "kind": "dev" },
                    { "name": "serde", "kind": null } ] },
                { "id": "path+file:///w/core#0.1.0", "name": "core", "version": "0.1.0", "publish": null,
                  "manifest_path": "/w/core/Cargo.toml", "dependencies": [] },
                { "id": "path+file:///w/x#0.1.0", "name": "x", "version": "0.1.0", "publish": [],
                  "manifest_path": "/w/x/Cargo.toml",
                  "dependencies": [ { "name": "p", "path": "/w/p", "kind": null } ] }
            ]
        })
    }

    #[test]
    fn reads_metadata_and_orders_the_publishable() {
        let ws = Workspace::from_metadata(&metadata()).unwrap();
        let order: Vec<&str> = ws
            .publish_order()
            .unwrap()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(order, ["core", "p"]);
        let p = ws.packages.iter().find(|p| p.name == "p").unwrap();
        assert_eq!(
            p.deps,
            ["core"],
            "dev and registry deps do not order publishing"
        );
        assert!(
            !ws.packages
                .iter()
                .find(|p| p.name == "x")
                .unwrap()
                .publishable
        );
    }

    #[test]
    fn publishable_on_unpublishable_is_an_error() {
        let mut json = metadata();
        json["packages"][0]["dependencies"][1]["kind"] = Value::Null;
        let err = Workspace::from_metadata(&json)
            .unwrap()
            .publish_order()
            .unwrap_err();
        assert!(
            err.starts_with("p is publishable but depends on x"),
            "{err}"
        );
    }
}
