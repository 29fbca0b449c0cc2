//! The Worker's own endpoints: `/health` (public); `/logs`, `/test`,
//! `/destinations`, `/destinations/<name>/pause` and `/resume`,
//! `/dead-letters/replay` (bearer `ADMIN_TOKEN`).

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use threetone_webhooks::{EventType, Timestamp, sample_event};
use worker::{Date, Env, Request, Response, Result};

use crate::alerting::{Alert, AlertKind};
use crate::config::{Config, Problem};
use crate::dead_letters::Summary;
use crate::metrics::{self, DestinationMetrics, Snapshot};
use crate::outcome::{Answer, Outcome, Reply};
use crate::pipeline::Inbound;
use crate::rate_limit::Limit;
use crate::runtime::{self, random_id};
use crate::selection::ReplayRequest;
use crate::{
    alerts, archive, auth, dead_letters, delivery_log, destination, keys, listen, queue,
    rate_limit, replay, request_counts, route_log,
};

/// Version reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The body of `/health`: the configuration, never a secret and never live state.
#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    version: &'static str,
    delivery_mode: &'static str,
    routes: Vec<RouteHealth<'a>>,
    admin: bool,
    problems: &'a [Problem],
}

#[derive(Serialize)]
struct RouteHealth<'a> {
    path: &'a str,
    usable: bool,
    secrets: usize,
    events: Option<&'a [String]>,
    destinations: Vec<DestinationHealth<'a>>,
}

#[derive(Serialize)]
struct DestinationHealth<'a> {
    name: &'a str,
    events: Option<&'a [String]>,
    signing: bool,
    timeout_ms: u64,
    max_per_second: Option<u32>,
    max_in_flight: Option<u32>,
}

/// Whether the Worker can forward, route by route, and what is wrong (names
/// and JSON paths only). 503 when no route can forward.
pub fn health(config: &Config) -> Reply {
    let routes: Vec<RouteHealth<'_>> = config
        .routes
        .iter()
        .map(|route| RouteHealth {
            path: &route.path,
            usable: config.is_usable(route),
            secrets: route.verifier.as_ref().map_or(0, |verifier| verifier.secret_count()),
            events: route.events.as_deref(),
            destinations: route
                .destinations
                .iter()
                .map(|destination| DestinationHealth {
                    name: &destination.name,
                    events: destination.events.as_deref(),
                    signing: destination.signer.is_some(),
                    timeout_ms: destination.timeout_ms,
                    max_per_second: destination.limits.max_per_second,
                    max_in_flight: destination.limits.max_in_flight,
                })
                .collect(),
        })
        .collect();
    let usable = routes.iter().filter(|route| route.usable).count();
    let status = match usable {
        0 => "not_configured",
        _ if usable < routes.len() => "degraded",
        _ => "ok",
    };
    let body = Health {
        status,
        version: VERSION,
        delivery_mode: config.delivery_mode.name(),
        routes,
        admin: config.admin_token.is_some(),
        problems: &config.problems,
    };
    Reply::json(if usable == 0 { 503 } else { 200 }, &body)
}

/// A destination's live state and figures, as the admin endpoints show it.
#[derive(Serialize)]
struct DestinationState<'a> {
    route: &'a str,
    #[serde(flatten)]
    metrics: DestinationMetrics,
    success_rate: Option<f64>,
    p50_ms: Option<u64>,
    p95_ms: Option<u64>,
    /// Its object did not answer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    unavailable: bool,
}

/// Every destination's live state (one call to each one's object, at once).
async fn destination_states<'a>(
    config: &'a Config,
    env: &Env,
) -> Result<Vec<DestinationState<'a>>> {
    let destinations: Vec<_> = config
        .routes
        .iter()
        .flat_map(|route| route.destinations.iter().map(move |destination| (route, destination)))
        .collect();
    let dead_letters = dead_letters::counts(env).await?;
    Ok(join_all(destinations.into_iter().map(|(route, destination)| {
        let dead_letters =
            dead_letters.iter().find(|(name, _)| *name == destination.name).map_or(0, |(_, n)| *n);
        async move {
            let fetched = destination::metrics(env, &destination.name).await;
            let unavailable = fetched.is_err();
            let metrics = DestinationMetrics {
                name: destination.name.clone(),
                dead_letters,
                ..fetched.unwrap_or_default()
            };
            DestinationState {
                route: &route.path,
                success_rate: metrics.success_rate(),
                p50_ms: metrics.latency.quantile_ms(0.5),
                p95_ms: metrics.latency.quantile_ms(0.95),
                metrics,
                unavailable,
            }
        }
    }))
    .await)
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn metrics(request: &Request, config: &Config, env: &Env) -> Result<Reply> {
    if let Some(refusal) = refuse(request, config, env).await? {
        return Ok(refusal);
    }
    let snapshot = Snapshot {
        version: VERSION.into(),
        requests: request_counts::totals(env).await?,
        destinations: destination_states(config, env)
            .await?
            .into_iter()
            .map(|state| state.metrics)
            .collect(),
    };
    Ok(Reply {
        status: 200,
        headers: vec![("Content-Type", "text/plain; version=0.0.4; charset=utf-8".into())],
        body: metrics::render(&snapshot).into_bytes(),
    })
}

