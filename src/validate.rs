//! Semantic checks: every field's shape, with its JSON path, and the options
//! a receiver chooses (unknown event types, freshness).
//!
//! The core has no clock: a caller that wants freshness passes `now`.
//!
//! ```
//! use threetone_webhooks::{parse_event, Options};
//!
//! let body = br#"{"event":"call_ended","timestamp":"2024-01-15T10:35:00Z","data":{
//!     "call_id":"c1","duration_seconds":-3,"end_reason":"completed",
//!     "resolution_status":"resolved","conversation_summary":"",
//!     "satisfaction_score":4.5,"transcript_available":true,"recording_available":true}}"#;
//! let error = parse_event(body, &Options::default()).unwrap_err();
//! assert_eq!(error.code(), "invalid_payload");
//! assert!(error.to_string().contains("$.data.duration_seconds"));
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::error::PayloadError;
use crate::event::{Event, EventData, Payload};

/// What a receiver accepts beyond a well-formed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Accept event types this version does not know (as [`EventData::Unknown`]).
    /// On by default, so a new event type from ThreeTone is never lost.
    pub allow_unknown_events: bool,
    /// Reject events whose `timestamp` is too old or too far ahead. Off by default.
    pub freshness: Option<Freshness>,
}

/// The freshness window: `|now - timestamp| <= max_age_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Largest accepted age, and largest accepted clock skew into the future.
    pub max_age_seconds: u64,
    /// The current time, in seconds since the Unix epoch.
    pub now_unix_seconds: i64,
}

impl Default for Options {
    fn default() -> Self {
        Self { allow_unknown_events: true, freshness: None }
    }
}

impl Options {
    /// Rejects events older than `max_age_seconds` before `now_unix_seconds`,
    /// or more than that far after it.
    #[must_use]
    pub fn max_age(mut self, max_age_seconds: u64, now_unix_seconds: i64) -> Self {
        self.freshness = Some(Freshness { max_age_seconds, now_unix_seconds });
        self
    }

    /// Rejects event types this version does not know.
    #[must_use]
    pub fn reject_unknown_events(mut self) -> Self {
        self.allow_unknown_events = false;
        self
    }
}

/// Applies `options` to an event whose shape is already valid.
pub(crate) fn check(event: &Event, options: &Options) -> Result<(), PayloadError> {
    if let EventData::Unknown { event: name, .. } = &event.data
        && !options.allow_unknown_events
    {
        return Err(PayloadError::UnknownEventType { event: name.clone() });
    }
    if let Some(Freshness { max_age_seconds, now_unix_seconds }) = options.freshness {
        // i128 so that no pair of i64 timestamps can overflow.
        let age = i128::from(now_unix_seconds) - i128::from(event.timestamp.unix_seconds());
        let saturate = |seconds: i128| u64::try_from(seconds).unwrap_or(u64::MAX);
        if age > i128::from(max_age_seconds) {
            return Err(PayloadError::TimestampTooOld {
                age_seconds: saturate(age),
                max_age_seconds,
            });
        }
        if -age > i128::from(max_age_seconds) {
            return Err(PayloadError::TimestampInFuture {
                ahead_seconds: saturate(-age),
                max_age_seconds,
            });
        }
    }
    Ok(())
}

/// A field that must be present.
pub(crate) fn required(value: Option<Value>, path: &str) -> Result<Value, PayloadError> {
    value.ok_or_else(|| PayloadError::invalid(path, "missing required field"))
}

/// A required field of type `T`.
pub(crate) fn field<T: DeserializeOwned>(
    value: Option<Value>,
    path: &str,
) -> Result<T, PayloadError> {
    typed(required(value, path)?, path)
}

/// A payload object of type `T`, keeping every field for the round trip.
pub(crate) fn payload<T: Payload>(value: Value, path: &str) -> Result<T, PayloadError> {
    let Value::Object(mut object) = value else {
        return typed(value, path);
    };
    // An optional field sent as `null` would deserialize to `None` and vanish
    // on re-serialization. Set nulls aside and keep them with the unknown
    // fields instead.
    let nulls: Vec<String> =
        object.iter().filter(|(_, value)| value.is_null()).map(|(key, _)| key.clone()).collect();
    if nulls.is_empty() {
        return typed(Value::Object(object), path);
    }
    let original = object.clone();
    for key in &nulls {
        object.remove(key);
    }
    match typed::<T>(Value::Object(object), path) {
        Ok(mut payload) => {
            payload.extra_mut().extend(nulls.into_iter().map(|key| (key, Value::Null)));
            Ok(payload)
        }
        // A required field was null: report that, rather than "missing".
        Err(missing) => Err(typed::<T>(Value::Object(original), path).err().unwrap_or(missing)),
    }
}

/// Deserializes `value`, reporting the JSON path of the first bad field.
fn typed<T: DeserializeOwned>(value: Value, path: &str) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let mut full_path = String::from(path);
        for segment in error.path().iter() {
            // Writing to a String cannot fail.
            let _ = match segment {
                Segment::Seq { index } => write!(full_path, "[{index}]"),
                Segment::Map { key } => write!(full_path, ".{key}"),
                Segment::Enum { .. } | Segment::Unknown => Ok(()),
            };
        }
        PayloadError::invalid(full_path, error.inner().to_string())
    })
}
