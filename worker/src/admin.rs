//! `/health` (public), `/logs` and `/test` (bearer `ADMIN_TOKEN`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use subtle::ConstantTimeEq;
use threetone_webhooks::{EventType, Timestamp, sample_event};
use worker::{Date, Env, Request, Response, Result, js_sys};

use crate::config::{Config, Problem};
use crate::dead_letters::Summary;
use crate::outcome::Answer;
use crate::webhook::Inbound;
use crate::{dead_letters, delivery_log, queue};

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
    if let Some(refusal) = refuse(request, config)? {
        return Ok(refusal);
    }
    Response::from_json(&Logs {
        webhook_id: "threetone-edge",
        recent_deliveries: delivery_log::recent(env).await?,
        dead_letters: dead_letters::list(env).await?,
    })
}

#[derive(Deserialize)]
struct ReplayRequest {
    ids: Option<Vec<String>>,
}

/// Queues dead letters again (all, or those named by `ids`), attempts reset.
pub async fn replay(request: &mut Request, config: &Config, env: &Env) -> Result<Response> {
    if let Some(refusal) = refuse(request, config)? {
        return Ok(refusal);
    }
    let text = request.text().await.unwrap_or_default();
    let ids = serde_json::from_str::<ReplayRequest>(&text).ok().and_then(|replay| replay.ids);
    let mut replayed = 0;
    for mut queued in dead_letters::take(env, ids).await? {
        queued.attempts = 0;
        if queue::send(env, queued.clone(), 0).await.is_ok() {
            replayed += 1;
        } else {
            // Never lose it: back to the dead letters.
            dead_letters::add(env, &queued, "replay_failed").await?;
        }
    }
    #[derive(Serialize)]
    struct Replayed {
        replayed: usize,
    }
    Response::from_json(&Replayed { replayed })
}

#[derive(Deserialize)]
struct TestRequest {
    event_type: String,
}

/// Parses a `/test` request into a signed sample event, ready for the pipeline.
pub async fn test_event(
    request: &mut Request,
    config: &Config,
) -> Result<std::result::Result<Inbound, Response>> {
    if let Some(refusal) = refuse(request, config)? {
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
    }))
}

/// `None` if the request carries the admin token; else the answer to give.
fn refuse(request: &Request, config: &Config) -> Result<Option<Response>> {
    let Some(token) = &config.admin_token else {
        return Ok(Some(Answer::error("admin_disabled").into_response(403)?));
    };
    let presented = request.headers().get("Authorization")?.unwrap_or_default();
    let presented = presented.strip_prefix("Bearer ").unwrap_or_default().trim();
    if bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
        return Ok(None);
    }
    let mut response = Answer::error("unauthorized").into_response(401)?;
    response.headers_mut().set("WWW-Authenticate", "Bearer")?;
    Ok(Some(response))
}

/// 16 hex digits, for request ids and sample ids.
pub fn random_id() -> String {
    let high = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    let low = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    format!("{high:08x}{low:08x}")
}
