//! The webhook pipeline: read the request within limits, verify, validate,
//! filter, deduplicate, forward. Every rule about signatures and payloads is
//! the core crate's; this module only decides what to do with its verdicts.

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use threetone_webhooks::{Freshness, Options, SIGNATURE_HEADER, validate_event};
use worker::{Date, Env, Method, Request, js_sys};

use crate::config::{Config, DeliveryMode, InvalidPayloadPolicy};
use crate::forward::{self, OriginAnswer};
use crate::headers::Delivery;
use crate::idempotency::{self, Claim, Settlement};
use crate::keys::{self, EventKey};
use crate::outcome::Outcome;
use crate::rate_limit::Limit;
use crate::{queue, rate_limit};

/// The destination of a configuration with one origin (`ORIGIN_URL`).
pub const ORIGIN: &str = "origin";

/// A request that passed the HTTP checks, with its body read.
pub struct Inbound {
    pub body: Vec<u8>,
    pub signature: String,
    pub content_type: String,
    /// Client address, for flood protection.
    pub client: String,
    /// A sample sent by `POST /test`.
    pub test: bool,
}

/// What the pipeline learned, for the logs and the bookkeeping after the answer.
#[derive(Default)]
pub struct Facts {
    /// The idempotency key of an authentic request.
    pub key: Option<EventKey>,
    pub event: Option<String>,
    pub call_id: Option<String>,
    /// Earlier deliveries of the same event.
    pub retry_count: Option<u32>,
    /// The claim this request holds, to settle.
    pub settlement: Option<Settlement>,
}

/// One delivery attempt of an authentic event.
pub struct Attempt {
    pub outcome: Outcome,
    /// Earlier deliveries of the same event seen.
    pub retry_count: Option<u32>,
    /// The claim the attempt acquired, to settle.
    pub settlement: Option<Settlement>,
}

impl Attempt {
    /// An attempt that ended before acquiring a claim.
    pub fn unclaimed(outcome: Outcome, retry_count: Option<u32>) -> Self {
        Self { outcome, retry_count, settlement: None }
    }
}

/// Checks method, size and media type, then reads the body (never past the limit).
pub async fn read(request: &mut Request, config: &Config) -> Result<Inbound, Outcome> {
    if request.method() != Method::Post {
        return Err(Outcome::MethodNotAllowed);
    }
    let headers = request.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let declared_length =
        header("Content-Length").and_then(|length| length.trim().parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > config.max_body_bytes as u64) {
        return Err(Outcome::TooLarge);
    }
    let content_type = header("Content-Type").unwrap_or_else(|| "application/json".into());
    if !is_json(&content_type) {
        return Err(Outcome::UnsupportedMediaType);
    }
    let signature = header(SIGNATURE_HEADER).unwrap_or_default();
    let client = header("CF-Connecting-IP").unwrap_or_else(|| "unknown".into());
    let body = match declared_length {
        // The runtime holds a body to its declared length, already checked.
        Some(_) => request.bytes().await.map_err(|_| Outcome::Unreadable)?,
        None => read_body(request, config.max_body_bytes).await?,
    };
    Ok(Inbound { body, signature, content_type, client, test: false })
}

/// Runs an inbound request through verification, validation and filtering,
/// then delivers it (directly, or by accepting it into the queue).
pub async fn deliver(
    inbound: Inbound,
    config: &Config,
    env: &Env,
    request_id: &str,
) -> (Outcome, Facts) {
    let mut facts = Facts::default();
    let (Some(verifier), true) = (&config.verifier, config.is_ready()) else {
        return (Outcome::NotConfigured, facts);
    };

    if verifier.verify(&inbound.body, &inbound.signature).is_err() {
        let budget = keys::client_key(&inbound.client);
        let verdict = rate_limit::record_failure(env, &budget, Limit::of(config)).await;
        return match verdict {
            Ok(verdict) if verdict.limited => {
                (Outcome::RateLimited { retry_after_seconds: verdict.retry_after_seconds }, facts)
            }
            _ => (Outcome::InvalidSignature, facts),
        };
    }

    facts.key = Some(EventKey::of(&inbound.body));
    let invalid = match validate_event(&inbound.body, &Options::default()) {
        Ok(event) => {
            facts.event = Some(event.event_name().to_string());
            facts.call_id = event.call_id().map(String::from);
            // A stale event is refused whatever ON_INVALID_PAYLOAD says: it
            // may be a capture replayed after its key expired.
            if let Some(max_age_seconds) = config.max_event_age_seconds {
                let now_unix_seconds = (Date::now().as_millis() / 1000) as i64;
                let window = Freshness { max_age_seconds, now_unix_seconds };
                if let Err(error) = window.check(event.timestamp()) {
                    return (Outcome::Rejected(error), facts);
                }
            }
            None
        }
        Err(error) => {
            facts.event = event_name_of_invalid(&inbound.body);
            if config.on_invalid_payload == InvalidPayloadPolicy::Reject {
                return (Outcome::Rejected(error), facts);
            }
            Some(error.code())
        }
    };

    let event = Authentic {
        body: inbound.body,
        signature: inbound.signature.trim().to_string(),
        content_type: inbound.content_type,
        event: facts.event.clone().unwrap_or_default(),
        call_id: facts.call_id.clone(),
        invalid: invalid.map(String::from),
        request_id: request_id.to_string(),
        test: inbound.test,
    };
    if let Some(allowed) = &config.forward_events
        && !allowed.contains(&event.event)
    {
        return (Outcome::Ignored, facts);
    }
    let attempt = match config.delivery_mode {
        DeliveryMode::Direct => forward_once(&event, config, env).await,
        DeliveryMode::Queue => queue::accept(event, config, env).await,
    };
    facts.retry_count = attempt.retry_count;
    facts.settlement = attempt.settlement;
    (attempt.outcome, facts)
}

