//! The Python package `threetone-webhooks` (`python/`): the core compiled to a
//! plain wasm module (the ABI crate `python/abi/`), run by wasmtime from PyPI,
//! in a pure-Python wheel built by hatchling. Everything installs from PyPI
//! at the versions pinned in `python/requirements-*.txt`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::command::{cargo, ensure_rust_target, run, workspace_root};
use crate::{npm, tools};

/// The ABI crate.
const CRATE: &str = "threetone-webhooks-python-abi";
const TARGET: &str = "wasm32-unknown-unknown";
/// Separate from `target/` so the wasm's own flags never invalidate host builds.
const CARGO_TARGET_DIR: &str = "target/python-cargo";
/// The wasm's name inside the package.
const WASM: &str = "_core.wasm";
/// The package's directory, from the workspace root.
pub const DIR: &str = "python/";
/// The generated module of event types and constants.
const EVENTS_MODULE: &str = "python/src/threetone_webhooks/events.py";

fn dir() -> PathBuf {
    workspace_root().join(DIR)
}

fn out() -> PathBuf {
    workspace_root().join("target/python")
}

/// Builds the wheel into `target/python/`; returns its path.
pub fn build() -> Result<PathBuf, String> {
    let root = workspace_root();
    ensure_rust_target(TARGET)?;
    // The npm build's release settings: the workspace profile (opt-level 3, LTO,
    // panic=abort), SIMD for sha2, then wasm-opt -O3 from the pinned binaryen.
    run(Command::new("cargo")
        .args(["build", "--package", CRATE, "--target", TARGET, "--release"])
        .env("CARGO_TARGET_DIR", root.join(CARGO_TARGET_DIR))
        .env("RUSTFLAGS", tools::WASM_RUSTFLAGS))?;
    let built = root
        .join(CARGO_TARGET_DIR)
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", CRATE.replace('-', "_")));

    let stage = out().join("stage");
    let _ = fs::remove_dir_all(&stage);
    copy_tree(&dir().join("src"), &stage.join("src"))?;
    for file in ["pyproject.toml", "README.md"] {
        copy(&dir().join(file), &stage.join(file))?;
    }
    check_version(&stage.join("pyproject.toml"))?;
    let tools_dir = npm::tools_dir();
    tools::npm_ci(&tools_dir)?;
    let wasm = stage.join("src/threetone_webhooks").join(WASM);
    tools::wasm_opt(&tools_dir, "-O3", &built, &wasm)?;

    let python = venv(&out().join("build-venv"), "requirements-build.txt", false)?;
    let wheel = wheel();
    let _ = fs::remove_file(&wheel);
    // Without build isolation: hatchling comes from the pinned build venv, not
    // from whatever PyPI serves today.
    run(Command::new(&python)
        .args(["-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet"])
        .args(["--disable-pip-version-check", "--wheel-dir"])
        .arg(out())
        .arg(&stage))?;
    let wasm_size = metadata_len(&wasm)?;
    let wheel_size = metadata_len(&wheel)?;
    println!("xtask: built {} ({wheel_size} bytes; {WASM} {wasm_size} bytes)", wheel.display());
    Ok(wheel)
}

/// The built wheel: `target/python/threetone_webhooks-<version>-py3-none-any.whl`.
pub fn wheel() -> PathBuf {
    out().join(format!("threetone_webhooks-{}-py3-none-any.whl", version()))
}

