//! The event envelope and its typed payloads.
//!
//! ```json
//! { "event": "call_started", "timestamp": "2024-01-15T10:30:00Z", "data": { ... } }
//! ```
//!
//! An [`Event`] is lossless: fields it does not know (in the envelope or in a
//! payload) are kept, an event type it does not know parses as
//! [`EventData::Unknown`], and serializing it gives back every field.

mod fields;
mod payloads;

use alloc::string::String;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use fields::{
    CallSource, Direction, EndReason, EscalationReason, EscalationTrigger, ResolutionStatus,
    Sentiment, SentimentScore, Timestamp,
};
pub(crate) use payloads::Payload;
pub use payloads::{
    AgentStatus, CallEnded, CallStarted, CallTransferred, ConversationEnded, ConversationStarted,
    EscalationTriggered, Extra, MaintenanceScheduled, QuotaExceeded, SentimentAnalysis,
    SystemError,
};

use crate::error::PayloadError;
use crate::validate::{Kind, Shape};

/// A payload typed from an object that passed validation. An optional field
/// sent as `null` would deserialize to `None` and vanish on re-serialization,
/// so nulls are set aside and kept with the unknown fields instead.
fn payload<T: Payload>(value: Value) -> Result<T, PayloadError> {
    let Value::Object(mut object) = value else {
        return Err(PayloadError::invalid("$.data", "expected an object"));
    };
    let mut nulls = Map::new();
    object.retain(|key, value| {
        if value.is_null() {
            nulls.insert(key.clone(), Value::Null);
        }
        !value.is_null()
    });
    let mut payload =
        T::deserialize(Value::Object(object)).map_err(|error| invalid_data(&error))?;
    payload.extra_mut().extend(nulls);
    Ok(payload)
}

/// Validation and the payload types agree, so this is not expected; it is
/// still an error, never a panic.
fn invalid_data(error: &serde_json::Error) -> PayloadError {
    PayloadError::invalid("$.data", alloc::string::ToString::to_string(error))
}

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

            /// Types `data`, which validation has already checked.
            fn build(event: String, data: Option<Value>) -> Result<Self, PayloadError> {
                let Some(event_type) = EventType::from_name(&event) else {
                    return Ok(Self::Unknown { event, data });
                };
                let data = data.unwrap_or_default();
                Ok(match event_type {
                    $(EventType::$variant => Self::$variant(payload(data)?),)+
                })
            }

            fn serialize_into<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
                match self {
                    $(Self::$variant(data) => map.serialize_entry("data", data),)+
                    Self::Unknown { data: Some(data), .. } => map.serialize_entry("data", data),
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

impl EventData {
    /// The call this event concerns, when it names one (for logs and routing).
    pub fn call_id(&self) -> Option<&str> {
        match self {
            Self::CallStarted(data) => Some(&data.call_id),
            Self::CallEnded(data) => Some(&data.call_id),
            Self::ConversationEnded(data) => Some(&data.call_id),
            Self::EscalationTriggered(data) => Some(&data.call_id),
            Self::CallTransferred(data) => data.call_id.as_deref(),
            Self::AgentAvailable(data) | Self::AgentBusy(data) | Self::AgentOffline(data) => {
                data.call_id.as_deref()
            }
            Self::ConversationStarted(data) => data.call_id.as_deref(),
            Self::SystemError(data) => data.call_id.as_deref(),
            Self::MaintenanceScheduled(_) | Self::QuotaExceeded(_) => None,
            Self::Unknown { data, .. } => data.as_ref()?.get("call_id")?.as_str(),
        }
    }
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
    /// [`parse_event`](crate::parse_event) does (it validates the JSON text).
    ///
    /// # Errors
    /// [`PayloadError::Invalid`] with the JSON path of the first bad field.
    pub fn from_value(value: Value) -> Result<Self, PayloadError> {
        let body = serde_json::to_vec(&value).map_err(|error| invalid_data(&error))?;
        crate::validate_event(&body, &crate::Options::default())?;
        Self::build(value)
    }

    /// Types a value whose JSON text passed validation.
    pub(crate) fn build(value: Value) -> Result<Self, PayloadError> {
        let Value::Object(mut envelope) = value else {
            return Err(PayloadError::invalid("$", "expected an object"));
        };
        let event = envelope.remove("event");
        let timestamp = envelope.remove("timestamp");
        let (Some(Value::String(event)), Some(Value::String(timestamp))) = (event, timestamp)
        else {
            return Err(PayloadError::invalid("$", "expected `event` and `timestamp` strings"));
        };
        let timestamp = Timestamp::parse(timestamp).ok_or_else(|| {
            PayloadError::invalid("$.timestamp", "expected an RFC 3339 timestamp")
        })?;
        let data = EventData::build(event, envelope.remove("data"))?;
        Ok(Self { timestamp, data, extra: envelope })
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("event", self.event_name())?;
        map.serialize_entry("timestamp", &self.timestamp)?;
        self.data.serialize_into(&mut map)?;
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}