/// An authentic event on its way to the origin, directly or through the queue.
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
    /// The edge's request id, sent to the origin as `X-Request-Id`.
    pub request_id: String,
    /// A sample sent by `POST /test`, marked as such toward the origin.
    #[serde(default)]
    pub test: bool,
}

impl Authentic {
    /// The event's key (the SHA-256 of its body; see [`EventKey`]).
    pub fn key(&self) -> EventKey {
        EventKey::of(&self.body)
    }
}

/// Claims the event's key and forwards it once: the one delivery path of both
/// modes. The caller settles the claim ([`Attempt::settlement`]).
pub async fn forward_once(event: &Authentic, config: &Config, env: &Env) -> Attempt {
    let Some(origin_url) = &config.origin_url else {
        return Attempt::unclaimed(Outcome::NotConfigured, None);
    };
    let event_key = event.key();
    let key = event_key.as_str();
    let ttl_ms = config.idempotency_ttl_seconds * 1000;
    let lease_ms = config.origin_timeout_ms + 5_000;
    let retry_count = match idempotency::claim(env, key, lease_ms, ttl_ms).await {
        Err(error) => {
            // Not the body, not a secret: the store's own failure, for operators.
            worker::console_error!("idempotency store unavailable: {error}");
            return Attempt::unclaimed(Outcome::StoreUnavailable, None);
        }
        Ok(Claim::InFlight) => return Attempt::unclaimed(Outcome::InFlight, None),
        Ok(Claim::Duplicate { attempt }) => {
            return Attempt::unclaimed(Outcome::Duplicate, Some(attempt - 1));
        }
        Ok(Claim::Acquired { attempt }) => attempt - 1,
    };
    let settle = |outcome: Outcome| {
        let delivered = matches!(outcome, Outcome::Delivered { .. });
        let settlement = Settlement { key: key.to_string(), delivered, ttl_ms };
        Attempt { outcome, retry_count: Some(retry_count), settlement: Some(settlement) }
    };

    let delivery_id = event_key.delivery_id(ORIGIN);
    let delivery = Delivery {
        content_type: &event.content_type,
        signature: &event.signature,
        event: &event.event,
        delivery_id: &delivery_id,
        request_id: &event.request_id,
        edge_signature: config.origin_signer.as_ref().map(|signer| signer.sign(&event.body)),
        invalid: event.invalid.as_deref(),
        test: event.test,
    };
    let answer =
        forward::send(origin_url, &event.body, &delivery.headers(), config.origin_timeout_ms).await;
    let outcome = match answer {
        OriginAnswer::Status { status, .. } if (200..300).contains(&status) => {
            Outcome::Delivered { origin_status: status }
        }
        OriginAnswer::Status { status, rejection: Some(rejection) } => {
            Outcome::OriginRejected { status, rejection }
        }
        OriginAnswer::Status { status, .. } => Outcome::OriginFailed { status },
        OriginAnswer::Timeout => Outcome::OriginTimeout,
        OriginAnswer::Unreachable => Outcome::OriginUnreachable,
    };
    settle(outcome)
}

/// Reads the body, stopping as soon as it passes `max` bytes.
async fn read_body(request: &mut Request, max: usize) -> Result<Vec<u8>, Outcome> {
    let Ok(mut stream) = request.stream() else {
        return Ok(Vec::new()); // no body at all
    };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Outcome::Unreadable)?;
        if body.len() + chunk.len() > max {
            return Err(Outcome::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `application/json` or any `+json` type, parameters ignored.
fn is_json(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media_type == "application/json" || media_type.ends_with("+json")
}

/// The `event` field of a body that did not validate, if it has one. Read by
/// the runtime's own `JSON.parse`: a log field is not worth a second
/// deserializer in the upload.
fn event_name_of_invalid(body: &[u8]) -> Option<String> {
    let value = js_sys::JSON::parse(std::str::from_utf8(body).ok()?).ok()?;
    js_sys::Reflect::get(&value, &"event".into()).ok()?.as_string()
}