/// Installs the wheel into a fresh virtualenv (`target/python/venv`) as a user
/// would, with the pinned test requirements, and runs the package's tests
/// (pytest: the shared vectors, the API, threads and traps, Flask, FastAPI,
/// Django, the Flask example), mypy --strict and ruff.
pub fn test() -> Result<(), String> {
    // The ABI crate on its own target (the host lints run with the workspace's).
    cargo(&["clippy", "--package", CRATE, "--target", TARGET, "--", "-D", "warnings"])?;
    let wheel = build()?;
    let python = user_venv(&wheel)?;
    let root = workspace_root();
    let sources = [dir(), root.join("benches/python_bench.py")];
    run(Command::new(&python)
        .args(["-m", "ruff", "format", "--check", "--config"])
        .arg(dir().join("pyproject.toml"))
        .args(&sources)
        .env("RUFF_CACHE_DIR", out().join("ruff-cache")))?;
    run(Command::new(&python)
        .args(["-m", "ruff", "check", "--config"])
        .arg(dir().join("pyproject.toml"))
        .args(&sources)
        .env("RUFF_CACHE_DIR", out().join("ruff-cache")))?;
    run(Command::new(&python)
        .args(["-m", "mypy", "--strict", "--config-file"])
        .arg(dir().join("pyproject.toml"))
        .arg("--cache-dir")
        .arg(out().join("mypy-cache"))
        .arg(dir().join("src"))
        .arg(dir().join("tests"))
        .arg(dir().join("examples"))
        .arg(root.join("benches/python_bench.py")))?;
    // From outside the source tree, so `import threetone_webhooks` is the wheel.
    run(Command::new(&python)
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir"])
        .arg(dir())
        .arg(dir().join("tests"))
        .current_dir(out())
        .env("PYTHONDONTWRITEBYTECODE", "1"))
}

/// The Python part of `cargo xtask bench`: `verify` and `construct_event`
/// against the standard library's hmac (and json.loads), in one process.
pub fn bench() -> Result<(), String> {
    let wheel = build()?;
    let python = user_venv(&wheel)?;
    run(Command::new(python)
        .arg(workspace_root().join("benches/python_bench.py"))
        .current_dir(out()))
}

/// A fresh virtualenv with the pinned test requirements and the wheel.
fn user_venv(wheel: &Path) -> Result<PathBuf, String> {
    let python = venv(&out().join("venv"), "requirements-test.txt", true)?;
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"])
        .arg(wheel))?;
    // Its one dependency is pinned in the requirements: check that it is met.
    run(Command::new(&python).args(["-m", "pip", "check", "--disable-pip-version-check"]))?;
    Ok(python)
}

/// The Python of a virtualenv at `venv` (made fresh when `fresh`) with
/// `python/<requirements>` installed from PyPI.
fn venv(venv: &Path, requirements: &str, fresh: bool) -> Result<PathBuf, String> {
    let python = venv.join("bin").join("python");
    if fresh || !python.exists() {
        run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(venv))?;
    }
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(dir().join(requirements)))?;
    Ok(python)
}

/// The package version: the workspace's.
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Fails unless `pyproject.toml` has the workspace's version.
fn check_version(pyproject: &Path) -> Result<(), String> {
    let text = read(pyproject)?;
    let expected = format!("version = \"{}\"", version());
    if text.lines().any(|line| line.trim() == expected) {
        Ok(())
    } else {
        Err(format!("python/pyproject.toml must say `{expected}`, the workspace's version"))
    }
}

/// The generated Python files: path from the workspace root, and contents.
pub fn generated(union_schema: &Value) -> Result<Vec<(String, String)>, String> {
    Ok(vec![(EVENTS_MODULE.into(), events_module(union_schema)?)])
}

