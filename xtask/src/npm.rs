//! The npm package `threetone-webhooks`: the core compiled to wasm with the
//! `js` feature, wasm-bindgen's `web` glue, and `pkg-templates/` around it.
//! Everything downloads only from crates.io and the npm registry.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;

use crate::command::{ensure_rust_target, run, workspace_root};
use crate::tools;

const TARGET: &str = "wasm32-unknown-unknown";
/// Separate from `target/` so the wasm's own flags never invalidate host builds.
const CARGO_TARGET_DIR: &str = "target/npm-cargo";
fn out() -> PathBuf {
    workspace_root().join("target/npm")
}

/// The tools' directory (`xtask/package.json`).
pub fn tools_dir() -> PathBuf {
    workspace_root().join("xtask")
}

/// Builds the package into `target/npm/package` and packs it; returns the tarball.
pub fn build() -> Result<PathBuf, String> {
    let root = workspace_root();
    let tools_dir = tools_dir();
    tools::npm_ci(&tools_dir)?;
    ensure_rust_target(TARGET)?;
    let wasm_bindgen = tools::wasm_bindgen()?;

    // The workspace's release profile (opt-level 3): measured against the
    // core at 3 with its dependencies at "z", it is as small gzipped and
    // validates faster (BENCHMARKS.md).
    run(Command::new("cargo")
        .args(["rustc", "--package", "threetone-webhooks", "--lib", "--crate-type", "cdylib"])
        .args(["--target", TARGET, "--release", "--no-default-features", "--features", "js"])
        .env("CARGO_TARGET_DIR", root.join(CARGO_TARGET_DIR))
        .env("RUSTFLAGS", tools::WASM_RUSTFLAGS))?;

    let bindgen = out().join("bindgen");
    let _ = fs::remove_dir_all(&bindgen);
    let built = root.join(CARGO_TARGET_DIR).join(TARGET).join("release/threetone_webhooks.wasm");
    run(Command::new(wasm_bindgen)
        .args(["--target", "web", "--out-name", "threetone_webhooks"])
        .args(["--remove-name-section", "--remove-producers-section", "--out-dir"])
        .arg(&bindgen)
        .arg(&built))?;

    let package = out().join("package");
    let _ = fs::remove_dir_all(&package);
    let dist = package.join("dist");
    fs::create_dir_all(dist.join("entries")).map_err(|e| e.to_string())?;
    let wasm = dist.join("threetone_webhooks_bg.wasm");
    // -O3, not -Oz: as small gzipped, and faster to verify and validate
    // (BENCHMARKS.md, "Levers, one by one").
    tools::wasm_opt(&tools_dir, "-O3", &bindgen.join("threetone_webhooks_bg.wasm"), &wasm)?;

    assemble(&root.join("pkg-templates"), &bindgen, &package)?;
    run(Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(out())
        .current_dir(&package))?;
    let tarball = tarball();
    println!("xtask: packed {}", tarball.display());
    Ok(tarball)
}

/// The packed tarball: `target/npm/threetone-webhooks-<version>.tgz`.
pub fn tarball() -> PathBuf {
    out().join(format!("threetone-webhooks-{}.tgz", env!("CARGO_PKG_VERSION")))
}

/// Lays out the package: the source tree, glue, inlined wasm, declarations
/// checked and emitted by tsc, CJS builds.
fn assemble(templates: &Path, bindgen: &Path, package: &Path) -> Result<(), String> {
    let dist = package.join("dist");
    // Its version is the workspace's (`cargo xtask codegen --check` checks every place).
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&templates.join("package.json"))?).map_err(|e| e.to_string())?;
    if manifest["version"] != env!("CARGO_PKG_VERSION") {
        return Err(format!(
            "pkg-templates/package.json's version is {}, the workspace's {}",
            manifest["version"],
            env!("CARGO_PKG_VERSION")
        ));
    }
    copy(&templates.join("package.json"), &package.join("package.json"))?;
    copy(&templates.join("README.md"), &package.join("README.md"))?;
    copy_tree(&templates.join("src"), &dist)?;
    copy(&bindgen.join("threetone_webhooks.js"), &dist.join("glue.mjs"))?;
    copy(&bindgen.join("threetone_webhooks.d.ts"), &dist.join("glue.d.mts"))?;

    // The inlined copy is gzipped: less than half the size of the raw wasm
    // in base64, and the runtimes that load it have DecompressionStream.
    let wasm = fs::read(dist.join("threetone_webhooks_bg.wasm")).map_err(|e| e.to_string())?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&wasm).map_err(|e| e.to_string())?;
    let inline =
        base64::engine::general_purpose::STANDARD.encode(gzip.finish().map_err(|e| e.to_string())?);
    write(
        &dist.join("wasm-inline.mjs"),
        &format!(
            "// The wasm, gzipped and inlined.\nexport const wasmGzipBase64 = \"{inline}\";\n"
        ),
    )?;
    // Declared by hand: tsc would declare the string's whole value as its type (49 KB, twice).
    write(
        &dist.join("wasm-inline.d.mts"),
        "// The wasm, gzipped and inlined.\nexport const wasmGzipBase64: string;\n",
    )?;

    declarations(package)?;

    // CommonJS: one self-contained bundle for the root, thin ones for the adapters.
    let esbuild = tools::npm_bin(&tools_dir(), "esbuild");
    run(Command::new(&esbuild)
        .arg(dist.join("entries/node.mjs"))
        .args(["--bundle", "--platform=node", "--format=cjs", "--log-level=warning"])
        // Whitespace and syntax only: names stay readable in stack traces.
        .args(["--minify-whitespace", "--minify-syntax"])
        .arg("--banner:js=const __importMetaUrl = require(\"node:url\").pathToFileURL(__filename).href;")
        .arg("--define:import.meta.url=__importMetaUrl")
        .arg(format!("--outfile={}", dist.join("entries/node.cjs").display())))?;
    for adapter in ["express", "hono", "fastify", "koa", "node-http"] {
        run(Command::new(&esbuild)
            .arg(dist.join(format!("{adapter}.mjs")))
            .args(["--bundle", "--platform=node", "--format=cjs", "--log-level=warning"])
            .args(["--external:threetone-webhooks", "--external:node:*"])
            .arg(format!("--outfile={}", dist.join(format!("{adapter}.cjs")).display())))?;
    }
    strip_comments(&esbuild, &dist)?;
    prune_declarations(package, &manifest)?;
    set_executable(&dist.join("cli.mjs"))
}

