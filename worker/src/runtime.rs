//! What the runtime gives the Worker's plain code: its environment (read
//! once per isolate into a [`Config`]), the WHATWG URL parser, randomness.

use std::cell::OnceCell;
use std::rc::Rc;

use worker::wasm_bindgen::{self, JsValue, prelude::wasm_bindgen};
use worker::{Env, js_sys};

use crate::config::{Config, Environment, ParsedUrl};

thread_local! {
    /// The configuration, parsed at the isolate's first request: vars and
    /// secrets do not change under a running isolate (a new version, or a
    /// new secret, starts new isolates).
    static CONFIG: OnceCell<Rc<Config>> = const { OnceCell::new() };
}

/// The Worker's configuration.
pub fn config(env: &Env) -> Rc<Config> {
    CONFIG.with(|config| Rc::clone(config.get_or_init(|| Rc::new(Config::parse(env)))))
}

/// 16 hex digits, for request ids and sample ids.
pub fn random_id() -> String {
    let high = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    let low = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    format!("{high:08x}{low:08x}")
}

#[wasm_bindgen]
extern "C" {
    /// The runtime's own WHATWG URL parser: it handles every host the
    /// runtime's `fetch` does (Unicode ones too), and costs the upload nothing.
    #[wasm_bindgen(js_name = URL)]
    type WhatwgUrl;
    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn parse(url: &str) -> Result<WhatwgUrl, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn protocol(this: &WhatwgUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn href(this: &WhatwgUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn origin(this: &WhatwgUrl) -> String;
    #[wasm_bindgen(method, getter, js_name = searchParams)]
    fn search_params(this: &WhatwgUrl) -> SearchParams;

    type SearchParams;
    #[wasm_bindgen(method)]
    fn get(this: &SearchParams, name: &str) -> Option<String>;
}

/// The query parameter `name` of `request`'s URL, decoded.
pub fn query_param(request: &worker::Request, name: &str) -> Option<String> {
    WhatwgUrl::parse(&request.inner().url()).ok()?.search_params().get(name)
}

/// The dashboard's address on the Worker `request` came to, for alerts to
/// link to (by the runtime's URL parser: workers-rs's `Request::url` would
/// bring the `url` crate into the upload).
pub fn dashboard_url(request: &worker::Request) -> Option<String> {
    let url = WhatwgUrl::parse(&request.inner().url()).ok()?;
    Some(format!("{}/dashboard", url.origin()))
}

impl Environment for Env {
    /// Vars and secrets alike; a TOML table in `[vars]` comes as JSON text.
    fn var(&self, name: &str) -> Option<String> {
        let value = js_sys::Reflect::get(self, &JsValue::from(name)).ok()?;
        if value.is_undefined() || value.is_null() {
            return None;
        }
        match value.as_string() {
            Some(text) => Some(text),
            None => js_sys::JSON::stringify(&value).ok()?.as_string(),
        }
    }

    fn parse_url(&self, text: &str) -> Option<ParsedUrl> {
        let url = WhatwgUrl::parse(text).ok()?;
        Some(ParsedUrl { protocol: url.protocol(), href: url.href() })
    }
}
