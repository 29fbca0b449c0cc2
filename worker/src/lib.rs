//! `threetone-edge`: a Cloudflare Worker in front of your services that
//! verifies ThreeTone webhooks at the edge and delivers only authentic
//! events, once each, to every destination that takes them.
//!
//! | request | answer |
//! | --- | --- |
//! | `POST <route path>` (`/webhooks/threetone` by default) | verify, validate, dedupe, deliver ([`pipeline`]) |
//! | `GET /health` | configured or not, route by route, version |
//! | `GET /logs` (bearer `ADMIN_TOKEN`) | recent deliveries, dead letters, destinations' state |
//! | `GET /destinations` (bearer) | each destination's state |
//! | `POST /destinations/<name>/pause`, `/resume` (bearer) | hold or release a destination's deliveries |
//! | `POST /test` (bearer) | a signed sample event through the same pipeline |
//! | `POST /dead-letters/replay` (bearer) | queue mode: dead letters queued again |
//!
//! The layout: plain modules decide (configuration, routing, admission,
//! outcomes, retries, keys, headers, authentication: `cargo test` covers
//! them); the others run those decisions on the platform (the pipeline, the
//! queue, the Durable Objects, forwarding).

mod admin;
mod admission;
mod alerting;
mod alerts;
mod archive;
mod auth;
mod config;
mod dashboard;
mod dead_letters;
mod deliver;
mod delivery_log;
mod destination;
mod encoding;
mod event;
mod forward;
mod headers;
mod keys;
mod listen;
mod metrics;
mod outcome;
mod pipeline;
mod queue;
mod rate_limit;
mod replay;
mod request_counts;
mod retry;
mod route_log;
mod rpc;
mod runtime;
mod selection;
mod sql;

use std::rc::Rc;

use futures_util::future::join_all;
use serde::Serialize;
use worker::{Context, Date, Env, Method, Request, Response, Result, console_log, event};

// Talc instead of the default dlmalloc: a smaller upload.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub use alerts::AlertStore;
pub use dead_letters::DeadLetterStore;
pub use destination::DestinationStore;
pub use listen::ListenerStore;
pub use rate_limit::FailureCounter;
pub use replay::ReplayStore;
pub use request_counts::RequestCounts;
pub use route_log::RouteLog;

use config::Config;
use deliver::Recorded;
use delivery_log::{LogEntry, Logged};
use outcome::{Outcome, Reply};
use pipeline::Facts;

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
    let config = runtime::config(&env);
    let path = request.path();
    let request_id = request.headers().get("CF-Ray")?.unwrap_or_else(runtime::random_id);

    if path == "/listen" {
        return into_response_or(admin::listen(request, &config, &env).await);
    }
    let (route, (outcome, facts)) = match admin_route(&mut request, &config, &env, &path).await? {
        Admin::Answered(reply) => return into_response(reply, None),
        Admin::Test(inbound, route) => {
            let route = config.route(&route).ok_or("the /test route went away")?;
            (
                route.path.as_str(),
                pipeline::handle(inbound, route, &config, &env, &request_id).await,
            )
        }
        Admin::Elsewhere => match config.route(&path) {
            Some(route) => (
                route.path.as_str(),
                match pipeline::read(&mut request, &config).await {
                    Ok(inbound) => {
                        pipeline::handle(inbound, route, &config, &env, &request_id).await
                    }
                    Err(outcome) => (outcome, Facts::default()),
                },
            ),
            // No route is known when `ROUTES` cannot be read: fail closed,
            // the sender retries once it is fixed.
            None if config.routes_unreadable && request.method() == Method::Post => {
                (UNKNOWN_ROUTE, (Outcome::NotConfigured, Facts::default()))
            }
            None => return into_response(Reply::error(404, "not_found"), None),
        },
    };
    if let Some(report) = request_counts::count(&env, route, outcome.name()) {
        ctx.wait_until(report);
    }

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
    let dashboard = runtime::dashboard_url(&request);
    if config.alerts.is_some() {
        ctx.wait_until(alerts::introduce(env.clone(), Rc::clone(&config), dashboard.clone()));
    }
    record(&ctx, env, &config, &outcome, facts, &request_id, &path, started, dashboard);
    into_response(outcome.reply(), Some(&request_id))
}

/// The route label of requests made while `ROUTES` cannot be read.
const UNKNOWN_ROUTE: &str = "*";

/// What the admin endpoints made of a request.
enum Admin {
    Answered(Reply),
    /// `/test`: a signed sample for this route.
    Test(pipeline::Inbound, String),
    /// Not one of the Worker's own paths.
    Elsewhere,
}

