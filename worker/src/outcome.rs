//! Every answer the webhook route can give, in one place: how each
//! destination's delivery went, how those combine into one answer to the
//! sender (status, JSON body, headers), and how it is logged. Plain data
//! (covered by `cargo test`); the runtime's `Response` is made at the edge.

use serde::{Deserialize, Serialize};
use threetone_webhooks::{ErrorRecord, PayloadError};

use crate::admission::Hold;

/// Seconds a sender should wait before retrying a temporary failure.
const RETRY_AFTER_SECONDS: u64 = 5;

/// An answer as plain data.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        let body = serde_json::to_vec(body).unwrap_or_default();
        Self { status, headers: vec![("Content-Type", "application/json".into())], body }
    }

    /// `{"error": code}` with `status`.
    pub fn error(status: u16, code: &str) -> Self {
        Self::json(status, &Answer::error(code))
    }

    fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A JSON answer: `{"status": ...}` on success, `{"error": <code>}` on
/// failure, with details where there are some.
#[derive(Debug, Default, Serialize)]
pub struct Answer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_status: Option<u16>,
    /// Each destination's own outcome, when the route has several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Summaries<'a>>,
}

/// Each destination's outcome, as a JSON object by destination name.
#[derive(Debug)]
pub struct Summaries<'a>(&'a [DeliveryResult]);

impl Serialize for Summaries<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for result in self.0 {
            map.serialize_entry(&result.destination, &result.outcome.summary())?;
        }
        map.end()
    }
}

impl<'a> Answer<'a> {
    /// `{"error": code}`.
    pub fn error(code: &'a str) -> Self {
        Self { error: Some(code), ..Self::default() }
    }
}

/// The body of a 4xx answer, cut at 4 KiB, passed back to the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

/// How the delivery of an event to one destination went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Forwarded; the destination answered 2xx.
    Delivered { status: u16 },
    /// Already delivered there: not sent again.
    Duplicate,
    /// Queue mode: accepted into the queue for this destination.
    Queued,
    /// Another request is delivering it there now.
    InFlight,
    /// The destination is paused, its breaker open, or its caps reached: not sent.
    Held(Hold),
    /// The destination answered 4xx.
    Refused { status: u16, rejection: Rejection },
    /// The destination answered something other than 2xx or 4xx.
    Failed { status: u16 },
    /// No answer within its timeout.
    Timeout,
    /// It could not be reached.
    Unreachable,
    /// The destination's state (a Durable Object) did not answer: retry
    /// rather than risk a duplicate.
    StoreUnavailable,
    /// Queue mode: the queue did not take the event.
    QueueUnavailable,
}

