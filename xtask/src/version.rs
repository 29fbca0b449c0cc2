//! One version everywhere, and migrations that only ever grow: part of
//! `cargo xtask codegen --check`.
//!
//! The version is the workspace's (`[workspace.package] version` in
//! `Cargo.toml`). Every crate inherits it (or states the same), and so do
//! `Cargo.lock`, both npm packages' `package.json`, the Python package's
//! `pyproject.toml`, the WIT package (`threetone:webhooks@<version>`), the
//! Worker's `/health` (its crate's `CARGO_PKG_VERSION`), the newest release of
//! `CHANGELOG.md`, and every file name or interface name that carries a version
//! in the READMEs, tests and benchmarks. The generated project's pinned
//! wrangler is the Worker's.
//!
//! The Worker's Durable Object migrations of each released version
//! (`edge-package/released-migrations.json`) must be the first ones of
//! `worker/wrangler.toml`, unchanged: a deployed project upgrades by appending.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::command::workspace_root;
use crate::toml;

/// The npm packages' manifests, from the workspace root.
const PACKAGE_JSONS: [&str; 2] = ["pkg-templates/package.json", "edge-package/package.json"];
const PYPROJECT: &str = "python/pyproject.toml";
const WIT: &str = "component/wit/verifier.wit";
const CHANGELOG: &str = "CHANGELOG.md";
/// The Worker's sources (its `/health` version) and its configuration.
const WORKER_SOURCES: &str = "worker/src";
pub const WORKER_WRANGLER_TOML: &str = "worker/wrangler.toml";
const WORKER_PACKAGE_JSON: &str = "worker/package.json";
/// The generated project's manifest (its pinned wrangler).
const PROJECT_PACKAGE_JSON: &str = "edge-package/template/package.json";
pub const RELEASED_MIGRATIONS: &str = "edge-package/released-migrations.json";
/// Where versions appear in text: these files, and the files under these directories.
const MENTIONS_IN: [&str; 9] = [
    "README.md",
    "pkg-templates/README.md",
    "python/README.md",
    "python/tests",
    "edge-package",
    "tests/component",
    "tests/edge-package",
    "benches",
    "component/src",
];
/// Names that carry the version right after them.
const VERSIONED_NAMES: [&str; 7] = [
    "threetone:webhooks@",
    "threetone:webhooks/webhooks@",
    "threetone_webhooks-",
    "threetone-webhooks-",
    "threetone-webhooks-component-",
    "threetone-edge-",
    "threetone-edge@",
];

/// Fails unless every place has the workspace's version and the released
/// migrations are where they were.
pub fn check() -> Result<(), String> {
    let root = workspace_root();
    let problems = problems(&root);
    if problems.is_empty() {
        println!(
            "xtask: version {} everywhere; the released migrations unchanged",
            env!("CARGO_PKG_VERSION")
        );
        Ok(())
    } else {
        Err(format!("version or migrations:\n  {}", problems.join("\n  ")))
    }
}

/// The workspace's version, from `Cargo.toml`.
pub fn workspace_version(root: &Path) -> Result<String, String> {
    let manifest = toml::read(&root.join("Cargo.toml"))?;
    manifest["workspace"]["package"]["version"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| "Cargo.toml has no [workspace.package] version".into())
}

/// Everything that disagrees, one line each.
pub fn problems(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let version = match workspace_version(root) {
        Ok(version) => version,
        Err(problem) => return vec![problem],
    };
    let mut say = |result: Result<(), String>| {
        if let Err(problem) = result {
            problems.push(problem);
        }
    };
    say(crates(root, &version));
    for path in PACKAGE_JSONS {
        say(json(root, path).and_then(|manifest| {
            expect(path, "\"version\"", manifest["version"].as_str(), &version)
        }));
    }
    say(toml::read(&root.join(PYPROJECT)).and_then(|pyproject| {
        expect(PYPROJECT, "[project] version", pyproject["project"]["version"].as_str(), &version)
    }));
    say(wit(root, &version));
    say(health(root));
    say(changelog(root, &version));
    say(wrangler_pin(root));
    say(migrations(root));
    for mention in mentions(root, &version) {
        problems.push(mention);
    }
    problems
}

