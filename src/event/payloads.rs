//! The `data` object of each event type.
//!
//! The four payloads that ThreeTone documents (`call_started`, `call_ended`,
//! `conversation_ended`, `escalation_triggered`) are typed as documented:
//! every field shown is required with the JSON type shown. The other eight are
//! undocumented, so their fields (named after what the event implies) are
//! optional and only their JSON types are checked.
//!
//! Every payload keeps the fields it does not know in `extra`, and a field
//! sent as `null` survives a round trip, so re-serializing returns every field.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::validate::{Field, Kind, Shape};

use super::fields::{
    CallSource, Direction, EndReason, EscalationReason, EscalationTrigger, ResolutionStatus,
    Sentiment, SentimentScore,
};

/// Fields a payload does not know, kept as sent.
pub type Extra = Map<String, Value>;

/// A payload whose unknown fields live in `extra`.
pub(crate) trait Payload: serde::de::DeserializeOwned {
    fn extra_mut(&mut self) -> &mut Extra;
}

/// Defines each payload struct with its `extra` map, and derives from the
/// field types the table the validator checks bodies against ([`Shape`]).
macro_rules! payloads {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$field_meta:meta])* pub $field:ident: $type:ty,)+
        }
    )+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $type,)+
            /// Fields not listed above.
            #[serde(flatten)]
            pub extra: Extra,
        }

        // The validator marks the fields it has seen in a u64.
        const _: () = assert!([$(stringify!($field)),+].len() < 64);

        impl Shape for $name {
            const KIND: Kind = Kind::Fields(&[$(Field {
                name: stringify!($field),
                kind: <$type as Shape>::KIND,
                required: <$type as Shape>::REQUIRED,
            },)+]);
        }

        impl Payload for $name {
            fn extra_mut(&mut self) -> &mut Extra {
                &mut self.extra
            }
        }
    )+};
}

payloads! {
    /// `call_started`: a call began. Documented.
    pub struct CallStarted {
        /// Call identifier, e.g. `call_abc123`.
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
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub call_id: Option<String>,
        /// Agent the call left.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub from_agent_id: Option<String>,
        /// Agent the call went to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub to_agent_id: Option<String>,
        /// Queue the call went to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub target_queue: Option<String>,
        /// Why it was transferred.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub transfer_reason: Option<String>,
    }

    /// `agent_available`, `agent_busy`, `agent_offline`: an agent's status changed. Undocumented.
    #[derive(Default)]
    pub struct AgentStatus {
        /// Agent identifier.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_id: Option<String>,
        /// Agent display name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_name: Option<String>,
        /// Status before the change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub previous_status: Option<String>,
        /// Call that made the agent busy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub call_id: Option<String>,
        /// Why the status changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// Queues the agent serves.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub queues: Option<Vec<String>>,
    }

    /// `conversation_started`: the AI agent began a conversation. Undocumented.
    #[derive(Default)]
    pub struct ConversationStarted {
        /// Conversation identifier.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub conversation_id: Option<String>,
        /// Call the conversation belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub call_id: Option<String>,
        /// Agent holding the conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_id: Option<String>,
        /// Language of the conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub language: Option<String>,
    }

    /// `conversation_ended`: a conversation finished. Documented.
    pub struct ConversationEnded {
        /// Conversation identifier, e.g. `conv_xyz789`.
        pub conversation_id: String,
        /// Call the conversation belongs to.
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
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error_code: Option<String>,
        /// Human-readable message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error_message: Option<String>,
        /// Severity, e.g. `critical`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub severity: Option<String>,
        /// Affected component.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub component: Option<String>,
        /// Affected call, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub call_id: Option<String>,
    }

    /// `maintenance_scheduled`: a maintenance window was announced. Undocumented.
    #[derive(Default)]
    pub struct MaintenanceScheduled {
        /// Maintenance identifier.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub maintenance_id: Option<String>,
        /// Start of the window (a timestamp string, format not documented).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub start_time: Option<String>,
        /// End of the window (a timestamp string, format not documented).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub end_time: Option<String>,
        /// What will happen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        /// Services affected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub affected_services: Option<Vec<String>>,
    }

    /// `quota_exceeded`: an account went over a quota. Undocumented.
    #[derive(Default)]
    pub struct QuotaExceeded {
        /// Which quota, e.g. `monthly_minutes`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub quota_type: Option<String>,
        /// The quota.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub limit: Option<Number>,
        /// Usage that went over it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub current_usage: Option<Number>,
        /// Period the quota covers, e.g. `monthly`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub period: Option<String>,
        /// When the quota resets (a timestamp string, format not documented).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reset_at: Option<String>,
    }
}
