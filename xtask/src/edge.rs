//! The npm package `threetone-edge` (`edge-package/`): the Worker as
//! `cargo xtask worker` builds it (`worker/entry.mjs` and every file it
//! imports from `worker/build/`), a project's templates, and the
//! `threetone-edge` command that writes them (`init`, `upgrade`). The
//! project's `wrangler.toml` is made here from `worker/wrangler.toml` (so new
//! bindings and migrations come along), its `.dev.vars.example` is the
//! Worker's; packed into `target/npm/threetone-edge-<version>.tgz`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::command::{run, workspace_root};
use crate::{toml, version, worker};

/// The package's name.
pub const NAME: &str = "threetone-edge";
/// The template directory, from the workspace root.
const DIR: &str = "edge-package";
/// Where, inside the package, the Worker's directory goes.
const PACKAGED_WORKER: &str = "worker";
/// The line of the template `wrangler.toml` that the Worker's configuration replaces.
const WORKER_CONFIG_MARKER: &str = "#@worker-config";

fn dir() -> PathBuf {
    workspace_root().join(DIR)
}

/// The staged package: `target/edge/package`.
fn stage() -> PathBuf {
    workspace_root().join("target/edge/package")
}

/// The packed tarball.
pub fn tarball() -> PathBuf {
    workspace_root().join("target/npm").join(format!("{NAME}-{}.tgz", env!("CARGO_PKG_VERSION")))
}

/// `cargo xtask edge`: builds the Worker, then packs the package.
pub fn build() -> Result<PathBuf, String> {
    worker::build()?;
    pack()
}

/// Packs the package from the Worker already built in `worker/build/`.
pub fn pack() -> Result<PathBuf, String> {
    let root = workspace_root();
    let problems = version::problems(&root);
    if !problems.is_empty() {
        return Err(format!("version or migrations:\n  {}", problems.join("\n  ")));
    }
    let stage = stage();
    let _ = fs::remove_dir_all(&stage);
    let templates = dir().join("template");
    for file in ["package.json", "README.md", "bin/threetone-edge.mjs"] {
        copy(&dir().join(file), &stage.join(file))?;
    }
    set_executable(&stage.join("bin/threetone-edge.mjs"))?;
    for file in ["README.md", "package.json", "gitignore"] {
        copy(&templates.join(file), &stage.join("template").join(file))?;
    }
    copy(&worker::dir().join(".dev.vars.example"), &stage.join("template/dev.vars.example"))?;
    write(&stage.join("template/wrangler.toml"), &project_wrangler_toml(&root)?)?;

    let entry = worker_entry(&root)?;
    let files = imports_closure(&worker::dir(), &entry)?;
    for file in &files {
        copy(&worker::dir().join(file), &stage.join(PACKAGED_WORKER).join(file))?;
    }

    let out = tarball();
    fs::create_dir_all(out.parent().unwrap_or(&root)).map_err(|e| e.to_string())?;
    let _ = fs::remove_file(&out);
    run(Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(out.parent().unwrap_or(&root))
        .current_dir(&stage))?;
    let bytes = fs::metadata(&out).map_err(|e| format!("{}: {e}", out.display()))?.len();
    println!(
        "xtask: packed {} ({bytes} bytes: the Worker's {} and the `threetone-edge` command)",
        out.display(),
        files.join(", ")
    );
    Ok(out)
}

/// The Worker's `main` (`entry.mjs`), from `worker/wrangler.toml`.
fn worker_entry(root: &Path) -> Result<String, String> {
    let config = toml::read(&root.join(version::WORKER_WRANGLER_TOML))?;
    config["main"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| format!("{} has no main", version::WORKER_WRANGLER_TOML))
}

/// The generated project's `wrangler.toml`: the template's header, then
/// `worker/wrangler.toml` without its own header comments and with `main`
/// pointing into `node_modules/threetone-edge/`. Checked to be the Worker's
/// configuration in every other key.
pub fn project_wrangler_toml(root: &Path) -> Result<String, String> {
    let template_path = root.join(DIR).join("template/wrangler.toml");
    let template = read(&template_path)?;
    let (header, footer) = template
        .split_once(&format!("{WORKER_CONFIG_MARKER}\n"))
        .ok_or_else(|| format!("{} has no line {WORKER_CONFIG_MARKER}", template_path.display()))?;
    let source_path = root.join(version::WORKER_WRANGLER_TOML);
    let source = read(&source_path)?;
    let entry = worker_entry(root)?;
    let packaged = format!("node_modules/{NAME}/{PACKAGED_WORKER}/{entry}");

    // The Worker's own header is about building it; the template says what a project needs.
    let body: Vec<&str> =
        source.lines().skip_while(|line| line.trim().is_empty() || line.starts_with('#')).collect();
    let main_line = format!("main = \"{entry}\"");
    let mains = body.iter().filter(|line| line.trim() == main_line).count();
    if mains != 1 {
        return Err(format!(
            "{} must have the line `{main_line}` once (found {mains})",
            source_path.display()
        ));
    }
    let body: Vec<String> = body
        .iter()
        .map(|line| {
            if line.trim() == main_line {
                format!("main = \"{packaged}\"")
            } else {
                line.to_string()
            }
        })
        .collect();
    let text = format!("{header}{}\n{footer}", body.join("\n"));

    let mut expected = toml::parse(&source)?;
    expected["main"] = Value::String(packaged);
    let generated = toml::parse(&text).map_err(|e| format!("the generated wrangler.toml: {e}"))?;
    if generated != expected {
        return Err(format!(
            "the generated wrangler.toml is not {} with `main` moved (a key in the template?)",
            source_path.display()
        ));
    }
    Ok(text)
}