/// The body of `/logs`.
#[derive(Serialize)]
struct Logs<'a> {
    webhook_id: &'static str,
    recent_deliveries: Vec<Box<RawValue>>,
    dead_letters: Vec<Summary>,
    destinations: Vec<DestinationState<'a>>,
}

/// The recent deliveries of every destination and route, in ThreeTone's
/// delivery-log shape, the dead letters and each destination's state.
pub async fn logs(request: &Request, config: &Config, env: &Env) -> Result<Reply> {
    if let Some(refusal) = refuse(request, config, env).await? {
        return Ok(refusal);
    }
    // One object after another: an admin request, where the few
    // milliseconds of each call cost less than the joining machinery costs
    // the upload.
    let mut kept = Vec::new();
    for destination in config.destinations() {
        kept.extend(destination::logs(env, &destination.name).await?);
    }
    for route in &config.routes {
        kept.extend(route_log::logs(env, &route.path).await?);
    }
    Ok(Reply::json(
        200,
        &Logs {
            webhook_id: "threetone-edge",
            recent_deliveries: delivery_log::newest(kept),
            dead_letters: dead_letters::list(env).await?,
            destinations: destination_states(config, env).await?,
        },
    ))
}

/// `GET /destinations`: each destination's live state.
pub async fn destinations(request: &Request, config: &Config, env: &Env) -> Result<Reply> {
    if let Some(refusal) = refuse(request, config, env).await? {
        return Ok(refusal);
    }
    #[derive(Serialize)]
    struct Destinations<'a> {
        destinations: Vec<DestinationState<'a>>,
    }
    Ok(Reply::json(200, &Destinations { destinations: destination_states(config, env).await? }))
}

/// `POST /destinations/<name>/pause` or `/resume`: while paused, nothing is
/// sent to the destination; direct mode answers 503 (ThreeTone retries),
/// queue mode holds its deliveries; resuming lets them through, once each.
pub async fn set_paused(
    request: &Request,
    config: &Config,
    env: &Env,
    name: &str,
    paused: bool,
) -> Result<Reply> {
    if let Some(refusal) = refuse(request, config, env).await? {
        return Ok(refusal);
    }
    if config.destination(name).is_none() {
        return Ok(Reply::error(404, "unknown_destination"));
    }
    let changed = destination::set_paused(env, name, paused).await?;
    if changed && let Some((route, _)) = config.destination(name) {
        let kind =
            if paused { AlertKind::DestinationPaused } else { AlertKind::DestinationResumed };
        let alert = Alert {
            kind,
            route: route.path.clone(),
            destination: Some(name.into()),
            at_ms: Date::now().as_millis(),
        };
        let dashboard = runtime::dashboard_url(request);
        alerts::raise(env, config, alert, dashboard).await;
    }
    #[derive(Serialize)]
    struct Paused<'a> {
        destination: &'a str,
        paused: bool,
        changed: bool,
    }
    Ok(Reply::json(200, &Paused { destination: name, paused, changed }))
}

/// The body of `/dead-letters/replay`: `{}` for every letter, or the ids.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadLetterReplay {
    ids: Option<Vec<String>>,
}

