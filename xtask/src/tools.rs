//! Tools the build needs, installed at pinned versions only when missing, and
//! only from the package registries (crates.io, npm).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::{run, workspace_root};

/// The version of `package` recorded in `Cargo.lock`.
pub fn locked_version(package: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .map_err(|error| format!("cannot read Cargo.lock: {error}"))?;
    let entry = format!("name = \"{package}\"\nversion = \"");
    let start =
        lock.find(&entry).ok_or_else(|| format!("{package} is not in Cargo.lock"))? + entry.len();
    let version = lock[start..].split('"').next().unwrap_or_default();
    Ok(version.to_string())
}

/// Installs a cargo binary at exactly `version` unless `binary --version` already says it.
fn ensure_cargo_tool(binary: &str, krate: &str, version: &str, locked: bool) -> Result<(), String> {
    let current = Command::new(binary).arg("--version").output();
    if current.is_ok_and(|output| String::from_utf8_lossy(&output.stdout).contains(version)) {
        return Ok(());
    }
    let pinned = format!("={version}");
    let mut install = Command::new("cargo");
    install.args(["install", krate, "--version", &pinned]);
    if locked {
        install.arg("--locked");
    }
    run(&mut install)
}

/// `wasm-bindgen` at the version in `Cargo.lock` (the CLI must match the library).
pub fn wasm_bindgen() -> Result<PathBuf, String> {
    // Not --locked: the CLI's own lockfile pins a crate the registry lacks.
    ensure_cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &locked_version("wasm-bindgen")?, false)?;
    Ok(PathBuf::from("wasm-bindgen"))
}

/// `worker-build` at the version of the `worker` crate in `Cargo.lock`.
pub fn worker_build() -> Result<(), String> {
    ensure_cargo_tool("worker-build", "worker-build", &locked_version("worker")?, true)
}

/// `cargo-fuzz`, which builds and runs the libFuzzer targets of `fuzz/` (with nightly).
pub fn cargo_fuzz() -> Result<(), String> {
    ensure_cargo_tool("cargo-fuzz", "cargo-fuzz", CARGO_FUZZ_VERSION, true)
}

/// `cargo-deny`, which checks the licenses and sources of the crates.
pub fn cargo_deny() -> Result<(), String> {
    ensure_cargo_tool("cargo-deny", "cargo-deny", CARGO_DENY_VERSION, true)
}

/// The pinned cargo-deny release.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// The pinned cargo-fuzz release.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Installs the npm packages pinned by `dir`'s lockfile, once.
pub fn npm_ci(dir: &Path) -> Result<(), String> {
    let installed = dir.join("node_modules/.package-lock.json");
    let lock = dir.join("package-lock.json");
    let fresh = match (installed.metadata(), lock.metadata()) {
        (Ok(installed), Ok(lock)) => installed.modified().ok() >= lock.modified().ok(),
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(dir))
}

/// A binary installed by npm in `dir`.
pub fn npm_bin(dir: &Path, name: &str) -> PathBuf {
    dir.join("node_modules/.bin").join(name)
}

/// Wasm features every runtime we target supports (Node 18+, Deno, Bun,
/// browsers since 2021, workerd).
pub const WASM_FEATURES: [&str; 7] = [
    "simd",
    "bulk-memory",
    "nontrapping-float-to-int",
    "sign-ext",
    "mutable-globals",
    "reference-types",
    "multivalue",
];

/// rustc flags for our wasm builds: simd128 gives sha2 its SIMD backend.
pub const WASM_RUSTFLAGS: &str = "-C target-feature=+simd128";

/// Optimizes `input` into `output` with binaryen's wasm-opt (from
/// `tools_dir`'s npm packages) at `level` (`-O3`, `-Oz`), dropping debug
/// names and the metadata sections no runtime reads.
pub fn wasm_opt(tools_dir: &Path, level: &str, input: &Path, output: &Path) -> Result<(), String> {
    let mut wasm_opt = Command::new(npm_bin(tools_dir, "wasm-opt"));
    wasm_opt.arg(input).args([level, "--strip-debug", "--strip-producers"]);
    wasm_opt.args(["--strip-target-features", "-o"]).arg(output);
    for feature in WASM_FEATURES {
        wasm_opt.arg(format!("--enable-{feature}"));
    }
    run(&mut wasm_opt)
}

/// Installs a Debian package unless `binary` is already there (`apt-get update` first, once).
pub fn debian_package(package: &str, binary: &Path) -> Result<(), String> {
    if binary.exists() {
        return Ok(());
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}