impl DeliveryOutcome {
    /// Short name for logs and answers.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::Duplicate => "duplicate",
            Self::Queued => "queued",
            Self::InFlight => "in_flight",
            Self::Held(hold) => hold.reason.name(),
            Self::Refused { .. } => "origin_rejected",
            Self::Failed { .. } => "origin_error",
            Self::Timeout => "origin_timeout",
            Self::Unreachable => "origin_unreachable",
            Self::StoreUnavailable => "store_unavailable",
            Self::QueueUnavailable => "queue_unavailable",
        }
    }

    /// Whether the destination has the event (or will have it, from the queue).
    pub fn is_taken(&self) -> bool {
        matches!(self, Self::Delivered { .. } | Self::Duplicate | Self::Queued)
    }

    /// HTTP status of this outcome alone. Temporary failures are 5xx so
    /// that ThreeTone's `retry_on_status` redelivers them.
    pub fn status(&self) -> u16 {
        match self {
            Self::Delivered { .. } | Self::Duplicate => 200,
            Self::Queued => 202,
            Self::InFlight
            | Self::Held(_)
            | Self::Unreachable
            | Self::StoreUnavailable
            | Self::QueueUnavailable => 503,
            Self::Refused { status, .. } => *status,
            Self::Failed { .. } => 502,
            Self::Timeout => 504,
        }
    }

    /// Seconds to wait before a retry, when there is a reason to say.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Self::Held(hold) => Some(hold.retry_after_ms.div_ceil(1000).max(1)),
            Self::InFlight
            | Self::Unreachable
            | Self::StoreUnavailable
            | Self::QueueUnavailable => Some(RETRY_AFTER_SECONDS),
            _ => None,
        }
    }

    /// The destination's status, when it answered.
    pub fn origin_status(&self) -> Option<u16> {
        match self {
            Self::Delivered { status } | Self::Refused { status, .. } | Self::Failed { status } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The delivery-log status.
    pub fn log_status(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "success",
            Self::Duplicate => "duplicate",
            Self::Queued => "queued",
            Self::Held(_) => "held",
            Self::Refused { .. } => "rejected",
            _ => "failed",
        }
    }

    /// How much a sender's retry is worth for this outcome: a 5xx is
    /// retried by ThreeTone (the most, when it says how long to wait), a
    /// 4xx is not, success needs none.
    fn retry_rank(&self) -> (u8, u64) {
        match self.status() {
            500.. => (2, self.retry_after_seconds().unwrap_or(0)),
            400..500 => (1, 0),
            _ => (0, 0),
        }
    }

    /// This outcome in a multi-destination answer.
    fn summary(&self) -> Answer<'static> {
        if self.is_taken() {
            Answer {
                status: Some(self.name()),
                origin_status: self.origin_status(),
                ..Answer::default()
            }
        } else {
            Answer { origin_status: self.origin_status(), ..Answer::error(self.name()) }
        }
    }
}

/// One destination's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryResult {
    pub destination: String,
    pub outcome: DeliveryOutcome,
}

/// The outcome of one webhook request.
#[derive(Debug)]
pub enum Outcome {
    /// Delivered to (or held for, or failed at) each matching destination.
    Routed {
        results: Vec<DeliveryResult>,
        /// The route has several destinations: the answer lists each one.
        fan_out: bool,
    },
    /// Authentic, but no destination takes this event type: acknowledged.
    Ignored,
    /// The route (or the whole configuration) is unusable: fail closed.
    NotConfigured,
    /// Not a POST.
    MethodNotAllowed,
    /// A Content-Type that is not JSON.
    UnsupportedMediaType,
    /// Larger than `MAX_BODY_BYTES`.
    TooLarge,
    /// The body could not be read (the client went away).
    Unreadable,
    /// The signature is missing, malformed or wrong. No detail is given.
    InvalidSignature,
    /// Too many failed verifications from this address.
    RateLimited { retry_after_seconds: u64 },
    /// Authentic but rejected: stale, or invalid with `ON_INVALID_PAYLOAD=reject`.
    Rejected(PayloadError),
}

impl Outcome {
    /// The result that speaks for all: the first failure most worth a
    /// retry, or the first success.
    fn deciding(results: &[DeliveryResult]) -> Option<&DeliveryOutcome> {
        let mut deciding: Option<&DeliveryOutcome> = None;
        for result in results {
            if deciding.is_none_or(|best| result.outcome.retry_rank() > best.retry_rank()) {
                deciding = Some(&result.outcome);
            }
        }
        deciding
    }

