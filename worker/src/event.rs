//! An authentic event on its way to its destinations, directly or through
//! the queue.

use serde::{Deserialize, Serialize};

use crate::keys::EventKey;

/// A verified event, with what its deliveries need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authentic {
    /// The exact body bytes.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The verified signature header.
    pub signature: String,
    pub content_type: String,
    /// Event type (empty if the body did not say).
    pub event: String,
    /// The call the event concerns, for logs.
    pub call_id: Option<String>,
    /// The validation error code, for a body forwarded despite failing validation.
    pub invalid: Option<String>,
    /// The edge's request id, sent along as `X-Request-Id`.
    pub request_id: String,
    /// A sample sent by `POST /test`, marked as such toward the destination.
    #[serde(default)]
    pub test: bool,
    /// The route it came in by.
    #[serde(default)]
    pub route: String,
    /// The event's own time (`timestamp`; when the edge received it, for a
    /// body without one), in ms since the epoch: it orders the archive.
    #[serde(default)]
    pub timestamp_ms: u64,
    /// The replay (its id) that sends it again, marked `X-ThreeTone-Edge-Replay: 1`.
    #[serde(default)]
    pub replay: Option<String>,
}

impl Authentic {
    /// The event's key (the SHA-256 of its body; see [`EventKey`]).
    pub fn key(&self) -> EventKey {
        EventKey::of(&self.body)
    }

    /// The key a destination's delivery of it is claimed by: the event's,
    /// or, for a replay, one of that replay's own (so it is sent once more).
    pub fn delivery_key(&self) -> String {
        match &self.replay {
            Some(replay) => format!("replay:{replay}:{}", self.key().as_str()),
            None => self.key().as_str().into(),
        }
    }
}

/// A queued delivery of an event to one destination, and the attempts made so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub event: Authentic,
    /// The destination's name; v0.1 queued for the one origin.
    #[serde(default = "origin")]
    pub destination: String,
    /// Deliveries attempted from the queue (0 before the first).
    pub attempts: u32,
}

fn origin() -> String {
    crate::config::ORIGIN.into()
}
