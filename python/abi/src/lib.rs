//! The core as a plain wasm module for the Python package: a small ABI of
//! integers over linear memory, called through wasmtime-py.
//!
//! Thin by design: every rule (signature format, validation, error codes,
//! statuses and messages) is the core's; this crate only moves bytes and
//! numbers across. The boundary is chosen for speed: a component's
//! `list<u8>` costs wasmtime-py a Python loop over every byte (about 800
//! `verify` calls/s at 1 KiB), while here Python copies a call's header and
//! body into one reused buffer owned by Rust with a single `memmove`, and
//! every export takes and returns only integers (BENCHMARKS.md, "Python
//! package").
//!
//! The protocol, all lengths in bytes:
//! - [`tt_reserve`]`(n)` returns the address of an input buffer of at least
//!   `n` bytes (0 if it cannot be had). It stays put until the next
//!   `tt_reserve`, so Python keeps the address and calls it again only for a
//!   larger input, or to give back a large buffer.
//! - A call's input is its header, then its body, from that address: the
//!   export gets their lengths.
//! - A failing call returns the error's HTTP status (never 0) and keeps the
//!   core's error; [`tt_error`] writes it as a record into the output buffer
//!   at [`tt_output`] only when Python asks, so `verify() -> bool` never
//!   formats a message.
//! - Verifiers live in a table here; Python holds their handles (from 1).
//!
//! The exports need `#[unsafe(no_mangle)]`, which is why they are here and not
//! in the core (`#![forbid(unsafe_code)]`); nothing else is unsafe: the input
//! is a Rust `Vec` read through lengths, never through a pointer from outside.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use std::cell::RefCell;

use threetone_webhooks::{Error, Freshness, Options, PayloadError, Verifier, validate_event};

/// Capacity kept between calls: a larger buffer is dropped at the next
/// reserve that needs no more (the wasm memory it grew stays).
pub const RETAINED_CAPACITY: usize = 256 * 1024;

/// Bit of `flags`: accept event types the core does not know.
pub const ALLOW_UNKNOWN_EVENTS: u32 = 1;

/// Marks an absent path in an error record.
pub const NO_PATH: u32 = u32::MAX;

/// Everything the exports share. Wasm without threads: one instance, one
/// thread; Python gives each thread its own instance.
#[derive(Default)]
struct State {
    /// The input of the next call: header, then body.
    input: Vec<u8>,
    /// What Python reads back: a signature, an error record.
    output: Vec<u8>,
    /// Verifiers by handle - 1; a freed slot is `None` and is reused.
    verifiers: Vec<Option<Verifier>>,
    /// The error of the last call that failed.
    error: Option<Error>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    STATE.with(|state| f(&mut state.borrow_mut()))
}

impl State {
    /// Keeps `error` for [`tt_error`] and returns its HTTP status.
    fn fail(&mut self, error: impl Into<Error>) -> u32 {
        let error = error.into();
        let status = error.http_status();
        self.error = Some(error);
        u32::from(status)
    }

    /// 0 for success, else [`fail`](Self::fail).
    fn outcome<T, E: Into<Error>>(&mut self, result: Result<T, E>) -> u32 {
        match result {
            Ok(_) => 0,
            Err(error) => self.fail(error),
        }
    }

    /// The header (the first `header_length` bytes of the input) and the body after it.
    fn header_and_body(&self, header_length: u32, body_length: u32) -> (&str, &[u8]) {
        let (header, rest) =
            self.input.split_at_checked(header_length as usize).unwrap_or_default();
        let body = rest.get(..body_length as usize).unwrap_or_default();
        // Python writes the header as UTF-8 (`str.encode`); anything else reads
        // as no header at all: `missing_signature`.
        (core::str::from_utf8(header).unwrap_or_default(), body)
    }

    fn verifier(&self, handle: u32) -> Option<&Verifier> {
        let index = (handle as usize).checked_sub(1)?;
        self.verifiers.get(index)?.as_ref()
    }
}

/// `Options` from the ABI's integers: `max_age_seconds` < 0 means no
/// freshness check (then `now_unix_seconds` is not read).
fn options(max_age_seconds: i64, now_unix_seconds: i64, flags: u32) -> Options {
    let options =
        Options { allow_unknown_events: flags & ALLOW_UNKNOWN_EVENTS != 0, freshness: None };
    match u64::try_from(max_age_seconds) {
        Ok(max_age_seconds) => {
            Options { freshness: Some(Freshness { max_age_seconds, now_unix_seconds }), ..options }
        }
        Err(_) => options,
    }
}

