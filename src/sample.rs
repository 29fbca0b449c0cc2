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

use serde_json::{Value, json};

use crate::event::{EventType, Timestamp};

/// The JSON body of a sample `event_type` event at `timestamp`; `id` is
/// woven into its identifiers (`call_<id>`, `conv_<id>`, ...).
pub fn sample_event(event_type: EventType, timestamp: &Timestamp, id: &str) -> String {
    let call_id = format!("call_{id}");
    let conversation_id = format!("conv_{id}");
    let agent = format!("agent_{id}");
    let data = match event_type {
        EventType::CallStarted => json!({
            "call_id": call_id, "phone_number": "+1234567890", "caller_id": "+1987654321",
            "agent_id": agent, "direction": "inbound", "call_source": "phone_system",
            "metadata": { "caller_location": "New York, NY", "call_queue": "support_queue" },
        }),
        EventType::CallEnded => json!({
            "call_id": call_id, "duration_seconds": 300, "end_reason": "completed",
            "resolution_status": "resolved",
            "conversation_summary": "Customer inquiry about billing resolved successfully",
            "satisfaction_score": 4.5, "transcript_available": true, "recording_available": true,
        }),
        EventType::CallTransferred => json!({
            "call_id": call_id, "from_agent_id": agent, "to_agent_id": "agent_789",
            "target_queue": "billing_specialists", "transfer_reason": "billing_dispute",
        }),
        EventType::AgentAvailable => agent_status(&agent, "busy", None),
        EventType::AgentBusy => agent_status(&agent, "available", Some(&call_id)),
        EventType::AgentOffline => agent_status(&agent, "available", None),
        EventType::ConversationStarted => json!({
            "conversation_id": conversation_id, "call_id": call_id, "agent_id": agent,
            "language": "en-US",
        }),
        EventType::ConversationEnded => json!({
            "conversation_id": conversation_id, "call_id": call_id, "agent_id": agent,
            "turn_count": 15, "topics_discussed": ["billing", "account_settings"],
            "sentiment_analysis": { "overall_sentiment": "positive", "sentiment_score": 0.7 },
            "knowledge_base_queries": 3, "escalation_occurred": false,
        }),
        EventType::EscalationTriggered => json!({
            "call_id": call_id, "conversation_id": conversation_id,
            "escalation_reason": "customer_requested_human",
            "escalation_trigger": "keyword_detected", "agent_id": agent,
            "target_queue": "human_agents",
            "context_summary": "Customer needs help with complex billing issue",
            "conversation_history": "Available via API",
        }),
        EventType::SystemError => json!({
            "error_code": "asr_unavailable", "error_message": "Speech recognition timed out",
            "severity": "high", "component": "speech_to_text", "call_id": call_id,
        }),
        EventType::MaintenanceScheduled => json!({
            "maintenance_id": format!("maint_{id}"), "start_time": "2024-01-20T02:00:00Z",
            "end_time": "2024-01-20T04:00:00Z", "description": "Telephony gateway upgrade",
            "affected_services": ["inbound_calls", "outbound_calls"],
        }),
        EventType::QuotaExceeded => json!({
            "account_id": format!("acct_{id}"), "quota_type": "monthly_minutes", "limit": 10000, "current_usage": 10012,
            "period": "monthly", "reset_at": "2024-02-01T00:00:00Z",
        }),
    };
    let event = json!({ "event": event_type.as_str(), "timestamp": timestamp, "data": data });
    // A `Value` always serializes.
    serde_json::to_string(&event).unwrap_or_default()
}

fn agent_status(agent_id: &str, previous_status: &str, call_id: Option<&str>) -> Value {
    let mut data = json!({
        "agent_id": agent_id, "agent_name": "Ava", "previous_status": previous_status,
        "queues": ["support_queue"],
    });
    if let (Some(call_id), Value::Object(fields)) = (call_id, &mut data) {
        fields.insert("call_id".into(), call_id.into());
    }
    data
}
