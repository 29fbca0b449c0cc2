//! wasm-bindgen bindings for the npm package (feature `js`).
//!
//! Thin by design: every rule is the core's. The boundary is kept small and
//! cheap: a call's body and header cross once, as bytes the JS side writes
//! straight into a reused [`JsInput`] in wasm memory (a string with the
//! engine's native `TextEncoder`), success costs no allocation there, and a
//! valid event is not rebuilt as JS objects here: the caller already holds
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

/// The input of the next call, a header and then a body, which JS writes
/// straight into wasm memory at [`reserve`](JsInput::reserve)'s address.
///
/// One buffer, reused: wasm-bindgen's `&[u8]` and `&str` arguments cost an
/// allocation and a free each per call, and a string is copied in by a
/// character loop; together that was 0.14 µs a call, a sixth of verifying an
/// empty body (BENCHMARKS.md).
#[wasm_bindgen(js_name = Input)]
#[derive(Default)]
pub struct JsInput(Vec<u8>);

/// Capacity kept between calls: a larger buffer is dropped at the next call
/// that needs no more, so one huge body does not hold its buffer for good
/// (the wasm memory it grew stays: wasm memory never shrinks).
const RETAINED_CAPACITY: usize = 256 * 1024;

/// The most bytes an input can ever take: a `Vec` holds at most
/// `isize::MAX` bytes (2 GiB - 1 on wasm32).
const MAX_INPUT_BYTES: usize = isize::MAX as usize;

#[wasm_bindgen(js_class = Input)]
impl JsInput {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// The address of at least `capacity` bytes for the next input, or null
    /// when they cannot be had (more than an input can take, or more than
    /// wasm memory can grow to): never a trap, which would leave this
    /// object borrowed for good. The address moves when the buffer grows,
    /// and wasm memory itself may grow.
    ///
    /// A JS number, not a `usize`: wasm-bindgen would wrap a length of
    /// 2^32 or more to a small one, and JS would then write past the buffer.
    pub fn reserve(&mut self, capacity: f64) -> *mut u8 {
        // NaN is not in the range either; integers this small are exact in an f64.
        if !(0.0..=MAX_INPUT_BYTES as f64).contains(&capacity) {
            return core::ptr::null_mut();
        }
        let capacity = capacity as usize;
        if capacity <= RETAINED_CAPACITY && self.0.len() > RETAINED_CAPACITY {
            self.0 = Vec::new();
        }
        if self.0.len() < capacity {
            if self.0.try_reserve_exact(capacity - self.0.len()).is_err() {
                return core::ptr::null_mut();
            }
            self.0.resize(capacity, 0);
        }
        self.0.as_mut_ptr()
    }

    /// The `payload_too_large` failure for a body of `length` bytes: over the
    /// caller's `max` when given, else one [`reserve`](JsInput::reserve)
    /// could not hold after a header of `header_capacity` bytes, against the
    /// most this input could still take.
    #[wasm_bindgen(js_name = tooLarge)]
    pub fn too_large(&self, length: f64, header_capacity: f64, max: Option<f64>) -> Failure {
        // Saturating float-to-int casts: lengths past usize::MAX read as it.
        let max = match max {
            Some(max) => max as usize,
            None => self.limit().saturating_sub(header_capacity as usize),
        };
        Error::Payload(PayloadError::TooLarge { length: length as usize, max }).into()
    }
}

impl JsInput {
    /// The most bytes this input could take now: what it holds plus what
    /// wasm memory can still grow by (its 4 GiB address space; an engine
    /// may allow less), at most [`MAX_INPUT_BYTES`].
    fn limit(&self) -> usize {
        #[cfg(target_arch = "wasm32")]
        let growable = {
            const PAGE: usize = 64 * 1024;
            let pages = core::arch::wasm32::memory_size(0);
            (usize::MAX / PAGE + 1 - pages).saturating_mul(PAGE)
        };
        #[cfg(not(target_arch = "wasm32"))]
        let growable = MAX_INPUT_BYTES;
        growable.saturating_add(self.0.capacity()).min(MAX_INPUT_BYTES)
    }

    /// The header (the first `header_length` bytes) and the body after it.
    fn header_and_body(&self, header_length: usize, body_length: usize) -> (&str, &[u8]) {
        let (header, rest) = self.0.split_at_checked(header_length).unwrap_or_default();
        let body = rest.get(..body_length).unwrap_or_default();
        // JS writes the header with TextEncoder: always UTF-8.
        (core::str::from_utf8(header).unwrap_or_default(), body)
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

    /// `undefined` if the header signs the body, else why not.
    pub fn verify(
        &self,
        input: &JsInput,
        header_length: usize,
        body_length: usize,
    ) -> Option<Failure> {
        let (header, body) = input.header_and_body(header_length, body_length);
        self.0.verify(body, header).err().map(|error| Error::from(error).into())
    }

    /// `sha256=<64 lowercase hex>` of the body under the first secret.
    pub fn sign(&self, input: &JsInput, body_length: usize) -> String {
        self.0.sign(input.header_and_body(0, body_length).1)
    }

    /// Verifies, parses and validates; `undefined` on success.
    pub fn construct(
        &self,
        input: &JsInput,
        header_length: usize,
        body_length: usize,
        max_age_seconds: Option<f64>,
        now_unix_seconds: f64,
        allow_unknown_events: bool,
    ) -> Option<Failure> {
        let (header, body) = input.header_and_body(header_length, body_length);
        let options = options(max_age_seconds, now_unix_seconds, allow_unknown_events);
        self.0.verify_event(body, header, &options).err().map(Failure::from)
    }
}

/// Parses and validates the body without a signature check; `undefined` on success.
#[wasm_bindgen]
pub fn parse(
    input: &JsInput,
    body_length: usize,
    max_age_seconds: Option<f64>,
    now_unix_seconds: f64,
    allow_unknown_events: bool,
) -> Option<Failure> {
    let body = input.header_and_body(0, body_length).1;
    let options = options(max_age_seconds, now_unix_seconds, allow_unknown_events);
    validate_event(body, &options).err().map(|error| Error::from(error).into())
}

/// The wasm module's memory, where JS writes a [`JsInput`].
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
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
