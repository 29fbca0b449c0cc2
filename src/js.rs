//! wasm-bindgen bindings for the npm package (feature `js`).
//!
//! Thin by design: every rule is the core's. The boundary is kept small and
//! cheap: a call's body and header cross once, as bytes the JS side writes
//! straight into a reused [`JsInput`] in wasm memory (a string with the
//! engine's native `TextEncoder`), success costs no allocation there, and a
//! valid event is not rebuilt as JS objects here: the caller already holds
//! the exact body and parses it with the runtime's own `JSON.parse`, which is
//! both lossless and faster than building objects across the boundary.

use alloc::string::String;
use alloc::vec::Vec;

use wasm_bindgen::prelude::*;

use crate::error::{Error, ErrorRecord, PayloadError};
use crate::{EventType, Options, Timestamp, Verifier, sample_event, validate_event};

// Talc instead of the default dlmalloc: less Wasm (BENCHMARKS.md, "Levers, one by one").
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Why a call failed: the core's [`ErrorRecord`] (code, HTTP status,
/// message, and for an invalid payload the JSON path, what was expected and
/// what was found), read by JS through its getters.
#[wasm_bindgen]
pub struct Failure(ErrorRecord);

#[wasm_bindgen]
impl Failure {
    /// Stable machine code, e.g. `signature_mismatch`.
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        self.0.code.as_str().into()
    }

    /// HTTP status a handler should answer with.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// Human-readable message (never a secret).
    #[wasm_bindgen(getter)]
    pub fn message(&self) -> String {
        self.0.message.clone()
    }

    /// For `invalid_payload`: the JSON path of the offending field.
    #[wasm_bindgen(getter)]
    pub fn path(&self) -> Option<String> {
        self.0.path.clone()
    }

    /// For `invalid_payload`: what the field must hold.
    #[wasm_bindgen(getter)]
    pub fn expected(&self) -> Option<String> {
        self.0.expected.clone()
    }

    /// For `invalid_payload`: what was there instead.
    #[wasm_bindgen(getter)]
    pub fn found(&self) -> Option<String> {
        self.0.found.clone()
    }
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Self(ErrorRecord::from(error.into()))
    }
}

/// The input of the next call, a header and then a body, which JS writes
/// straight into wasm memory at [`reserve`](JsInput::reserve)'s address.
///
/// One buffer, reused: wasm-bindgen's `&[u8]` and `&str` arguments cost an
/// allocation and a free each per call, and a string is copied in by a
/// character loop (what that cost: BENCHMARKS.md, "Goals and what was reached").
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
    /// caller's `max` when given ([`PayloadError::TooLarge`]), else one
    /// [`reserve`](JsInput::reserve) could not hold ([`PayloadError::OutOfMemory`]).
    #[wasm_bindgen(js_name = tooLarge)]
    pub fn too_large(length: f64, max: Option<f64>) -> Failure {
        // Saturating float-to-int casts: lengths past usize::MAX read as it.
        let length = length as usize;
        match max {
            Some(max) => PayloadError::TooLarge { length, max: max as usize }.into(),
            None => PayloadError::OutOfMemory { length }.into(),
        }
    }
}

impl JsInput {
    /// The header (the first `header_length` bytes) and the body after it.
    fn header_and_body(&self, header_length: usize, body_length: usize) -> (&str, &[u8]) {
        let (header, _, body) = self.parts(header_length, 0, body_length);
        (header, body)
    }

    /// The header, then `digests_length` bytes of digests, then the body.
    fn parts(
        &self,
        header_length: usize,
        digests_length: usize,
        body_length: usize,
    ) -> (&str, &[u8], &[u8]) {
        let (header, rest) = self.0.split_at_checked(header_length).unwrap_or_default();
        let (digests, rest) = rest.split_at_checked(digests_length).unwrap_or_default();
        let body = rest.get(..body_length).unwrap_or_default();
        // JS writes the header with TextEncoder: always UTF-8.
        (core::str::from_utf8(header).unwrap_or_default(), digests, body)
    }
}

