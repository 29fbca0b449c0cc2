//! Delivery logs: the most recent outcomes of authentic requests, in the shape
//! of ThreeTone's own delivery logs (`timestamp`, `event`, `status`,
//! `response_code`, `delivery_time_ms`, `retry_count`, `error`), kept in one
//! Durable Object. Never a body or a secret.

use serde::{Deserialize, Serialize};
use worker::{DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::rpc;

const BINDING: &str = "DELIVERIES";
const NAME: &str = "recent";
const ENTRIES: &str = "entries";
/// How many deliveries are kept.
pub const CAPACITY: usize = 100;

/// One delivery, as `/logs` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// When the edge answered (RFC 3339).
    pub timestamp: String,
    /// Event type.
    pub event: String,
    /// `success`, `failed`, `duplicate`, `ignored` or `rejected`.
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

/// Appends a delivery.
pub async fn append(env: &Env, delivery: &Delivery) -> Result<()> {
    rpc::call(env, BINDING, NAME, "append", delivery).await
}

/// The recent deliveries, newest first.
pub async fn recent(env: &Env) -> Result<Vec<Delivery>> {
    rpc::call(env, BINDING, NAME, "list", &()).await
}

/// The ring of recent deliveries.
#[durable_object(fetch)]
pub struct DeliveryLog {
    state: State,
}

impl DurableObject for DeliveryLog {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let storage = self.state.storage();
        let mut entries: Vec<Delivery> = storage.get(ENTRIES).await?.unwrap_or_default();
        match request.path().as_str() {
            "/list" => Response::from_json(&entries),
            "/append" => {
                entries.insert(0, request.json().await?);
                entries.truncate(CAPACITY);
                storage.put(ENTRIES, &entries).await?;
                Response::from_json(&())
            }
            other => rpc::unknown_action(other),
        }
    }
}