async fn admin_route(
    request: &mut Request,
    config: &Config,
    env: &Env,
    path: &str,
) -> Result<Admin> {
    let method = request.method();
    let answered = match (method, path) {
        (Method::Get, "/health") => admin::health(config),
        (Method::Get, "/dashboard") => dashboard::page(),
        (Method::Get, "/logs") => admin::logs(request, config, env).await?,
        (Method::Get, "/destinations") => admin::destinations(request, config, env).await?,
        (Method::Get, "/metrics") => admin::metrics(request, config, env).await?,
        (Method::Post, "/dead-letters/replay") => {
            admin::replay_dead_letters(request, config, env).await?
        }
        (Method::Post, "/test") => {
            return Ok(match admin::test_event(request, config, env).await? {
                Ok((inbound, route)) => Admin::Test(inbound, route),
                Err(refusal) => Admin::Answered(refusal),
            });
        }
        (Method::Post, "/replay") => admin::replay_archive(request, config, env).await?,
        (Method::Get, _) if path.starts_with("/replay/") => {
            admin::replay_progress(request, config, env, &path["/replay/".len()..]).await?
        }
        (Method::Get, _) if path.starts_with("/archive/") => {
            admin::archived_body(request, config, env, &path["/archive/".len()..]).await?
        }
        (Method::Post, _) if path.starts_with("/destinations/") => {
            let rest = &path["/destinations/".len()..];
            match rest.rsplit_once('/') {
                Some((name, "pause")) => {
                    admin::set_paused(request, config, env, name, true).await?
                }
                Some((name, "resume")) => {
                    admin::set_paused(request, config, env, name, false).await?
                }
                _ => Reply::error(404, "not_found"),
            }
        }
        _ => return Ok(Admin::Elsewhere),
    };
    Ok(Admin::Answered(answered))
}

/// Settles and logs each destination's attempt (or logs a request that
/// reached none), in calls sent before the answer leaves and not awaited:
/// the answer waits for none of them. Each destination's object takes its
/// calls in order, so a redelivery that follows the answer finds its
/// delivery settled. If recording fails, the claim's lease still lapses: at
/// worst a retry is forwarded again, never lost.
#[allow(clippy::too_many_arguments)]
fn record(
    ctx: &Context,
    env: Env,
    config: &Rc<Config>,
    outcome: &Outcome,
    facts: Facts,
    request_id: &str,
    path: &str,
    started_ms: u64,
    dashboard: Option<String>,
) {
    let Facts { event, call_id, authentic, attempts } = facts;
    let route = authentic.as_ref().map_or(path, |authentic| &authentic.route).to_string();
    // Requests that reached no destination are logged when authentic (ignored, rejected).
    let route_entry = outcome.log_status().map(|status| {
        let logged = Logged {
            event: event.as_deref().unwrap_or_default(),
            call_id: call_id.as_deref(),
            request_id,
            route: &route,
        };
        let mut entry =
            LogEntry::new(&logged, status, outcome.status(), started_ms, Date::now().as_millis());
        entry.error = matches!(outcome, Outcome::Rejected(_)).then(|| outcome.name().into());
        entry
    });
    if route_entry.is_none() && attempts.is_empty() {
        return;
    }
    let config = Rc::clone(config);
    ctx.wait_until(async move {
        if let Some(entry) = route_entry {
            let _ = route_log::log(&env, &route, entry).await;
        }
        let Some(authentic) = authentic else { return };
        listen::stream(&env, &authentic, Date::now().as_millis()).await;
        let logged = || Logged {
            event: &authentic.event,
            call_id: authentic.call_id.as_deref(),
            request_id: &authentic.request_id,
            route: &authentic.route,
        };
        let recorded = join_all(attempts.iter().map(|attempt| {
            deliver::record(
                &env,
                &config,
                &authentic,
                attempt,
                Recorded { logged: logged(), status: None, started_ms, done: false },
            )
        }))
        .await;
        let results = attempts
            .iter()
            .filter_map(|attempt| {
                Some((
                    attempt.destination.clone(),
                    selection::result_of(attempt.outcome.log_status())?,
                ))
            })
            .collect();
        if let Err(error) = archive::keep(&env, &authentic, results, Date::now().as_millis()).await
        {
            worker::console_error!("archive: {error}");
        }
        for (attempt, recorded) in attempts.iter().zip(recorded) {
            if let Ok(Some(transition)) = recorded {
                alerts::breaker_changed(
                    &env,
                    &config,
                    &authentic.route,
                    &attempt.destination,
                    transition,
                    dashboard.clone(),
                )
                .await;
            }
        }
    });
}

/// A response, or the reply an admin endpoint gave instead.
fn into_response_or(answer: Result<std::result::Result<Response, Reply>>) -> Result<Response> {
    match answer? {
        Ok(response) => Ok(response),
        Err(reply) => into_response(reply, None),
    }
}

/// Once a day (`[triggers]` in wrangler.toml): the archive drops events
/// older than `ARCHIVE_RETENTION_DAYS`.
#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    let config = runtime::config(&env);
    let now = Date::now().as_millis();
    let before_ms = now.saturating_sub(config.archive_retention_days * 86_400_000);
    match archive::sweep(&env, before_ms).await {
        Ok(deleted) => console_log!("{{\"archive_swept\":{deleted}}}"),
        Err(error) => worker::console_error!("archive sweep: {error}"),
    }
}

/// The runtime's response for a reply, with the request id when there is one.
pub(crate) fn into_response(reply: Reply, request_id: Option<&str>) -> Result<Response> {
    let headers = worker::Headers::new();
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    if let Some(request_id) = request_id {
        headers.set(headers::REQUEST_ID_HEADER, request_id)?;
    }
    Ok(Response::from_bytes(reply.body)?.with_status(reply.status).with_headers(headers))
}
