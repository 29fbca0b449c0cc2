//! Queue mode (`DELIVERY_MODE=queue`): a verified event is accepted into a
//! Cloudflare Queue once per destination and answered 202; the consumer
//! delivers each message with ThreeTone's own retry settings, then
//! dead-letters it. Each destination has its own schedule and dead letters.
//!
//! Exactly once toward each destination, in both modes: accepting claims
//! the key `accept:<body digest>` at the destination (so a redelivered event
//! is not queued twice), and the consumer delivers through
//! [`deliver::deliver`], which claims the same delivery key as direct mode
//! (so a message the queue hands out twice, or an event already delivered
//! directly, is not forwarded again). A delivery held (the destination
//! paused, its breaker open, its caps reached) comes back later without
//! using up a retry.

use futures_util::future::join_all;
use worker::{
    Context, Env, Message, MessageBatch, MessageBuilder, MessageExt, QueueContentType, Result,
    event,
};

use crate::admission::{Claim, Ending};
use crate::alerting::{Alert, AlertKind};
use crate::config::{Config, Destination};
use crate::deliver::{self, Attempt, Recorded};
use crate::delivery_log::Logged;
use crate::destination;
use crate::event::{Authentic, Queued};
use crate::outcome::DeliveryOutcome;
use crate::retry::{self, Next};
use crate::{alerts, dead_letters, runtime};

/// The producer binding (see `worker/wrangler.toml`).
const BINDING: &str = "EVENTS";
/// Cloudflare Queues take messages up to 128 KB; larger bodies are delivered
/// directly instead, so nothing is refused for its size.
const MAX_QUEUED_BODY: usize = 120_000;
/// How long an acceptance may take before another request may try.
const ACCEPT_LEASE_MS: u64 = 30_000;

/// Accepts a verified event for `destination`: queued (202), or already
/// accepted (200). The caller records the attempt.
pub async fn accept(
    event: &Authentic,
    destination: &Destination,
    config: &Config,
    env: &Env,
) -> Attempt {
    if event.body.len() > MAX_QUEUED_BODY {
        return deliver::deliver(event, destination, config, env).await;
    }
    let key = event.key().accepted();
    let ttl_ms = config.idempotency_ttl_seconds * 1000;
    let claimed = destination::claim(
        env,
        &destination.name,
        key.as_str(),
        ACCEPT_LEASE_MS,
        ttl_ms,
        None,
        None,
    )
    .await;
    let attempt = match claimed {
        Err(_) => return Attempt::unclaimed(destination, DeliveryOutcome::StoreUnavailable, None),
        Ok(Claim::Held(_) | Claim::InFlight) => {
            return Attempt::unclaimed(destination, DeliveryOutcome::InFlight, None);
        }
        Ok(Claim::Duplicate { attempt }) => {
            return Attempt::unclaimed(destination, DeliveryOutcome::Duplicate, Some(attempt - 1));
        }
        Ok(Claim::Acquired { attempt }) => attempt,
    };
    let queued =
        Queued { event: event.clone(), destination: destination.name.clone(), attempts: 0 };
    let (outcome, ending) = match send(env, queued, 0).await {
        Ok(()) => (DeliveryOutcome::Queued, Ending::Delivered),
        Err(error) => {
            worker::console_error!("queue unavailable: {error}");
            (DeliveryOutcome::QueueUnavailable, Ending::Failed)
        }
    };
    Attempt {
        destination: destination.name.clone(),
        outcome,
        retry_count: Some(attempt - 1),
        ending: Some(ending),
        acceptance: true,
        latency_ms: None,
        recorded: false,
    }
}

/// Puts a message on the queue after `delay_seconds`.
pub async fn send(env: &Env, queued: Queued, delay_seconds: u64) -> Result<()> {
    let delay = u32::try_from(delay_seconds).unwrap_or(u32::MAX);
    // V8 serialization keeps the body a byte array (JSON would not).
    let message =
        MessageBuilder::new(queued).delay_seconds(delay).content_type(QueueContentType::V8);
    env.queue(BINDING)?.send(message.build()).await
}

