//! The Wasm component (`component/`): build it, check its interface against the
//! committed WIT, and test it from Node (jco) and Python (wasmtime).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::{cargo, ensure_rust_target, run, workspace_root};
use crate::tools;

/// The component's crate.
pub const CRATE: &str = "threetone-webhooks-component";
/// The target it builds for: no WASI, so the component imports nothing.
const TARGET: &str = "wasm32-unknown-unknown";
/// The committed WIT, relative to `component/`, and the world it exports.
const WIT: &str = "wit/verifier.wit";
const WORLD: &str = "verifier";
/// wasm-opt passes for `jco opt`: speed first, like the release profile (jco's
/// default, `-Oz`, made the file barely smaller and `verify` slower:
/// BENCHMARKS.md, "Figures the code refers to"). wasm-opt drops the name
/// section either way.
const WASM_OPT_ARGS: [&str; 2] = ["-O3", "--enable-bulk-memory"];

/// The component's directory (its crate, WIT and pinned npm tools).
fn dir() -> PathBuf {
    workspace_root().join("component")
}

/// Where the build writes: `target/component/`.
fn out_dir() -> PathBuf {
    workspace_root().join("target").join("component")
}

/// The built component.
pub fn path() -> PathBuf {
    out_dir().join("threetone-webhooks.wasm")
}

/// Cargo's target directory (`CARGO_TARGET_DIR` if set, relative to the workspace root).
fn cargo_target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), PathBuf::from);
    workspace_root().join(dir)
}

/// Builds `target/component/threetone-webhooks.wasm`: the crate as a core
/// module, wrapped by `jco new` (no WASI adapter: there is nothing to adapt),
/// optimized by `jco opt` (wasm-opt from the pinned npm `binaryen`, nothing
/// downloaded), then checked against the committed WIT.
pub fn build() -> Result<(), String> {
    tools::npm_ci(&dir())?;
    ensure_rust_target(TARGET)?;
    cargo(&["build", "--package", CRATE, "--target", TARGET, "--release"])?;
    let core = cargo_target_dir()
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", CRATE.replace('-', "_")));
    let out = out_dir();
    std::fs::create_dir_all(&out)
        .map_err(|error| format!("cannot create {}: {error}", out.display()))?;
    let unoptimized = out.join("threetone-webhooks.unoptimized.wasm");
    run(jco().arg("new").arg(&core).arg("-o").arg(&unoptimized))?;
    run(jco().arg("opt").arg(&unoptimized).arg("-o").arg(path()).arg("--").args(WASM_OPT_ARGS))?;
    check_wit(&path())?;
    let size =
        std::fs::metadata(path()).map_err(|error| format!("{}: {error}", path().display()))?;
    println!("xtask: built {} ({} bytes)", path().display(), size.len());
    Ok(())
}

/// Runs the Node suite on the component transpiled by jco, and the Python
/// suite in wasmtime (pinned in `component/requirements.txt`, installed in a
/// virtualenv under `target/component/venv`).
pub fn test() -> Result<(), String> {
    transpile()?;
    run(Command::new("node").args(["--test", "tests/component/component.test.mjs"]))?;
    let unittest = ["-m", "unittest", "discover", "--start-directory", "tests/component"];
    run(Command::new(python_venv()?).args(unittest).args(["--pattern", "test_*.py"]))
}

/// Calls per second of `verify` from Node and Python, and the component's size.
pub fn bench() -> Result<(), String> {
    transpile()?;
    run(Command::new("node").arg("benches/component.bench.mjs"))?;
    run(Command::new(python_venv()?).arg("benches/component_bench.py"))
}

/// The component as an ES module for Node: `target/component/js/threetone-webhooks.js`.
fn transpile() -> Result<(), String> {
    let js = out_dir().join("js");
    run(jco().arg("transpile").arg(path()).arg("-o").arg(js).args(["--name", "threetone-webhooks"]))
}

