//! Typed errors.
//!
//! Every error has a stable machine [`code()`](Error::code) in snake_case and
//! the [`http_status()`](Error::http_status) a webhook handler should answer
//! with. The npm package and the Worker reuse both, so a code means the same
//! thing in every runtime. Messages never contain a secret, and quote at
//! most [`QUOTE_LIMIT`] characters of any text from the body, so a hostile
//! body cannot make an error (and the logs that keep it) as large as itself.

use alloc::string::String;
use core::fmt;

/// The most characters of body text an error message quotes.
pub const QUOTE_LIMIT: usize = 64;

/// Body text as an error message quotes it: escaped like a Rust string,
/// cut after [`QUOTE_LIMIT`] characters with `…` and the full length.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(QUOTE_LIMIT) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => {
                let length = self.0.chars().count();
                write!(f, "{:?}… ({length} characters)", &self.0[..cut])
            }
        }
    }
}

/// Why a signature header was rejected, or why a secret cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature header is absent or empty.
    MissingSignature,
    /// The header does not start with the `sha256=` scheme.
    UnknownScheme,
    /// The hex digest does not have 64 characters.
    InvalidLength {
        /// Number of characters found after `sha256=`.
        found: usize,
    },
    /// The digest contains a character that is not a hex digit.
    InvalidHex,
    /// Well formed, but no configured secret produced this signature.
    Mismatch,
    /// A configured secret is empty: a configuration mistake.
    EmptySecret,
    /// No secret is configured: a configuration mistake.
    NoSecret,
}

impl VerifyError {
    /// Stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::UnknownScheme => "unknown_signature_scheme",
            Self::InvalidLength { .. } => "invalid_signature_length",
            Self::InvalidHex => "invalid_signature_hex",
            Self::Mismatch => "signature_mismatch",
            Self::EmptySecret => "empty_secret",
            Self::NoSecret => "no_secret",
        }
    }

    /// Whether the error is the receiver's configuration, not the request.
    pub const fn is_configuration(&self) -> bool {
        matches!(self, Self::EmptySecret | Self::NoSecret)
    }

    /// HTTP status to answer: 401 for a bad request signature; 503 for a
    /// missing secret, so the sender retries once the receiver is configured.
    pub const fn http_status(&self) -> u16 {
        if self.is_configuration() { 503 } else { 401 }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSignature => f.write_str("signature header is missing or empty"),
            Self::UnknownScheme => f.write_str("signature must start with \"sha256=\""),
            Self::InvalidLength { found } => {
                write!(f, "signature must have 64 hex digits after \"sha256=\", found {found}")
            }
            Self::InvalidHex => {
                f.write_str("signature contains a character that is not a hex digit")
            }
            Self::Mismatch => {
                f.write_str("signature does not match the body for any configured secret")
            }
            Self::EmptySecret => f.write_str("webhook secret is empty"),
            Self::NoSecret => f.write_str("no webhook secret is configured"),
        }
    }
}

impl core::error::Error for VerifyError {}

/// A field of the payload that does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// JSON path of the offending field, such as `$.data.sentiment_analysis.sentiment_score`.
    pub path: String,
    /// What was expected there, and what was found.
    pub expected: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.expected)
    }
}

impl core::error::Error for ValidationError {}

/// Why a body is not an acceptable ThreeTone event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadError {
    /// The body is not valid UTF-8 JSON (or nests deeper than 128 levels).
    InvalidJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The JSON does not have the shape of the event it names.
    Invalid(ValidationError),
    /// The event type is not one of the twelve, and unknown events are rejected.
    UnknownEventType {
        /// The type found in `event`.
        event: String,
    },
    /// The body is larger than the receiver accepts (or than fits in memory).
    TooLarge {
        /// Size of the body, in bytes.
        length: usize,
        /// The largest accepted size, in bytes.
        max: usize,
    },
    /// `timestamp` is older than the allowed maximum age.
    TimestampTooOld {
        /// How old the event is.
        age_seconds: u64,
        /// The allowed maximum.
        max_age_seconds: u64,
    },
    /// `timestamp` is further in the future than the allowed clock skew.
    TimestampInFuture {
        /// How far ahead of `now` the event is.
        ahead_seconds: u64,
        /// The allowed maximum.
        max_age_seconds: u64,
    },
}

impl PayloadError {
    /// Stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson { .. } => "invalid_json",
            Self::Invalid(_) => "invalid_payload",
            Self::UnknownEventType { .. } => "unknown_event_type",
            Self::TooLarge { .. } => "payload_too_large",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
            Self::TimestampInFuture { .. } => "timestamp_in_future",
        }
    }

    /// HTTP status to answer: 413 for a body too large, else 400; resending
    /// the same body cannot succeed.
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            _ => 400,
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, expected: impl Into<String>) -> Self {
        Self::Invalid(ValidationError { path: path.into(), expected: expected.into() })
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidJson { line, column } => {
                write!(f, "body is not valid JSON (line {line}, column {column})")
            }
            Self::Invalid(error) => write!(f, "invalid payload at {error}"),
            Self::UnknownEventType { event } => write!(f, "unknown event type {}", Quoted(event)),
            Self::TooLarge { length, max } => {
                write!(f, "body is {length} bytes, more than the allowed {max}")
            }
            Self::TimestampTooOld { age_seconds, max_age_seconds } => write!(
                f,
                "event timestamp is {age_seconds}s old, more than the allowed {max_age_seconds}s"
            ),
            Self::TimestampInFuture { ahead_seconds, max_age_seconds } => write!(
                f,
                "event timestamp is {ahead_seconds}s in the future, more than the allowed {max_age_seconds}s"
            ),
        }
    }
}

impl core::error::Error for PayloadError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Invalid(error) => Some(error),
            _ => None,
        }
    }
}

/// Any failure of [`Verifier::construct_event`](crate::Verifier::construct_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The signature check failed (or no secret is configured).
    Verify(VerifyError),
    /// The body is authentic but not an acceptable event.
    Payload(PayloadError),
}

impl Error {
    /// Stable machine-readable code, the same as the inner error's.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Verify(error) => error.code(),
            Self::Payload(error) => error.code(),
        }
    }

    /// HTTP status a webhook handler should answer with.
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::Verify(error) => error.http_status(),
            Self::Payload(error) => error.http_status(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verify(error) => error.fmt(f),
            Self::Payload(error) => error.fmt(f),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Verify(error) => Some(error),
            Self::Payload(error) => Some(error),
        }
    }
}

impl From<VerifyError> for Error {
    fn from(error: VerifyError) -> Self {
        Self::Verify(error)
    }
}

impl From<PayloadError> for Error {
    fn from(error: PayloadError) -> Self {
        Self::Payload(error)
    }
}