fn expect(path: &str, what: &str, found: Option<&str>, version: &str) -> Result<(), String> {
    match found {
        Some(found) if found == version => Ok(()),
        Some(found) => Err(format!("{path}: {what} is {found}, the workspace's is {version}")),
        None => Err(format!("{path}: no {what}")),
    }
}

fn json(root: &Path, path: &str) -> Result<Value, String> {
    let text = read(root, path)?;
    serde_json::from_str(&text).map_err(|error| format!("{path}: {error}"))
}

fn read(root: &Path, path: &str) -> Result<String, String> {
    fs::read_to_string(root.join(path)).map_err(|error| format!("cannot read {path}: {error}"))
}

/// Every member crate inherits the workspace's version (or states it), and
/// `Cargo.lock` records it.
fn crates(root: &Path, version: &str) -> Result<(), String> {
    let manifest = toml::read(&root.join("Cargo.toml"))?;
    let members = manifest["workspace"]["members"].as_array().cloned().unwrap_or_default();
    let lock = toml::read(&root.join("Cargo.lock"))?;
    let locked = lock["package"].as_array().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    for member in members.iter().filter_map(Value::as_str) {
        let path = if member == "." { "Cargo.toml".into() } else { format!("{member}/Cargo.toml") };
        let package = toml::read(&root.join(&path))?["package"].clone();
        let name = package["name"].as_str().unwrap_or_default().to_string();
        match &package["version"] {
            Value::Object(inherited) if inherited.get("workspace") == Some(&Value::Bool(true)) => {}
            Value::String(stated) if stated == version => {}
            other => problems.push(format!(
                "{path}: version is {other}, not `version.workspace = true` ({version})"
            )),
        }
        let entry = locked.iter().find(|entry| entry["name"].as_str() == Some(&name));
        if let Err(problem) = expect(
            "Cargo.lock",
            &format!("{name}'s version"),
            entry.and_then(|entry| entry["version"].as_str()),
            version,
        ) {
            problems.push(problem);
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n  ")) }
}

/// `package threetone:webhooks@<version>;`
fn wit(root: &Path, version: &str) -> Result<(), String> {
    let text = read(root, WIT)?;
    let line = text.lines().map(str::trim).find(|line| line.starts_with("package "));
    let found = line
        .and_then(|line| line.strip_prefix("package threetone:webhooks@"))
        .and_then(|rest| rest.strip_suffix(';'));
    expect(WIT, "package threetone:webhooks@<version>", found, version)
}

/// The Worker's `/health` reports its crate's version (which `crates`
/// checks): a `VERSION` constant of `env!("CARGO_PKG_VERSION")`.
fn health(root: &Path) -> Result<(), String> {
    let mut files = Vec::new();
    list_files(&root.join(WORKER_SOURCES), &mut files);
    let defined = files.iter().any(|file| {
        fs::read_to_string(file).is_ok_and(|text| {
            text.lines()
                .any(|line| line.contains("const VERSION: &str = env!(\"CARGO_PKG_VERSION\")"))
        })
    });
    if defined {
        Ok(())
    } else {
        Err(format!(
            "{WORKER_SOURCES}: no `const VERSION: &str = env!(\"CARGO_PKG_VERSION\")` for /health"
        ))
    }
}

/// The newest release in `CHANGELOG.md` (the first `## [x.y.z]`, after
/// `## [Unreleased]`) is this version.
fn changelog(root: &Path, version: &str) -> Result<(), String> {
    let text = read(root, CHANGELOG)?;
    let newest = text
        .lines()
        .filter_map(|line| line.strip_prefix("## ["))
        .filter_map(|rest| rest.split(']').next())
        .find(|name| !name.eq_ignore_ascii_case("unreleased"));
    expect(CHANGELOG, "newest release (`## [x.y.z]`)", newest, version)
}

/// The generated project pins the wrangler the Worker is built and tested with.
fn wrangler_pin(root: &Path) -> Result<(), String> {
    let worker = json(root, WORKER_PACKAGE_JSON)?;
    let project = json(root, PROJECT_PACKAGE_JSON)?;
    let wanted = worker["devDependencies"]["wrangler"].as_str().unwrap_or_default();
    let pinned = project["devDependencies"]["wrangler"].as_str();
    match pinned {
        Some(pinned) if pinned == wanted => Ok(()),
        _ => Err(format!(
            "{PROJECT_PACKAGE_JSON}: wrangler is {pinned:?}, {WORKER_PACKAGE_JSON} pins {wanted}"
        )),
    }
}

/// The `[[migrations]]` of `worker/wrangler.toml`, each as a JSON object.
pub fn worker_migrations(root: &Path) -> Result<Vec<Value>, String> {
    let config = toml::read(&root.join(WORKER_WRANGLER_TOML))?;
    Ok(config["migrations"].as_array().cloned().unwrap_or_default())
}

/// Each released version's migrations start the Worker's, unchanged; no tag twice.
fn migrations(root: &Path) -> Result<(), String> {
    let current = worker_migrations(root)?;
    let released = json(root, RELEASED_MIGRATIONS)?;
    let mut problems = Vec::new();
    let tags: Vec<&str> = current.iter().map(|m| m["tag"].as_str().unwrap_or_default()).collect();
    for (index, tag) in tags.iter().enumerate() {
        if tag.is_empty() {
            problems.push(format!("{WORKER_WRANGLER_TOML}: migration {} has no tag", index + 1));
        } else if tags[..index].contains(tag) {
            problems.push(format!("{WORKER_WRANGLER_TOML}: migration tag {tag} twice"));
        }
    }
    for release in released["releases"].as_array().into_iter().flatten() {
        let name = release["version"].as_str().unwrap_or("?");
        let list = release["migrations"].as_array().cloned().unwrap_or_default();
        for (index, migration) in list.iter().enumerate() {
            let tag = migration["tag"].as_str().unwrap_or("?");
            match current.get(index) {
                Some(found) if found == migration => {}
                Some(found) => problems.push(format!(
                    "{WORKER_WRANGLER_TOML}: migration {} is {found}, but {name} released {migration} \
                     there: migrations are append-only (add a new one instead)",
                    index + 1
                )),
                None => problems.push(format!(
                    "{WORKER_WRANGLER_TOML}: migration {tag}, released in {name}, is gone: \
                     migrations are append-only"
                )),
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n  ")) }
}

/// Versions in names (`threetone:webhooks/webhooks@0.2.0`,
/// `threetone_webhooks-0.2.0-py3-none-any.whl`, ...) that are not this one.
fn mentions(root: &Path, version: &str) -> Vec<String> {
    let mut files = Vec::new();
    for path in MENTIONS_IN {
        list_files(&root.join(path), &mut files);
    }
    let mut problems = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else { continue };
        // As regular expressions write them, too.
        let text = text.replace("\\.", ".").replace("\\/", "/");
        let shown = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        for name in VERSIONED_NAMES {
            for (at, _) in text.match_indices(name) {
                let rest = &text[at + name.len()..];
                let Some(found) = semver_prefix(rest) else { continue };
                if found != version {
                    let line = text[..at].lines().count().max(1);
                    problems.push(format!("{shown}:{line}: {name}{found}, not {version}"));
                }
            }
        }
    }
    problems
}

/// The `x.y.z` at the start of `text`, if there is one.
fn semver_prefix(text: &str) -> Option<&str> {
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let candidate = text[..end].trim_end_matches('.');
    let parts: Vec<&str> = candidate.split('.').collect();
    (parts.len() == 3 && parts.iter().all(|part| !part.is_empty())).then_some(candidate)
}

/// The files under `path` (or `path` itself), without `node_modules`, caches and wasm.
fn list_files(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let Ok(entries) = fs::read_dir(path) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == "node_modules" || name == "__pycache__" || name == "target" {
                continue;
            }
            list_files(&entry.path(), files);
        }
    } else if path.is_file() && path.extension().is_none_or(|ext| ext != "wasm" && ext != "svg") {
        files.push(path.to_path_buf());
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// What the check reads, copied from the workspace.
    const COPIED: [&str; 21] = [
        "Cargo.toml",
        "Cargo.lock",
        "component/Cargo.toml",
        "python/abi/Cargo.toml",
        "worker/Cargo.toml",
        "xtask/Cargo.toml",
        "pkg-templates/package.json",
        "pkg-templates/README.md",
        "edge-package",
        "python/pyproject.toml",
        "python/README.md",
        "python/tests",
        "component/wit",
        "worker/src",
        "worker/package.json",
        "worker/wrangler.toml",
        "README.md",
        "CHANGELOG.md",
        "tests/component",
        "tests/edge-package",
        "benches",
    ];

    /// A fresh copy of what the check reads, removed when dropped.
    struct Copy(PathBuf);

    impl Copy {
        fn new() -> Self {
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "xtask-version-{}-{}",
                std::process::id(),
                COUNT.fetch_add(1, Ordering::Relaxed)
            ));
            let root = workspace_root();
            for path in COPIED {
                copy(&root.join(path), &dir.join(path));
            }
            Copy(dir)
        }

        /// Replaces the first `from` in `path` (which must have it) with `to`.
        fn edit(&self, path: &str, from: &str, to: &str) {
            let file = self.0.join(path);
            let text = fs::read_to_string(&file).unwrap();
            assert!(text.contains(from), "{path} has no {from:?}");
            fs::write(&file, text.replacen(from, to, 1)).unwrap();
        }
    }

    impl Drop for Copy {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn copy(from: &Path, to: &Path) {
        if from.is_dir() {
            for entry in fs::read_dir(from).unwrap().flatten() {
                let name = entry.file_name();
                if name != "node_modules" && name != "__pycache__" {
                    copy(&entry.path(), &to.join(name));
                }
            }
        } else if from.exists() {
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(from, to).unwrap();
        }
    }

    const VERSION: &str = env!("CARGO_PKG_VERSION");

    #[test]
    fn the_workspace_agrees_with_itself() {
        assert_eq!(problems(&workspace_root()), Vec::<String>::new());
        let copy = Copy::new();
        assert_eq!(problems(&copy.0), Vec::<String>::new());
    }

    /// The Worker's source file that defines its `/health` version.
    fn health_source() -> String {
        let root = workspace_root();
        let mut files = Vec::new();
        list_files(&root.join(WORKER_SOURCES), &mut files);
        let file = files
            .into_iter()
            .find(|file| {
                fs::read_to_string(file)
                    .is_ok_and(|text| text.contains("env!(\"CARGO_PKG_VERSION\")"))
            })
            .expect("a worker source names CARGO_PKG_VERSION");
        file.strip_prefix(&root).unwrap().to_string_lossy().into_owned()
    }

    #[test]
    fn each_place_that_disagrees_is_named() {
        let quoted = format!("\"{VERSION}\"");
        let health = health_source();
        let cases: Vec<(&str, String, String)> = vec![
            (
                "pkg-templates/package.json",
                format!("\"version\": {quoted}"),
                "\"version\": \"9.9.9\"".into(),
            ),
            (
                "edge-package/package.json",
                format!("\"version\": {quoted}"),
                "\"version\": \"9.9.9\"".into(),
            ),
            ("python/pyproject.toml", format!("version = {quoted}"), "version = \"9.9.9\"".into()),
            (WIT, format!("threetone:webhooks@{VERSION};"), "threetone:webhooks@9.9.9;".into()),
            ("worker/Cargo.toml", "version.workspace = true".into(), "version = \"9.9.9\"".into()),
            (
                "Cargo.lock",
                format!("name = \"threetone-edge\"\nversion = {quoted}"),
                "name = \"threetone-edge\"\nversion = \"9.9.9\"".into(),
            ),
            ("CHANGELOG.md", format!("## [{VERSION}]"), "## [9.9.9]".into()),
            (
                "README.md",
                format!("threetone:webhooks/webhooks@{VERSION}"),
                "threetone:webhooks/webhooks@9.9.9".into(),
            ),
            (
                "tests/component/component.test.mjs",
                format!("webhooks@{}", VERSION.replace('.', "\\.")),
                "webhooks@9\\.9\\.9".into(),
            ),
            (
                "python/README.md",
                format!("threetone_webhooks-{VERSION}-py3"),
                "threetone_webhooks-9.9.9-py3".into(),
            ),
            (&health, "env!(\"CARGO_PKG_VERSION\")".into(), "\"9.9.9\"".into()),
            (PROJECT_PACKAGE_JSON, "\"wrangler\": \"".into(), "\"wrangler\": \"1".into()),
        ];
        for (path, from, to) in cases {
            let copy = Copy::new();
            copy.edit(path, &from, &to);
            let problems = problems(&copy.0);
            let named = if path == health { WORKER_SOURCES } else { path };
            assert!(
                problems.iter().any(|problem| problem.contains(named)),
                "{path} changed to {to:?}, yet the problems are {problems:?}"
            );
        }
        // A new workspace version, and nothing else: every other place is named.
        let copy = Copy::new();
        copy.edit("Cargo.toml", &format!("version = \"{VERSION}\""), "version = \"9.9.9\"");
        let problems = problems(&copy.0);
        for path in [
            "pkg-templates/package.json",
            "edge-package/package.json",
            PYPROJECT,
            WIT,
            CHANGELOG,
            "Cargo.lock",
        ] {
            assert!(
                problems.iter().any(|problem| problem.contains(path)),
                "{path} not in {problems:?}"
            );
        }
    }

    #[test]
    fn released_migrations_stay_as_they_were_and_new_ones_are_appended() {
        let copy = Copy::new();
        let released = json(&copy.0, RELEASED_MIGRATIONS).unwrap();
        let first = &released["releases"][0]["migrations"];
        assert_eq!(first[1]["tag"], "v2", "the test edits v2 and removes v3");

        // A migration appended: fine.
        let wrangler = copy.0.join(WORKER_WRANGLER_TOML);
        let text = fs::read_to_string(&wrangler).unwrap();
        fs::write(
            &wrangler,
            format!("{text}\n[[migrations]]\ntag = \"v99\"\nnew_sqlite_classes = [\"Later\"]\n"),
        )
        .unwrap();
        assert_eq!(migrations(&copy.0), Ok(()));

        // A released one edited, removed, or a tag twice: each is refused.
        let edited = Copy::new();
        edited.edit(
            WORKER_WRANGLER_TOML,
            "new_sqlite_classes = [\"DeadLetterStore\"]",
            "new_sqlite_classes = [\"DeadLetters\"]",
        );
        let problem = migrations(&edited.0).unwrap_err();
        assert!(problem.contains("append-only") && problem.contains("DeadLetters"), "{problem}");

        let removed = Copy::new();
        removed.edit(
            WORKER_WRANGLER_TOML,
            "[[migrations]]\ntag = \"v3\"\ndeleted_classes = [\"DeliveryLog\"]",
            "",
        );
        let problem = migrations(&removed.0).unwrap_err();
        assert!(problem.contains("append-only"), "{problem}");

        let twice = Copy::new();
        let text = fs::read_to_string(twice.0.join(WORKER_WRANGLER_TOML)).unwrap();
        fs::write(
            twice.0.join(WORKER_WRANGLER_TOML),
            format!("{text}\n[[migrations]]\ntag = \"v1\"\n"),
        )
        .unwrap();
        assert!(migrations(&twice.0).unwrap_err().contains("v1 twice"));
        // And through the whole check.
        assert!(problems(&twice.0).iter().any(|problem| problem.contains("v1 twice")));
    }

    #[test]
    fn a_version_is_read_only_where_it_is_one() {
        assert_eq!(semver_prefix("0.2.0-py3-none-any.whl"), Some("0.2.0"));
        assert_eq!(semver_prefix("0.2.0."), Some("0.2.0"));
        assert_eq!(semver_prefix("<version>.tgz"), None);
        assert_eq!(semver_prefix("component-0.2.0.wasm"), None);
        assert_eq!(semver_prefix("1.2"), None);
    }
}
