//! The event envelope and its typed payloads.
//!
//! ```json
//! { "event": "call_started", "timestamp": "2024-01-15T10:30:00Z", "data": { ... } }
//! ```
//!
//! An [`Event`] is lossless: fields it does not know (in the envelope or in a
//! payload) are kept, an event type it does not know parses as
//! [`EventData::Unknown`], and serializing it gives back every field.
//!
//! Each event type is one line of the `events!` table below and each payload
//! one struct of `payloads.rs`: everything else about them (the validator's
//! tables, the one-pass build, `call_id()`, the JSON Schema and TypeScript
//! types, the lists in the docs and the tests) is generated from those.

mod fields;
pub(crate) mod payloads;
mod shape;

use alloc::string::String;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use fields::{
    CallSource, Direction, EndReason, EscalationReason, EscalationTrigger, ResolutionStatus,
    Sentiment, SentimentScore, Timestamp,
};
use payloads::*;
pub(crate) use shape::{Decoder, Field, Kind, ObjectDecoder, Shape};

use crate::error::PayloadError;

/// The envelope, the one description of it: `event` (the type's name),
/// `timestamp` (RFC 3339) and `data` (the payload, which only an event of a
/// type this version does not know may leave out). The validator walks these
/// fields, [`Event`] serializes them, the JSON Schema lists them.
pub(crate) static ENVELOPE: [Field; 3] = [
    Field { name: "event", kind: Kind::Text, required: true, call_id: false },
    Field { name: "timestamp", kind: Kind::Timestamp, required: true, call_id: false },
    // Its kind is the payload's, by the event type.
    Field { name: "data", kind: Kind::Unknown, required: true, call_id: false },
];
/// Indexes of [`ENVELOPE`].
pub(crate) const EVENT: usize = 0;
pub(crate) const TIMESTAMP: usize = 1;
pub(crate) const DATA: usize = 2;

/// The key of an unknown event's `data` that names its call, when a string.
pub(crate) const UNKNOWN_CALL_ID: &str = "call_id";

/// One table of the event types: name on the wire, variant and payload type.
macro_rules! events {
    ($($(#[$doc:meta])* $variant:ident($payload:ty) = $name:literal,)+) => {
        /// The event types ThreeTone documents.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType {
            $($(#[$doc])* $variant,)+
        }

        impl EventType {
            /// Every event type, in the documentation's order.
            pub const ALL: &'static [EventType] = &[$(Self::$variant),+];

            /// The name on the wire, e.g. `call_started`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// The type with this wire name, if it is one of the known ones.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The fields of this type's `data`.
            #[cfg(feature = "schema")]
            pub(crate) fn payload_fields(self) -> &'static [Field] {
                match self {
                    $(Self::$variant => <$payload>::FIELDS,)+
                }
            }

            /// What this type's `data` must hold.
            pub(crate) fn payload_kind(self) -> &'static Kind {
                match self {
                    $(Self::$variant => &<$payload as Shape>::KIND,)+
                }
            }

            /// The Rust variant name, e.g. `CallStarted` (used for schema titles).
            #[cfg(feature = "schema")]
            pub(crate) const fn variant_name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant),)+
                }
            }

            /// Schema of this type's payload, registered in `generator`.
            #[cfg(feature = "schema")]
            pub(crate) fn payload_schema(
                self,
                generator: &mut schemars::SchemaGenerator,
            ) -> schemars::Schema {
                match self {
                    $(Self::$variant => generator.subschema_for::<$payload>(),)+
                }
            }
        }

        /// The payload (`data`) of an event, typed by the event type.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum EventData {
            $($(#[$doc])* $variant($payload),)+
            /// An event type this version does not know, kept as sent.
            Unknown {
                /// The `event` field.
                event: String,
                /// The `data` field, if there was one.
                data: Option<Value>,
            },
        }

        impl EventData {
            /// The event type, or `None` for [`EventData::Unknown`].
            pub fn event_type(&self) -> Option<EventType> {
                match self {
                    $(Self::$variant(_) => Some(EventType::$variant),)+
                    Self::Unknown { .. } => None,
                }
            }

            /// The event's name on the wire.
            pub fn event_name(&self) -> &str {
                match self {
                    $(Self::$variant(_) => $name,)+
                    Self::Unknown { event, .. } => event,
                }
            }

            /// The call this event concerns, when it names one (for logs and
            /// routing): the payload's `#[role(call_id)]` field, or an unknown
            /// event's string `data.call_id`.
            pub fn call_id(&self) -> Option<&str> {
                match self {
                    $(Self::$variant(data) => data.call_id(),)+
                    Self::Unknown { data, .. } => data.as_ref()?.get(UNKNOWN_CALL_ID)?.as_str(),
                }
            }

            /// Builds the payload of a known `event_type` from its `data`.
            pub(crate) fn decode<'a, D: Decoder<'a>>(
                event_type: EventType,
                data: D,
            ) -> Result<Self, D::Error> {
                Ok(match event_type {
                    $(EventType::$variant => Self::$variant(<$payload as Shape>::decode(data)?),)+
                })
            }

            fn serialize_into<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
                let data = ENVELOPE[DATA].name;
                match self {
                    $(Self::$variant(payload) => map.serialize_entry(data, payload),)+
                    Self::Unknown { data: Some(value), .. } => map.serialize_entry(data, value),
                    Self::Unknown { data: None, .. } => Ok(()),
                }
            }
        }
    };
}