/// `entry` and every file it imports by a relative path, transitively
/// (JavaScript modules are read for theirs), relative to `dir`, in order.
fn imports_closure(dir: &Path, entry: &str) -> Result<Vec<String>, String> {
    let mut files = vec![entry.to_string()];
    let mut next = 0;
    while next < files.len() {
        let file = files[next].clone();
        next += 1;
        let path = dir.join(&file);
        if !path.is_file() {
            return Err(format!(
                "{} (imported by the Worker's entry) does not exist: run `cargo xtask worker`",
                path.display()
            ));
        }
        if !(file.ends_with(".js") || file.ends_with(".mjs")) {
            continue;
        }
        let base = Path::new(&file).parent().unwrap_or(Path::new(""));
        for specifier in relative_imports(&read(&path)?) {
            let joined = normalize(&base.join(&specifier))
                .ok_or_else(|| format!("{file} imports {specifier}, outside worker/"))?;
            if !files.contains(&joined) {
                files.push(joined);
            }
        }
    }
    Ok(files)
}

/// The relative specifiers (`./x`, `../x`) after `from`, `import` or `import(`.
fn relative_imports(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for keyword in ["from", "import"] {
        for (at, _) in source.match_indices(keyword) {
            let before = source[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '.') {
                continue;
            }
            let rest = source[at + keyword.len()..].trim_start();
            let rest = rest.strip_prefix('(').unwrap_or(rest).trim_start();
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let Some(end) = rest[1..].find(quote) else { continue };
            let specifier = &rest[1..1 + end];
            if specifier.starts_with("./") || specifier.starts_with("../") {
                found.push(specifier.to_string());
            }
        }
    }
    found
}

/// `a/./b/../c` as `a/c`, or `None` if it climbs out.
fn normalize(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// The packaged project, installed with Node alone: `tests/edge-package/`.
pub fn test() -> Result<(), String> {
    tools_installed()?;
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1", "tests/edge-package/"])
        .env("THREETONE_EDGE_TARBALL", tarball()))
}

/// The Worker's pinned tools (its wrangler runs the comparison build).
fn tools_installed() -> Result<(), String> {
    crate::tools::npm_ci(&worker::dir())
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::create_dir_all(path.parent().unwrap_or(path)).map_err(|e| e.to_string())?;
    fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to.parent().unwrap_or(to)).map_err(|e| e.to_string())?;
    fs::copy(from, to).map(drop).map_err(|error| format!("cannot copy {}: {error}", from.display()))
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_found_in_minified_and_formatted_modules() {
        let source = "import{WorkerEntrypoint as St}from\"cloudflare:workers\";import rt from\"./index_bg.wasm\";\n\
                      import worker, { A } from './build/index.js';\nconst m = await import(\"../x.mjs\");\n\
                      export * from \"./re.js\"; const transform = 1; import 'node:fs';";
        assert_eq!(
            relative_imports(source),
            ["./index_bg.wasm", "./build/index.js", "./re.js", "../x.mjs"]
        );
        assert_eq!(
            normalize(Path::new("build/./index_bg.wasm")).as_deref(),
            Some("build/index_bg.wasm")
        );
        assert_eq!(normalize(Path::new("build/../entry.mjs")).as_deref(), Some("entry.mjs"));
        assert_eq!(normalize(Path::new("../outside.js")), None);
    }

    #[test]
    fn the_project_configuration_is_the_workers_with_main_in_node_modules() {
        let root = workspace_root();
        let text = project_wrangler_toml(&root).unwrap();
        let project = toml::parse(&text).unwrap();
        let worker = toml::read(&root.join(version::WORKER_WRANGLER_TOML)).unwrap();
        assert_eq!(project["main"], "node_modules/threetone-edge/worker/entry.mjs");
        for key in
            ["durable_objects", "migrations", "triggers", "vars", "compatibility_date", "minify"]
        {
            assert_eq!(project[key], worker[key], "{key}");
        }
        assert!(!project["migrations"].as_array().unwrap().is_empty());
        // The commented examples come along: ROUTES, the queue and R2 blocks, a Cloudflare route.
        for example in
            ["# [[vars.ROUTES]]", "# [[queues.producers]]", "# [[r2_buckets]]", "# routes = ["]
        {
            assert!(text.contains(example), "{example}");
        }
        assert!(!text.contains("cargo xtask"), "the project needs no Rust toolchain");
    }
}
