//! The Cloudflare Worker (`worker/`): build, test and the local demo.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::{ensure_rust_target, run, workspace_root};
use crate::tools;

/// The Worker's crate.
pub const CRATE: &str = "threetone-edge";
/// The target it builds for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// The Worker's directory.
pub fn dir() -> PathBuf {
    workspace_root().join("worker")
}

/// Builds `worker/build/` with worker-build, using only local binaries.
pub fn build() -> Result<(), String> {
    let dir = dir();
    tools::npm_ci(&dir)?;
    ensure_rust_target(TARGET)?;
    let wasm_bindgen = tools::wasm_bindgen()?;
    tools::worker_build()?;
    // worker-build downloads these unless told where they are.
    run(Command::new("worker-build")
        .arg("--release")
        .current_dir(&dir)
        .env("WASM_BINDGEN_BIN", wasm_bindgen)
        .env("WASM_OPT_BIN", tools::npm_bin(&dir, "wasm-opt"))
        .env("ESBUILD_BIN", tools::npm_bin(&dir, "esbuild"))
        .env("RUSTFLAGS", tools::WASM_RUSTFLAGS)
        // The upload is what counts here (cold starts, the 150 KB budget):
        // size everywhere but in hashing (sha2 keeps its opt-level 3 from
        // the workspace's Cargo.toml). By environment, as worker-build runs
        // cargo itself.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z"))?;
    // worker-build keeps debug names (about 140 KB); the upload does without.
    let wasm = dir.join("build/index_bg.wasm");
    tools::wasm_opt(&dir, "-Oz", &wasm, &wasm)
}

/// End-to-end tests in workerd (Miniflare), the dashboard in headless
/// Chromium, and a `wrangler dev` smoke test.
pub fn test() -> Result<(), String> {
    tools::debian_package("chromium", Path::new(CHROMIUM))?;
    run(Command::new("node").args(["--test", "tests/worker/"]).env("CHROMIUM", CHROMIUM))
}

/// Debian's Chromium, driven by playwright-core (which downloads nothing).
const CHROMIUM: &str = "/usr/bin/chromium";

/// Regenerates `docs/dashboard.png` (shown in the README) from the dashboard test.
pub fn screenshot() -> Result<(), String> {
    build()?;
    tools::npm_ci(&dir())?;
    tools::debian_package("chromium", Path::new(CHROMIUM))?;
    let image = workspace_root().join("docs/dashboard.png");
    run(Command::new("node")
        .args(["--test", "tests/worker/dashboard.test.mjs"])
        .env("CHROMIUM", CHROMIUM)
        .env("DASHBOARD_SCREENSHOT", image))
}

/// Added latency and CPU per verified forward, and the upload size.
pub fn bench() -> Result<(), String> {
    run(Command::new("node").arg("benches/worker.bench.mjs"))
}

/// The main job: the Worker under `wrangler dev` in front of a demo origin.
pub fn dev() -> Result<(), String> {
    build()?;
    run(Command::new("node").arg(dir().join("dev.mjs")))
}