/// The virtualenv's Python, with the pinned requirements installed.
fn python_venv() -> Result<PathBuf, String> {
    let venv = out_dir().join("venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r"])
        .arg(dir().join("requirements.txt")))?;
    Ok(python)
}

/// The pinned jco.
fn jco() -> Command {
    Command::new(tools::npm_bin(&dir(), "jco"))
}

/// Fails unless `component` imports nothing and exports exactly the
/// interface of the committed WIT.
///
/// `jco wit` prints a component's world but not the interfaces of other
/// packages, so the types are compared through a reference: a component with
/// no code made from the committed WIT by the same jco. Both are printed as
/// text (`jco print`, which also validates them) and their component-level
/// type, import and export definitions must be identical; the core code,
/// whitespace and comments of the WIT play no part.
fn check_wit(component: &Path) -> Result<(), String> {
    let reference = out_dir().join("reference.wasm");
    run(Command::new("node")
        .arg(dir().join("reference.mjs"))
        .arg(dir().join(WIT))
        .arg(WORLD)
        .arg(&reference))?;

    let world = jco_output("wit", component)?;
    if let Some(import) = world.lines().find(|line| line.trim_start().starts_with("import ")) {
        return Err(format!("the component must import nothing, but has `{}`", import.trim()));
    }
    let expected = jco_output("wit", &reference)?;
    if wit_lines(&world) != wit_lines(&expected) {
        return Err(format!(
            "the component's world differs from component/{WIT}:\n{world}\nexpected:\n{expected}"
        ));
    }

    let built = jco_output("print", component)?;
    let expected = jco_output("print", &reference)?;
    match first_difference(&type_definitions(&built), &type_definitions(&expected)) {
        None => {
            println!("xtask: the component imports nothing and matches component/{WIT}");
            Ok(())
        }
        Some((found, wanted)) => Err(format!(
            "the component's interface differs from component/{WIT} (rebuild, or update the WIT):\n\
             built:    {}\nexpected: {}",
            found.trim(),
            wanted.trim()
        )),
    }
}

/// Runs `jco <subcommand> <file>` and returns what it prints.
fn jco_output(subcommand: &str, file: &Path) -> Result<String, String> {
    let mut command = jco();
    command.arg(subcommand).arg(file);
    let shown = format!("{command:?}");
    let output = command.output().map_err(|error| format!("cannot start {shown}: {error}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("{shown} failed: {}\n{stderr}", output.status));
    }
    String::from_utf8(output.stdout).map_err(|error| format!("{shown}: {error}"))
}

/// The meaningful lines of printed WIT: trimmed, without blank lines and comments.
fn wit_lines(wit: &str) -> Vec<&str> {
    wit.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with("//")).collect()
}

/// The component-level type, import and export definitions in `jco print`
/// output, each as one string; core modules, core instances, aliases and the
/// canonical functions (whose names depend on the code) are left out.
///
/// The printer puts each top-level form on a line indented by two spaces,
/// continued on lines indented deeper or closing with `  )`.
fn type_definitions(wat: &str) -> Vec<String> {
    let mut forms: Vec<String> = Vec::new();
    for line in wat.lines() {
        let top_level = line.starts_with("  (");
        match forms.last_mut() {
            Some(form) if !top_level => {
                form.push('\n');
                form.push_str(line);
            }
            _ => forms.push(line.to_owned()),
        }
    }
    const KEPT: [&str; 4] = ["  (type ", "  (import ", "  (export ", "  (component "];
    forms.retain(|form| KEPT.iter().any(|head| form.starts_with(head)));
    forms
}

/// The first pair of definitions that differ (a missing one shown as `(none)`).
fn first_difference(found: &[String], expected: &[String]) -> Option<(String, String)> {
    let none = String::from("(none)");
    (0..found.len().max(expected.len())).find_map(|index| {
        let (found, expected) =
            (found.get(index).unwrap_or(&none), expected.get(index).unwrap_or(&none));
        (found != expected).then(|| (found.clone(), expected.clone()))
    })
}
