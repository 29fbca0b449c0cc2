//! Realistic sample events for every type, for tests and demos (like
//! `stripe trigger`). The documented four follow ThreeTone's examples; the
//! others use the fields [`crate::event`] gives them.
//!
//! The core has no clock and no randomness: the caller passes the time and an
//! id that makes the sample unique (so idempotency does not fold two samples).
//!
//! ```
//! use threetone_webhooks::{EventType, Options, Timestamp, parse_event, sample_event};
//!
//! let now = Timestamp::from_unix_seconds(1_705_314_600).unwrap();
//! let body = sample_event(EventType::CallEnded, &now, "a1b2");
//! let event = parse_event(body.as_bytes(), &Options::default()).unwrap();
//! assert_eq!(event.event_type(), Some(EventType::CallEnded));
//! assert_eq!(event.timestamp.as_str(), "2024-01-15T10:30:00Z");
//! ```

use alloc::format;
use alloc::string::String;

use crate::event::{EventType, Timestamp};

/// The JSON body of a sample `event_type` event at `timestamp`; `id` is
/// woven into its identifiers (`call_<id>`, `conv_<id>`, ...).
pub fn sample_event(event_type: EventType, timestamp: &Timestamp, id: &str) -> String {
    // `id` is the caller's: escape it as a JSON string, without its quotes.
    // It goes in last, so nothing in it is taken for a placeholder.
    let quoted = serde_json::to_string(id).unwrap_or_default();
    let id = quoted.strip_prefix('"').and_then(|id| id.strip_suffix('"')).unwrap_or_default();
    sample_template(event_type)
        .replacen(SAMPLE_TIMESTAMP, timestamp.as_str(), 1)
        .replace(SAMPLE_ID, id)
}

/// Stands for the timestamp in [`sample_template`].
pub const SAMPLE_TIMESTAMP: char = '@';

/// Stands for the sample's id in [`sample_template`].
pub const SAMPLE_ID: char = '#';

/// The body of a sample `event_type` event, with [`SAMPLE_TIMESTAMP`] and
/// [`SAMPLE_ID`] where [`sample_event`] puts the time and the id. The npm
/// package takes these templates as they are (generated into its JS at build
/// time) rather than carrying this code in its Wasm.
pub fn sample_template(event_type: EventType) -> String {
    let data = sample_data(event_type);
    format!(r#"{{"event":"{event_type}","timestamp":"{SAMPLE_TIMESTAMP}","data":{data}}}"#)
}

/// The `data` of a sample `event_type` event, with [`SAMPLE_ID`] where the
/// id goes. Plain text rather than built values: it keeps Wasm builds small.
fn sample_data(event_type: EventType) -> &'static str {
    match event_type {
        EventType::CallStarted => concat!(
            r#"{"call_id":"call_#","phone_number":"+1234567890","caller_id":"+1987654321","#,
            r#""agent_id":"agent_#","direction":"inbound","call_source":"phone_system","#,
            r#""metadata":{"caller_location":"New York, NY","call_queue":"support_queue"}}"#,
        ),
        EventType::CallEnded => concat!(
            r#"{"call_id":"call_#","duration_seconds":300,"end_reason":"completed","#,
            r#""resolution_status":"resolved","#,
            r#""conversation_summary":"Customer inquiry about billing resolved successfully","#,
            r#""satisfaction_score":4.5,"transcript_available":true,"recording_available":true}"#,
        ),
        EventType::CallTransferred => concat!(
            r#"{"call_id":"call_#","from_agent_id":"agent_#","to_agent_id":"agent_789","#,
            r#""target_queue":"billing_specialists","transfer_reason":"billing_dispute"}"#,
        ),
        EventType::AgentAvailable => concat!(
            r#"{"agent_id":"agent_#","agent_name":"Ava","previous_status":"busy","#,
            r#""queues":["support_queue"]}"#,
        ),
        EventType::AgentBusy => concat!(
            r#"{"agent_id":"agent_#","agent_name":"Ava","previous_status":"available","#,
            r#""queues":["support_queue"],"call_id":"call_#"}"#,
        ),
        EventType::AgentOffline => concat!(
            r#"{"agent_id":"agent_#","agent_name":"Ava","previous_status":"available","#,
            r#""queues":["support_queue"]}"#,
        ),
        EventType::ConversationStarted => concat!(
            r#"{"conversation_id":"conv_#","call_id":"call_#","agent_id":"agent_#","#,
            r#""language":"en-US"}"#,
        ),
        EventType::ConversationEnded => concat!(
            r#"{"conversation_id":"conv_#","call_id":"call_#","agent_id":"agent_#","#,
            r#""turn_count":15,"topics_discussed":["billing","account_settings"],"#,
            r#""sentiment_analysis":{"overall_sentiment":"positive","sentiment_score":0.7},"#,
            r#""knowledge_base_queries":3,"escalation_occurred":false}"#,
        ),
        EventType::EscalationTriggered => concat!(
            r#"{"call_id":"call_#","conversation_id":"conv_#","#,
            r#""escalation_reason":"customer_requested_human","#,
            r#""escalation_trigger":"keyword_detected","agent_id":"agent_#","#,
            r#""target_queue":"human_agents","#,
            r#""context_summary":"Customer needs help with complex billing issue","#,
            r#""conversation_history":"Available via API"}"#,
        ),
        EventType::SystemError => concat!(
            r#"{"error_code":"asr_unavailable","error_message":"Speech recognition timed out","#,
            r#""severity":"high","component":"speech_to_text","call_id":"call_#"}"#,
        ),
        EventType::MaintenanceScheduled => concat!(
            r#"{"maintenance_id":"maint_#","start_time":"2024-01-20T02:00:00Z","#,
            r#""end_time":"2024-01-20T04:00:00Z","description":"Telephony gateway upgrade","#,
            r#""affected_services":["inbound_calls","outbound_calls"]}"#,
        ),
        EventType::QuotaExceeded => concat!(
            r#"{"account_id":"acct_#","quota_type":"monthly_minutes","limit":10000,"#,
            r#""current_usage":10012,"period":"monthly","reset_at":"2024-02-01T00:00:00Z"}"#,
        ),
    }
}
