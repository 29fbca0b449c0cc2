//! `threetone-edge`: a Cloudflare Worker in front of your endpoint that
//! verifies ThreeTone webhooks at the edge and forwards only authentic events,
//! once each, to `ORIGIN_URL`.
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /webhooks/threetone` | verify, validate, dedupe, forward ([`webhook`]) |
//! | `GET /health` | configured or not, version |
//! | `GET /logs` (bearer `ADMIN_TOKEN`) | recent deliveries |
//! | `POST /test` (bearer `ADMIN_TOKEN`) | a signed sample event through the same pipeline |
//! | `POST /dead-letters/replay` (bearer `ADMIN_TOKEN`) | queue mode: dead letters queued again |
//!
//! With `DELIVERY_MODE=queue`, events are accepted (202) and delivered by the
//! queue consumer ([`queue`]) with ThreeTone's retry settings.

mod admin;
mod auth;
mod config;
mod dead_letters;
mod delivery_log;
mod forward;
mod headers;
mod idempotency;
mod keys;
mod outcome;
mod queue;
mod rate_limit;
mod rpc;
mod runtime;
mod webhook;

use serde::Serialize;
use worker::{Context, Date, Env, Method, Request, Response, Result, console_log, event};

// Talc instead of the default dlmalloc: a smaller upload.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub use dead_letters::DeadLetterStore;
pub use idempotency::IdempotencyStore;
pub use rate_limit::FailureCounter;

use config::Config;
use delivery_log::Delivery;
use outcome::Answer;
use webhook::Facts;

/// The Worker's own log line for one request.
#[derive(Serialize)]
struct LogLine<'a> {
    request_id: &'a str,
    path: &'a str,
    event: Option<&'a str>,
    call_id: Option<&'a str>,
    outcome: &'static str,
    status: u16,
    origin_status: Option<u16>,
    latency_ms: u64,
}

#[event(fetch)]
async fn fetch(mut request: Request, env: Env, ctx: Context) -> Result<Response> {
    let started = Date::now().as_millis();
    let config = Config::parse(&env);
    let path = request.path();
    let request_id = request.headers().get("CF-Ray")?.unwrap_or_else(admin::random_id);

    let (outcome, facts) = if path == config.webhook_path {
        match webhook::read(&mut request, &config).await {
            Ok(inbound) => webhook::deliver(inbound, &config, &env, &request_id).await,
            Err(outcome) => (outcome, Facts::default()),
        }
    } else {
        match (request.method(), path.as_str()) {
            (Method::Get, "/health") => return admin::health(&config),
            (Method::Get, "/logs") => return admin::logs(&request, &config, &env).await,
            (Method::Post, "/dead-letters/replay") => {
                return admin::replay(&mut request, &config, &env).await;
            }
            (Method::Post, "/test") => {
                match admin::test_event(&mut request, &config, &env).await? {
                    Ok(inbound) => webhook::deliver(inbound, &config, &env, &request_id).await,
                    Err(refusal) => return Ok(refusal),
                }
            }
            _ => return Answer::error("not_found").into_response(404),
        }
    };

    let latency_ms = Date::now().as_millis().saturating_sub(started);
    // One JSON line per request: never the body, a header value or a secret.
    let line = LogLine {
        request_id: &request_id,
        path: &path,
        event: facts.event.as_deref().map(delivery_log::clip),
        call_id: facts.call_id.as_deref().map(delivery_log::clip),
        outcome: outcome.name(),
        status: outcome.status(),
        origin_status: outcome.origin_status(),
        latency_ms,
    };
    console_log!("{}", serde_json::to_string(&line)?);
    let delivery = outcome.delivery_status().map(|status| {
        Delivery::new(
            started,
            facts.event.as_deref().unwrap_or_default(),
            facts.call_id.as_deref(),
            &request_id,
            status,
            outcome.status(),
        )
        .with_retry_count(facts.retry_count)
        .with_error((status == "failed" || status == "rejected").then(|| outcome.name().into()))
        .with_origin_status(outcome.origin_status())
    });
    if let Some(key) = facts.key
        && (facts.settlement.is_some() || delivery.is_some())
    {
        // Sent before the answer leaves, and not awaited: the answer waits for
        // neither the settlement nor the log. If recording fails, the claim's
        // lease still expires: at worst a retry is forwarded again, never lost.
        let settlement = facts.settlement;
        ctx.wait_until(async move {
            let _ = idempotency::record(&env, key.as_str(), settlement, delivery).await;
        });
    }
    outcome.into_response(&request_id)
}
