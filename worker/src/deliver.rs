//! Delivering an event to one destination, once: the one delivery path of
//! both modes (direct, and the queue consumer), and the one place where a
//! delivery is settled and logged.

use worker::{Date, Env, Result};

use crate::admission::{Claim, Ending, Transition};
use crate::config::{Config, Destination};
use crate::delivery_log::{self, LogEntry, Logged};
use crate::destination::{self, DuplicateLog, Gate, Pending, Recording, Settlement};
use crate::event::Authentic;
use crate::forward::{self, OriginAnswer};
use crate::headers::ForwardHeaders;
use crate::outcome::DeliveryOutcome;

/// One delivery attempt of an event to a destination.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub destination: String,
    pub outcome: DeliveryOutcome,
    /// Earlier claims of the same event at this destination.
    pub retry_count: Option<u32>,
    /// How the delivery ended, when this attempt acquired it: to settle.
    pub ending: Option<Ending>,
    /// A queue-mode acceptance (its own key; no breaker), not a delivery.
    pub acceptance: bool,
    /// How long the destination took to answer, when it was called.
    pub latency_ms: Option<u64>,
    /// Already logged and counted by its destination's object (a duplicate).
    pub recorded: bool,
}

impl Attempt {
    pub fn unclaimed(
        destination: &Destination,
        outcome: DeliveryOutcome,
        retry_count: Option<u32>,
    ) -> Self {
        Self {
            destination: destination.name.clone(),
            outcome,
            retry_count,
            ending: None,
            acceptance: false,
            latency_ms: None,
            recorded: false,
        }
    }
}

/// Claims the event's key at `destination` and forwards it once. The caller
/// records the attempt ([`record`]).
pub async fn deliver(
    event: &Authentic,
    destination: &Destination,
    config: &Config,
    env: &Env,
) -> Attempt {
    let key = event.key();
    let ttl_ms = config.idempotency_ttl_seconds * 1000;
    let lease_ms = destination.timeout_ms + 5_000;
    let gate = Gate { limits: destination.limits, breaker: config.breaker };
    let on_duplicate = DuplicateLog {
        event: delivery_log::clip(&event.event).into(),
        call_id: event.call_id.as_deref().map(|call_id| delivery_log::clip(call_id).into()),
        request_id: event.request_id.clone(),
        route: event.route.clone(),
        destination: destination.name.clone(),
        delivery_id: key.delivery_id(&destination.name),
        archive_key: archive_key(env, event),
        started_ms: Date::now().as_millis(),
    };
    let claimed = destination::claim(
        env,
        &destination.name,
        &event.delivery_key(),
        lease_ms,
        ttl_ms,
        Some(gate),
        Some(on_duplicate),
    )
    .await;
    let attempt = match claimed {
        Err(error) => {
            // Not the body, not a secret: the store's own failure, for operators.
            worker::console_error!("destination store unavailable: {error}");
            return Attempt::unclaimed(destination, DeliveryOutcome::StoreUnavailable, None);
        }
        Ok(Claim::InFlight) => {
            return Attempt::unclaimed(destination, DeliveryOutcome::InFlight, None);
        }
        Ok(Claim::Held(hold)) => {
            return Attempt::unclaimed(destination, DeliveryOutcome::Held(hold), None);
        }
        Ok(Claim::Duplicate { attempt }) => {
            let duplicate =
                Attempt::unclaimed(destination, DeliveryOutcome::Duplicate, Some(attempt - 1));
            return Attempt { recorded: true, ..duplicate };
        }
        Ok(Claim::Acquired { attempt }) => attempt,
    };
    let delivery_id = key.delivery_id(&destination.name);
    let headers = ForwardHeaders {
        content_type: &event.content_type,
        signature: &event.signature,
        event: &event.event,
        destination: &destination.name,
        delivery_id: &delivery_id,
        request_id: &event.request_id,
        edge_signature: destination.signer.as_ref().map(|signer| signer.sign(&event.body)),
        invalid: event.invalid.as_deref(),
        test: event.test,
        replay: event.replay.is_some(),
    };
    let started = Date::now().as_millis();
    let answer =
        forward::send(&destination.url, &event.body, &headers.list(), destination.timeout_ms).await;
    let latency_ms = Some(Date::now().as_millis().saturating_sub(started));
    let (outcome, ending) = match answer {
        OriginAnswer::Status { status, .. } if (200..300).contains(&status) => {
            (DeliveryOutcome::Delivered { status }, Ending::Delivered)
        }
        OriginAnswer::Status { status, rejection: Some(rejection) } => {
            (DeliveryOutcome::Refused { status, rejection }, Ending::Refused)
        }
        OriginAnswer::Status { status, .. } => (DeliveryOutcome::Failed { status }, Ending::Failed),
        OriginAnswer::Timeout => (DeliveryOutcome::Timeout, Ending::Failed),
        OriginAnswer::Unreachable => (DeliveryOutcome::Unreachable, Ending::Failed),
    };
    Attempt {
        destination: destination.name.clone(),
        outcome,
        retry_count: Some(attempt - 1),
        ending: Some(ending),
        acceptance: false,
        latency_ms,
        recorded: false,
    }
}