events! {
    /// `call_started`: a call began.
    CallStarted(CallStarted) = "call_started",
    /// `call_ended`: a call completed.
    CallEnded(CallEnded) = "call_ended",
    /// `call_transferred`: a call moved to another agent or queue.
    CallTransferred(CallTransferred) = "call_transferred",
    /// `agent_available`: an agent can take calls.
    AgentAvailable(AgentStatus) = "agent_available",
    /// `agent_busy`: an agent is on a call.
    AgentBusy(AgentStatus) = "agent_busy",
    /// `agent_offline`: an agent went offline.
    AgentOffline(AgentStatus) = "agent_offline",
    /// `conversation_started`: a conversation began.
    ConversationStarted(ConversationStarted) = "conversation_started",
    /// `conversation_ended`: a conversation finished.
    ConversationEnded(ConversationEnded) = "conversation_ended",
    /// `escalation_triggered`: a conversation was escalated to a human.
    EscalationTriggered(EscalationTriggered) = "escalation_triggered",
    /// `system_error`: the platform reports an error.
    SystemError(SystemError) = "system_error",
    /// `maintenance_scheduled`: a maintenance window was announced.
    MaintenanceScheduled(MaintenanceScheduled) = "maintenance_scheduled",
    /// `quota_exceeded`: an account went over a quota.
    QuotaExceeded(QuotaExceeded) = "quota_exceeded",
}

impl core::fmt::Display for EventType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ThreeTone webhook event: envelope and typed payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When the event happened (`timestamp`).
    pub timestamp: Timestamp,
    /// The typed payload (`data`), which also tells the event type.
    pub data: EventData,
    /// Envelope fields other than `event`, `timestamp` and `data`, kept as sent.
    pub extra: Map<String, Value>,
}

impl Event {
    /// The event type, or `None` for an unknown one.
    pub fn event_type(&self) -> Option<EventType> {
        self.data.event_type()
    }

    /// The event's name on the wire, known or not.
    pub fn event_name(&self) -> &str {
        self.data.event_name()
    }

    /// The call this event concerns, when it names one.
    pub fn call_id(&self) -> Option<&str> {
        self.data.call_id()
    }

    /// Builds an event from parsed JSON, checking every field's shape as
    /// [`parse_event`](crate::parse_event) does (it reads the value's JSON text).
    ///
    /// # Errors
    /// [`PayloadError::Invalid`] with the JSON path of the first bad field.
    pub fn from_value(value: Value) -> Result<Self, PayloadError> {
        let body = alloc::string::ToString::to_string(&value);
        crate::parse_event(body.as_bytes(), &crate::Options::default())
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(ENVELOPE[EVENT].name, self.event_name())?;
        map.serialize_entry(ENVELOPE[TIMESTAMP].name, &self.timestamp)?;
        self.data.serialize_into(&mut map)?;
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Through [`parse_event`](crate::parse_event): the same checks, the same errors.
impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}