/// The address of an input buffer of at least `capacity` bytes, or 0 when
/// that much cannot be had (never a trap).
#[unsafe(no_mangle)]
pub extern "C" fn tt_reserve(capacity: u32) -> u32 {
    with_state(|state| {
        // At least one byte, so the address is a real allocation's, never 0.
        let capacity = (capacity as usize).max(1);
        if capacity <= RETAINED_CAPACITY && state.input.len() > RETAINED_CAPACITY {
            state.input = Vec::new();
        }
        if state.input.len() < capacity {
            if state.input.try_reserve_exact(capacity - state.input.len()).is_err() {
                return 0;
            }
            state.input.resize(capacity, 0);
        }
        address(&state.input)
    })
}

/// A buffer's address in wasm memory (its offset in linear memory).
fn address(buffer: &[u8]) -> u32 {
    // wasm32 addresses fit in u32; elsewhere (host tests) only non-zero matters.
    (buffer.as_ptr() as usize).try_into().unwrap_or(u32::MAX)
}

/// A verifier for the `count` secrets in the first `length` bytes of the
/// input, each a little-endian u32 length and then its bytes (the current
/// secret first). Returns its handle (from 1), or 0 with the error kept
/// (`no_secret`, `empty_secret`, or `invalid_json` for a malformed list).
#[unsafe(no_mangle)]
pub extern "C" fn tt_verifier_new(count: u32, length: u32) -> u32 {
    with_state(|state| {
        let list = state.input.get(..length as usize).unwrap_or_default();
        let Some(secrets) = secrets(list, count) else {
            // Python builds the list: only a broken caller gets here.
            state.fail(PayloadError::InvalidJson { line: 1, column: 1 });
            return 0;
        };
        let verifier = match Verifier::with_secrets(secrets) {
            Ok(verifier) => verifier,
            Err(error) => {
                state.fail(error);
                return 0;
            }
        };
        let slot = match state.verifiers.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                state.verifiers.push(None);
                state.verifiers.len() - 1
            }
        };
        state.verifiers[slot] = Some(verifier);
        u32::try_from(slot + 1).unwrap_or(0)
    })
}

/// The secrets of a length-prefixed list, if it holds exactly `count`.
fn secrets(mut list: &[u8], count: u32) -> Option<Vec<&[u8]>> {
    let mut secrets = Vec::new();
    for _ in 0..count {
        let (length, rest) = list.split_first_chunk::<4>()?;
        let (secret, rest) = rest.split_at_checked(u32::from_le_bytes(*length) as usize)?;
        secrets.push(secret);
        list = rest;
    }
    list.is_empty().then_some(secrets)
}

/// Frees a verifier's slot (an unknown handle is ignored).
#[unsafe(no_mangle)]
pub extern "C" fn tt_verifier_free(handle: u32) {
    with_state(|state| {
        if let Some(slot) =
            (handle as usize).checked_sub(1).and_then(|i| state.verifiers.get_mut(i))
        {
            *slot = None;
        }
        while state.verifiers.last().is_some_and(Option::is_none) {
            state.verifiers.pop();
        }
    });
}

/// Verifies the input's header against its body: 0, or the error's status.
#[unsafe(no_mangle)]
pub extern "C" fn tt_verify(handle: u32, header_length: u32, body_length: u32) -> u32 {
    with_state(|state| {
        let (header, body) = state.header_and_body(header_length, body_length);
        let result = match state.verifier(handle) {
            Some(verifier) => verifier.verify(body, header),
            None => Err(threetone_webhooks::VerifyError::NoSecret),
        };
        state.outcome(result)
    })
}

/// Verifies, then validates the body as an event: 0, or the error's status.
#[unsafe(no_mangle)]
pub extern "C" fn tt_construct(
    handle: u32,
    header_length: u32,
    body_length: u32,
    max_age_seconds: i64,
    now_unix_seconds: i64,
    flags: u32,
) -> u32 {
    with_state(|state| {
        let options = options(max_age_seconds, now_unix_seconds, flags);
        let (header, body) = state.header_and_body(header_length, body_length);
        let result = match state.verifier(handle) {
            Some(verifier) => verifier.verify_event(body, header, &options).map(drop),
            None => Err(threetone_webhooks::VerifyError::NoSecret.into()),
        };
        state.outcome(result)
    })
}

