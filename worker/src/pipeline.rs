//! The webhook pipeline: read the request within limits, verify it with its
//! route's secrets, validate, filter, then hand the event to each matching
//! destination (directly, or through the queue). Every rule about
//! signatures and payloads is the core crate's; the decisions are the plain
//! modules'; this one only runs them in order.

use futures_util::StreamExt;
use futures_util::future::join_all;
use threetone_webhooks::{Freshness, Options, SIGNATURE_HEADER, validate_event};
use worker::{Date, Env, Method, Request, js_sys};

use crate::config::{Config, DeliveryMode, InvalidPayloadPolicy, Route};
use crate::deliver::{self, Attempt};
use crate::event::Authentic;
use crate::keys;
use crate::outcome::{DeliveryResult, Outcome};
use crate::queue;
use crate::rate_limit::{self, Limit};

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
    pub event: Option<String>,
    pub call_id: Option<String>,
    /// The authentic event, once verified.
    pub authentic: Option<Authentic>,
    /// Each destination's attempt, to record.
    pub attempts: Vec<Attempt>,
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
/// then hands it to each destination that takes it.
pub async fn handle(
    inbound: Inbound,
    route: &Route,
    config: &Config,
    env: &Env,
    request_id: &str,
) -> (Outcome, Facts) {
    let mut facts = Facts::default();
    let (Some(verifier), true) = (&route.verifier, config.is_usable(route)) else {
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

    let mut timestamp_ms = Date::now().as_millis();
    let invalid = match validate_event(&inbound.body, &Options::default()) {
        Ok(event) => {
            timestamp_ms =
                u64::try_from(event.timestamp().unix_seconds()).unwrap_or(0).saturating_mul(1000);
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
        route: route.path.clone(),
        timestamp_ms,
        replay: None,
    };
    let destinations: Vec<_> = route.destinations_for(&event.event).collect();
    if destinations.is_empty() {
        facts.authentic = Some(event);
        return (Outcome::Ignored, facts);
    }
    // Concurrently: one slow destination does not hold the others back.
    let attempts = join_all(destinations.iter().map(|destination| async {
        match config.delivery_mode {
            DeliveryMode::Direct => deliver::deliver(&event, destination, config, env).await,
            DeliveryMode::Queue => queue::accept(&event, destination, config, env).await,
        }
    }))
    .await;
    let results = attempts
        .iter()
        .map(|attempt| DeliveryResult {
            destination: attempt.destination.clone(),
            outcome: attempt.outcome.clone(),
        })
        .collect();
    facts.attempts = attempts;
    facts.authentic = Some(event);
    (Outcome::Routed { results, fan_out: route.destinations.len() > 1 }, facts)
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
