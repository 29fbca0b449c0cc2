//! `cargo xtask release`: every artifact of a release in
//! `target/release/artifacts/` (both npm tarballs, the Wasm component, the
//! Python wheel, the core's `.crate`), `SHA256SUMS` and `manifest.json`, and
//! the checks a publication would make: one version everywhere,
//! `npm publish --dry-run` of both tarballs, `cargo publish --dry-run` of the
//! core. Nothing is published.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::command::{run, workspace_root};
use crate::{component, edge, npm, python, version, worker};

/// The core crate, the one published to crates.io.
const CORE: &str = "threetone-webhooks";

fn out() -> PathBuf {
    workspace_root().join("target/release/artifacts")
}

/// One artifact: its registry name, kind, and the built file.
struct Artifact {
    name: &'static str,
    kind: &'static str,
    built: PathBuf,
    /// Its name in the artifacts directory.
    file: String,
}

/// Whether a dirty working tree may be packaged (`cargo package --allow-dirty`).
#[derive(Clone, Copy, PartialEq)]
pub enum Tree {
    /// Refuse uncommitted changes to the crate's files, as a release must.
    Clean,
    /// Package what is there, saying so (`--allow-dirty` given, or the test
    /// suite in a working copy with uncommitted work).
    AsItIs,
}

/// `cargo xtask release [--allow-dirty]`: builds everything, then packages and checks.
pub fn release(tree: Tree) -> Result<(), String> {
    let npm = npm::build()?;
    worker::build()?;
    let edge = edge::pack()?;
    component::build()?;
    let wheel = python::build()?;
    finish(npm, edge, component::path(), wheel, tree)
}

/// The release checks of `cargo xtask test`, on the artifacts this run already built.
pub fn check_built() -> Result<(), String> {
    let built = [npm::tarball(), edge::tarball(), component::path(), python::wheel()];
    if let Some(missing) = built.iter().find(|path| !path.is_file()) {
        return Err(format!("{} is not built", missing.display()));
    }
    // The suite also runs in working copies with uncommitted work; a release does not.
    let dirty = !git(&["status", "--porcelain"])?.trim().is_empty();
    if dirty {
        println!(
            "xtask: uncommitted changes: the crate is packaged with --allow-dirty (`cargo xtask release` refuses them)"
        );
    }
    let [npm, edge, component, wheel] = built;
    finish(npm, edge, component, wheel, if dirty { Tree::AsItIs } else { Tree::Clean })
}

fn finish(
    npm: PathBuf,
    edge: PathBuf,
    component: PathBuf,
    wheel: PathBuf,
    tree: Tree,
) -> Result<(), String> {
    let root = workspace_root();
    let version = env!("CARGO_PKG_VERSION");
    version::check()?;
    if version::workspace_version(&root)? != version {
        return Err("Cargo.toml's version changed since xtask was built: run it again".into());
    }

    let allow_dirty: &[&str] = if tree == Tree::AsItIs { &["--allow-dirty"] } else { &[] };
    run(Command::new("cargo").args(["package", "--package", CORE]).args(allow_dirty))?;
    let krate = cargo_target_dir().join("package").join(format!("{CORE}-{version}.crate"));
    // Resolves against crates.io and builds the packaged crate; uploads nothing.
    run(Command::new("cargo").args(["publish", "--dry-run", "--package", CORE]).args(allow_dirty))?;

    let artifacts = [
        Artifact { name: CORE, kind: "npm", file: file_name(&npm), built: npm },
        Artifact { name: edge::NAME, kind: "npm", file: file_name(&edge), built: edge },
        Artifact {
            name: "threetone:webhooks",
            kind: "wasm-component",
            file: format!("{CORE}-component-{version}.wasm"),
            built: component,
        },
        Artifact { name: CORE, kind: "python-wheel", file: file_name(&wheel), built: wheel },
        Artifact { name: CORE, kind: "crate", file: file_name(&krate), built: krate },
    ];
    for artifact in artifacts.iter().filter(|artifact| artifact.kind == "npm") {
        npm_publish_dry_run(&artifact.built)?;
    }

    let out = out();
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out)
        .map_err(|error| format!("cannot create {}: {error}", out.display()))?;
    let mut sums = String::new();
    let mut entries = Vec::new();
    for artifact in &artifacts {
        let bytes = fs::read(&artifact.built)
            .map_err(|error| format!("cannot read {}: {error}", artifact.built.display()))?;
        fs::write(out.join(&artifact.file), &bytes).map_err(|e| e.to_string())?;
        let sha256 = hex(&Sha256::digest(&bytes));
        sums += &format!("{sha256}  {}\n", artifact.file);
        let mut entry = json!({
            "name": artifact.name,
            "kind": artifact.kind,
            "version": version,
            "file": artifact.file,
            "bytes": bytes.len(),
            "sha256": sha256,
        });
        if artifact.name == edge::NAME {
            // What to append to edge-package/released-migrations.json once published.
            entry["migrations"] = Value::Array(version::worker_migrations(&root)?);
        }
        entries.push(entry);
    }
    fs::write(out.join("SHA256SUMS"), &sums).map_err(|e| e.to_string())?;
    let commit = git(&["rev-parse", "HEAD"])?.trim().to_string();
    let manifest = json!({
        "version": version,
        "commit": commit,
        "dirty": tree == Tree::AsItIs,
        "artifacts": entries,
    });
    let manifest = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())? + "\n";
    fs::write(out.join("manifest.json"), manifest).map_err(|e| e.to_string())?;
    // The checksums as a user checks them.
    run(Command::new("sha256sum").args(["--check", "--strict", "SHA256SUMS"]).current_dir(&out))?;

    println!("xtask: release {version} in {}:", out.display());
    for entry in &entries {
        println!(
            "  {:>9} bytes  {}",
            entry["bytes"].as_u64().unwrap_or_default(),
            entry["file"].as_str().unwrap_or_default()
        );
    }
    println!(
        "xtask: checked: one version everywhere, npm publish --dry-run of both packages, cargo publish --dry-run of {CORE}; nothing was published"
    );
    Ok(())
}

/// `npm publish --dry-run` of a tarball: npm's own checks of the manifest
/// and the files, against the default registry; it uploads nothing.
fn npm_publish_dry_run(tarball: &Path) -> Result<(), String> {
    // A directory of its own, so no project's .npmrc applies.
    let dir = workspace_root().join("target/release/npm-publish");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    run(Command::new("npm")
        .args(["publish", "--dry-run", "--access", "public"])
        .arg(tarball)
        .current_dir(&dir)
        // Dry even if an argument were lost.
        .env("npm_config_dry_run", "true"))
}

/// Cargo's target directory.
fn cargo_target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), PathBuf::from);
    workspace_root().join(dir)
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn git(args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(workspace_root())
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        return Err(format!("git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    String::from_utf8(output.stdout).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_are_written_as_sha256sum_does() {
        use sha2::Digest;
        assert_eq!(
            super::hex(&sha2::Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