/// Queues dead letters again (all, or those named by `ids`), attempts
/// reset. A letter leaves the store only once the queue has taken it.
pub async fn replay_dead_letters(
    request: &mut Request,
    config: &Config,
    env: &Env,
) -> Result<Reply> {
    if let Some(refusal) = refuse(request, config, env).await? {
        return Ok(refusal);
    }
    let text = request.text().await.unwrap_or_default();
    let ids = match serde_json::from_str::<DeadLetterReplay>(&text) {
        Ok(DeadLetterReplay { ids: Some(ids) }) => ids,
        Ok(DeadLetterReplay { ids: None }) => {
            dead_letters::list(env).await?.into_iter().map(|letter| letter.id).collect()
        }
        Err(_) => {
            let answer = Answer {
                message: Some(
                    "expected {} (replay every dead letter) or {\"ids\": [\"<id>\", ...]}".into(),
                ),
                ..Answer::error("invalid_request")
            };
            return Ok(Reply::json(400, &answer));
        }
    };
    #[derive(Serialize, Default)]
    struct Replayed {
        replayed: usize,
        /// Still dead letters: the queue did not take them.
        failed: usize,
        /// Not (or no longer) among the dead letters.
        not_found: usize,
    }
    let mut replayed = Replayed::default();
    for id in ids {
        let Some(mut queued) = dead_letters::get(env, &id).await? else {
            replayed.not_found += 1;
            continue;
        };
        queued.attempts = 0;
        if queue::send(env, queued, 0).await.is_ok() {
            dead_letters::delete(env, &id).await?;
            replayed.replayed += 1;
        } else {
            replayed.failed += 1;
        }
    }
    Ok(Reply::json(200, &replayed))
}

/// `GET /listen`: a WebSocket streaming every verified event (see [`listen`]).
pub async fn listen(
    request: Request,
    config: &Config,
    env: &Env,
) -> Result<std::result::Result<Response, Reply>> {
    if let Some(refusal) = refuse(&request, config, env).await? {
        return Ok(Err(refusal));
    }
    let upgrade = request.headers().get("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        let mut reply = Reply::error(426, "websocket_required");
        reply.headers.push(("Upgrade", "websocket".into()));
        return Ok(Err(reply));
    }
    Ok(Ok(listen::connect(request, env).await?))
}

/// [`refuse`], or 501 when the Worker has no archive.
async fn refuse_without_archive(
    request: &Request,
    config: &Config,
    env: &Env,
) -> Result<Option<Reply>> {
    if let Some(refusal) = refuse(request, config, env).await? {
        return Ok(Some(refusal));
    }
    if archive::is_bound(env) {
        return Ok(None);
    }
    let answer = Answer {
        message: Some(
            "bind an R2 bucket as ARCHIVE (see wrangler.toml) to keep events and replay them"
                .into(),
        ),
        ..Answer::error("archive_not_configured")
    };
    Ok(Some(Reply::json(501, &answer)))
}

/// `POST /replay`: counts the archived events a selection covers
/// (`dry_run`, the default), or sends them again (202, with the replay's
/// progress, also at `GET /replay/<id>`).
pub async fn replay_archive(request: &mut Request, config: &Config, env: &Env) -> Result<Reply> {
    if let Some(refusal) = refuse_without_archive(request, config, env).await? {
        return Ok(refusal);
    }
    let text = request.text().await.unwrap_or_default();
    let asked =
        serde_json::from_str::<ReplayRequest>(if text.trim().is_empty() { "{}" } else { &text })
            .map_err(|error| error.to_string())
            .and_then(|asked| {
                Ok((asked.selection(Date::now().as_millis())?, asked.dry_run.unwrap_or(true)))
            });
    let (selection, dry_run) = match asked {
        Ok(asked) => asked,
        Err(message) => {
            return Ok(Reply::json(
                400,
                &Answer { message: Some(message), ..Answer::error("invalid_request") },
            ));
        }
    };
    let selected = archive::select(env, &selection).await?.unwrap_or_default();
    let items: Vec<(String, Vec<String>)> = selected
        .into_iter()
        .map(|(key, facts)| {
            let destinations = selection.destinations_of(&key, &facts);
            (key, destinations)
        })
        .collect();
    if dry_run {
        #[derive(Serialize)]
        struct Count {
            dry_run: bool,
            events: usize,
            deliveries: usize,
            capped: bool,
        }
        let deliveries = items.iter().map(|(_, destinations)| destinations.len()).sum();
        let capped = items.len() >= archive::MAX_SELECTED;
        return Ok(Reply::json(200, &Count { dry_run, events: items.len(), deliveries, capped }));
    }
    let id = random_id();
    let progress = replay::start(env, id.clone(), items).await?;
    let mut reply = Reply::json(202, &progress);
    reply.headers.push(("Location", format!("/replay/{id}")));
    Ok(reply)
}