// A queue handler that returns an error takes the isolate down with it:
// every failure is handled per message instead. The messages of a batch are
// independent, so they are delivered concurrently: one slow destination does
// not hold up the others.
#[event(queue)]
async fn consume(batch: MessageBatch<Queued>, env: Env, _ctx: Context) -> Result<()> {
    let config = runtime::config(&env);
    join_all(batch.iter().map(|message| handle(message, &config, &env))).await;
    Ok(())
}

/// One delivery attempt for one message, then its next step.
async fn handle(message: Result<Message<Queued>>, config: &Config, env: &Env) {
    let message = match message {
        Ok(message) => message,
        Err(error) => {
            // Not ours to read: left for the queue's own retries and logged.
            worker::console_error!("queue consumer: undecodable message: {error}");
            return;
        }
    };
    let started_ms = worker::Date::now().as_millis();
    let mut queued = message.body().clone();
    let Some((_, destination)) = config.destination(&queued.destination) else {
        // Its destination left the configuration: kept, never dropped.
        if dead_letters::add(env, &queued, "unknown_destination").await.is_err() {
            message.retry();
        } else {
            message.ack();
        }
        return;
    };
    let attempt = deliver::deliver(&queued.event, destination, config, env).await;
    // A held or in-flight delivery sent nothing: it uses up no retry.
    if !matches!(attempt.outcome, DeliveryOutcome::Held(_) | DeliveryOutcome::InFlight) {
        queued.attempts += 1;
    }
    let next = retry::next_step(&attempt.outcome, queued.attempts.max(1), &config.retry);
    let status = match (&next, &attempt.outcome) {
        (Next::Done, _) => None,
        (Next::Retry(_), DeliveryOutcome::Held(_)) => Some("held"),
        (Next::Retry(_), _) => Some("retrying"),
        (Next::DeadLetter, _) => Some("dead_lettered"),
    };
    let event = &queued.event;
    let logged = Logged {
        event: &event.event,
        call_id: event.call_id.as_deref(),
        request_id: &event.request_id,
        route: &event.route,
    };
    // Settled (and logged, with what happens next) before the retry is
    // queued, so the retry finds the key released. If that fails, the
    // claim's lease still lapses: the retry waits, nothing is lost.
    if let Err(error) = deliver::record(
        env,
        config,
        event,
        &attempt,
        Recorded {
            logged,
            status,
            started_ms,
            done: matches!(next, Next::Done | Next::DeadLetter),
        },
    )
    .await
    {
        worker::console_error!("queue consumer: {error}");
    }
    if let Some(result) =
        crate::selection::result_of(status.unwrap_or_else(|| attempt.outcome.log_status()))
    {
        let results = vec![(queued.destination.clone(), result)];
        if let Err(error) = crate::archive::keep(env, &queued.event, results, started_ms).await {
            worker::console_error!("archive: {error}");
        }
    }
    let handed_on = match next {
        Next::Done => Ok(()),
        Next::Retry(delay_seconds) => send(env, queued.clone(), delay_seconds).await,
        Next::DeadLetter => {
            let added = dead_letters::add(env, &queued, attempt.outcome.name()).await;
            if added.is_ok() {
                let alert = Alert {
                    kind: AlertKind::DeadLettered,
                    route: queued.event.route.clone(),
                    destination: Some(queued.destination.clone()),
                    at_ms: worker::Date::now().as_millis(),
                };
                alerts::raise(env, config, alert, None).await;
            }
            added
        }
    };
    if let Err(error) = handed_on {
        // Could not hand it on: let the queue redeliver this message.
        worker::console_error!("queue consumer: {error}");
        message.retry();
        return;
    }
    message.ack();
}
