//! The supply-chain checks that work with the package registries alone.
//!
//! - Rust: `cargo deny` over the workspace: licenses, crate sources (crates.io
//!   only) and duplicate versions (`deny.toml`). Not advisories: the RustSec
//!   database comes from GitHub.
//! - npm: every package of every lockfile carries a sha512 `integrity`, so
//!   `npm ci` checks each tarball it installs, and comes from the npm
//!   registry. Not `npm audit` (the registry here refuses its advisory
//!   endpoint) nor `npm audit signatures` (it needs Sigstore's servers).

use std::fs;
use std::process::Command;

use crate::command::{run, workspace_root};
use crate::tools;

/// The lockfiles of the project's npm projects.
const NPM_LOCKFILES: [&str; 4] = [
    "xtask/package-lock.json",
    "worker/package-lock.json",
    "tests/npm/package-lock.json",
    "component/package-lock.json",
];

/// Runs every check.
pub fn check() -> Result<(), String> {
    tools::cargo_deny()?;
    // `--offline` keeps cargo deny from fetching the advisory database; the
    // crates it reads the metadata of must be downloaded first (on a fresh
    // machine, nothing but xtask's own are).
    run(Command::new("cargo").args(["fetch", "--locked"]))?;
    run(Command::new("cargo").args([
        "deny",
        "--offline",
        "--workspace",
        "check",
        "licenses",
        "bans",
        "sources",
    ]))?;
    for lockfile in NPM_LOCKFILES {
        check_lockfile(lockfile)?;
    }
    println!("xtask: supply chain checked (cargo deny; npm lockfile integrity and registry)");
    Ok(())
}

/// Fails unless every installed package of `lockfile` is pinned by a sha512
/// digest and, where the lockfile records one, downloaded from the npm registry.
fn check_lockfile(lockfile: &str) -> Result<(), String> {
    let text = fs::read_to_string(workspace_root().join(lockfile))
        .map_err(|error| format!("cannot read {lockfile}: {error}"))?;
    let problems = lockfile_problems(&text);
    if problems.is_empty() { Ok(()) } else { Err(format!("{lockfile}: {}", problems.join("; "))) }
}

fn lockfile_problems(text: &str) -> Vec<String> {
    let lock: serde_json::Value = match serde_json::from_str(text) {
        Ok(lock) => lock,
        Err(error) => return vec![error.to_string()],
    };
    let Some(packages) = lock["packages"].as_object() else {
        return vec!["no packages".into()];
    };
    let mut problems = Vec::new();
    // "" is the project itself; links are local.
    for (path, package) in packages.iter().filter(|(path, _)| !path.is_empty()) {
        if package["link"].as_bool() == Some(true) {
            continue;
        }
        let integrity = package["integrity"].as_str().unwrap_or_default();
        if !integrity.starts_with("sha512-") {
            problems.push(format!("{path}: no sha512 integrity"));
        }
        if let Some(resolved) = package["resolved"].as_str()
            && !resolved.starts_with("https://registry.npmjs.org/")
        {
            problems.push(format!("{path}: resolved outside the npm registry"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::lockfile_problems;

    #[test]
    fn a_lockfile_entry_without_a_sha512_or_from_elsewhere_is_a_problem() {
        let lock = r#"{"packages": {
            "": {"name": "project"},
            "node_modules/good": {"integrity": "sha512-AAAA", "resolved": "https://registry.npmjs.org/good/-/good-1.0.0.tgz"},
            "node_modules/unpinned": {"version": "1.0.0"},
            "node_modules/weak": {"integrity": "sha1-AAAA"},
            "node_modules/elsewhere": {"integrity": "sha512-AAAA", "resolved": "https://example.com/x.tgz"},
            "node_modules/local": {"link": true}
        }}"#;
        assert_eq!(
            lockfile_problems(lock),
            [
                "node_modules/elsewhere: resolved outside the npm registry",
                "node_modules/unpinned: no sha512 integrity",
                "node_modules/weak: no sha512 integrity",
            ]
        );
    }
}
