//! Queue mode (`DELIVERY_MODE=queue`): a verified event is accepted into a
//! Cloudflare Queue and answered 202; the consumer forwards it with
//! ThreeTone's own retry settings, then dead-letters it.
//!
//! Exactly once toward the origin, in both modes: accepting claims the key
//! `accept:<body digest>` (so a redelivered event is not queued twice), and the
//! consumer delivers through [`webhook::forward_once`], which claims the same
//! delivery key as direct mode (so a message the queue hands out twice, or an
//! event already delivered directly, is not forwarded again).
//!
//! The consumer counts attempts in the message itself and re-sends it with the
//! backoff delay, so the schedule is exactly the configured one.

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use worker::{
    Context, Env, Message, MessageBatch, MessageBuilder, MessageExt, QueueContentType, Result,
    event,
};

use crate::config::{Config, RetryPolicy};
use crate::dead_letters;
use crate::delivery_log::Delivery;
use crate::idempotency::{self, Claim, Settlement};
use crate::outcome::Outcome;
use crate::webhook::{self, Attempt, Authentic};

/// The producer binding (see `worker/wrangler.toml`).
const BINDING: &str = "EVENTS";
/// Cloudflare Queues take messages up to 128 KB; larger bodies are delivered
/// directly instead, so nothing is refused for its size.
const MAX_QUEUED_BODY: usize = 120_000;

/// A queued event and the attempts made so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub event: Authentic,
    /// Deliveries attempted from the queue (0 before the first).
    pub attempts: u32,
}

/// Accepts a verified event: queued (202), or already accepted (200).
/// The caller settles the acceptance ([`Attempt::settlement`]).
pub async fn accept(event: Authentic, config: &Config, env: &Env) -> Attempt {
    if event.body.len() > MAX_QUEUED_BODY {
        return webhook::forward_once(&event, config, env).await;
    }
    let key = event.key().accepted().as_str().to_string();
    let ttl_ms = config.idempotency_ttl_seconds * 1000;
    let attempt = match idempotency::claim(env, &key, 30_000, ttl_ms).await {
        Err(_) => return Attempt::unclaimed(Outcome::StoreUnavailable, None),
        Ok(Claim::InFlight) => return Attempt::unclaimed(Outcome::InFlight, None),
        Ok(Claim::Duplicate { attempt }) => {
            return Attempt::unclaimed(Outcome::Duplicate, Some(attempt - 1));
        }
        Ok(Claim::Acquired { attempt }) => attempt,
    };
    let outcome = match send(env, Queued { event, attempts: 0 }, 0).await {
        Ok(()) => Outcome::Queued,
        Err(error) => {
            worker::console_error!("queue unavailable: {error}");
            Outcome::QueueUnavailable
        }
    };
    let delivered = matches!(outcome, Outcome::Queued);
    Attempt {
        outcome,
        retry_count: Some(attempt - 1),
        settlement: Some(Settlement { key, delivered, ttl_ms }),
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

/// What to do with a message after a delivery attempt.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Delivered (or already delivered): done.
    Done,
    /// Try again after this many seconds.
    Retry(u64),
    /// Out of retries, or not worth retrying: dead-letter it.
    DeadLetter,
}

fn next_step(outcome: &Outcome, attempts: u32, retry: &RetryPolicy) -> Next {
    let retryable = match outcome {
        Outcome::Delivered { .. } | Outcome::Duplicate => return Next::Done,
        Outcome::OriginFailed { status } | Outcome::OriginRejected { status, .. } => {
            retry.retry_on_status.contains(status)
        }
        // Another delivery of the same event is under way: check back later.
        Outcome::InFlight => return Next::Retry(retry.delay_seconds(1).max(1)),
        _ => true,
    };
    if retryable && attempts <= retry.max_retries {
        Next::Retry(retry.delay_seconds(attempts))
    } else {
        Next::DeadLetter
    }
}

// A queue handler that returns an error takes the isolate down with it:
// every failure is handled per message instead. The messages of a batch are
// independent, so they are delivered concurrently: one slow origin answer does
// not hold up the others.
#[event(queue)]
async fn consume(batch: MessageBatch<Queued>, env: Env, _ctx: Context) -> Result<()> {
    let config = Config::parse(&env);
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
    let started = worker::Date::now().as_millis();
    let mut queued = message.body().clone();
    queued.attempts += 1;
    let key = queued.event.key();
    let key = key.as_str();
    let Attempt { outcome, settlement, .. } =
        webhook::forward_once(&queued.event, config, env).await;
    if settlement.is_some() {
        // Settled before the retry is scheduled, so the retry finds the key released.
        let _ = idempotency::record(env, key, settlement, None).await;
    }
    let next = next_step(&outcome, queued.attempts, &config.retry);
    let recorded = match next {
        Next::Done => Ok(()),
        Next::Retry(delay) => send(env, queued.clone(), delay).await,
        Next::DeadLetter => dead_letters::add(env, &queued, outcome.name()).await,
    };
    if let Err(error) = recorded {
        // Could not hand it on: let the queue redeliver this message.
        worker::console_error!("queue consumer: {error}");
        message.retry();
        return;
    }
    let status = match next {
        Next::Done => "success",
        Next::Retry(_) => "retrying",
        Next::DeadLetter => "dead_lettered",
    };
    let event = &queued.event;
    let delivery = Delivery::new(
        started,
        &event.event,
        event.call_id.as_deref(),
        &event.request_id,
        status,
        outcome.status(),
    )
    .with_retry_count(Some(queued.attempts - 1))
    .with_error((next != Next::Done).then(|| outcome.name().into()))
    .with_origin_status(outcome.origin_status());
    let _ = idempotency::record(env, key, None, Some(delivery)).await;
    message.ack();
}
