//! Typed errors, and the one description of every error code.
//!
//! Every error has a stable machine [`ErrorCode`] (snake_case on the wire:
//! [`code()`](Error::code)) and the [`http_status()`](Error::http_status) a
//! webhook handler should answer with, both from one table,
//! [`ErrorCode::ALL`], from which the TypeScript `ErrorCode` union, the
//! README's error table and the WIT documentation are generated. Every
//! binding reports an error as one [`ErrorRecord`] (code, status, message,
//! and for an invalid payload the JSON path, what was expected and what was
//! found), so a code means the same thing in every runtime. Messages never
//! contain a secret, and quote at most [`QUOTE_LIMIT`] characters of any text
//! from the body, so a hostile body cannot make an error (and the logs that
//! keep it) as large as itself.
//!
//! Wrappers follow one rule (rustls's): an error either prefixes the inner
//! error's message or exposes it as [`source()`](core::error::Error::source),
//! never both, so a report that walks the chain says each thing once.

use alloc::string::{String, ToString};
use core::fmt;

use serde::{Serialize, Serializer};

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

/// The table of error codes: variant, code, HTTP status and meaning.
macro_rules! error_codes {
    ($($variant:ident = $code:literal, $status:literal, $meaning:literal;)+) => {
        /// An error's stable machine code, with the HTTP status to answer and
        /// what it means. New codes may be added: match the ones you handle.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(#[doc = concat!("`", $code, "` (", $status, "): ", $meaning, ".")] $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order the documentation lists them.
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant),+];

            /// The code on the wire, e.g. `signature_mismatch`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The HTTP status to answer with.
            pub const fn http_status(self) -> u16 {
                match self {
                    $(Self::$variant => $status,)+
                }
            }

            /// What the code means, in a phrase (the README's error table).
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Self::$variant => $meaning,)+
                }
            }
        }
    };
}