/// Validates the input (a body, no header) as an event: 0, or the error's status.
#[unsafe(no_mangle)]
pub extern "C" fn tt_parse(
    body_length: u32,
    max_age_seconds: i64,
    now_unix_seconds: i64,
    flags: u32,
) -> u32 {
    with_state(|state| {
        let options = options(max_age_seconds, now_unix_seconds, flags);
        let body = state.header_and_body(0, body_length).1;
        let result = validate_event(body, &options).map(drop);
        state.outcome(result)
    })
}

/// Writes `sha256=<64 lowercase hex>` of the input's body under the
/// verifier's first secret into the output; returns its length (0 for an
/// unknown handle).
#[unsafe(no_mangle)]
pub extern "C" fn tt_sign(handle: u32, body_length: u32) -> u32 {
    with_state(|state| {
        let body = state.header_and_body(0, body_length).1;
        let Some(signature) = state.verifier(handle).map(|verifier| verifier.sign(body)) else {
            return 0;
        };
        state.output.clear();
        state.output.extend_from_slice(signature.as_bytes());
        state.output.len() as u32
    })
}

/// Keeps the `payload_too_large` error of a body of `length` bytes over the
/// receiver's `max` (both saturate at the wasm's `usize`); returns its status.
#[unsafe(no_mangle)]
pub extern "C" fn tt_too_large(length: u64, max: u64) -> u32 {
    let saturate = |bytes: u64| usize::try_from(bytes).unwrap_or(usize::MAX);
    with_state(|state| {
        state.fail(PayloadError::TooLarge { length: saturate(length), max: saturate(max) })
    })
}

/// Writes the last error as a record into the output; returns its length (0
/// if no call failed yet). Little-endian: status u16, code length u16, path
/// length u32 ([`NO_PATH`] when there is none), message length u32, then the
/// code, the path and the message in UTF-8.
#[unsafe(no_mangle)]
pub extern "C" fn tt_error() -> u32 {
    with_state(|state| {
        let Some(error) = &state.error else { return 0 };
        let code = error.code();
        let message = error.to_string();
        let path = match error {
            Error::Payload(PayloadError::Invalid(invalid)) => Some(invalid.path.as_str()),
            _ => None,
        };
        let output = &mut state.output;
        output.clear();
        output.extend_from_slice(&error.http_status().to_le_bytes());
        output.extend_from_slice(&(code.len() as u16).to_le_bytes());
        output.extend_from_slice(&path.map_or(NO_PATH, |path| path.len() as u32).to_le_bytes());
        output.extend_from_slice(&(message.len() as u32).to_le_bytes());
        output.extend_from_slice(code.as_bytes());
        output.extend_from_slice(path.unwrap_or_default().as_bytes());
        output.extend_from_slice(message.as_bytes());
        output.len() as u32
    })
}

/// The address of the output buffer, valid until the next call.
#[unsafe(no_mangle)]
pub extern "C" fn tt_output() -> u32 {
    with_state(|state| address(&state.output))
}

