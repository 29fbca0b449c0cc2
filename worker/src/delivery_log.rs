//! Delivery logs: the most recent outcomes of authentic requests, in the shape
//! of ThreeTone's own delivery logs (`timestamp`, `event`, `status`,
//! `response_code`, `delivery_time_ms`, `retry_count`, `error`), kept in one
//! Durable Object. Never a body or a secret.

use std::cell::Cell;

use serde::{Deserialize, Serialize};
use threetone_webhooks::Timestamp;
use worker::{
    Date, DurableObject, Env, ListOptions, Request, Response, Result, State, durable_object,
};

use crate::rpc;

const BINDING: &str = "DELIVERIES";
const NAME: &str = "recent";
const PREFIX: &str = "d:";
const LAST: &str = "last";
/// How many deliveries are kept.
pub const CAPACITY: usize = 100;

/// One delivery, as `/logs` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// When the edge answered (RFC 3339).
    pub timestamp: String,
    /// Event type.
    pub event: String,
    /// `success`, `failed`, `duplicate`, `ignored`, `rejected`, `queued`,
    /// `retrying` or `dead_lettered`.
    pub status: String,
    /// Status the edge answered with.
    pub response_code: u16,
    /// Time spent at the edge.
    pub delivery_time_ms: u64,
    /// Earlier deliveries of the same event seen by the edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<u32>,
    /// What went wrong, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Status the origin answered with, when it was reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_status: Option<u16>,
    /// The call the event concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The edge's request id (also sent to the origin as `X-Request-Id`).
    pub request_id: String,
}

impl Delivery {
    /// A delivery answered `response_code`, started at `started_ms` (ms since epoch).
    pub fn new(
        started_ms: u64,
        event: &str,
        call_id: Option<&str>,
        request_id: &str,
        status: &str,
        response_code: u16,
    ) -> Self {
        let now = Date::now().as_millis();
        Self {
            timestamp: Timestamp::from_unix_seconds((now / 1000) as i64)
                .map(|timestamp| timestamp.to_string())
                .unwrap_or_default(),
            event: event.into(),
            status: status.into(),
            response_code,
            delivery_time_ms: now.saturating_sub(started_ms),
            retry_count: None,
            error: None,
            origin_status: None,
            call_id: call_id.map(String::from),
            request_id: request_id.into(),
        }
    }

    /// With the number of earlier deliveries of the same event.
    pub fn with_retry_count(self, retry_count: Option<u32>) -> Self {
        Self { retry_count, ..self }
    }

    /// With what went wrong.
    pub fn with_error(self, error: Option<String>) -> Self {
        Self { error, ..self }
    }

    /// With the origin's status, when it was reached.
    pub fn with_origin_status(self, origin_status: Option<u16>) -> Self {
        Self { origin_status, ..self }
    }
}

/// Appends a delivery.
pub async fn append(env: &Env, delivery: &Delivery) -> Result<()> {
    rpc::call(env, BINDING, NAME, "append", delivery).await
}

/// The recent deliveries, newest first.
pub async fn recent(env: &Env) -> Result<Vec<Delivery>> {
    rpc::call(env, BINDING, NAME, "list", &()).await
}

/// The most recent deliveries: one storage key per entry (`d:<sequence>`), so
/// an append writes one small entry and drops the one that fell off the end.
#[durable_object(fetch)]
pub struct DeliveryLog {
    state: State,
    /// The last sequence number written, once read from storage.
    last: Cell<Option<u64>>,
}

impl DurableObject for DeliveryLog {
    fn new(state: State, _env: Env) -> Self {
        Self { state, last: Cell::new(None) }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let storage = self.state.storage();
        match request.path().as_str() {
            "/list" => {
                let options = ListOptions::new().prefix(PREFIX).reverse(true).limit(CAPACITY);
                let entries: Vec<serde_json::Value> = storage
                    .list_with_options(options)
                    .await?
                    .values()
                    .into_iter()
                    .filter_map(|entry| entry.ok()?.as_string())
                    .filter_map(|text| serde_json::from_str(&text).ok())
                    .collect();
                Response::from_json(&entries)
            }
            "/append" => {
                let delivery: Delivery = request.json().await?;
                let last = match self.last.get() {
                    Some(last) => last,
                    None => storage.get::<u64>(LAST).await?.unwrap_or(0),
                };
                let next = last + 1;
                self.last.set(Some(next));
                storage.put(&key(next), serde_json::to_string(&delivery)?).await?;
                storage.put(LAST, next).await?;
                if let Some(expired) = next.checked_sub(CAPACITY as u64) {
                    storage.delete(&key(expired)).await?;
                }
                Response::from_json(&())
            }
            other => rpc::unknown_action(other),
        }
    }
}

/// Keys sort by sequence: zero-padded.
fn key(sequence: u64) -> String {
    format!("{PREFIX}{sequence:020}")
}
