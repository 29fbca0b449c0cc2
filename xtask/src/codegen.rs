//! Files generated from the Rust types, committed so users can read them and
//! checked so they never go stale: the JSON Schema of every event.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use threetone_webhooks::EventType;
use threetone_webhooks::schema::{event_schema, union_schema};

use crate::command::workspace_root;

fn schema_dir() -> PathBuf {
    workspace_root().join("schema")
}

/// Every generated file: name under `schema/` and contents.
fn generated() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for &event_type in EventType::ALL {
        files.insert(format!("{event_type}.schema.json"), pretty(&event_schema(event_type)));
    }
    files.insert("threetone-event.schema.json".into(), pretty(&union_schema()));
    files
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes the generated files, removing any stale ones.
pub fn write() -> Result<(), String> {
    let dir = schema_dir();
    fs::create_dir_all(&dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let files = generated();
    for stale in committed()?.keys().filter(|name| !files.contains_key(*name)) {
        fs::remove_file(dir.join(stale))
            .map_err(|error| format!("cannot remove {stale}: {error}"))?;
    }
    for (name, text) in &files {
        fs::write(dir.join(name), text).map_err(|error| format!("cannot write {name}: {error}"))?;
    }
    println!("xtask: wrote {} files under schema/", files.len());
    Ok(())
}

/// Fails if the committed files differ from what the types generate.
pub fn check() -> Result<(), String> {
    let expected = generated();
    let committed = committed()?;
    let stale: Vec<&String> = expected
        .keys()
        .chain(committed.keys())
        .filter(|name| expected.get(*name) != committed.get(*name))
        .collect();
    if stale.is_empty() {
        println!("xtask: generated files are up to date");
        Ok(())
    } else {
        Err(format!("stale generated files {stale:?}: run `cargo xtask codegen` and commit"))
    }
}

fn committed() -> Result<BTreeMap<String, String>, String> {
    let dir = schema_dir();
    let Ok(entries) = fs::read_dir(&dir) else { return Ok(BTreeMap::new()) };
    let mut files = BTreeMap::new();
    for entry in entries {
        let path = entry.map_err(|error| error.to_string())?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let text =
            fs::read_to_string(&path).map_err(|error| format!("cannot read {name}: {error}"))?;
        files.insert(name, text);
    }
    Ok(files)
}