/// Digests written by JS back to back, 32 bytes each; bytes of another
/// length are no digests at all (so they never verify).
fn digests_of(bytes: &[u8]) -> &[[u8; 32]] {
    match bytes.as_chunks::<32>() {
        (digests, []) => digests,
        _ => &[],
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
        Verifier::with_secrets(&secrets).map(Self).map_err(Failure::from)
    }

    /// `undefined` if the header signs the body, else why not.
    pub fn verify(
        &self,
        input: &JsInput,
        header_length: usize,
        body_length: usize,
    ) -> Option<Failure> {
        let (header, body) = input.header_and_body(header_length, body_length);
        self.0.verify(body, header).err().map(Failure::from)
    }

    /// [`verify`](JsVerifier::verify) with the body's HMAC-SHA256 digests
    /// computed by the runtime (one per secret, in order, after the header):
    /// [`Verifier::verify_digests`], the same rule.
    #[wasm_bindgen(js_name = verifyDigests)]
    pub fn verify_digests(
        &self,
        input: &JsInput,
        header_length: usize,
        digests_length: usize,
    ) -> Option<Failure> {
        let (header, digests, _) = input.parts(header_length, digests_length, 0);
        self.0.verify_digests(header, digests_of(digests)).err().map(Failure::from)
    }

    /// `sha256=<64 lowercase hex>` of the body under the first secret.
    pub fn sign(&self, input: &JsInput, body_length: usize) -> String {
        self.0.sign(input.header_and_body(0, body_length).1)
    }

    /// Verifies the signature, then validates the event
    /// ([`Verifier::verify_event`]); `undefined` on success.
    #[wasm_bindgen(js_name = verifyEvent)]
    pub fn verify_event(
        &self,
        input: &JsInput,
        header_length: usize,
        body_length: usize,
        max_age_seconds: Option<f64>,
        now_unix_seconds: f64,
        allow_unknown_events: Option<bool>,
    ) -> Option<Failure> {
        let (header, body) = input.header_and_body(header_length, body_length);
        let options = options(max_age_seconds, now_unix_seconds, allow_unknown_events);
        self.0.verify_event(body, header, &options).err().map(Failure::from)
    }

    /// [`verify_event`](JsVerifier::verify_event) with the body's digests
    /// computed by the runtime (after the header, before the body): the
    /// signature checked by [`Verifier::verify_digests`], then the event
    /// validated, as [`Verifier::verify_event`] does.
    #[wasm_bindgen(js_name = verifyEventDigests)]
    #[allow(clippy::too_many_arguments)]
    pub fn verify_event_digests(
        &self,
        input: &JsInput,
        header_length: usize,
        digests_length: usize,
        body_length: usize,
        max_age_seconds: Option<f64>,
        now_unix_seconds: f64,
        allow_unknown_events: Option<bool>,
    ) -> Option<Failure> {
        let (header, digests, body) = input.parts(header_length, digests_length, body_length);
        let options = options(max_age_seconds, now_unix_seconds, allow_unknown_events);
        let verified = self.0.verify_digests(header, digests_of(digests)).map_err(Error::from);
        verified
            .and_then(|()| Ok(validate_event(body, &options).map(drop)?))
            .err()
            .map(Failure::from)
    }
}

/// Validates the event without a signature check ([`validate_event`]);
/// `undefined` on success.
#[wasm_bindgen(js_name = validateEvent)]
pub fn validate(
    input: &JsInput,
    body_length: usize,
    max_age_seconds: Option<f64>,
    now_unix_seconds: f64,
    allow_unknown_events: Option<bool>,
) -> Option<Failure> {
    let body = input.header_and_body(0, body_length).1;
    let options = options(max_age_seconds, now_unix_seconds, allow_unknown_events);
    validate_event(body, &options).err().map(Failure::from)
}

/// The core's [`sample_event`] of the type named `event_type` at the whole
/// second `unix_seconds`; `undefined` for a name that is no known type or a
/// time outside the years 0 to 9999.
#[wasm_bindgen(js_name = sampleEvent)]
pub fn sample(event_type: &str, unix_seconds: f64, id: &str) -> Option<String> {
    let event_type = EventType::from_name(event_type)?;
    // Saturating: a time far out of range stays out of range.
    let timestamp = Timestamp::from_unix_seconds(unix_seconds as i64)?;
    Some(sample_event(event_type, &timestamp, id))
}

/// The wasm module's memory, where JS writes a [`JsInput`].
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// `Options` from JS values (seconds; the caller reads the clock), the
/// core's defaults where JS gave none.
fn options(
    max_age_seconds: Option<f64>,
    now_unix_seconds: f64,
    allow_unknown_events: Option<bool>,
) -> Options {
    let defaults = Options::default();
    let allow_unknown_events = allow_unknown_events.unwrap_or(defaults.allow_unknown_events);
    let options = Options { allow_unknown_events, ..defaults };
    match max_age_seconds {
        // Saturating float-to-int casts: negative ages become 0.
        Some(max_age) => options.max_age(max_age as u64, now_unix_seconds as i64),
        None => options,
    }
}