    /// Short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Routed { results, .. } => match Self::deciding(results) {
                Some(outcome) if !outcome.is_taken() => outcome.name(),
                Some(_) if results.iter().all(|r| r.outcome == DeliveryOutcome::Duplicate) => {
                    "duplicate"
                }
                Some(_) if results.iter().any(|r| r.outcome == DeliveryOutcome::Queued) => "queued",
                Some(_) => "delivered",
                None => "ignored",
            },
            Self::Ignored => "ignored",
            Self::NotConfigured => "not_configured",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooLarge => "payload_too_large",
            Self::Unreadable => "unreadable_body",
            Self::InvalidSignature => "invalid_signature",
            Self::RateLimited { .. } => "rate_limited",
            Self::Rejected(error) => error.code(),
        }
    }

    /// HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::Routed { results, .. } => match Self::deciding(results) {
                Some(outcome) if !outcome.is_taken() => outcome.status(),
                Some(_) if results.iter().any(|r| r.outcome == DeliveryOutcome::Queued) => 202,
                _ => 200,
            },
            Self::Ignored => 200,
            Self::NotConfigured => 503,
            Self::MethodNotAllowed => 405,
            Self::UnsupportedMediaType => 415,
            Self::TooLarge => 413,
            Self::Unreadable => 400,
            Self::InvalidSignature => 401,
            Self::RateLimited { .. } => 429,
            Self::Rejected(error) => error.http_status(),
        }
    }

    /// The delivery-log status of a request that reached no destination,
    /// if it is logged at all (authentic requests only).
    pub fn log_status(&self) -> Option<&'static str> {
        match self {
            Self::Ignored => Some("ignored"),
            Self::Rejected(_) => Some("rejected"),
            _ => None,
        }
    }

    /// The destination's status, for a single-destination answer.
    pub fn origin_status(&self) -> Option<u16> {
        match self {
            Self::Routed { results, fan_out: false } => Self::deciding(results)?.origin_status(),
            _ => None,
        }
    }

    /// The HTTP answer.
    pub fn reply(&self) -> Reply {
        let status = self.status();
        let retry_after = match self {
            Self::RateLimited { retry_after_seconds } => Some(*retry_after_seconds),
            Self::NotConfigured => Some(RETRY_AFTER_SECONDS),
            Self::Routed { results, .. } => {
                Self::deciding(results).and_then(DeliveryOutcome::retry_after_seconds)
            }
            _ => None,
        };
        let mut reply = match self {
            Self::Routed { results, fan_out } => {
                let deciding = Self::deciding(results);
                // A single destination's 4xx is passed through as it came.
                if let (false, Some(DeliveryOutcome::Refused { rejection, .. })) =
                    (fan_out, deciding)
                {
                    let content_type = rejection.content_type.clone();
                    let reply = Reply { status, headers: Vec::new(), body: rejection.body.clone() };
                    reply.with_header(
                        "Content-Type",
                        content_type.unwrap_or_else(|| "application/octet-stream".into()),
                    )
                } else {
                    let destinations = fan_out.then_some(Summaries(results));
                    let answer = match deciding {
                        Some(outcome) if !outcome.is_taken() => Answer {
                            origin_status: if *fan_out { None } else { outcome.origin_status() },
                            destinations,
                            ..Answer::error(outcome.name())
                        },
                        _ => Answer {
                            status: Some(self.name()),
                            origin_status: self.origin_status(),
                            destinations,
                            ..Answer::default()
                        },
                    };
                    Reply::json(status, &answer)
                }
            }
            Self::Ignored => {
                Reply::json(status, &Answer { status: Some("ignored"), ..Answer::default() })
            }
            // The core's record: code, message, and for a field its path,
            // what was expected and what was found.
            Self::Rejected(error) => Reply::json(status, &ErrorRecord::from(error)),
            _ => Reply::error(status, self.name()),
        };
        if let Some(seconds) = retry_after {
            reply = reply.with_header("Retry-After", seconds.to_string());
        }
        if let Self::MethodNotAllowed = self {
            reply = reply.with_header("Allow", "POST".into());
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::HoldReason;

    fn routed(outcomes: &[DeliveryOutcome]) -> Outcome {
        let results = outcomes
            .iter()
            .enumerate()
            .map(|(index, outcome)| DeliveryResult {
                destination: format!("d{index}"),
                outcome: outcome.clone(),
            })
            .collect();
        Outcome::Routed { results, fan_out: outcomes.len() > 1 }
    }

    fn json(reply: &Reply) -> serde_json::Value {
        serde_json::from_slice(&reply.body).unwrap()
    }

    fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
        reply.headers.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_str())
    }

    #[test]
    fn a_single_destination_answers_as_a_relay_does() {
        let reply = routed(&[DeliveryOutcome::Delivered { status: 201 }]).reply();
        assert_eq!(
            (reply.status, json(&reply)),
            (200, serde_json::json!({"status": "delivered", "origin_status": 201}))
        );
        let reply = routed(&[DeliveryOutcome::Duplicate]).reply();
        assert_eq!(json(&reply), serde_json::json!({"status": "duplicate"}));
        let reply = routed(&[DeliveryOutcome::Failed { status: 500 }]).reply();
        assert_eq!(
            (reply.status, json(&reply)),
            (502, serde_json::json!({"error": "origin_error", "origin_status": 500}))
        );
        let rejection =
            Rejection { body: b"nope".to_vec(), content_type: Some("text/plain".into()) };
        let reply = routed(&[DeliveryOutcome::Refused { status: 422, rejection }]).reply();
        assert_eq!(
            (reply.status, reply.body.as_slice(), header(&reply, "Content-Type")),
            (422, &b"nope"[..], Some("text/plain"))
        );
        let reply = routed(&[DeliveryOutcome::Queued]).reply();
        assert_eq!((reply.status, json(&reply)), (202, serde_json::json!({"status": "queued"})));
    }

    #[test]
    fn a_fan_out_answers_200_only_when_every_destination_has_the_event() {
        let reply =
            routed(&[DeliveryOutcome::Delivered { status: 200 }, DeliveryOutcome::Duplicate])
                .reply();
        assert_eq!(reply.status, 200);
        assert_eq!(
            json(&reply),
            serde_json::json!({"status": "delivered", "destinations": {
                "d0": {"status": "delivered", "origin_status": 200}, "d1": {"status": "duplicate"}}})
        );
        let reply = routed(&[DeliveryOutcome::Duplicate, DeliveryOutcome::Duplicate]).reply();
        assert_eq!(json(&reply)["status"], "duplicate");
    }

    #[test]
    fn a_fan_out_answers_the_failure_most_worth_a_retry() {
        let held =
            DeliveryOutcome::Held(Hold { reason: HoldReason::BreakerOpen, retry_after_ms: 20_500 });
        let rejection = Rejection { body: Vec::new(), content_type: None };
        let reply = routed(&[
            DeliveryOutcome::Delivered { status: 200 },
            DeliveryOutcome::Refused { status: 409, rejection },
            DeliveryOutcome::Failed { status: 500 },
            held,
        ])
        .reply();
        assert_eq!(reply.status, 503);
        assert_eq!(header(&reply, "Retry-After"), Some("21"));
        let body = json(&reply);
        assert_eq!(body["error"], "breaker_open");
        assert_eq!(
            body["destinations"]["d1"],
            serde_json::json!({"error": "origin_rejected", "origin_status": 409})
        );
        assert_eq!(
            body["destinations"]["d2"],
            serde_json::json!({"error": "origin_error", "origin_status": 500})
        );
        // Without a 5xx, a 4xx is the answer (ThreeTone does not retry it).
        let rejection = Rejection { body: b"x".to_vec(), content_type: None };
        let reply = routed(&[
            DeliveryOutcome::Delivered { status: 200 },
            DeliveryOutcome::Refused { status: 409, rejection },
        ])
        .reply();
        assert_eq!(reply.status, 409);
        assert_eq!(json(&reply)["error"], "origin_rejected");
    }

    #[test]
    fn other_outcomes_keep_their_answers() {
        let reply = Outcome::NotConfigured.reply();
        assert_eq!((reply.status, header(&reply, "Retry-After")), (503, Some("5")));
        assert_eq!(Outcome::MethodNotAllowed.reply().headers.last().map(|h| h.0), Some("Allow"));
        assert_eq!(json(&Outcome::Ignored.reply()), serde_json::json!({"status": "ignored"}));
        assert_eq!(Outcome::RateLimited { retry_after_seconds: 7 }.reply().status, 429);
    }
}