/// `events.py`: the core's constants and the events as `TypedDict`s, from the
/// union schema (itself generated from the Rust types).
fn events_module(schema: &Value) -> Result<String, String> {
    use threetone_webhooks::{
        EventType, SAMPLE_ID, SAMPLE_TIMESTAMP, SIGNATURE_HEADER, sample_template,
    };

    let mut module = String::from(
        "# Generated by `cargo xtask codegen` from the Rust core (schema/threetone-event.schema.json,\n\
         # src/event, src/sample.rs, src/signature.rs): do not edit.\n\
         \"\"\"The ThreeTone events as typed dicts, and the core's constants.\n\n\
         Each event type has a ``TypedDict`` (``CallStartedEvent`` with its ``data``, a\n\
         ``CallStarted``, ...); ``ThreeToneEvent`` is their union, so comparing\n\
         ``event[\"event\"]`` to a type's name narrows it. Fields not listed here are kept as\n\
         sent: read them from a plain ``dict`` (``dict(event[\"data\"]).get(...)``).\n\"\"\"\n\n\
         from __future__ import annotations\n\n\
         from typing import Any, Final, Literal, NotRequired, TypedDict, Union\n\n",
    );
    module += &format!(
        "#: The header that carries the signature (case-insensitive on the wire).\n\
         SIGNATURE_HEADER: Final = {}\n\n",
        quote(SIGNATURE_HEADER)
    );
    let names: Vec<String> = EventType::ALL.iter().map(|t| quote(t.as_str())).collect();
    module += "#: The name of one of the event types ThreeTone documents.\nEventType = Literal[\n";
    for name in &names {
        module += &format!("    {name},\n");
    }
    module += "]\n\n#: Every event type, in ThreeTone's order.\nEVENT_TYPES: Final[tuple[EventType, ...]] = (\n";
    for name in &names {
        module += &format!("    {name},\n");
    }
    module += ")\n\n";
    module += &format!(
        "#: Where the time and the id go in a sample template.\n\
         SAMPLE_TIMESTAMP: Final = {}\nSAMPLE_ID: Final = {}\n\n",
        quote(&SAMPLE_TIMESTAMP.to_string()),
        quote(&SAMPLE_ID.to_string())
    );
    module += "#: The body of a realistic sample of each event type, as JSON text.\n\
               SAMPLE_TEMPLATES: Final[dict[EventType, str]] = {\n";
    for event_type in EventType::ALL {
        module += &format!(
            "    {}: {},\n",
            quote(event_type.as_str()),
            quote(&sample_template(*event_type))
        );
    }
    module += "}\n";

    let defs =
        schema.get("$defs").and_then(Value::as_object).ok_or("the union schema has no $defs")?;
    // Aliases first (the classes name them), then the payloads.
    for (name, def) in defs {
        if def.get("type").and_then(Value::as_str) != Some("object") {
            module += "\n\n";
            module += &comment(def, "");
            module += &format!("{name} = {}\n", python_type(def)?);
        }
    }
    for (name, def) in defs {
        if def.get("type").and_then(Value::as_str) == Some("object") {
            module += &typed_dict(name, def)?;
        }
    }
    let variants =
        schema.get("oneOf").and_then(Value::as_array).ok_or("the union schema has no oneOf")?;
    let mut titles = Vec::new();
    for variant in variants {
        let title = variant
            .get("title")
            .and_then(Value::as_str)
            .ok_or("a variant of the union schema has no title")?;
        module += &typed_dict(title, variant)?;
        titles.push(title.to_string());
    }
    module += "\n\nclass UnknownEvent(TypedDict):\n    \"\"\"An event of a type this version does not know, kept as sent (accepted \
               unless\n    ``allow_unknown_events=False``: then every event is a ``ThreeToneEvent``).\"\"\"\n\n    \
               event: str\n    timestamp: Timestamp\n    data: NotRequired[Any]\n";
    // The known types only, as the npm package's type: a union with UnknownEvent (whose
    // `event` is any str) would stop type checkers from narrowing on `event`.
    module += "\n\n#: What ``construct_event`` and ``parse_event`` return: one of the known \
               types, narrowed by\n#: comparing ``event[\"event\"]`` to its name. An event of \
               a type this version does not know\n#: (an ``UnknownEvent``) has none of their names.\n\
               ThreeToneEvent = Union[\n";
    for title in &titles {
        module += &format!("    {title},\n");
    }
    module += "]\n";
    Ok(module)
}

