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

mod json;
mod scan;

use alloc::borrow::Cow;

use crate::error::PayloadError;
use crate::event::{Event, EventType, Timestamp};

/// What a receiver accepts beyond a well-formed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Accept event types this version does not know (as [`EventData::Unknown`](crate::EventData::Unknown)).
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

impl Options {
    /// Applies the options to an event whose shape is valid.
    fn check(
        &self,
        name: &str,
        event_type: Option<EventType>,
        timestamp: &Timestamp,
    ) -> Result<(), PayloadError> {
        if event_type.is_none() && !self.allow_unknown_events {
            return Err(PayloadError::UnknownEventType { event: name.into() });
        }
        match &self.freshness {
            Some(freshness) => freshness.check(timestamp),
            None => Ok(()),
        }
    }
}

impl Freshness {
    /// Whether `timestamp` lies in the window. [`validate_event`](crate::validate_event)
    /// applies it; call it yourself to learn the rest of an event before
    /// judging its age (a receiver that logs the call id of a stale event).
    ///
    /// ```
    /// use threetone_webhooks::{Freshness, Timestamp};
    ///
    /// let window = Freshness { max_age_seconds: 300, now_unix_seconds: 1_705_314_900 };
    /// assert!(window.check(&Timestamp::parse("2024-01-15T10:30:00Z").unwrap()).is_ok());
    /// let error = window.check(&Timestamp::parse("2024-01-15T10:00:00Z").unwrap()).unwrap_err();
    /// assert_eq!(error.code(), "timestamp_too_old");
    /// ```
    ///
    /// # Errors
    /// [`PayloadError::TimestampTooOld`] or [`PayloadError::TimestampInFuture`].
    pub fn check(&self, timestamp: &Timestamp) -> Result<(), PayloadError> {
        let Self { max_age_seconds, now_unix_seconds } = *self;
        // i128 so that no pair of i64 timestamps can overflow.
        let age = i128::from(now_unix_seconds) - i128::from(timestamp.unix_seconds());
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
        Ok(())
    }
}

/// An event whose body passed validation: its envelope, borrowed from the body.
///
/// Validation does not build the event, which makes it cheap: use it where
/// the body goes on as bytes (forwarded, queued, handed to `JSON.parse`), and
/// [`Event`](crate::Event) where Rust code reads the fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent<'a> {
    name: Cow<'a, str>,
    event_type: Option<EventType>,
    timestamp: Timestamp,
    call_id: Option<Cow<'a, str>>,
}

impl ValidEvent<'_> {
    /// The event type, or `None` for an unknown one.
    pub fn event_type(&self) -> Option<EventType> {
        self.event_type
    }

    /// The event's name on the wire, known or not.
    pub fn event_name(&self) -> &str {
        &self.name
    }

    /// When the event happened (`timestamp`).
    pub fn timestamp(&self) -> &Timestamp {
        &self.timestamp
    }

    /// The call this event concerns, when its `data` names one.
    pub fn call_id(&self) -> Option<&str> {
        self.call_id.as_deref()
    }
}

/// Validates `body` as an event and applies `options`, in one pass.
pub(crate) fn validate<'a>(
    body: &'a [u8],
    options: &Options,
) -> Result<ValidEvent<'a>, PayloadError> {
    let scan::Envelope { name, event_type, timestamp, call_id } = scan::validate(body)?;
    options.check(&name, event_type, &timestamp)?;
    Ok(ValidEvent { name, event_type, timestamp, call_id })
}

/// Validates `body` as an event, building it in the same pass, and applies `options`.
pub(crate) fn parse(body: &[u8], options: &Options) -> Result<Event, PayloadError> {
    let event = scan::parse(body)?;
    options.check(event.event_name(), event.event_type(), &event.timestamp)?;
    Ok(event)
}