/// Copies `bytes` into the input at `offset`, as Python's `memmove` does (host tests).
#[cfg(test)]
fn write_input(offset: usize, bytes: &[u8]) {
    with_state(|state| state.input[offset..offset + bytes.len()].copy_from_slice(bytes));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(header: &str, body: &[u8]) -> (u32, u32) {
        assert_ne!(tt_reserve((header.len() + body.len()) as u32), 0);
        write_input(0, header.as_bytes());
        write_input(header.len(), body);
        (header.len() as u32, body.len() as u32)
    }

    fn verifier(secrets: &[&[u8]]) -> u32 {
        let mut list = Vec::new();
        for secret in secrets {
            list.extend_from_slice(&(secret.len() as u32).to_le_bytes());
            list.extend_from_slice(secret);
        }
        place("", &list);
        tt_verifier_new(secrets.len() as u32, list.len() as u32)
    }

    /// The last error's record: status, code, path, message.
    fn error() -> (u16, String, Option<String>, String) {
        let length = tt_error() as usize;
        let record = with_state(|state| state.output[..length].to_vec());
        let status = u16::from_le_bytes([record[0], record[1]]);
        let code_length = u16::from_le_bytes([record[2], record[3]]) as usize;
        let path_length = u32::from_le_bytes(record[4..8].try_into().unwrap());
        let message_length = u32::from_le_bytes(record[8..12].try_into().unwrap()) as usize;
        let code = String::from_utf8(record[12..12 + code_length].to_vec()).unwrap();
        let mut rest = &record[12 + code_length..];
        let path = (path_length != NO_PATH).then(|| {
            let (path, after) = rest.split_at(path_length as usize);
            rest = after;
            String::from_utf8(path.to_vec()).unwrap()
        });
        assert_eq!(rest.len(), message_length);
        (status, code, path, String::from_utf8(rest.to_vec()).unwrap())
    }

    #[test]
    fn signs_verifies_and_reports_the_core_errors() {
        let handle = verifier(&[b"It's a Secret to Everybody"]);
        assert_eq!(handle, 1);
        let (_, body_length) = place("", b"Hello, World!");
        let length = tt_sign(handle, body_length) as usize;
        let signature = with_state(|state| String::from_utf8(state.output[..length].to_vec()));
        let signature = signature.unwrap();
        assert_eq!(
            signature,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        let (header, body) = place(&signature, b"Hello, World!");
        assert_eq!(tt_verify(handle, header, body), 0);
        let (header, body) = place(&signature, b"Hello, World?");
        assert_eq!(tt_verify(handle, header, body), 401);
        let (status, code, path, message) = error();
        assert_eq!((status, code.as_str(), path), (401, "signature_mismatch", None));
        assert_eq!(message, Error::from(threetone_webhooks::VerifyError::Mismatch).to_string());
        tt_verifier_free(handle);
        assert_eq!(tt_verify(handle, header, body), 503);
    }

    #[test]
    fn rotation_and_handles() {
        let first = verifier(&[b"new", b"old"]);
        let second = verifier(&[b"other"]);
        assert_eq!((first, second), (1, 2));
        tt_verifier_free(first);
        assert_eq!(verifier(&[b"again"]), 1, "a freed slot is reused");
        assert_eq!(verifier(&[]), 0);
        assert_eq!(error().1, "no_secret");
        assert_eq!(verifier(&[b"ok", b""]), 0);
        assert_eq!(error().1, "empty_secret");
        // A list that does not hold `count` secrets.
        place("", &[9, 0, 0, 0, b'x']);
        assert_eq!(tt_verifier_new(1, 5), 0);
    }

    #[test]
    fn validates_with_options_and_paths() {
        let body =
            br#"{"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"queues":"q1"}}"#;
        let (_, length) = place("", body);
        assert_eq!(tt_parse(length, -1, 0, ALLOW_UNKNOWN_EVENTS), 400);
        let (status, code, path, message) = error();
        assert_eq!(
            (status, code.as_str(), path.as_deref()),
            (400, "invalid_payload", Some("$.data.queues"))
        );
        assert!(message.contains("expected an array of strings"), "{message}");

        let unknown = br#"{"event":"call_recording_ready","timestamp":"2024-01-15T10:30:00Z"}"#;
        let (_, length) = place("", unknown);
        assert_eq!(tt_parse(length, -1, 0, ALLOW_UNKNOWN_EVENTS), 0);
        assert_eq!(tt_parse(length, -1, 0, 0), 400);
        assert_eq!(error().1, "unknown_event_type");
        assert_eq!(tt_parse(length, 300, 1_705_314_600 + 300, ALLOW_UNKNOWN_EVENTS), 0);
        assert_eq!(tt_parse(length, 300, 1_705_314_600 + 301, ALLOW_UNKNOWN_EVENTS), 400);
        assert_eq!(error().1, "timestamp_too_old");

        assert_eq!(tt_too_large(2_000_000, 1_048_576), 413);
        let (status, code, _, message) = error();
        assert_eq!((status, code.as_str()), (413, "payload_too_large"));
        assert_eq!(message, "body is 2000000 bytes, more than the allowed 1048576");
    }

    #[test]
    fn lengths_past_the_input_read_as_empty() {
        let handle = verifier(&[b"k"]);
        place("sha256=00", b"");
        assert_eq!(tt_verify(handle, 1 << 30, 1 << 30), 401);
        assert_eq!(error().1, "missing_signature");
    }
}