/// Reprints the ES modules without their comments: the same code, formatted.
/// The JSDoc is in the declarations tsc emitted from it, which is where
/// editors read it; shipping it twice more is a third of the JS's size.
fn strip_comments(esbuild: &Path, dist: &Path) -> Result<(), String> {
    let mut files = Vec::new();
    list_files(dist, &mut files)?;
    let modules: Vec<&PathBuf> = files
        .iter()
        // The inlined wasm is one string: nothing to strip.
        .filter(|file| {
            file.extension().is_some_and(|ext| ext == "mjs") && !file.ends_with("wasm-inline.mjs")
        })
        .collect();
    run(Command::new(esbuild)
        .args(modules)
        .args([
            "--format=esm",
            "--charset=utf8",
            "--log-level=warning",
            "--allow-overwrite",
            "--out-extension:.js=.mjs",
        ])
        .arg(format!("--outbase={}", dist.display()))
        .arg(format!("--outdir={}", dist.display())))
}

/// Keeps the declarations that the manifest's `types` conditions reach,
/// following their relative imports; the others (the CLI's, the entries',
/// the inlined wasm's) declare modules no consumer can import by name.
fn prune_declarations(package: &Path, manifest: &serde_json::Value) -> Result<(), String> {
    let mut pending: Vec<PathBuf> = Vec::new();
    collect_types(manifest, &mut pending);
    let mut reached = std::collections::BTreeSet::new();
    while let Some(relative) = pending.pop() {
        let file = package.join(&relative);
        if !reached.insert(file.clone()) {
            continue;
        }
        let text = read(&file)?;
        let dir = relative.parent().unwrap_or(Path::new(""));
        // A declaration's relative imports are its double-quoted strings that start with "./" or "../".
        for quoted in text.split('"').skip(1).step_by(2) {
            if !(quoted.starts_with("./") || quoted.starts_with("../")) {
                continue;
            }
            let declaration = if let Some(stem) = quoted.strip_suffix(".mjs") {
                format!("{stem}.d.mts")
            } else if let Some(stem) = quoted.strip_suffix(".cjs") {
                format!("{stem}.d.cts")
            } else {
                return Err(format!("{}: import of {quoted} without .mjs or .cjs", file.display()));
            };
            pending.push(normalize(&dir.join(declaration)));
        }
    }
    let mut files = Vec::new();
    list_files(&package.join("dist"), &mut files)?;
    for file in files {
        let name = file.to_string_lossy();
        if (name.ends_with(".d.mts") || name.ends_with(".d.cts")) && !reached.contains(&file) {
            fs::remove_file(&file).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Every `types` value in the manifest (the top-level one and each condition's).
fn collect_types(value: &serde_json::Value, found: &mut Vec<PathBuf>) {
    let Some(map) = value.as_object() else { return };
    for (key, value) in map {
        match value.as_str() {
            Some(path) if key == "types" => found.push(normalize(Path::new(path))),
            _ => collect_types(value, found),
        }
    }
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// The modules `tsc` does not check: they come with their declarations
/// (wasm-bindgen's glue, the generated core constants, the inlined wasm).
const DECLARED: [&str; 3] = ["glue.mjs", "core.mjs", "wasm-inline.mjs"];

/// Checks the package's JS against its JSDoc types with `tsc --checkJs`
/// (strict) and writes the declarations from them (`.d.mts`), then their
/// CommonJS twins (`.d.cts`, naming `.cjs` modules).
fn declarations(package: &Path) -> Result<(), String> {
    let tools_dir = tools_dir();
    let types = tools_dir.join("node_modules/@types");
    let exclude: Vec<String> = DECLARED.iter().map(|file| format!("dist/{file}")).collect();
    let config = serde_json::json!({
        "compilerOptions": {
            "allowJs": true,
            "checkJs": true,
            "declaration": true,
            "emitDeclarationOnly": true,
            "noEmitOnError": true,
            "strict": true,
            "module": "nodenext",
            "moduleResolution": "nodenext",
            "target": "es2022",
            "lib": ["es2022", "dom"],
            "types": ["node"],
            "typeRoots": [types],
            // The adapters import the package by its name.
            "paths": { "threetone-webhooks": ["./dist/api.mjs"] },
        },
        "include": ["dist/**/*.mjs"],
        "exclude": exclude,
    });
    // Outside `files`: not packed.
    let tsconfig = package.join("tsconfig.json");
    write(&tsconfig, &serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?)?;
    run(Command::new(tools::npm_bin(&tools_dir, "tsc")).arg("-p").arg(&tsconfig))?;
    fs::remove_file(&tsconfig).map_err(|e| e.to_string())?;

    let mut files = Vec::new();
    list_files(&package.join("dist"), &mut files)?;
    for file in files.iter().filter(|file| file.to_string_lossy().ends_with(".d.mts")) {
        let text = read(file)?.replace(".mjs\"", ".cjs\"");
        let name = file.to_string_lossy().replace(".d.mts", ".d.cts");
        write(Path::new(&name), &text)?;
    }
    Ok(())
}

fn list_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    for entry in fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() { list_files(&path, files)? } else { files.push(path) }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to).map(drop).map_err(|error| format!("cannot copy {}: {error}", from.display()))
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
}

/// Installs the packed tarball into a user's project (`target/npm/consumer`,
/// made from `tests/npm/`) and runs the tests there: the shared suite in every
/// runtime, the framework adapters, the CLI, the TypeScript types; then lints
/// the package with publint and arethetypeswrong.
pub fn test() -> Result<(), String> {
    let (consumer, tarball) = consumer()?;

    let tools_dir = tools_dir();
    run(Command::new(tools::npm_bin(&tools_dir, "publint"))
        .args(["--strict"])
        .arg(out().join("package")))?;
    // node10 resolution predates `exports`; the package requires Node >= 18.
    run(Command::new(tools::npm_bin(&tools_dir, "attw"))
        .arg(&tarball)
        .args(["--profile", "node16"]))?;

    let worker_tools = crate::worker::dir();
    tools::npm_ci(&worker_tools)?;
    tools::debian_package("chromium", Path::new(CHROMIUM))?;
    let tests: Vec<String> = fs::read_dir(&consumer)
        .map_err(|e| e.to_string())?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    run(Command::new("node")
        .arg("--test")
        .args(tests)
        .current_dir(&consumer)
        .env("THREETONE_WORKER_TOOLS", worker_tools)
        .env("THREETONE_ESBUILD", tools::npm_bin(&tools_dir, "esbuild"))
        .env("CHROMIUM", CHROMIUM))
}

/// The packed tarball installed into a user's project made from `tests/npm/`.
fn consumer() -> Result<(PathBuf, PathBuf), String> {
    let root = workspace_root();
    let tarball = build()?;
    let consumer = out().join("consumer");
    copy_tree(&root.join("tests/npm"), &consumer)?;
    copy_tree(&root.join("tests/vectors"), &consumer.join("vectors"))?;
    tools::npm_ci(&consumer)?;
    run(Command::new("npm")
        .args(["install", "--no-save", "--no-audit", "--no-fund"])
        .arg(&tarball)
        .current_dir(&consumer))?;
    Ok((consumer, tarball))
}

/// The package against its peers in Node, and its sizes; the native HMAC's crossover in Bun and Deno.
pub fn bench() -> Result<(), String> {
    let (consumer, _) = consumer()?;
    // Imports resolve from the script's own directory: run it inside the project.
    copy(&workspace_root().join("benches/npm.bench.mjs"), &consumer.join("npm.bench.mjs"))?;
    let plot = workspace_root().join("benches/throughput.svg");
    run(Command::new("node").arg("npm.bench.mjs").arg(plot).current_dir(&consumer))?;
    // The native HMAC's crossover in the other runtimes that have one (entries/hmac-node.mjs).
    run(Command::new(tools::npm_bin(&consumer, "bun"))
        .args(["npm.bench.mjs", "--crossover"])
        .current_dir(&consumer))?;
    run(Command::new(tools::npm_bin(&consumer, "deno"))
        .args(["run", "--allow-read", "--allow-env", "--allow-sys", "npm.bench.mjs", "--crossover"])
        .current_dir(&consumer))
}

/// Debian's Chromium, driven by playwright-core (which downloads nothing).
const CHROMIUM: &str = "/usr/bin/chromium";

/// Copies the files of `from` into `to` (no `node_modules`), keeping what `to` already installed.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        if name == "node_modules" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            copy(&path, &to.join(&name))?;
        }
    }
    Ok(())
}