/// A `TypedDict` class for an object schema: required fields in the schema's
/// order, then the optional ones (`NotRequired`).
fn typed_dict(name: &str, def: &Value) -> Result<String, String> {
    let properties = def
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{name} has no properties"))?;
    let required: Vec<&str> = def
        .get("required")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut text = format!("\n\nclass {name}(TypedDict):\n");
    if let Some(description) = def.get("description").and_then(Value::as_str) {
        text += &format!("    \"\"\"{}\"\"\"\n\n", docstring(description));
    }
    let optional = properties.keys().filter(|field| !required.contains(&field.as_str()));
    for field in required.iter().copied().chain(optional.map(String::as_str)) {
        check_identifier(field)?;
        let schema = properties
            .get(field)
            .ok_or_else(|| format!("{name}.{field} is required but not defined"))?;
        let mut annotation = python_type(schema)?;
        if !required.contains(&field) {
            annotation = format!("NotRequired[{annotation}]");
        }
        text += &comment(schema, "    ");
        text += &format!("    {field}: {annotation}\n");
    }
    Ok(text)
}

/// The Python type of a field's schema.
fn python_type(schema: &Value) -> Result<String, String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/$defs/")
            .ok_or_else(|| format!("unsupported $ref {reference}"))?;
        return Ok(name.to_string());
    }
    if let Some(constant) = schema.get("const").and_then(Value::as_str) {
        return Ok(format!("Literal[{}]", quote(constant)));
    }
    if let Some(cases) = schema.get("oneOf").and_then(Value::as_array) {
        let constants: Option<Vec<String>> =
            cases.iter().map(|case| case.get("const").and_then(Value::as_str).map(quote)).collect();
        let constants = constants.ok_or("a oneOf other than constants")?;
        return Ok(format!("Literal[{}]", constants.join(", ")));
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Ok("Any".into()),
    };
    let mut union = Vec::new();
    for json_type in types {
        union.push(match json_type {
            "string" => "str".to_string(),
            "integer" => "int".to_string(),
            // json.loads gives an int for a number written without a fraction.
            "number" => "float".to_string(),
            "boolean" => "bool".to_string(),
            "null" => "None".to_string(),
            "object" => "dict[str, Any]".to_string(),
            "array" => {
                let items = schema.get("items").map(python_type).transpose()?;
                format!("list[{}]", items.unwrap_or_else(|| "Any".into()))
            }
            other => return Err(format!("unsupported JSON type {other}")),
        });
    }
    Ok(union.join(" | "))
}

/// The schema's description as `#:` comment lines at `indent`.
fn comment(schema: &Value, indent: &str) -> String {
    match schema.get("description").and_then(Value::as_str) {
        Some(description) => description
            .lines()
            .map(|line| format!("{indent}#: {line}\n").replace(" \n", "\n"))
            .collect(),
        None => String::new(),
    }
}

fn docstring(text: &str) -> String {
    text.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"")
}

/// A Python string literal, in double quotes unless the text has some and no
/// single ones (as ruff's formatter writes it).
fn quote(text: &str) -> String {
    let delimiter = if text.contains('"') && !text.contains('\'') { '\'' } else { '"' };
    let mut literal = String::from(delimiter);
    for c in text.chars() {
        match c {
            '\\' => literal.push_str("\\\\"),
            '\n' => literal.push_str("\\n"),
            '\r' => literal.push_str("\\r"),
            '\t' => literal.push_str("\\t"),
            c if c == delimiter => {
                literal.push('\\');
                literal.push(c);
            }
            c if c.is_control() => literal.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => literal.push(c),
        }
    }
    literal.push(delimiter);
    literal
}

fn check_identifier(name: &str) -> Result<(), String> {
    const KEYWORDS: [&str; 35] = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    let identifier = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier && !KEYWORDS.contains(&name) {
        Ok(())
    } else {
        Err(format!("field {name:?} cannot be a TypedDict class field"))
    }
}

fn metadata_len(path: &Path) -> Result<u64, String> {
    fs::metadata(path).map(|m| m.len()).map_err(|error| format!("{}: {error}", path.display()))
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    fs::copy(from, to).map(drop).map_err(|error| format!("cannot copy {}: {error}", from.display()))
}

/// Copies the files of `from` into `to`, without caches.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        if name == "__pycache__" || name.to_string_lossy().ends_with(".wasm") {
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