/// `GET /replay/<id>`: a replay's progress.
pub async fn replay_progress(
    request: &Request,
    config: &Config,
    env: &Env,
    id: &str,
) -> Result<Reply> {
    if let Some(refusal) = refuse_without_archive(request, config, env).await? {
        return Ok(refusal);
    }
    Ok(match replay::progress(env, id).await? {
        Some(progress) => Reply::json(200, &progress),
        None => Reply::error(404, "unknown_replay"),
    })
}

/// `GET /archive/<key>`: an archived event's exact body, for the dashboard.
pub async fn archived_body(
    request: &Request,
    config: &Config,
    env: &Env,
    key: &str,
) -> Result<Reply> {
    if let Some(refusal) = refuse_without_archive(request, config, env).await? {
        return Ok(refusal);
    }
    Ok(match archive::fetch(env, key).await? {
        Some((body, facts)) => {
            Reply { status: 200, headers: vec![("Content-Type", facts.content_type)], body }
        }
        None => Reply::error(404, "not_archived"),
    })
}

/// The body of `/test`: an event type, and the route (the first by default).
#[derive(Deserialize)]
struct TestRequest {
    event_type: String,
    route: Option<String>,
}

/// Parses a `/test` request into a signed sample event for a route, ready
/// for the pipeline.
pub async fn test_event(
    request: &mut Request,
    config: &Config,
    env: &Env,
) -> Result<std::result::Result<(Inbound, String), Reply>> {
    if let Some(refusal) = refuse(request, config, env).await? {
        return Ok(Err(refusal));
    }
    let text = request.text().await.unwrap_or_default();
    let Ok(test) = serde_json::from_str::<TestRequest>(&text) else {
        return Ok(Err(unknown_event_type()));
    };
    let Some(event_type) = EventType::from_name(&test.event_type) else {
        return Ok(Err(unknown_event_type()));
    };
    let route = match &test.route {
        Some(path) => config.route(path),
        None => config.routes.first(),
    };
    let Some(route) = route else {
        return Ok(Err(Reply::error(404, "unknown_route")));
    };
    let Some(verifier) = &route.verifier else {
        return Ok(Err(Outcome::NotConfigured.reply()));
    };
    let now = (Date::now().as_millis() / 1000) as i64;
    let timestamp = Timestamp::from_unix_seconds(now).ok_or("clock out of range")?;
    let body = sample_event(event_type, &timestamp, &random_id()).into_bytes();
    let signature = verifier.sign(&body);
    let inbound = Inbound {
        body,
        signature,
        content_type: "application/json".into(),
        client: "admin".into(),
        test: true,
    };
    Ok(Ok((inbound, route.path.clone())))
}

/// 400, with the event types `/test` knows.
fn unknown_event_type() -> Reply {
    #[derive(Serialize)]
    struct UnknownEventType {
        error: &'static str,
        expected: Expected,
    }
    #[derive(Serialize)]
    struct Expected {
        event_type: Vec<&'static str>,
    }
    let event_type = EventType::ALL.iter().map(|event_type| event_type.as_str()).collect();
    Reply::json(
        400,
        &UnknownEventType { error: "unknown_event_type", expected: Expected { event_type } },
    )
}

/// `None` if the request carries the admin token; else the answer to give.
///
/// Failed attempts are counted per client address (as failed webhook
/// verifications are, in a budget of their own): past the limit the address
/// gets 429, even with the right token, until its window ends.
async fn refuse(request: &Request, config: &Config, env: &Env) -> Result<Option<Reply>> {
    let Some(token) = &config.admin_token else {
        return Ok(Some(Reply::error(403, "admin_disabled")));
    };
    let header = request.headers().get("Authorization")?.unwrap_or_default();
    let client = request.headers().get("CF-Connecting-IP")?.unwrap_or_default();
    let budget = format!("admin:{}", keys::client_key(&client));
    let limit = Limit::of(config);
    let verdict = if auth::bearer_matches(&header, token) {
        rate_limit::peek(env, &budget, limit).await?
    } else {
        let verdict = rate_limit::record_failure(env, &budget, limit).await?;
        if !verdict.limited {
            let mut refusal = Reply::error(401, "unauthorized");
            refusal.headers.push(("WWW-Authenticate", "Bearer".into()));
            return Ok(Some(refusal));
        }
        verdict
    };
    if verdict.limited {
        return Ok(Some(
            Outcome::RateLimited { retry_after_seconds: verdict.retry_after_seconds }.reply(),
        ));
    }
    Ok(None)
}
