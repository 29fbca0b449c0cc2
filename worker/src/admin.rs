//! `/health` (public), `/logs` and `/test` (bearer `ADMIN_TOKEN`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use threetone_webhooks::{EventType, Timestamp, sample_event};
use worker::{Date, Env, Request, Response, Result, js_sys};

use crate::config::{Config, Problem};
use crate::dead_letters::Summary;
use crate::outcome::{Answer, Outcome};
use crate::rate_limit::Limit;
use crate::webhook::Inbound;
use crate::{auth, dead_letters, delivery_log, keys, queue, rate_limit};

/// Version reported by `/health`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The body of `/health`.
#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    version: &'static str,
    webhook_path: &'a str,
    delivery_mode: &'static str,
    secrets: usize,
    origin_signing: bool,
    admin: bool,
    problems: &'a [Problem],
}

/// The body of `/logs`.
#[derive(Serialize)]
struct Logs {
    webhook_id: &'static str,
    recent_deliveries: Vec<Box<RawValue>>,
    dead_letters: Vec<Summary>,
}

/// Whether the Worker can forward, which variables are wrong (names only), version.
pub fn health(config: &Config) -> Result<Response> {
    let body = Health {
        status: if config.is_ready() { "ok" } else { "not_configured" },
        version: VERSION,
        webhook_path: &config.webhook_path,
        delivery_mode: config.delivery_mode.name(),
        secrets: config.verifier.as_ref().map_or(0, |verifier| verifier.secret_count()),
        origin_signing: config.origin_signer.is_some(),
        admin: config.admin_token.is_some(),
        problems: &config.problems,
    };
    Ok(Response::from_json(&body)?.with_status(if config.is_ready() { 200 } else { 503 }))
}

/// The recent deliveries, in ThreeTone's delivery-log shape.
pub async fn logs(request: &Request, config: &Config, env: &Env) -> Result<Response> {
    if let Some(refusal) = refuse(request, config, env).await? {
        return Ok(refusal);
    }
    Response::from_json(&Logs {
        webhook_id: "threetone-edge",
        recent_deliveries: delivery_log::recent(env).await?,
        dead_letters: dead_letters::list(env).await?,
    })
}

/// The body of `/dead-letters/replay`: `{}` for every letter, or the ids.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    ids: Option<Vec<String>>,
}

/// Queues dead letters again (all, or those named by `ids`), attempts
/// reset. A letter leaves the store only once the queue has taken it.
pub async fn replay(request: &mut Request, config: &Config, env: &Env) -> Result<Response> {
    if let Some(refusal) = refuse(request, config, env).await? {
        return Ok(refusal);
    }
    let text = request.text().await.unwrap_or_default();
    let ids = match serde_json::from_str::<ReplayRequest>(&text) {
        Ok(ReplayRequest { ids: Some(ids) }) => ids,
        Ok(ReplayRequest { ids: None }) => {
            dead_letters::list(env).await?.into_iter().map(|letter| letter.id).collect()
        }
        Err(_) => {
            let answer = Answer {
                message: Some(
                    "expected {} (replay every dead letter) or {\"ids\": [\"<id>\", ...]}".into(),
                ),
                ..Answer::error("invalid_request")
            };
            return answer.into_response(400);
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
    Response::from_json(&replayed)
}

#[derive(Deserialize)]
struct TestRequest {
    event_type: String,
}

/// Parses a `/test` request into a signed sample event, ready for the pipeline.
pub async fn test_event(
    request: &mut Request,
    config: &Config,
    env: &Env,
) -> Result<std::result::Result<Inbound, Response>> {
    if let Some(refusal) = refuse(request, config, env).await? {
        return Ok(Err(refusal));
    }
    let text = request.text().await.unwrap_or_default();
    let Some(event_type) = serde_json::from_str::<TestRequest>(&text)
        .ok()
        .and_then(|test| EventType::from_name(&test.event_type))
    else {
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
        let body =
            UnknownEventType { error: "unknown_event_type", expected: Expected { event_type } };
        return Ok(Err(Response::from_json(&body)?.with_status(400)));
    };
    let Some(verifier) = &config.verifier else {
        return Ok(Err(Answer::error("not_configured").into_response(503)?));
    };
    let now = (Date::now().as_millis() / 1000) as i64;
    let timestamp = Timestamp::from_unix_seconds(now).ok_or("clock out of range")?;
    let body = sample_event(event_type, &timestamp, &random_id()).into_bytes();
    let signature = verifier.sign(&body);
    Ok(Ok(Inbound {
        body,
        signature,
        content_type: "application/json".into(),
        client: "admin".into(),
        test: true,
    }))
}

/// `None` if the request carries the admin token; else the answer to give.
///
/// Failed attempts are counted per client address (as failed webhook
/// verifications are, in a budget of their own): past the limit the address
/// gets 429, even with the right token, until its window ends.
async fn refuse(request: &Request, config: &Config, env: &Env) -> Result<Option<Response>> {
    let Some(token) = &config.admin_token else {
        return Ok(Some(Answer::error("admin_disabled").into_response(403)?));
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
            let mut response = Answer::error("unauthorized").into_response(401)?;
            response.headers_mut().set("WWW-Authenticate", "Bearer")?;
            return Ok(Some(response));
        }
        verdict
    };
    if verdict.limited {
        let outcome = Outcome::RateLimited { retry_after_seconds: verdict.retry_after_seconds };
        return Ok(Some(outcome.into_response("")?));
    }
    Ok(None)
}

/// 16 hex digits, for request ids and sample ids.
pub fn random_id() -> String {
    let high = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    let low = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    format!("{high:08x}{low:08x}")
}
