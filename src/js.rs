//! wasm-bindgen bindings for the npm package (feature `js`).
//!
//! Thin by design: every rule is the core's. The boundary is kept small and
//! cheap: bodies cross once, as bytes (the JS side encodes a string body with
//! the engine's native `TextEncoder`), success costs no allocation there, and
//! a valid event is not rebuilt as JS objects here: the caller already holds
//! the exact body and parses it with the runtime's own `JSON.parse`, which is
//! both lossless and faster than building objects across the boundary.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use wasm_bindgen::prelude::*;

use crate::error::{Error, PayloadError};
use crate::{Options, Verifier, validate_event};

// Talc instead of the default dlmalloc: about 5 KB less Wasm.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Why a call failed: the core's stable code, its HTTP status and message,
/// and for `invalid_payload` the JSON path.
#[wasm_bindgen(getter_with_clone)]
pub struct Failure {
    /// Stable machine code, e.g. `signature_mismatch`.
    pub code: String,
    /// HTTP status a handler should answer with.
    pub status: u16,
    /// Human-readable message (never a secret).
    pub message: String,
    /// JSON path of the offending field, for `invalid_payload`.
    pub path: Option<String>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let path = match &error {
            Error::Payload(PayloadError::Invalid(invalid)) => Some(invalid.path.clone()),
            _ => None,
        };
        Self {
            code: error.code().into(),
            status: error.http_status(),
            message: error.to_string(),
            path,
        }
    }
}

/// A verifier for one or several secrets (the current one first).
#[wasm_bindgen(js_name = Verifier)]
pub struct JsVerifier(Verifier);

#[wasm_bindgen(js_class = Verifier)]
impl JsVerifier {
    /// Builds the HMAC key state once per secret.
    #[wasm_bindgen(constructor)]
    pub fn new(secrets: Vec<String>) -> Result<JsVerifier, Failure> {
        Verifier::with_secrets(&secrets).map(Self).map_err(|error| Error::from(error).into())
    }

    /// `undefined` if `header` signs `body`, else why not.
    #[wasm_bindgen(js_name = verifyBytes)]
    pub fn verify_bytes(&self, body: &[u8], header: &str) -> Option<Failure> {
        self.0.verify(body, header).err().map(|error| Error::from(error).into())
    }

    /// `sha256=<64 lowercase hex>` under the first secret.
    #[wasm_bindgen(js_name = signBytes)]
    pub fn sign_bytes(&self, body: &[u8]) -> String {
        self.0.sign(body)
    }

    /// Verifies, parses and validates; `undefined` on success.
    #[wasm_bindgen(js_name = constructBytes)]
    pub fn construct_bytes(
        &self,
        body: &[u8],
        header: &str,
        max_age_seconds: Option<f64>,
        now_unix_seconds: f64,
        allow_unknown_events: bool,
    ) -> Option<Failure> {
        let options = options(max_age_seconds, now_unix_seconds, allow_unknown_events);
        self.0.verify_event(body, header, &options).err().map(Failure::from)
    }
}

/// Parses and validates without a signature check; `undefined` on success.
#[wasm_bindgen(js_name = parseBytes)]
pub fn parse_bytes(
    body: &[u8],
    max_age_seconds: Option<f64>,
    now_unix_seconds: f64,
    allow_unknown_events: bool,
) -> Option<Failure> {
    let options = options(max_age_seconds, now_unix_seconds, allow_unknown_events);
    validate_event(body, &options).err().map(|error| Error::from(error).into())
}

/// `Options` from JS numbers (seconds; the caller reads the clock).
fn options(
    max_age_seconds: Option<f64>,
    now_unix_seconds: f64,
    allow_unknown_events: bool,
) -> Options {
    let options = Options { allow_unknown_events, freshness: None };
    match max_age_seconds {
        // Saturating float-to-int casts: negative ages become 0.
        Some(max_age) => options.max_age(max_age as u64, now_unix_seconds as i64),
        None => options,
    }
}
