//! The `data` object of each event type: the one description of each payload.
//!
//! The payloads that ThreeTone documents (`call_started`, `call_ended`,
//! `conversation_ended`, `escalation_triggered`) are typed as documented:
//! every field shown is required with the JSON type shown. The others are
//! undocumented, so their fields (named after what the event implies) are
//! optional and only their JSON types are checked.
//!
//! Every payload keeps the fields it does not know in `extra`, and a field
//! sent as `null` survives a round trip, so re-serializing returns every field.

use alloc::string::String;
use alloc::vec::Vec;

use serde::Serialize;
use serde_json::{Map, Number, Value};

use super::fields::{
    CallSource, Direction, EndReason, EscalationReason, EscalationTrigger, ResolutionStatus,
    Sentiment, SentimentScore,
};
use super::shape::{Decoder, Field, Kind, ObjectDecoder, Shape};

/// Fields a payload does not know, kept as sent.
pub type Extra = Map<String, Value>;

/// The call a payload concerns, from the field marked `#[role(call_id)]`.
pub(crate) trait CallId {
    fn call_id(&self) -> Option<&str>;
}

/// The value of a `#[role(call_id)]` field: a string, or an optional one.
trait CallIdField {
    fn get(&self) -> Option<&str>;
}

impl CallIdField for String {
    fn get(&self) -> Option<&str> {
        Some(self)
    }
}

impl CallIdField for Option<String> {
    fn get(&self) -> Option<&str> {
        self.as_deref()
    }
}

/// A field's role, as `#[role(...)]` names it: only `call_id` is one.
macro_rules! role {
    (call_id, $value:expr) => {
        return CallIdField::get(&$value)
    };
    (is_call_id, call_id) => {
        true
    };
}

/// Defines each payload struct with its `extra` map, and from its fields:
/// the table the validator checks bodies against ([`Shape`]), the one-pass
/// build of the struct from the body, the serde attributes (an absent
/// optional field is left out) and [`CallId`] from the field marked
/// `#[role(call_id)]`. Which fields are required is read off their types
/// (`Option` makes one optional).
macro_rules! payloads {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $(#[role($role:ident)])?
                pub $field:ident: $type:ty,
            )+
        }
    )+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        pub struct $name {
            $(
                $(#[doc = $doc])*
                #[serde(skip_serializing_if = "Shape::is_absent")]
                pub $field: $type,
            )+
            /// Fields not listed above.
            #[serde(flatten)]
            pub extra: Extra,
        }

        // The validator marks the fields it has seen in a u64.
        const _: () = assert!([$(stringify!($field)),+].len() < 64);

        impl $name {
            /// The field table.
            pub(crate) const FIELDS: &'static [Field] = &[$(Field::of::<$type>(
                stringify!($field),
                false $(|| role!(is_call_id, $role))?,
            ),)+];
        }

        impl Shape for $name {
            const KIND: Kind = Kind::Fields(Self::FIELDS);

            fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
                #[allow(non_camel_case_types)]
                enum Index { $($field,)+ }
                let mut object = decoder.fields(Self::FIELDS)?;
                let mut extra = Extra::new();
                $(let mut $field: Option<$type> = None;)+
                while let Some(index) = object.next(&mut extra)? {
                    $(if index == Index::$field as usize {
                        $field = Some(object.value()?);
                    })+
                }
                Ok(Self {
                    $($field: match $field.or_else(<$type as Shape>::absent) {
                        Some(value) => value,
                        None => return Err(object.missing(Index::$field as usize)),
                    },)+
                    extra,
                })
            }
        }

        impl CallId for $name {
            #[allow(unreachable_code)]
            fn call_id(&self) -> Option<&str> {
                $($(role!($role, self.$field);)?)+
                None
            }
        }
    )+};
}