/// Where the archive keeps `event`, if the Worker has one.
fn archive_key(env: &Env, event: &Authentic) -> Option<String> {
    crate::archive::is_bound(env)
        .then(|| crate::selection::key(event.timestamp_ms, event.key().as_str()))
}

/// What a delivery's log entry says beyond the attempt.
pub struct Recorded<'a> {
    pub logged: Logged<'a>,
    /// The delivery-log status, when it is not the attempt's own (queue mode: `retrying`).
    pub status: Option<&'static str>,
    pub started_ms: u64,
    /// Queue mode: the delivery is done (delivered, or dead-lettered).
    pub done: bool,
}

/// Settles `attempt` at its destination (when it acquired the delivery) and
/// logs it, in one call; a change of the destination's breaker, if any.
pub async fn record(
    env: &Env,
    config: &Config,
    event: &Authentic,
    attempt: &Attempt,
    recorded: Recorded<'_>,
) -> Result<Option<Transition>> {
    if attempt.recorded {
        return Ok(None);
    }
    let outcome = &attempt.outcome;
    let mut entry = LogEntry::new(
        &recorded.logged,
        recorded.status.unwrap_or_else(|| outcome.log_status()),
        outcome.status(),
        recorded.started_ms,
        Date::now().as_millis(),
    );
    entry.retry_count = attempt.retry_count;
    entry.error = (!outcome.is_taken()).then(|| outcome.name().into());
    entry.origin_status = outcome.origin_status();
    entry.destination = Some(attempt.destination.clone());
    entry.delivery_id = Some(event.key().delivery_id(&attempt.destination));
    entry.archive_key = crate::archive::is_bound(env)
        .then(|| crate::selection::key(event.timestamp_ms, event.key().as_str()));
    let key = event.key();
    let settlement = attempt.ending.map(|ending| Settlement {
        key: if attempt.acceptance { key.accepted().as_str().into() } else { event.delivery_key() },
        ending,
        ttl_ms: config.idempotency_ttl_seconds * 1000,
        breaker: (!attempt.acceptance).then_some(config.breaker),
    });
    let pending = match (attempt.acceptance, &attempt.outcome, recorded.done) {
        (true, DeliveryOutcome::Queued, _) => Pending::Added { key_digest: key.short() },
        (false, _, true) => Pending::Removed { key_digest: key.short() },
        _ => Pending::Unchanged,
    };
    let recording = Recording {
        entry: serde_json::to_string(&entry)?,
        status: entry.status.clone(),
        latency_ms: attempt.latency_ms,
        pending,
    };
    destination::record(env, &attempt.destination, settlement, recording).await
}
