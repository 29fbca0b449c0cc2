//! Receive ThreeTone webhooks: verify the HMAC-SHA256 signature over the raw
//! body, then parse and validate the event into typed Rust values.
//!
//! `no_std` with `alloc`, no clock and no I/O, so the same core runs natively,
//! in WebAssembly (the npm package, the Wasm component) and in a Cloudflare
//! Worker.
//!
//! ```
//! use threetone_webhooks::{EventData, Options, Verifier};
//!
//! let verifier = Verifier::with_secrets(["whsec_current", "whsec_previous"])?;
//! let body = br#"{"event":"escalation_triggered","timestamp":"2024-01-15T10:32:00Z","data":{
//!     "call_id":"call_abc123","conversation_id":"conv_xyz789",
//!     "escalation_reason":"customer_requested_human","escalation_trigger":"keyword_detected",
//!     "agent_id":"agent_456","target_queue":"human_agents",
//!     "context_summary":"Complex billing issue","conversation_history":"Available via API"}}"#;
//! let header = verifier.sign(body); // what ThreeTone sends in X-ThreeTone-Signature
//!
//! let options = Options::default().max_age(300, 1_705_314_720); // now, from your clock
//! let event = verifier.construct_event(body, &header, &options)?;
//! match event.data {
//!     EventData::EscalationTriggered(escalation) => assert_eq!(escalation.target_queue, "human_agents"),
//!     _ => unreachable!(),
//! }
//! # Ok::<(), threetone_webhooks::Error>(())
//! ```
//!
//! Every error has a stable [`code()`](Error::code) and the
//! [`http_status()`](Error::http_status) to answer with.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

// Private modules, every public item re-exported here: one path per item.
mod error;
mod event;
#[cfg(feature = "js")]
mod js;
#[cfg(not(feature = "schema"))]
mod sample;
// Public (hidden) with `schema` only until `xtask/src/python.rs` imports the
// sample templates from the crate root, as `npm.rs` does.
#[cfg(feature = "schema")]
#[doc(hidden)]
pub mod sample;
#[cfg(feature = "schema")]
mod schema;
mod signature;
mod validate;

pub use error::{
    Error, ErrorCode, ErrorRecord, PayloadError, QUOTE_LIMIT, ValidationError, VerifyError,
};
pub use event::{
    CallSource, Direction, EndReason, EscalationReason, EscalationTrigger, Event, EventData,
    EventType, ResolutionStatus, Sentiment, SentimentScore, Timestamp,
};
// Every payload struct (and `Extra`), whole: a new one needs no edit here.
pub use event::payloads::*;
pub use sample::sample_event;
pub use signature::{SIGNATURE_HEADER, Verifier, parse_header};
pub use validate::{Freshness, Options, ValidEvent};

/// For `cargo xtask codegen` (feature `schema`): what the generated files are
/// made from. Not a stable API.
#[cfg(feature = "schema")]
pub use {
    sample::{SAMPLE_ID, SAMPLE_TIMESTAMP, sample_template},
    schema::{catalog, event_schema, union_schema, unknown_event_schema},
};

/// Parses and validates an event without checking its signature.
///
/// One pass over the body: each field is checked (as [`validate_event`]
/// checks it) and built as it is read.
///
/// Use it for bodies whose authenticity is already established (for example
/// behind [`Verifier::verify`], or re-read from your own store).
///
/// # Errors
/// A [`PayloadError`]: not JSON, a field of the wrong shape (with its JSON
/// path), an unknown type when those are rejected, or a stale timestamp.
pub fn parse_event(body: &[u8], options: &Options) -> Result<Event, PayloadError> {
    validate::parse(body, options)
}

/// Validates an event without building it, and without checking its signature.
///
/// One pass over the body, with no copy of the fields: the cheap choice
/// where the body goes on as bytes. The errors are [`parse_event`]'s.
///
/// ```
/// use threetone_webhooks::{EventType, Options, validate_event};
///
/// let body = br#"{"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"call_id":"c7"}}"#;
/// let event = validate_event(body, &Options::default()).unwrap();
/// assert_eq!(event.event_type(), Some(EventType::AgentBusy));
/// assert_eq!(event.call_id(), Some("c7"));
///
/// let bad = br#"{"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"queues":"q1"}}"#;
/// let error = validate_event(bad, &Options::default()).unwrap_err();
/// assert_eq!(error.to_string(), "invalid payload at $.data.queues: expected an array of strings, found string \"q1\"");
/// ```
///
/// # Errors
/// As for [`parse_event`].
pub fn validate_event<'a>(
    body: &'a [u8],
    options: &Options,
) -> Result<ValidEvent<'a>, PayloadError> {
    validate::validate(body, options)
}

impl Verifier {
    /// Verifies the signature, then parses and validates the event.
    ///
    /// # Errors
    /// [`Error::Verify`] if the signature is wrong (the body is not parsed),
    /// else [`Error::Payload`] as for [`parse_event`].
    pub fn construct_event(
        &self,
        body: &[u8],
        header: &str,
        options: &Options,
    ) -> Result<Event, Error> {
        self.verify(body, header)?;
        Ok(parse_event(body, options)?)
    }

    /// Verifies the signature, then validates the event without building it
    /// (see [`validate_event`]).
    ///
    /// # Errors
    /// As for [`Verifier::construct_event`].
    pub fn verify_event<'a>(
        &self,
        body: &'a [u8],
        header: &str,
        options: &Options,
    ) -> Result<ValidEvent<'a>, Error> {
        self.verify(body, header)?;
        Ok(validate_event(body, options)?)
    }
}

// The README's examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