payloads! {
    /// `call_started`: a call began. Documented.
    pub struct CallStarted {
        /// Call identifier, e.g. `call_abc123`.
        #[role(call_id)]
        pub call_id: String,
        /// The number that was called.
        pub phone_number: String,
        /// The caller's number.
        pub caller_id: String,
        /// Agent handling the call.
        pub agent_id: String,
        /// `inbound` or `outbound`.
        pub direction: Direction,
        /// Where the call came from, e.g. `phone_system`.
        pub call_source: CallSource,
        /// Free-form metadata, e.g. `caller_location`, `call_queue`.
        pub metadata: Map<String, Value>,
    }

    /// `call_ended`: a call completed. Documented.
    pub struct CallEnded {
        /// Call identifier.
        #[role(call_id)]
        pub call_id: String,
        /// Length of the call in whole seconds.
        pub duration_seconds: u64,
        /// Why the call ended, e.g. `completed`.
        pub end_reason: EndReason,
        /// Outcome, e.g. `resolved`.
        pub resolution_status: ResolutionStatus,
        /// Summary of the conversation.
        pub conversation_summary: String,
        /// Customer satisfaction score, e.g. `4.5`.
        pub satisfaction_score: Number,
        /// Whether a transcript can be fetched.
        pub transcript_available: bool,
        /// Whether a recording can be fetched.
        pub recording_available: bool,
    }

    /// `call_transferred`: a call moved to another agent or queue. Undocumented.
    #[derive(Default)]
    pub struct CallTransferred {
        /// Call identifier.
        #[role(call_id)]
        pub call_id: Option<String>,
        /// Agent the call left.
        pub from_agent_id: Option<String>,
        /// Agent the call went to.
        pub to_agent_id: Option<String>,
        /// Queue the call went to.
        pub target_queue: Option<String>,
        /// Why it was transferred.
        pub transfer_reason: Option<String>,
    }

    /// `agent_available`, `agent_busy`, `agent_offline`: an agent's status changed. Undocumented.
    #[derive(Default)]
    pub struct AgentStatus {
        /// Agent identifier.
        pub agent_id: Option<String>,
        /// Agent display name.
        pub agent_name: Option<String>,
        /// Status before the change.
        pub previous_status: Option<String>,
        /// Call that made the agent busy.
        #[role(call_id)]
        pub call_id: Option<String>,
        /// Why the status changed.
        pub reason: Option<String>,
        /// Queues the agent serves.
        pub queues: Option<Vec<String>>,
    }

    /// `conversation_started`: the AI agent began a conversation. Undocumented.
    #[derive(Default)]
    pub struct ConversationStarted {
        /// Conversation identifier.
        pub conversation_id: Option<String>,
        /// Call the conversation belongs to.
        #[role(call_id)]
        pub call_id: Option<String>,
        /// Agent holding the conversation.
        pub agent_id: Option<String>,
        /// Language of the conversation.
        pub language: Option<String>,
    }

    /// `conversation_ended`: a conversation finished. Documented.
    pub struct ConversationEnded {
        /// Conversation identifier, e.g. `conv_xyz789`.
        pub conversation_id: String,
        /// Call the conversation belongs to.
        #[role(call_id)]
        pub call_id: String,
        /// Agent that held the conversation.
        pub agent_id: String,
        /// Number of turns.
        pub turn_count: u64,
        /// Topics, e.g. `["billing", "account_settings"]`.
        pub topics_discussed: Vec<String>,
        /// Sentiment of the conversation.
        pub sentiment_analysis: SentimentAnalysis,
        /// Number of knowledge-base look-ups.
        pub knowledge_base_queries: u64,
        /// Whether the conversation was escalated.
        pub escalation_occurred: bool,
    }

    /// `sentiment_analysis` of a [`ConversationEnded`].
    pub struct SentimentAnalysis {
        /// E.g. `positive`.
        pub overall_sentiment: Sentiment,
        /// In [-1, 1].
        pub sentiment_score: SentimentScore,
    }

    /// `escalation_triggered`: a conversation was escalated. Documented.
    pub struct EscalationTriggered {
        /// Call identifier.
        #[role(call_id)]
        pub call_id: String,
        /// Conversation identifier.
        pub conversation_id: String,
        /// Why, e.g. `customer_requested_human`.
        pub escalation_reason: EscalationReason,
        /// What triggered it, e.g. `keyword_detected`.
        pub escalation_trigger: EscalationTrigger,
        /// Agent that escalated.
        pub agent_id: String,
        /// Queue the call goes to, e.g. `human_agents`.
        pub target_queue: String,
        /// Summary for the human agent.
        pub context_summary: String,
        /// Where the history is, e.g. `Available via API`.
        pub conversation_history: String,
    }

    /// `system_error`: the platform reports an error. Undocumented.
    #[derive(Default)]
    pub struct SystemError {
        /// Machine-readable error code.
        pub error_code: Option<String>,
        /// Human-readable message.
        pub error_message: Option<String>,
        /// Severity, e.g. `critical`.
        pub severity: Option<String>,
        /// Affected component.
        pub component: Option<String>,
        /// Affected call, if any.
        #[role(call_id)]
        pub call_id: Option<String>,
    }

    /// `maintenance_scheduled`: a maintenance window was announced. Undocumented.
    #[derive(Default)]
    pub struct MaintenanceScheduled {
        /// Maintenance identifier.
        pub maintenance_id: Option<String>,
        /// Start of the window (a timestamp string, format not documented).
        pub start_time: Option<String>,
        /// End of the window (a timestamp string, format not documented).
        pub end_time: Option<String>,
        /// What will happen.
        pub description: Option<String>,
        /// Services affected.
        pub affected_services: Option<Vec<String>>,
    }

    /// `quota_exceeded`: an account went over a quota. Undocumented.
    #[derive(Default)]
    pub struct QuotaExceeded {
        /// Which quota, e.g. `monthly_minutes`.
        pub quota_type: Option<String>,
        /// The quota.
        pub limit: Option<Number>,
        /// Usage that went over it.
        pub current_usage: Option<Number>,
        /// Period the quota covers, e.g. `monthly`.
        pub period: Option<String>,
        /// When the quota resets (a timestamp string, format not documented).
        pub reset_at: Option<String>,
    }
}
