//! What the runtime gives the Worker's plain code: its environment and
//! the WHATWG URL parser.

use worker::Env;
use worker::wasm_bindgen::{self, JsValue, prelude::wasm_bindgen};

use crate::config::{Environment, ParsedUrl};

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
}

impl Environment for Env {
    fn var(&self, name: &str) -> Option<String> {
        // Vars and secrets alike.
        Some(Env::var(self, name).ok()?.to_string())
    }

    fn parse_url(&self, text: &str) -> Option<ParsedUrl> {
        let url = WhatwgUrl::parse(text).ok()?;
        Some(ParsedUrl { protocol: url.protocol(), href: url.href() })
    }
}
