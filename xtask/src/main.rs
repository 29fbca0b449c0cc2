//! `cargo xtask <task>`: the one place that builds, checks and orchestrates.
//!
//! Tasks:
//! - `test`: everything CI checks: format, supply chain (licenses, sources,
//!   lockfile integrity), lints, Rust tests and doctests, the
//!   no_std build, generated files up to date, the Worker in workerd, the npm
//!   package in every runtime it claims, the Wasm component from Node and Python,
//!   the Python package, the packaged Worker deployed with Node alone, and the
//!   release checks on the artifacts built.
//! - `audit`: the supply-chain checks alone (see `audit.rs`).
//! - `codegen [--check | --self-check]`: writes the files generated from the
//!   core (see `codegen.rs`), or with `--check` fails if the committed ones are
//!   stale or a version or released migration disagrees (`version.rs`); `--self-check` adds an event type to a scratch copy and checks that
//!   it takes three hand-edited files and `cargo xtask codegen`.
//! - `bench`: the criterion benchmarks, the npm package against its peers in
//!   Node, the component from Node and Python, then the Worker against a
//!   pass-through worker and its upload size.
//! - `component`: builds the Wasm component into `target/component/` and checks it against its WIT.
//! - `npm [test]`: builds the npm package into `target/npm/` and packs it; with
//!   `test`, installs the tarball into a user's project and runs its tests.
//! - `python [test]`: builds the Python package's wheel into `target/python/`;
//!   with `test`, installs it into a fresh virtualenv and runs its tests.
//! - `worker`: builds the Cloudflare Worker into `worker/build/`.
//! - `edge [test]`: builds the Worker and packs the npm package `threetone-edge`
//!   (`edge-package/`: the prebuilt Worker and `npx threetone-edge init`) into
//!   `target/npm/`; with `test`, installs it with Node alone and deploys it
//!   (dry run) and runs it under `wrangler dev` (`tests/edge-package/`).
//! - `release [--allow-dirty]`: every artifact into `target/release/artifacts/`
//!   with `SHA256SUMS` and `manifest.json`, after `npm publish --dry-run`,
//!   `cargo publish --dry-run` and the version check (see `release.rs`).
//! - `fuzz --time <seconds>`: runs each cargo-fuzz target (nightly) that long.
//! - `ct`: the statistical constant-time check of `verify` (dudect), on demand.
//! - `screenshot`: regenerates `docs/dashboard.png` from the dashboard test.
//! - `dev`: the main job: builds the Worker and runs it with `wrangler dev` in
//!   front of a demo origin, sends it a signed sample event, runs until Ctrl-C.

mod audit;
mod codegen;
mod command;
mod component;
mod ct;
mod edge;
mod fuzz;
mod npm;
mod python;
mod release;
mod toml;
mod tools;
mod version;
mod worker;

use std::process::ExitCode;

use command::cargo;

/// A target without `std`: the core must build for it.
const NO_STD_TARGET: &str = "thumbv7em-none-eabihf";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["test"] => test(),
        ["audit"] => audit::check(),
        ["codegen"] => codegen::write(),
        ["codegen", "--check"] => codegen::check(),
        ["codegen", "--self-check"] => codegen::self_check(),
        ["bench", rest @ ..] => bench(rest),
        ["component"] => component::build(),
        ["fuzz", "--time", seconds] => seconds
            .parse()
            .map_err(|_| format!("--time takes a number of seconds, not {seconds:?}"))
            .and_then(fuzz::run),
        ["ct"] => ct::run(),
        ["npm"] => npm::build().map(drop),
        ["npm", "test"] => npm::test(),
        ["python"] => python::build().map(drop),
        ["python", "test"] => python::test(),
        ["worker"] => worker::build(),
        ["edge"] => edge::build().map(drop),
        ["edge", "test"] => edge::build().and_then(|_| edge::test()),
        ["release"] => release::release(release::Tree::Clean),
        ["release", "--allow-dirty"] => release::release(release::Tree::AsItIs),
        ["dev"] => worker::dev(),
        ["screenshot"] => worker::screenshot(),
        _ => {
            eprintln!(
                "usage: cargo xtask <test | audit | codegen [--check | --self-check] | bench [criterion args] | component | npm [test] | python [test] | worker | edge [test] | release [--allow-dirty] | dev | screenshot | fuzz --time <seconds> | ct>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn test() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    audit::check()?;
    // Host crates on the host; the wasm-only code on its target.
    clippy(&["--workspace", "--exclude", worker::CRATE, "--all-targets", "--all-features"])?;
    command::ensure_rust_target(worker::TARGET)?;
    clippy(&["--package", worker::CRATE, "--target", worker::TARGET])?;
    clippy(&["--lib", "--features", "js", "--target", worker::TARGET])?;
    clippy(&["--package", component::CRATE, "--target", worker::TARGET])?;
    cargo(&["test", "--workspace", "--exclude", worker::CRATE, "--all-features"])?;
    // The Worker's plain decisions, on the host.
    cargo(&["test", "--package", worker::CRATE, "--lib"])?;
    no_std_build()?;
    codegen::check()?;
    codegen::self_check()?;
    worker::build()?;
    worker::test()?;
    edge::pack()?;
    edge::test()?;
    npm::test()?;
    component::build()?;
    component::test()?;
    python::test()?;
    // On what this run built: the checksums, the manifest, the publish dry runs.
    release::check_built()?;
    println!("xtask: all checks passed");
    Ok(())
}

fn clippy(args: &[&str]) -> Result<(), String> {
    cargo(&[&["clippy"][..], args, &["--", "-D", "warnings"]].concat())
}

/// Builds the core for a target that has no `std`, proving it needs none.
fn no_std_build() -> Result<(), String> {
    command::ensure_rust_target(NO_STD_TARGET)?;
    cargo(&["build", "--package", "threetone-webhooks", "--lib", "--target", NO_STD_TARGET])
}

/// The criterion benchmarks (with `criterion_args`), then the Worker's.
fn bench(criterion_args: &[&str]) -> Result<(), String> {
    let mut args = vec!["bench", "--package", "threetone-webhooks", "--bench", "verify"];
    if !criterion_args.is_empty() {
        args.push("--");
        args.extend(criterion_args);
    }
    cargo(&args)?;
    npm::bench()?;
    component::build()?;
    component::bench()?;
    python::bench()?;
    worker::build()?;
    worker::bench()
}