error_codes! {
    MissingSignature = "missing_signature", 401,
        "no `X-ThreeTone-Signature`, or an empty one";
    UnknownSignatureScheme = "unknown_signature_scheme", 401,
        "the value does not start with `sha256=`";
    InvalidSignatureLength = "invalid_signature_length", 401,
        "not 64 hex digits after `sha256=`";
    InvalidSignatureHex = "invalid_signature_hex", 401,
        "a character that is not a hex digit";
    SignatureMismatch = "signature_mismatch", 401,
        "well formed, but no configured secret matches the body";
    EmptySecret = "empty_secret", 503,
        "a configured secret is empty: the receiver is not configured (fail closed; the sender retries)";
    NoSecret = "no_secret", 503,
        "no secret is configured: the receiver is not configured (fail closed; the sender retries)";
    InvalidJson = "invalid_json", 400,
        "the body is not UTF-8 JSON (or nests deeper than 128)";
    InvalidPayload = "invalid_payload", 400,
        "a field has the wrong shape; the error names its JSON path, what was expected and what was found";
    UnknownEventType = "unknown_event_type", 400,
        "only when unknown types are rejected (they are accepted by default)";
    PayloadTooLarge = "payload_too_large", 413,
        "the body is larger than the receiver accepts, or than fits in memory";
    TimestampTooOld = "timestamp_too_old", 400,
        "older than the maximum age (only when one is set)";
    TimestampInFuture = "timestamp_in_future", 400,
        "further ahead than the maximum age (only when one is set)";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
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
    /// The error's code.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::MissingSignature => ErrorCode::MissingSignature,
            Self::UnknownScheme => ErrorCode::UnknownSignatureScheme,
            Self::InvalidLength { .. } => ErrorCode::InvalidSignatureLength,
            Self::InvalidHex => ErrorCode::InvalidSignatureHex,
            Self::Mismatch => ErrorCode::SignatureMismatch,
            Self::EmptySecret => ErrorCode::EmptySecret,
            Self::NoSecret => ErrorCode::NoSecret,
        }
    }

    /// Stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// Whether the error is the receiver's configuration, not the request.
    pub const fn is_configuration(&self) -> bool {
        matches!(self, Self::EmptySecret | Self::NoSecret)
    }

    /// HTTP status to answer: 401 for a bad request signature; 503 for a
    /// missing secret, so the sender retries once the receiver is configured.
    pub const fn http_status(&self) -> u16 {
        self.error_code().http_status()
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
///
/// ```
/// use threetone_webhooks::{Options, PayloadError, validate_event};
///
/// let body = br#"{"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"queues":"q1"}}"#;
/// let Err(PayloadError::Invalid(invalid)) = validate_event(body, &Options::default()) else { panic!() };
/// assert_eq!(invalid.path, "$.data.queues");
/// assert_eq!(invalid.expected, "an array of strings");
/// assert_eq!(invalid.found, "string \"q1\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ValidationError {
    /// JSON path of the offending field, such as `$.data.sentiment_analysis.sentiment_score`.
    pub path: String,
    /// What the field must hold, such as `a number in [-1, 1]`.
    pub expected: String,
    /// What was there instead, such as `integer 2` (`nothing` for a missing field).
    pub found: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: expected {}, found {}", self.path, self.expected, self.found)
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
    /// The event type is not one this version knows, and unknown events are rejected.
    UnknownEventType {
        /// The type found in `event`.
        event: String,
    },
    /// The body is larger than the receiver accepts.
    TooLarge {
        /// Size of the body, in bytes.
        length: usize,
        /// The largest accepted size, in bytes.
        max: usize,
    },
    /// The body is larger than fits in memory (the receiver set no limit).
    OutOfMemory {
        /// Size of the body, in bytes.
        length: usize,
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
    /// The error's code.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::InvalidJson { .. } => ErrorCode::InvalidJson,
            Self::Invalid(_) => ErrorCode::InvalidPayload,
            Self::UnknownEventType { .. } => ErrorCode::UnknownEventType,
            Self::TooLarge { .. } | Self::OutOfMemory { .. } => ErrorCode::PayloadTooLarge,
            Self::TimestampTooOld { .. } => ErrorCode::TimestampTooOld,
            Self::TimestampInFuture { .. } => ErrorCode::TimestampInFuture,
        }
    }

    /// Stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// HTTP status to answer: 413 for a body too large, else 400; resending
    /// the same body cannot succeed.
    pub const fn http_status(&self) -> u16 {
        self.error_code().http_status()
    }

    /// The offending field of an invalid payload.
    pub const fn invalid_field(&self) -> Option<&ValidationError> {
        match self {
            Self::Invalid(invalid) => Some(invalid),
            _ => None,
        }
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
            Self::OutOfMemory { length } => {
                write!(f, "body is {length} bytes, more than fits in memory")
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

/// No source: [`PayloadError::Invalid`]'s message already says the
/// field's (it prefixes it with `invalid payload at`).
impl core::error::Error for PayloadError {}

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
    /// The error's code, the inner error's.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::Verify(error) => error.error_code(),
            Self::Payload(error) => error.error_code(),
        }
    }

    /// Stable machine-readable code, the same as the inner error's.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// HTTP status a webhook handler should answer with.
    pub const fn http_status(&self) -> u16 {
        self.error_code().http_status()
    }

    /// The offending field of an invalid payload.
    pub const fn invalid_field(&self) -> Option<&ValidationError> {
        match self {
            Self::Payload(error) => error.invalid_field(),
            Self::Verify(_) => None,
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

/// Transparent: the inner error's message and the inner error's source,
/// never the inner error itself (it would say the same thing again).
impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Verify(error) => error.source(),
            Self::Payload(error) => error.source(),
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

/// An error as every binding reports it: the npm package's
/// `WebhookVerificationError`, the component's `error` record, the Worker's
/// answers.
///
/// Serialized (serde), it is the JSON body of an error answer:
/// `{"error": code, "message": ..., "path", "expected", "found"}`, the last
/// three only for an invalid payload; the status goes on the status line.
///
/// ```
/// use threetone_webhooks::{ErrorRecord, Options, validate_event};
///
/// let body = br#"{"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"queues":"q1"}}"#;
/// let record = ErrorRecord::from(&validate_event(body, &Options::default()).unwrap_err());
/// assert_eq!(record.status, 400);
/// assert_eq!(
///     serde_json::to_string(&record).unwrap(),
///     r#"{"error":"invalid_payload","message":"invalid payload at $.data.queues: expected an array of strings, found string \"q1\"","path":"$.data.queues","expected":"an array of strings","found":"string \"q1\""}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ErrorRecord {
    /// The stable code (`error` in JSON, as webhook answers name it).
    #[serde(rename = "error")]
    pub code: ErrorCode,
    /// The HTTP status to answer with (not in the JSON: it is the answer's status).
    #[serde(skip)]
    pub status: u16,
    /// Human-readable message (never a secret; at most [`QUOTE_LIMIT`] characters of body text).
    pub message: String,
    /// For `invalid_payload`: the JSON path of the offending field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For `invalid_payload`: what the field must hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// For `invalid_payload`: what was there instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}

impl ErrorRecord {
    fn new(code: ErrorCode, message: &dyn fmt::Display, field: Option<&ValidationError>) -> Self {
        let field = field.cloned();
        let (path, expected, found) = match field {
            Some(ValidationError { path, expected, found }) => {
                (Some(path), Some(expected), Some(found))
            }
            None => (None, None, None),
        };
        Self {
            code,
            status: code.http_status(),
            message: message.to_string(),
            path,
            expected,
            found,
        }
    }
}

impl From<&Error> for ErrorRecord {
    fn from(error: &Error) -> Self {
        Self::new(error.error_code(), error, error.invalid_field())
    }
}

impl From<&PayloadError> for ErrorRecord {
    fn from(error: &PayloadError) -> Self {
        Self::new(error.error_code(), error, error.invalid_field())
    }
}

impl From<&VerifyError> for ErrorRecord {
    fn from(error: &VerifyError) -> Self {
        Self::new(error.error_code(), error, None)
    }
}

impl From<Error> for ErrorRecord {
    fn from(error: Error) -> Self {
        Self::from(&error)
    }
}

impl From<PayloadError> for ErrorRecord {
    fn from(error: PayloadError) -> Self {
        Self::from(&error)
    }
}

impl From<VerifyError> for ErrorRecord {
    fn from(error: VerifyError) -> Self {
        Self::from(&error)
    }
}
