//! Every answer the webhook route can give, in one place: status, JSON body,
//! headers, and how it is logged.

use serde::Serialize;
use threetone_webhooks::PayloadError;
use worker::{Headers, Response, Result};

use crate::forward::Rejection;

/// Seconds a sender should wait before retrying a temporary failure.
const RETRY_AFTER_SECONDS: u64 = 5;

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
}

impl<'a> Answer<'a> {
    /// `{"error": code}`.
    pub fn error(code: &'a str) -> Self {
        Self { error: Some(code), ..Self::default() }
    }

    /// This answer as a JSON response with `status`.
    pub fn into_response(self, status: u16) -> Result<Response> {
        Ok(Response::from_json(&self)?.with_status(status))
    }
}

/// The outcome of one webhook request.
#[derive(Debug)]
pub enum Outcome {
    /// Forwarded; the origin answered 2xx.
    Delivered { origin_status: u16 },
    /// Already delivered: acknowledged without a second forward.
    Duplicate,
    /// Authentic, but not in `FORWARD_EVENTS`: acknowledged, not forwarded.
    Ignored,
    /// Queue mode: accepted into the queue; the consumer delivers it.
    Queued,
    /// Queue mode: the queue did not take the event; the sender retries.
    QueueUnavailable,
    /// The same event is being delivered by another request.
    InFlight,
    /// The idempotency store did not answer: retry rather than risk a duplicate.
    StoreUnavailable,
    /// No secret or no usable origin configured: fail closed.
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
    /// The origin answered 4xx: passed through (its body cut at 4 KiB).
    OriginRejected { status: u16, rejection: Rejection },
    /// The origin answered something other than 2xx or 4xx.
    OriginFailed { status: u16 },
    /// The origin could not be reached.
    OriginUnreachable,
    /// The origin did not answer in time.
    OriginTimeout,
}

impl Outcome {
    /// Short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::Queued => "queued",
            Self::QueueUnavailable => "queue_unavailable",
            Self::InFlight => "in_flight",
            Self::StoreUnavailable => "store_unavailable",
            Self::NotConfigured => "not_configured",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooLarge => "payload_too_large",
            Self::Unreadable => "unreadable_body",
            Self::InvalidSignature => "invalid_signature",
            Self::RateLimited { .. } => "rate_limited",
            Self::Rejected(error) => error.code(),
            Self::OriginRejected { .. } => "origin_rejected",
            Self::OriginFailed { .. } => "origin_error",
            Self::OriginUnreachable => "origin_unreachable",
            Self::OriginTimeout => "origin_timeout",
        }
    }

    /// HTTP status of the answer. Temporary failures are 5xx so that
    /// ThreeTone's `retry_on_status` redelivers them.
    pub fn status(&self) -> u16 {
        match self {
            Self::Delivered { .. } | Self::Duplicate | Self::Ignored => 200,
            Self::Queued => 202,
            Self::InFlight
            | Self::StoreUnavailable
            | Self::QueueUnavailable
            | Self::NotConfigured
            | Self::OriginUnreachable => 503,
            Self::MethodNotAllowed => 405,
            Self::UnsupportedMediaType => 415,
            Self::TooLarge => 413,
            Self::Unreadable => 400,
            Self::InvalidSignature => 401,
            Self::RateLimited { .. } => 429,
            Self::Rejected(error) => error.http_status(),
            Self::OriginRejected { status, .. } => *status,
            Self::OriginFailed { .. } => 502,
            Self::OriginTimeout => 504,
        }
    }

    /// The delivery-log status, for outcomes of authentic requests only.
    pub fn delivery_status(&self) -> Option<&'static str> {
        match self {
            Self::Delivered { .. } => Some("success"),
            Self::Duplicate => Some("duplicate"),
            Self::Ignored => Some("ignored"),
            Self::Queued => Some("queued"),
            Self::Rejected(_) | Self::OriginRejected { .. } => Some("rejected"),
            Self::InFlight
            | Self::StoreUnavailable
            | Self::QueueUnavailable
            | Self::OriginFailed { .. }
            | Self::OriginUnreachable
            | Self::OriginTimeout => Some("failed"),
            Self::NotConfigured
            | Self::MethodNotAllowed
            | Self::UnsupportedMediaType
            | Self::TooLarge
            | Self::Unreadable
            | Self::InvalidSignature
            | Self::RateLimited { .. } => None,
        }
    }

    /// The origin's status, when it was reached.
    pub fn origin_status(&self) -> Option<u16> {
        match self {
            Self::Delivered { origin_status: status }
            | Self::OriginRejected { status, .. }
            | Self::OriginFailed { status } => Some(*status),
            _ => None,
        }
    }

    /// The HTTP answer.
    pub fn into_response(self, request_id: &str) -> Result<Response> {
        let status = self.status();
        let headers = Headers::new();
        headers.set("X-Request-Id", request_id)?;
        let retry_after = match &self {
            Self::RateLimited { retry_after_seconds } => Some(*retry_after_seconds),
            Self::InFlight
            | Self::StoreUnavailable
            | Self::QueueUnavailable
            | Self::NotConfigured
            | Self::OriginUnreachable => Some(RETRY_AFTER_SECONDS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            headers.set("Retry-After", &seconds.to_string())?;
        }
        if let Self::MethodNotAllowed = self {
            headers.set("Allow", "POST")?;
        }
        let answer = match &self {
            Self::OriginRejected { rejection, .. } => {
                let content_type =
                    rejection.content_type.as_deref().unwrap_or("application/octet-stream");
                headers.set("Content-Type", content_type)?;
                return Ok(Response::from_bytes(rejection.body.clone())?
                    .with_status(status)
                    .with_headers(headers));
            }
            Self::Delivered { origin_status } => Answer {
                status: Some("delivered"),
                origin_status: Some(*origin_status),
                ..Answer::default()
            },
            Self::Duplicate | Self::Ignored | Self::Queued => {
                Answer { status: Some(self.name()), ..Answer::default() }
            }
            Self::Rejected(error) => {
                Answer { message: Some(error.to_string()), ..Answer::error(error.code()) }
            }
            Self::OriginFailed { status } => {
                Answer { origin_status: Some(*status), ..Answer::error(self.name()) }
            }
            _ => Answer::error(self.name()),
        };
        headers.set("Content-Type", "application/json")?;
        Ok(answer.into_response(status)?.with_headers(headers))
    }
}
