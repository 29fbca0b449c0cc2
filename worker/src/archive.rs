//! The archive (an R2 bucket bound as `ARCHIVE`): every authentic event's
//! exact body, with its facts and each destination's result
//! ([`selection::Archived`]), kept for `ARCHIVE_RETENTION_DAYS`.
//!
//! Bound through the runtime's own R2 API (as the Durable Object stubs are,
//! in [`rpc`](crate::rpc)): workers-rs's R2 builders would carry every
//! option of R2 into the upload.

use worker::js_sys::{self, Promise, Uint8Array};
use worker::wasm_bindgen::{self, JsCast, JsValue, prelude::wasm_bindgen};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Env, Error, Result};

use crate::event::Authentic;
use crate::selection::{self, Archived, Selection};

const BINDING: &str = "ARCHIVE";
/// The custom-metadata field that holds an object's [`Archived`] facts.
const FACTS: &str = "facts";
/// The most events one replay selects (its listing takes a subrequest per thousand).
pub const MAX_SELECTED: usize = 10_000;

#[wasm_bindgen]
extern "C" {
    /// An R2 bucket binding.
    type Bucket;
    #[wasm_bindgen(method, catch)]
    fn put(
        this: &Bucket,
        key: &str,
        value: &Uint8Array,
        options: &JsValue,
    ) -> std::result::Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &Bucket, key: &str) -> std::result::Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn head(this: &Bucket, key: &str) -> std::result::Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn list(this: &Bucket, options: &JsValue) -> std::result::Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = delete)]
    fn remove(this: &Bucket, keys: &JsValue) -> std::result::Result<Promise, JsValue>;
}

/// The archive, if the Worker has one.
fn bucket(env: &Env) -> Option<Bucket> {
    let binding = js_sys::Reflect::get(env, &JsValue::from(BINDING)).ok()?;
    (!binding.is_undefined() && !binding.is_null()).then(|| binding.unchecked_into())
}

/// Whether the Worker has an archive.
pub fn is_bound(env: &Env) -> bool {
    bucket(env).is_some()
}

async fn settle(promise: std::result::Result<Promise, JsValue>) -> Result<JsValue> {
    Ok(JsFuture::from(promise?).await?)
}

/// A JS value made from JSON text.
fn js(json: &str) -> Result<JsValue> {
    js_sys::JSON::parse(json).map_err(Error::from)
}

/// An object's facts, from its custom metadata.
fn facts_of(object: &JsValue) -> Option<Archived> {
    let metadata = js_sys::Reflect::get(object, &"customMetadata".into()).ok()?;
    let facts = js_sys::Reflect::get(&metadata, &FACTS.into()).ok()?.as_string()?;
    serde_json::from_str(&facts).ok()
}

/// Keeps `event` (or updates its results), merging `results` into what the
/// archive already had for it.
pub async fn keep(
    env: &Env,
    event: &Authentic,
    results: Vec<(String, &'static str)>,
    now_ms: u64,
) -> Result<()> {
    let Some(bucket) = bucket(env) else { return Ok(()) };
    let key = selection::key(event.timestamp_ms, event.key().as_str());
    let existing = settle(bucket.head(&key)).await?;
    let mut facts =
        if existing.is_null() { None } else { facts_of(&existing) }.unwrap_or_else(|| Archived {
            route: event.route.clone(),
            event: event.event.clone(),
            call_id: event.call_id.clone(),
            signature: event.signature.clone(),
            content_type: event.content_type.clone(),
            ..Archived::default()
        });
    facts.received_ms = now_ms;
    selection::merge(&mut facts.results, results);
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct PutOptions {
        custom_metadata: std::collections::BTreeMap<&'static str, String>,
    }
    let options = PutOptions { custom_metadata: [(FACTS, serde_json::to_string(&facts)?)].into() };
    settle(bucket.put(
        &key,
        &Uint8Array::from(event.body.as_slice()),
        &js(&serde_json::to_string(&options)?)?,
    ))
    .await?;
    Ok(())
}

/// The archived events `selection` covers, in time order (at most [`MAX_SELECTED`]).
pub async fn select(env: &Env, selection: &Selection) -> Result<Option<Vec<(String, Archived)>>> {
    let Some(bucket) = bucket(env) else { return Ok(None) };
    let mut selected = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut options = serde_json::json!({ "prefix": selection::PREFIX, "limit": 1000, "include": ["customMetadata"] });
        match &cursor {
            Some(cursor) => options["cursor"] = cursor.as_str().into(),
            None => {
                if let Some(start) = selection.start_after() {
                    options["startAfter"] = start.into();
                }
            }
        }
        let listed = settle(bucket.list(&js(&options.to_string())?)).await?;
        let objects: js_sys::Array =
            js_sys::Reflect::get(&listed, &"objects".into())?.unchecked_into();
        for object in objects.iter() {
            let key = js_sys::Reflect::get(&object, &"key".into())?.as_string().unwrap_or_default();
            if selection.is_past(&key) {
                return Ok(Some(selected));
            }
            if let Some(facts) = facts_of(&object)
                && !selection.destinations_of(&key, &facts).is_empty()
            {
                selected.push((key, facts));
                if selected.len() >= MAX_SELECTED {
                    return Ok(Some(selected));
                }
            }
        }
        let truncated = js_sys::Reflect::get(&listed, &"truncated".into())?.as_bool() == Some(true);
        cursor = js_sys::Reflect::get(&listed, &"cursor".into())?.as_string();
        if !truncated || cursor.is_none() {
            return Ok(Some(selected));
        }
    }
}

/// An archived event's body and facts.
pub async fn fetch(env: &Env, key: &str) -> Result<Option<(Vec<u8>, Archived)>> {
    let Some(bucket) = bucket(env) else { return Ok(None) };
    let object = settle(bucket.get(key)).await?;
    if object.is_null() {
        return Ok(None);
    }
    let Some(facts) = facts_of(&object) else { return Ok(None) };
    let read =
        js_sys::Reflect::get(&object, &"arrayBuffer".into())?.unchecked_into::<js_sys::Function>();
    let buffer = JsFuture::from(read.call0(&object)?.unchecked_into::<Promise>()).await?;
    Ok(Some((Uint8Array::new(&buffer).to_vec(), facts)))
}

/// Deletes the events older than `before_ms` (a thousand at a time); how many.
pub async fn sweep(env: &Env, before_ms: u64) -> Result<usize> {
    let Some(bucket) = bucket(env) else { return Ok(0) };
    let mut deleted = 0;
    loop {
        let options = serde_json::json!({ "prefix": selection::PREFIX, "limit": 1000 });
        let listed = settle(bucket.list(&js(&options.to_string())?)).await?;
        let objects: js_sys::Array =
            js_sys::Reflect::get(&listed, &"objects".into())?.unchecked_into();
        let keys: Vec<String> = objects
            .iter()
            .filter_map(|object| js_sys::Reflect::get(&object, &"key".into()).ok()?.as_string())
            .take_while(|key| {
                selection::timestamp_of(key).is_some_and(|timestamp| timestamp < before_ms)
            })
            .collect();
        let done = keys.len() < objects.length() as usize || keys.is_empty();
        if !keys.is_empty() {
            let array: js_sys::Array = keys.iter().map(|key| JsValue::from(key.as_str())).collect();
            settle(bucket.remove(&array)).await?;
            deleted += keys.len();
        }
        if done {
            return Ok(deleted);
        }
    }
}
